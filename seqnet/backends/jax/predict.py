"""Using a trained checkpoint: `evaluate` (loss and metrics on the eval split) and `predict`
(the model's outputs on the arrays of an .npz file). Both run from the sharded state where the
spec has sharding rules: every device holds its shards of the parameters and its share of each
batch, and only the outputs (or the metrics' sums) are gathered whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seqnet.backends.jax.devices import enable_compilation_cache
from seqnet.backends.jax.failures import InputError
from seqnet.backends.jax.inputs import check_inputs, read_npz
from seqnet.backends.jax.modes import precision
from seqnet.backends.jax.runtime import Runtime
from seqnet.backends.jax.settings import resolve_config


def evaluate(model, checkpoint_dir: str | Path, *, batches: int | None = None, **overrides) -> dict[str, float]:
    """Loss and metrics on the eval split for the newest checkpoint in `checkpoint_dir`
    (a run folder, its checkpoints folder, or a step_*.json / .safetensors file).

    batches: how many eval batches (default: the config's eval_batches; 0 = the whole split)."""
    enable_compilation_cache()  # the eval step, as train() compiled (and kept) it
    config = resolve_config(model, None, overrides)
    with precision(config):
        rt = Runtime(model, config)
        params, _, _ = rt.restore(checkpoint_dir, with_opt=False)
        limit = config.eval_batches if batches is None else batches
        arrays = rt.driver.eval_data(rt.load_split("eval"))
        return rt.evaluate(params, rt.eval_batches(arrays, limit or None))


def placed_params(model, checkpoint_dir: str | Path):
    """(params, runtime or None): a checkpoint's parameters where the spec's sharding rules put
    them on its mesh, each device holding only its shards (`Runtime.restore`); for a spec
    without rules, on the host as `model.load_checkpoint` reads them (and None)."""
    config = getattr(model, "train_config", None)
    if config is None or not config.sharding.active:
        return model.load_checkpoint(checkpoint_dir), None
    rt = Runtime(model, resolve_config(model, None, {}))
    params, _, _ = rt.restore(checkpoint_dir, with_opt=False)
    return params, rt


def predict(model, checkpoint_dir: str | Path, input_npz: str | Path, output_npz: str | Path | None = None,
            *, batch: int = 256, allow_nonfinite: bool = False, with_stats: bool = False):  # fmt: skip
    """Run the model of a checkpoint on the arrays of `input_npz` (named like the spec inputs);
    write the outputs to `output_npz` atomically (when given) and return them.

    with_stats=True returns (outputs, stats): each example's wormhole solves
    ("wormhole/<gate>/iterations", "/converged", "/residual"); the file holds the outputs only."""
    import io

    import jax

    from seqnet.backends.jax import checkpoint as ck

    enable_compilation_cache()
    lowered = model.jax_lowering()
    params, rt = placed_params(model, checkpoint_dir)
    arrays = read_npz(input_npz, model)
    inputs = check_inputs(model, arrays, allow_nonfinite=allow_nonfinite, source=str(input_npz))
    n = len(next(iter(inputs.values()))) if inputs else 0
    if inputs and n == 0:
        raise InputError(f"{input_npz} holds no examples (its arrays have length 0)")
    if rt is None:
        fn = jax.jit(lambda p, x: lowered.apply_with_stats(p, x, rng=None, train=False))
        put = dict
    else:  # sharded: each chunk split over the data axis; only the outputs are gathered whole
        constrain = rt.placements.constrain if rt.placements.activations else None
        fn = jax.jit(lambda p, x: lowered.apply_with_stats(p, x, rng=None, train=False, constrain=constrain),
                     out_shardings=rt.replicated)  # fmt: skip
        batch = -(-batch // rt.data_size) * rt.data_size
        put = rt.put_batch
    chunks = []
    for s in range(0, n, batch):
        part = {k: v[s:s + batch] for k, v in inputs.items()}
        real = len(next(iter(part.values())))
        if rt is not None and real % rt.data_size:  # the last chunk padded to split evenly
            part = {k: np.concatenate([v, np.repeat(v[:1], rt.data_size - real % rt.data_size, 0)])
                    for k, v in part.items()}  # fmt: skip
        out, stats = jax.device_get(fn(params, put(part)))
        chunks.append(({k: v[:real] for k, v in out.items()}, {k: v[:real] for k, v in stats.items()}))
    outputs = {k: np.concatenate([c[0][k] for c in chunks]) for k in chunks[0][0]} if chunks else {}
    stats = {k: np.concatenate([c[1][k] for c in chunks]) for k in chunks[0][1]} if chunks else {}
    if output_npz is not None:
        buf = io.BytesIO()
        np.savez(buf, **outputs)
        ck.atomic_write_bytes(output_npz, buf.getvalue())
    return (outputs, stats) if with_stats else outputs
