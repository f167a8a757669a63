"""Lark's LALR tables are cached between processes (seqnet/grammar/parser_cache.py), and a
missing, corrupt, foreign or unwritable cache never changes what `seqnet check` says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from seqnet.grammar import parser_cache

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "mlp_digits.seqnet"


def check(cache: str, spec: Path = SPEC) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), SEQNET_CACHE_DIR=cache)
    return subprocess.run([sys.executable, "-m", "seqnet", "check", str(spec)], env=env,
                          capture_output=True, text=True)  # fmt: skip


def tables(folder: Path) -> list[Path]:
    return sorted(folder.glob("parser-*.lark-tables"))


def test_the_first_check_writes_the_tables_and_later_ones_read_them(tmp_path):
    folder = tmp_path / "cache"
    first = check(str(folder))
    assert first.returncode == 0 and "ok, 4 nodes" in first.stdout, first.stderr
    [path] = tables(folder)
    written = path.stat().st_mtime_ns
    second = check(str(folder))
    assert (second.returncode, second.stdout, second.stderr) == (0, first.stdout, first.stderr)
    assert path.stat().st_mtime_ns == written  # read, not rebuilt


def test_a_corrupt_cache_is_rebuilt_and_the_answer_is_the_same(tmp_path):
    folder = tmp_path / "cache"
    expected = check("")
    check(str(folder))
    [path] = tables(folder)
    for junk in (b"not a hash\n\x80\x04garbage", path.read_bytes()[:200]):  # torn by a kill
        path.write_bytes(junk)
        got = check(str(folder))
        assert (got.returncode, got.stdout, got.stderr) == (expected.returncode, expected.stdout, expected.stderr)
        assert path.stat().st_size > 10 * len(junk) + 1000  # rewritten whole


def test_a_spec_error_reads_the_same_with_and_without_the_cache(tmp_path):
    bad = tmp_path / "bad.seqnet"
    bad.write_text("input x : float32[4]\noutput y : float32[4] = dense(x, 4\n")
    off = check("", bad)
    check(str(tmp_path / "cache"), bad)
    on = check(str(tmp_path / "cache"), bad)
    assert off.returncode == on.returncode == 1 and off.stderr == on.stderr and "bad.seqnet:" in on.stderr


def test_tables_that_cannot_be_read_or_written_only_mean_no_cache(tmp_path):
    """(A read-only folder, for a user who is not root; here the tables' path is a folder.)"""
    folder = tmp_path / "cache"
    check(str(folder))
    [path] = tables(folder)
    path.unlink()
    path.mkdir()
    got = check(str(folder))
    assert got.returncode == 0 and "ok, 4 nodes" in got.stdout and got.stderr == "", got.stderr
    assert path.is_dir()


def test_a_folder_others_may_write_into_is_not_used(monkeypatch, tmp_path):
    """The tables are a pickle: never read from where someone else could have planted them."""
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o777)
    monkeypatch.setenv(parser_cache.ENV, str(folder))
    assert parser_cache.tables_path("start: A") is False
    folder.chmod(0o700)
    assert Path(parser_cache.tables_path("start: A")).parent == folder


def test_a_symlinked_tables_file_is_not_followed(monkeypatch, tmp_path):
    monkeypatch.setenv(parser_cache.ENV, str(tmp_path))
    path = Path(parser_cache.tables_path("start: A"))
    path.symlink_to(tmp_path / "elsewhere")
    assert parser_cache.tables_path("start: A") is False


def test_another_grammar_gets_another_file(monkeypatch, tmp_path):
    monkeypatch.setenv(parser_cache.ENV, str(tmp_path))
    a, b = parser_cache.tables_path("start: A"), parser_cache.tables_path("start: B")
    assert a and b and a != b and Path(a).parent == Path(b).parent == tmp_path


def test_an_empty_setting_turns_the_cache_off(monkeypatch):
    monkeypatch.setenv(parser_cache.ENV, "")
    assert parser_cache.tables_path("start: A") is False


def test_comments_survive_fmt_with_cached_tables(tmp_path):
    """The comment sink is a lexer callback, which Lark does not pickle: it must be given back."""
    spec = tmp_path / "c.seqnet"
    spec.write_text("# top\ninput x : float32[4]  # trailing\noutput y : float32[4] = dense(x, 4)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT), SEQNET_CACHE_DIR=str(tmp_path / "cache"))
    outs = [subprocess.run([sys.executable, "-m", "seqnet", "fmt", "--stdout", str(spec)], env=env,
                           capture_output=True, text=True).stdout for _ in range(2)]  # fmt: skip
    assert tables(tmp_path / "cache") and outs[0] == outs[1]
    assert "# top" in outs[1] and "# trailing" in outs[1], outs[1]
