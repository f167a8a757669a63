"""`seqnet sweep`: one spec trained over a grid (or a listed set) of settings and several seeds,
each run its own `seqnet train` process, with the results gathered into one table and plot.

points.py (the points and their ids), runs.py (a run and its folder's state), runner.py (the
processes, resume, results.jsonl), report.py (results.md, curves.png)."""
