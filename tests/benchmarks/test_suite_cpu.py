"""benchmarks/suite_cpu.py's report: per-file sums and the costliest tests, from workers' records."""

from __future__ import annotations

from benchmarks.suite_cpu import summarise


def test_the_report_sums_each_file_over_workers_and_ranks_tests_by_cpu():
    records = [
        {"how": "cgroup", "tests": {"tests/a.py::t1": [2.5, 1.0], "tests/b.py::t1": [0.5, 3.0]}},
        {"how": "cgroup", "tests": {"tests/a.py::t2": [1.0, 0.5], "tests/c.py::t": [4.0, 4.5]}},
    ]
    lines = summarise(records, top=2).splitlines()
    assert lines[0] == "4 tests, 8 s of CPU (measured by cgroup)"
    assert lines[3:6] == ["    4.0      1  tests/c.py", "    3.5      2  tests/a.py", "    0.5      1  tests/b.py"]
    assert lines[-2:] == ["    4.0     4.5  tests/c.py::t", "    2.5     1.0  tests/a.py::t1"]
