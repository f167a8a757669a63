"""Starting JAX's distributed runtime for a multi-host run, and what a process does when another
process of the run dies.

What JAX does when one process is killed (measured with gloo on 127.0.0.1, jax 0.10): a peer
blocked in a collective with the dead process gets a JaxRuntimeError at once (the socket is
reset: "Gloo AllGather failed ... Connection reset by peer"); a process whose coordinator
(process 0, which hosts the coordination service) is gone is terminated by JAX's client at once
("Terminating process because the JAX distributed service detected fatal errors"); and every
process learns from the coordination service that a task stopped sending heartbeats after
`heartbeat_timeout_seconds` and is terminated the same way. That timeout is the bound for a
process that dies without resetting its connections (a host that loses power, a network cut).
JAX's default is 100 s; seqnet starts the runtime with HEARTBEAT_S (the CLI's
--heartbeat-timeout): long enough that a loaded host's heartbeat thread is never late, short
enough that a lost host is noticed within a minute.

A process that met the dead one in a collective cannot leave normally either: at exit
`jax.distributed.shutdown` waits at a barrier for every process, which the dead one never
reaches, until the heartbeat timeout ends it with an abort. So a run that lost a peer raises
PeerLost (a TrainingError naming the step and the last committed checkpoint), and the CLI prints
it and leaves at once (`leave`). Nothing is lost by leaving: checkpoints are committed by their
JSON record, written only after every process wrote its shards (checkpoint.save_sharded), so a
save the dead process never finished is no checkpoint, and `--resume` on every process continues
from the last committed one, bit for bit.
"""

from __future__ import annotations

import os
import sys

from seqnet.backends.jax.failures import TrainingError

HEARTBEAT_S = 60


class PeerLost(TrainingError):
    """A collective of a multi-process run failed: another process of the run is gone."""


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, *, join_timeout_s: int = 300,
               heartbeat_s: int = HEARTBEAT_S) -> None:  # fmt: skip
    """jax.distributed.initialize with seqnet's timeouts (all arguments None: the cluster is
    discovered, as on SLURM or Cloud TPU)."""
    import jax

    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                               process_id=process_id, initialization_timeout=max(1, int(join_timeout_s)),
                               heartbeat_timeout_seconds=max(1, int(heartbeat_s)))  # fmt: skip


def start(coordinator: str | None, num_processes: int | None, process_id: int | None,
          what_runs: tuple[dict, str], *, join_timeout_s: int = 300, heartbeat_s: int = HEARTBEAT_S) -> None:  # fmt: skip
    """Join the run's other processes and start JAX's runtime. With a coordinator address, the
    processes first meet in seqnet's own handshake (rendezvous.py), which refuses two processes
    with one id, or with different settings or spec (`what_runs`: the settings and the spec's
    hash), before JAX would hang; without, JAX discovers the cluster (SLURM, Cloud TPU, Open MPI)
    and the processes compare the same over JAX's collectives once it has started."""
    import jax

    from seqnet.backends.jax import agreement, rendezvous

    if coordinator:
        rendezvous.join(coordinator, rendezvous.identity(process_id, num_processes, *what_runs), join_timeout_s)
        initialize(coordinator, num_processes, process_id, join_timeout_s=join_timeout_s,
                   heartbeat_s=heartbeat_s)  # fmt: skip
    else:
        initialize(heartbeat_s=heartbeat_s)
        agreement.agree(rendezvous.identity(jax.process_index(), jax.process_count(), *what_runs))
    print(f"process {jax.process_index()} of {jax.process_count()}; "
          f"{jax.device_count()} devices in all", file=sys.stderr)


# how a failed collective or a lost coordination service reads (jit dispatch re-raises some of
# these as ValueError, so the type alone does not tell)
LOST_PEER_SIGNS = ("Gloo", "NCCL", "Connection reset", "Connection closed", "Socket closed",
                   "UNAVAILABLE", "heartbeat", "coordination service")  # fmt: skip


def check_peers(error: Exception, where: str) -> None:
    """Raise PeerLost if `error` is a failed collective of a multi-process run (a JaxRuntimeError,
    or an error that reads like one); return otherwise. `where`: how far the run got."""
    import jax

    from seqnet.errors import UserError

    text = str(error).strip()
    if jax.process_count() == 1 or isinstance(error, UserError):
        return
    if not (isinstance(error, jax.errors.JaxRuntimeError) or any(s in text for s in LOST_PEER_SIGNS)):
        return
    first = text.splitlines()[0][:300] if text else type(error).__name__
    raise PeerLost(
        f"process {jax.process_index()} of {jax.process_count()} lost contact with the others "
        f"{where} ({first}): another process of the run stopped (killed, out of memory, "
        "preempted?). Start every process again with --resume: it continues from the last "
        "committed checkpoint") from None  # fmt: skip


def leave(code: int):
    """Exit now, without jax.distributed's shutdown barrier (which waits for the dead process
    until the heartbeat timeout, then aborts): what was written is on disk already."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
