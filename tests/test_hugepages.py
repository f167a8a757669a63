"""The XLA-running commands re-execute once with malloc's huge pages (seqnet/hugepages.py): where,
and that the process that comes back is the same one, with its arguments and output intact."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from seqnet.hugepages import c_library, thp_mode, tunables_with_hugepages, wanted_tunables

ROOT = Path(__file__).resolve().parents[1]
GLIBC = ("glibc", "2.36")


@pytest.mark.parametrize(
    ("tunables", "mode", "libc", "expected"),
    [
        (None, "madvise", GLIBC, "glibc.malloc.hugetlb=1"),
        ("", "madvise", GLIBC, "glibc.malloc.hugetlb=1"),
        ("glibc.malloc.arena_max=2", "madvise", GLIBC, "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"),
        ("glibc.malloc.hugetlb=0", "madvise", GLIBC, None),  # the person's choice: off
        ("glibc.malloc.arena_max=2:glibc.malloc.hugetlb=2", "madvise", GLIBC, None),
        ("glibc.malloc.hugetlbx=1", "madvise", GLIBC, "glibc.malloc.hugetlbx=1:glibc.malloc.hugetlb=1"),
        (None, "always", GLIBC, None),  # every large mapping has huge pages already
        (None, "never", GLIBC, None),
        (None, None, GLIBC, None),  # no THP file: not Linux, or no THP in this kernel
        (None, "madvise", ("glibc", "2.34"), None),  # glibc before 2.35 has no such tunable
        (None, "madvise", ("glibc", "2.40"), "glibc.malloc.hugetlb=1"),
        (None, "madvise", ("glibc", "3.0"), "glibc.malloc.hugetlb=1"),
        (None, "madvise", ("", ""), None),  # musl, macOS
    ],
)
def test_the_tunable_is_added_only_where_it_helps_and_nobody_chose(tunables, mode, libc, expected):
    assert tunables_with_hugepages(tunables, mode, libc) == expected


@pytest.mark.parametrize(
    ("text", "mode"),
    [("always [madvise] never\n", "madvise"), ("[always] madvise never\n", "always"),
     ("always madvise [never]\n", "never"), ("madvise\n", None), ("", None)],
)  # fmt: skip
def test_the_kernels_mode_is_the_bracketed_word(tmp_path, text, mode):
    (tmp_path / "enabled").write_text(text)
    assert thp_mode(tmp_path / "enabled") == mode
    assert thp_mode(tmp_path / "missing") is None


def test_what_this_process_would_start_with_reads_its_environment(tmp_path, monkeypatch):
    (tmp_path / "enabled").write_text("always [madvise] never\n")
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    assert wanted_tunables(tmp_path / "enabled", GLIBC) == "glibc.malloc.hugetlb=1"
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1")
    assert wanted_tunables(tmp_path / "enabled", GLIBC) is None


def test_the_c_library_is_named_with_its_version():
    name, version = c_library()
    if sys.platform == "linux" and name:
        assert name == "glibc" and version.split(".")[0].isdigit(), (name, version)
    else:
        assert (name, version) == ("", "")


SCRIPT = """\
import os, sys
from pathlib import Path
print("start", os.getpid(), os.environ.get("GLIBC_TUNABLES"), sys.argv[2:])  # no flush: the
from seqnet.hugepages import reexec_with_hugepages  # re-execution must keep this line
reexec_with_hugepages(Path(sys.argv[1]), ("glibc", "2.36"))
print("after", os.getpid(), os.environ.get("GLIBC_TUNABLES"), sys.argv[2:])
"""


def _run(tmp_path: Path, mode: str, tunables: str | None) -> list[str]:
    (tmp_path / "script.py").write_text(SCRIPT)
    (tmp_path / "enabled").write_text(mode)
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    env["PYTHONPATH"] = str(ROOT)
    if tunables is not None:
        env["GLIBC_TUNABLES"] = tunables
    proc = subprocess.Popen([sys.executable, str(tmp_path / "script.py"), str(tmp_path / "enabled"), "a b", "-x"],
                            env=env, stdout=subprocess.PIPE, text=True)  # fmt: skip
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    pid = proc.pid
    return [line.replace(str(pid), "PID") for line in out.splitlines()]


def test_the_process_starts_again_once_as_itself_with_the_tunable(tmp_path):
    assert _run(tmp_path, "always [madvise] never", None) == [
        "start PID None ['a b', '-x']",
        "start PID glibc.malloc.hugetlb=1 ['a b', '-x']",  # the same pid, the same arguments
        "after PID glibc.malloc.hugetlb=1 ['a b', '-x']",
    ]


def test_other_tunables_are_kept_and_a_choice_is_respected(tmp_path):
    assert _run(tmp_path, "always [madvise] never", "glibc.malloc.arena_max=2")[1:] == [
        "start PID glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1 ['a b', '-x']",
        "after PID glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1 ['a b', '-x']",
    ]
    assert _run(tmp_path, "always [madvise] never", "glibc.malloc.hugetlb=0") == [
        "start PID glibc.malloc.hugetlb=0 ['a b', '-x']",
        "after PID glibc.malloc.hugetlb=0 ['a b', '-x']",
    ]
    assert _run(tmp_path, "[always] madvise never", None) == [
        "start PID None ['a b', '-x']",
        "after PID None ['a b', '-x']",
    ]
