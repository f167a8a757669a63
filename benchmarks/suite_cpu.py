"""CPU time per test of the suite, counting every process a test starts: a pytest plugin and its
report. Where the suite's time goes, for issue 13's "make test under 4 minutes".

    .venv/bin/python -m pytest -q -n 2 --dist loadfile -p benchmarks.suite_cpu tests   # as root
    .venv/bin/python benchmarks/suite_cpu.py report [--top 30]

Wall time per test misleads on a shared machine, and a test's own CPU time misses its children:
CLI subprocesses, and the children of the warm servers (tests/warm.py, a sweep's forkserver),
which are not even descendants that the test waits for. So each pytest process (an xdist worker,
or the only one) moves itself into a cgroup of its own, `/sys/fs/cgroup/cpuacct/seqnet-suite/<worker>`
(cgroup v1's cpuacct controller, which needs root), and reads the group's `cpuacct.usage` around
each test: every process started from the worker, however it was started, stays in the group.
Where there is no such controller, it falls back to this process's CPU plus its waited-for
children's (getrusage), which misses the warm servers' children; the report says which.

Each worker writes `SEQNET_SUITE_CPU_DIR/<worker>.json` (default: /tmp/seqnet-suite-cpu),
{test id: [cpu s, wall s]}; `report` sums them per file and lists the costliest tests.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import sys
import time
from pathlib import Path

import pytest

CGROUP_ROOT = Path("/sys/fs/cgroup/cpuacct/seqnet-suite")
OUT = Path(os.environ.get("SEQNET_SUITE_CPU_DIR", "/tmp/seqnet-suite-cpu"))
_results: dict[str, list[float]] = {}
_state: dict[str, object] = {}


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _rusage_cpu() -> float:
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        total += r.ru_utime + r.ru_stime
    return total


def pytest_configure(config) -> None:
    group = CGROUP_ROOT / _worker()
    try:
        group.mkdir(parents=True, exist_ok=True)
        (group / "tasks").write_text(str(os.getpid()))
        usage = group / "cpuacct.usage"
        usage.read_text()
        _state["read"] = lambda: int(usage.read_text()) / 1e9
        _state["how"] = "cgroup"
    except OSError:
        _state["read"] = _rusage_cpu
        _state["how"] = "getrusage"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    read = _state["read"]
    cpu, wall = read(), time.perf_counter()
    yield
    _results[item.nodeid] = [round(read() - cpu, 4), round(time.perf_counter() - wall, 4)]


def pytest_unconfigure(config) -> None:
    if not _results:
        return
    OUT.mkdir(parents=True, exist_ok=True)
    record = {"how": _state.get("how"), "tests": _results}
    (OUT / f"{_worker()}.json").write_text(json.dumps(record))


def summarise(records: list[dict], top: int = 30) -> str:
    """Per file: CPU s, tests; then the `top` costliest tests (CPU s, wall s)."""
    tests: dict[str, list[float]] = {}
    how = sorted({r.get("how", "?") for r in records})
    for r in records:
        tests.update(r["tests"])
    per_file: collections.Counter = collections.Counter()
    count: collections.Counter = collections.Counter()
    for nodeid, (cpu, _) in tests.items():
        per_file[nodeid.split("::")[0]] += cpu
        count[nodeid.split("::")[0]] += 1
    lines = [f"{len(tests)} tests, {sum(per_file.values()):.0f} s of CPU (measured by {', '.join(how)})",
             "", "  CPU s  tests  file"]  # fmt: skip
    lines += [f"{cpu:7.1f} {count[f]:6d}  {f}" for f, cpu in per_file.most_common()]
    lines += ["", "  CPU s  wall s  test"]
    ranked = sorted(tests.items(), key=lambda kv: -kv[1][0])[:top]
    lines += [f"{cpu:7.1f} {wall:7.1f}  {nodeid}" for nodeid, (cpu, wall) in ranked]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["report"])
    ap.add_argument("--top", type=int, default=30, help="how many of the costliest tests to list")
    ap.add_argument("--dir", type=Path, default=OUT, help=f"where the workers wrote their JSON (default {OUT})")
    args = ap.parse_args(argv)
    files = sorted(args.dir.glob("*.json"))
    if not files:
        print(f"no results in {args.dir}: run the suite with -p benchmarks.suite_cpu first", file=sys.stderr)
        return 1
    try:
        print(summarise([json.loads(f.read_text()) for f in files], args.top))
    except BrokenPipeError:  # `report | head`: the reader has what it wanted; no flush error at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
