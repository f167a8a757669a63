"""The processes of a multi-host run compare what they would train, once JAX has started.

With `--coordinator`, seqnet's own handshake (rendezvous.py) does this before JAX starts. With
`--distributed`, JAX discovers the cluster itself (SLURM, Cloud TPU, Open MPI) and there is no
port of ours to meet at, so the same identities are exchanged over JAX's own collectives right
after `jax.distributed.initialize`: every process gathers every identity and applies the same
rules (`rendezvous.problem`), so all of them reach the same verdict and all of them stop with it,
before a step is taken on different settings or a different spec.
"""

from __future__ import annotations

import json

import numpy as np

from seqnet.backends.jax.rendezvous import RendezvousError, problem


def gather_identities(own: dict) -> list[dict]:
    """Every process's identity, in process order (a collective: every process must call it)."""
    from jax.experimental import multihost_utils

    blob = np.frombuffer(json.dumps(own, sort_keys=True).encode(), dtype=np.uint8)
    sizes = np.asarray(multihost_utils.process_allgather(np.array([blob.size], np.int32))).reshape(-1)
    padded = np.zeros(int(sizes.max()), np.uint8)
    padded[: blob.size] = blob
    rows = np.asarray(multihost_utils.process_allgather(padded)).reshape(sizes.size, -1)
    return [json.loads(bytes(row[: int(n)])) for row, n in zip(rows, sizes)]


def agree(own: dict) -> None:
    """Raise RendezvousError, in every process alike, if the processes differ in their process
    count, spec or train settings; `own` is `rendezvous.identity(...)` of this process."""
    everyone = gather_identities(own)
    first = everyone[0]
    for hello in everyone[1:]:
        why = problem(first, hello, {})
        if why is not None:
            raise RendezvousError(f"the run was refused (process {own['process_id']}): {why}")
