"""The persistent compilation cache: entries written whole (a temp file renamed over the entry),
a broken entry replaced instead of read and warned about forever, and the threshold setting."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest
import warm

from seqnet.backends.jax import compile_cache
from seqnet.backends.jax.devices import MIN_COMPILE_ENV, MIN_COMPILE_S, cache_min_compile_s


def test_an_entry_is_read_back_as_written_and_named_as_jax_names_it(tmp_path):
    cache = compile_cache.WholeFileCache(tmp_path)
    cache.put("abc", b"\x00executable")
    assert cache.get("abc") == b"\x00executable"
    assert cache.get("other") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abc-cache"]  # no temp file left


def test_a_put_replaces_a_broken_entry_that_jaxs_own_cache_would_keep(tmp_path):
    from jax._src.lru_cache import LRUCache

    (tmp_path / "k-cache").write_bytes(b"trunc")
    LRUCache(str(tmp_path), max_size=-1).put("k", b"whole entry")
    assert (tmp_path / "k-cache").read_bytes() == b"trunc"  # JAX's: the file exists, so no write
    compile_cache.WholeFileCache(tmp_path).put("k", b"whole entry")
    assert (tmp_path / "k-cache").read_bytes() == b"whole entry"


def test_a_failed_write_leaves_the_entry_as_it_was_and_no_temp_file(tmp_path, monkeypatch):
    cache = compile_cache.WholeFileCache(tmp_path)
    cache.put("k", b"old")

    def full_disk(self, data):
        with open(self, "wb") as f:
            f.write(data[:2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    cache.put("k", b"new and longer")  # no exception: a cache that cannot be written is slower
    monkeypatch.undo()
    assert cache.get("k") == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k-cache"]


def test_a_killed_writers_temp_file_is_never_an_entry_and_goes_once_stale(tmp_path):
    fresh = tmp_path / f"{compile_cache.TEMP_PREFIX}a-cache.0123abcd.tmp"
    stale = tmp_path / f"{compile_cache.TEMP_PREFIX}b-cache.4567ef01.tmp"
    for p in (fresh, stale):
        p.write_bytes(b"half")
    old = time.time() - compile_cache.STALE_TEMP_S - 60
    os.utime(stale, (old, old))
    (tmp_path / "c-cache").write_bytes(b"entry")
    os.utime(tmp_path / "c-cache", (old, old))  # an old entry is an entry, not a temp file
    cache = compile_cache.WholeFileCache(tmp_path)
    assert cache.get("a") is None and cache.get("b") is None
    assert compile_cache.remove_stale_temps(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh.name, "c-cache"])


@pytest.mark.parametrize(("text", "value", "complaint"), [
    (None, MIN_COMPILE_S, False), ("", MIN_COMPILE_S, False), ("0", 0.0, False), (" 2.5 ", 2.5, False),
    ("fast", MIN_COMPILE_S, True), ("-1", MIN_COMPILE_S, True), ("nan", MIN_COMPILE_S, True),
    ("inf", MIN_COMPILE_S, True),
])  # fmt: skip
def test_the_threshold_setting(text, value, complaint, monkeypatch, capsys):
    if text is None:
        monkeypatch.delenv(MIN_COMPILE_ENV, raising=False)
    else:
        monkeypatch.setenv(MIN_COMPILE_ENV, text)
    assert cache_min_compile_s() == value
    err = capsys.readouterr().err
    if complaint:
        assert err == (f"seqnet: ignoring {MIN_COMPILE_ENV}={text!r} (not a number of seconds >= 0); "
                       f"using {MIN_COMPILE_S}\n")  # fmt: skip
    else:
        assert err == ""


SCRIPT = textwrap.dedent("""\
    import sys, warnings
    from pathlib import Path
    import jax, jax.numpy as jnp, numpy as np
    from jax import monitoring
    from seqnet.backends.jax.devices import enable_compilation_cache

    folder = Path(sys.argv[1])
    enable_compilation_cache(folder, min_compile_s=0)
    hits = []
    monitoring.register_event_listener(
        lambda event, **kw: hits.append(event) if event.endswith("cache_hits") else None)
    f = lambda x: jnp.sin(x) * 2 + 1
    x = jax.device_put(np.arange(8.0, dtype=np.float32))
    expected = np.asarray(jax.jit(f)(x))
    [entry] = [p for p in folder.iterdir() if p.name.endswith("-cache")]
    size = entry.stat().st_size
    entry.write_bytes(entry.read_bytes()[: size // 2])  # a writer killed half-way
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        jax.clear_caches()
        assert np.array_equal(jax.jit(f)(x), expected)  # the broken entry: warned, compiled again
        jax.clear_caches()
        assert np.array_equal(jax.jit(f)(x), expected)  # the entry written again: read back
    print(len(hits), sum("Error reading persistent compilation cache" in str(w.message) for w in caught),
          entry.stat().st_size > size // 2)
    """)


def test_a_broken_entry_costs_one_compile_and_is_then_read_back(tmp_path):
    """With JAX's own cache every later compile would read the half entry and warn again."""
    script = tmp_path / "cache_check.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "SEQNET_JAX_CACHE"}
    rc, out, err = warm.run_script(script, [tmp_path / "cache"], env=env, cwd=tmp_path, timeout=120)
    assert rc == 0, err
    assert out.split() == ["1", "1", "True"]  # one warning, then the entry written again is a hit
