"""The one time limit a test may use: a guard against a hung child process, not a speed check.

Tests never assert how long something took (timings live in benchmarks/). A subprocess that
could block forever (a FIFO reader, a distributed peer that never connects) still needs a bound
so that a regression fails the test instead of hanging the suite; HANG_GUARD_S is that bound. It
is far above any run's real duration on a loaded 2-core machine, so it only ever fires on a hang.
"""

HANG_GUARD_S = 600
