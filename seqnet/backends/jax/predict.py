"""Using a trained checkpoint: `evaluate` (loss and metrics on the eval split) and `predict`
(the model's outputs on the arrays of an .npz file)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seqnet.backends.jax.failures import InputError
from seqnet.backends.jax.inputs import check_inputs, read_npz
from seqnet.backends.jax.modes import precision
from seqnet.backends.jax.runtime import Runtime
from seqnet.backends.jax.settings import resolve_config


def evaluate(model, checkpoint_dir: str | Path, *, batches: int | None = None, **overrides) -> dict[str, float]:
    """Loss and metrics on the eval split for the newest checkpoint in `checkpoint_dir`
    (a run folder, its checkpoints folder, or a step_*.json / .safetensors file).

    batches: how many eval batches (default: the config's eval_batches; 0 = the whole split)."""
    config = resolve_config(model, None, overrides)
    with precision(config):
        rt = Runtime(model, config)
        params, _, _ = rt.restore(checkpoint_dir, with_opt=False)
        limit = config.eval_batches if batches is None else batches
        arrays = rt.driver.eval_data(rt.load_split("eval"))
        return rt.evaluate(params, rt.eval_batches(arrays, limit or None))


def predict(model, checkpoint_dir: str | Path, input_npz: str | Path, output_npz: str | Path | None = None,
            *, batch: int = 256, allow_nonfinite: bool = False, with_stats: bool = False):  # fmt: skip
    """Run the model of a checkpoint on the arrays of `input_npz` (named like the spec inputs);
    write the outputs to `output_npz` atomically (when given) and return them.

    with_stats=True returns (outputs, stats): each example's wormhole solves
    ("wormhole/<gate>/iterations", "/converged", "/residual"); the file holds the outputs only."""
    import io

    import jax

    from seqnet.backends.jax import checkpoint as ck

    lowered = model.jax_lowering()
    params = model.load_checkpoint(checkpoint_dir)
    arrays = read_npz(input_npz, model)
    inputs = check_inputs(model, arrays, allow_nonfinite=allow_nonfinite, source=str(input_npz))
    n = len(next(iter(inputs.values()))) if inputs else 0
    if inputs and n == 0:
        raise InputError(f"{input_npz} holds no examples (its arrays have length 0)")
    fn = jax.jit(lambda p, x: lowered.apply_with_stats(p, x, rng=None, train=False))
    chunks = []
    for s in range(0, n, batch):
        part = {k: v[s:s + batch] for k, v in inputs.items()}
        chunks.append(jax.device_get(fn(params, part)))
    outputs = {k: np.concatenate([c[0][k] for c in chunks]) for k in chunks[0][0]} if chunks else {}
    stats = {k: np.concatenate([c[1][k] for c in chunks]) for k in chunks[0][1]} if chunks else {}
    if output_npz is not None:
        buf = io.BytesIO()
        np.savez(buf, **outputs)
        ck.atomic_write_bytes(output_npz, buf.getvalue())
    return (outputs, stats) if with_stats else outputs
