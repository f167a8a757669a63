"""The training runtime: `train`, `evaluate` and `predict` for a compiled Model, on one or many devices.

train(model) reads `model.train_config`: an optax optimiser and schedule (optim.py), global-norm
clipping, the loss and metrics (losses.py), data from `seqnet.data` fed by the resumable
`seqnet.data.batches.batches` stream through a host prefetch thread, and one jitted train step
with the state donated. Everything random derives from `config.seed`: parameters from
fold_in(key, 0), dropout at step s from fold_in(fold_in(key, 1), s), the batch order of step s
from (seed, s) alone, so a run resumed from a checkpoint is bit-identical to an uninterrupted one.

The output folder (default runs/<spec stem>) is laid out in runfolder.py.

The modules: settings.py (the config with overrides), memory.py (the estimate checked before
allocating), devices.py (mesh, compilation cache), runtime.py (one model + config: data,
shardings, evaluation, restoring), step.py (the jitted steps), loop.py (the loop itself),
runfolder.py / metricslog.py / plots.py / progress.py (what a run writes and shows),
interrupts.py (Ctrl-C), inputs.py (checks of given arrays), predict.py (evaluate, predict).
This module is the front door: `train`, and the names callers import from here.

Devices: the batch is sharded over a `jax.sharding.Mesh` built from `config.mesh` ({axis: size},
-1 = the remaining devices) along `config.data_axis`; parameters and optimiser state are placed
by the spec's `sharding` rules (placement.py; replicated without any), created there directly
and kept there by the train step's in/out shardings. The batch must divide by the data-axis size.

Multi-host: start the same command on every host after

    import jax
    jax.distributed.initialize(coordinator_address="host0:1234", num_processes=N, process_id=i)

(on Cloud TPU and SLURM the arguments are discovered automatically: `jax.distributed.initialize()`).
The mesh then spans `jax.devices()` (all hosts); each process loads the data, and its share of
each global batch is assembled with `jax.make_array_from_process_local_data`. Only process 0
writes metrics, plots and checkpoints (each process its own shards, with sharding rules). A
process that loses a peer raises cluster.PeerLost (cluster.py). Tested with two and four
processes on 127.0.0.1 (tests/backends/jax/test_multihost.py).

Failures: a non-finite loss or gradient norm raises `TrainingError` naming the step, the
quantity and the last good checkpoint; Ctrl-C saves a checkpoint at the current step and
re-raises KeyboardInterrupt; a bad checkpoint raises `CheckpointError`; a model whose parameters
and optimiser state would not fit in memory raises `MemoryEstimateError` before allocating.
"""

from __future__ import annotations

from pathlib import Path

from seqnet.backends.jax.checkpoint import CheckpointError
from seqnet.backends.jax.devices import enable_compilation_cache, make_mesh
from seqnet.backends.jax.failures import InputError, MemoryEstimateError, TrainingError
from seqnet.backends.jax.inputs import check_inputs, check_targets, first_true, read_npz
from seqnet.backends.jax.interrupts import SigintFlag
from seqnet.backends.jax.loop import TrainResult, run
from seqnet.backends.jax.memory import available_memory, check_memory, estimate_memory, memory_parts
from seqnet.backends.jax.predict import evaluate, predict
from seqnet.backends.jax.runtime import Runtime
from seqnet.backends.jax.settings import config_hash, resolve_config, spec_name

__all__ = [
    "CheckpointError", "InputError", "MemoryEstimateError", "Runtime", "TrainResult",
    "TrainingError", "available_memory", "check_inputs", "check_memory", "check_targets",
    "config_hash", "enable_compilation_cache", "estimate_memory", "evaluate", "first_true",
    "make_mesh", "memory_parts", "predict", "read_npz", "resolve_config", "spec_name", "train",
]  # fmt: skip


def train(
    model,
    out: str | Path | None = None,
    resume: bool = False,
    steps: int | None = None,
    progress: bool = True,
    *,
    overwrite: bool = False,
    log_every: int | None = None,
    keep: int | None = 3,
    callback=None,
    **overrides,
) -> TrainResult:
    """Train `model` by its train section (settings overridable by keyword, e.g. lr=, batch=).

    steps: the total step count to reach (overrides config.steps). resume: continue from the
    newest checkpoint in `out`/checkpoints. A fresh run into a folder that holds an earlier run
    is refused unless overwrite=True (which replaces its checkpoints and metrics).
    callback(step, logs_on_device): called after every step (a test hook; may raise).

    Ctrl-C: from the start, the first one only sets a flag (so no KeyboardInterrupt lands inside
    JAX's own callbacks, where it would be swallowed); setup stops at its next phase, training
    at the next step, with a checkpoint. A second Ctrl-C stops at once.
    """
    if resume and overwrite:
        raise TrainingError("resume=True continues the run in `out`, overwrite=True replaces it: pick one")
    with SigintFlag() as sigint:
        return run(model, out, resume, steps, progress, sigint, overwrite=overwrite,
                   log_every=log_every, keep=keep, callback=callback, **overrides)  # fmt: skip
