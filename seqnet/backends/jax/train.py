"""The training runtime: `train`, `evaluate` and `predict` for a compiled Model, on one or many devices.

train(model) reads `model.train_config`: an optax optimiser and schedule (optim.py), global-norm
clipping, the loss and metrics (losses.py), data from `seqnet.data` fed by the resumable
`seqnet.data.batches.batches` stream through a host prefetch thread, and one jitted train step
with the state donated. Everything random derives from `config.seed`: parameters from
fold_in(key, 0), dropout at step s from fold_in(fold_in(key, 1), s), the batch order of step s
from (seed, s) alone, so a run resumed from a checkpoint is bit-identical to an uninterrupted one.

Output folder (default runs/<spec stem>):
  metrics.jsonl       one JSON object a line: {"step", "split": "train"|"eval", "loss",
                      "metrics": {...}, "time", ("lr", "examples_per_s", "grad_norm" for train)}
  checkpoints/        step_XXXXXXXX.safetensors + step_XXXXXXXX.json (see checkpoint.py), the
                      newest 3 kept, written every checkpoint_every steps, at the end, on Ctrl-C
  curves.png          loss and metrics against step (matplotlib, Agg)
  tensorboard/        event files, only when tensorboardX (or torch's SummaryWriter) imports

Devices: the batch is sharded over a `jax.sharding.Mesh` built from `config.mesh` ({axis: size},
-1 = the remaining devices) along `config.data_axis`; parameters and optimiser state are
replicated. The batch must divide by the data-axis size.

Multi-host: start the same command on every host after

    import jax
    jax.distributed.initialize(coordinator_address="host0:1234", num_processes=N, process_id=i)

(on Cloud TPU and SLURM the arguments are discovered automatically: `jax.distributed.initialize()`).
The mesh then spans `jax.devices()` (all hosts); each process loads the data, and its share of
each global batch is assembled with `jax.make_array_from_process_local_data`. Only process 0
writes metrics, plots and checkpoints. (Not tested here: CI has one host.)

Failures: a non-finite loss or gradient norm raises `TrainingError` naming the step, the
quantity and the last good checkpoint; Ctrl-C saves a checkpoint at the current step and
re-raises KeyboardInterrupt; a bad checkpoint raises `CheckpointError`; a model whose parameters
and optimiser state would not fit in memory raises `MemoryEstimateError` before allocating.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seqnet.backends.jax.checkpoint import CheckpointError  # noqa: F401  (re-exported)

__all__ = [
    "CheckpointError", "MemoryEstimateError", "TrainResult", "TrainingError", "evaluate",
    "predict", "train", "InputError",
]  # fmt: skip


class TrainingError(Exception):
    """Training cannot go on: divergence (NaN/Inf), a bad setting, or local mode without support."""


class MemoryEstimateError(TrainingError):
    """The parameters and optimiser state would not fit in the available memory."""


class InputError(ValueError):
    """An input array given to `predict` does not match the spec's input."""


@dataclass
class TrainResult:
    metrics: dict[str, float]  # final evaluation: {"loss": ..., "<metric>": ...}
    train_metrics: dict[str, float]  # the last training log window
    history: list[dict]  # every metrics.jsonl record of the run (including resumed ones)
    step: int  # the step reached
    out_dir: Path
    checkpoint: Path | None  # the JSON record of the last checkpoint written
    metrics_path: Path
    plot_path: Path | None
    params: Any = field(repr=False, default=None)
    steps_per_s: float = 0.0  # measured over this call's steps, compilation excluded
    examples_per_s: float = 0.0
    wall_s: float = 0.0  # this call, compilation and evaluation included
    start_step: int = 0  # where this call began (> 0 when resumed)


# -- setup helpers ---------------------------------------------------------------------------------

_CACHE_SET = False


def enable_compilation_cache(path: str | Path | None = None, min_compile_s: float = 0.5) -> None:
    """JAX's persistent compilation cache under ~/.cache/seqnet/jax (or $SEQNET_JAX_CACHE)."""
    global _CACHE_SET
    if _CACHE_SET:
        return
    import jax

    path = path or os.environ.get("SEQNET_JAX_CACHE") or Path.home() / ".cache" / "seqnet" / "jax"
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", str(path))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_s)
    except Exception:  # an old jax or a read-only home: run without the cache
        pass
    _CACHE_SET = True


def spec_name(model) -> str:
    if getattr(model, "path", None):
        return Path(model.path).stem
    source = model.graph.graph.get("source")
    if source and not str(source).startswith("<"):
        return Path(str(source)).stem
    return "model"


def available_memory() -> int | None:
    """MemAvailable from /proc/meminfo in bytes (None when it cannot be read)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def memory_parts(model, config) -> dict[str, int]:
    """Bytes one training step holds, from the registry (before anything is allocated):
    parameters, their gradients, the optimiser's buffers, and the activations kept for the
    backward pass (twice the forward activations of one batch: values and their cotangents)."""
    from seqnet.backends.jax.optim import adam_like
    from seqnet.compiler.graph import total_params
    from seqnet.compiler.summary import summarize

    p = total_params(model.graph) * 4
    act = summarize(model.graph)["activation_bytes_per_example"] * config.batch * 2
    return {"parameters": p, "gradients": p, f"{config.optimizer.name} state": p * adam_like(config),
            "activations": act}  # fmt: skip


def estimate_memory(model, config) -> int:
    return sum(memory_parts(model, config).values())


def check_memory(model, config) -> None:
    parts = memory_parts(model, config)
    need = sum(parts.values())
    have = available_memory()
    try:
        import jax

        stats = jax.devices()[0].memory_stats() or {}
        if "bytes_limit" in stats:
            have = stats["bytes_limit"] - stats.get("bytes_in_use", 0)
    except Exception:
        pass
    if have is not None and need > have:
        detail = ", ".join(f"{k} {_bytes(v)}" for k, v in parts.items() if v)
        raise MemoryEstimateError(
            f"training needs about {_bytes(need)} ({detail}) but only {_bytes(have)} is "
            f"available; shrink the model's dims or the batch ({config.batch}), or use sgd"
        )


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def resolve_config(model, steps: int | None, overrides: dict):
    config = model.train_config
    if config is None:
        raise TrainingError("this spec has no train { ... } section: nothing says how to train it")
    from seqnet.compiler.train import check_setting

    fields = set(type(config).model_fields)
    update = {}
    for k, v in {**overrides, **({"steps": steps} if steps is not None else {})}.items():
        problem = check_setting(k, v)
        if problem is not None:
            raise TrainingError(f"train(): {problem}")
    for k, v in overrides.items():
        if k == "lr":
            update["optimizer"] = config.optimizer.model_copy(
                update={"args": {**config.optimizer.args, "lr": float(v)}})  # fmt: skip
        elif k in fields:
            update[k] = v
        else:
            raise TypeError(f"train() got an unknown setting '{k}'; settings: "
                            + ", ".join(sorted(fields | {"lr"})))  # fmt: skip
    if steps is not None:
        update["steps"] = int(steps)
    if update:
        config = type(config).model_validate({**config.model_dump(), **update})
    return config


def config_hash(config) -> str:
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:16]


def make_mesh(config):
    """A Mesh over jax.devices() shaped by config.mesh; -1 takes the remaining devices."""
    import jax
    from jax.sharding import Mesh

    devices = jax.devices()
    spec = dict(config.mesh) or {config.data_axis: -1}
    if config.data_axis not in spec:
        raise TrainingError(f"data_axis '{config.data_axis}' is not an axis of mesh {spec}")
    fixed = math.prod(v for v in spec.values() if v != -1)
    free = [k for k, v in spec.items() if v == -1]
    if len(free) > 1:
        raise TrainingError(f"mesh {spec}: only one axis may be -1")
    sizes = {k: (len(devices) // fixed if v == -1 else v) for k, v in spec.items()}
    total = math.prod(sizes.values())
    if total < 1 or total > len(devices):
        raise TrainingError(f"mesh {spec} needs {total} devices, there are {len(devices)}")
    grid = np.array(devices[:total], dtype=object).reshape(tuple(sizes.values()))
    return Mesh(grid, tuple(sizes))


# -- the runtime: data, functions and shardings of one model + config ------------------------------

class Runtime:
    def __init__(self, model, config, *, need_train_data: bool = True):
        import jax
        from jax.sharding import NamedSharding
        from jax.sharding import PartitionSpec as P
        from optax import chain as optax_chain

        from seqnet.backends.jax import losses
        from seqnet.backends.jax.optim import make_optimizer

        self.model, self.config = model, config
        for n, d in model.graph.nodes(data=True):
            if d["op"] == "wormhole_gate" and d["attrs"].get("solver") == "forward":
                raise TrainingError(
                    f"wormhole {n} ({d['span']}) uses solver=forward, which differentiates in "
                    "forward mode only; training needs reverse mode: use solver=fixed_point"
                )
        if config.dtype == "bfloat16":  # bfloat16 compute, float32 parameters and optimiser
            from seqnet.backends.jax.lower import lower

            self.lowered = lower(model.graph, compute_dtype="bfloat16")
        else:
            self.lowered = model._jax()
        self.inputs = dict(model.inputs)
        self.outputs = dict(model.outputs)
        self.mesh = make_mesh(config)
        self.data_size = self.mesh.shape[config.data_axis]
        if config.batch % self.data_size:
            raise TrainingError(f"batch {config.batch} does not divide over the {self.data_size} "
                                f"devices of mesh axis '{config.data_axis}'")  # fmt: skip
        self.replicated = NamedSharding(self.mesh, P())
        self.batch_sharding = NamedSharding(self.mesh, P(config.data_axis))
        self.tx, self.schedule = make_optimizer(config)
        if config.decoder_lr is not None:
            from seqnet.backends.jax.optim import base_lr, decoder_scales, scale_subtrees

            template = jax.eval_shape(self.lowered.init, jax.random.key(0))
            ratio = config.decoder_lr / base_lr(config)
            self.tx = optax_chain(self.tx, scale_subtrees(decoder_scales(template, model.graph, ratio)))
        lo = config.loss
        self.loss_fn = losses.get_loss(lo.name)
        self.loss_probs = losses.output_is_probability(model.graph, lo.output)
        self.metric_specs = []
        names = [m.name for m in config.metrics]
        for m in config.metrics:
            key = m.name if names.count(m.name) == 1 else f"{m.name}_{m.output}_{m.target}"
            probs = losses.output_is_probability(model.graph, m.output)
            self.metric_specs.append((key, losses.get_metric(m.name), m.output, m.target, probs))
        self.fields = list(dict.fromkeys([*self.inputs, lo.target, *(m.target for m in config.metrics)]))
        key = jax.random.PRNGKey(config.seed)
        self.init_key = jax.random.fold_in(key, 0)
        self.dropout_key = jax.random.fold_in(key, 1)
        self.local_terms = None
        if config.mode == "local":
            self.local_terms = getattr(self.lowered, "local_loss_terms", None)
            if self.local_terms is None:
                raise TrainingError(
                    "mode = local (FEN local training) needs the segment lowering to provide "
                    "local_loss_terms(params, inputs, rng=, train=); this JAX lowering has none. "
                    "Use mode = standard."
                )
        self._train_step = None
        self._eval_step = None
        self._apply = None

    # -- templates
    def param_template(self):
        import jax

        return jax.eval_shape(self.lowered.init, self.init_key)

    def opt_template(self, params_template):
        import jax

        return jax.eval_shape(self.tx.init, params_template)

    def init_state(self):
        import jax

        params = jax.jit(self.lowered.init, out_shardings=self.replicated)(self.init_key)
        opt_state = jax.jit(self.tx.init, out_shardings=self.replicated)(params)
        return params, opt_state

    # -- data
    def load_split(self, split: str, n_examples: int | None = None) -> dict[str, np.ndarray]:
        from seqnet.data import get_source

        c = self.config.data
        arrays = get_source(c.name).load(split, n_examples, self.config.seed, **c.args)
        missing = [f for f in self.fields if f not in arrays]
        if missing:
            raise TrainingError(f"data source {c.name} gives no field {', '.join(map(repr, missing))}")
        out = {}
        for f in self.fields:
            a = np.asarray(arrays[f])
            if f in self.inputs:
                a = a.astype(self.inputs[f].dtype, copy=False)
            out[f] = a
        checks = [(self.config.loss.name, self.config.loss.output, self.config.loss.target)]
        checks += [(m.name, m.output, m.target) for m in self.config.metrics]
        for loss, output, target in checks:
            check_targets(loss, self.outputs[output], target, out[target], f"{c.name} ({split} split)")
        return out

    def put_batch(self, batch: dict[str, np.ndarray]):
        import jax

        count = jax.process_count()
        if count > 1:
            # Every process draws the same global batch (same seed); each hands its own slice
            # to the devices it drives, and JAX assembles the global array from the slices.
            index = jax.process_index()
            out = {}
            for k, v in batch.items():
                if len(v) % count:
                    raise TrainingError(f"batch {len(v)} does not split evenly over {count} processes")
                per = len(v) // count
                out[k] = jax.make_array_from_process_local_data(
                    self.batch_sharding, v[index * per : (index + 1) * per], v.shape
                )
            return out
        return jax.device_put(batch, self.batch_sharding)

    # -- functions
    def _forward(self, params, inputs, rng, train):
        return self.lowered.apply_with_stats(params, inputs, rng=rng, train=train)

    def _objective(self, params, batch, rng, train, with_stats=False):
        inputs = {k: batch[k] for k in self.inputs}
        outs, stats = self._forward(params, inputs, rng, train)
        lo = self.config.loss
        per_example = self.loss_fn(outs[lo.output], batch[lo.target], self.loss_probs)
        if with_stats:
            return per_example, outs, inputs, stats
        return per_example, outs, inputs

    def _local_objective(self, params, batch, inputs, rng):
        import jax.numpy as jnp

        lo = self.config.loss

        def segment_loss(outs, target):
            return self.loss_fn(outs[lo.output], target, self.loss_probs).mean()

        terms = self.local_terms(params, inputs, segment_loss, batch[lo.target], rng=rng, train=True)
        return jnp.asarray(terms, jnp.float32).sum()

    def train_step(self):
        if self._train_step is None:
            import jax
            import optax

            def step(state, batch):
                params, opt_state, i = state
                rng = jax.random.fold_in(self.dropout_key, i)

                def objective(p):
                    per_example, outs, inputs, stats = self._objective(p, batch, rng, True, True)
                    loss = per_example.mean()
                    total = loss
                    if self.local_terms is not None:
                        # FEN local training (mechanisms.md 1): the gradient is that of the sum
                        # of the per-segment losses only; the end-to-end loss is logged, never
                        # differentiated (adding it would backprop through the whole tree).
                        total = self._local_objective(p, batch, inputs, rng)
                    return total, (loss, outs, stats)

                (_, (loss, outs, stats)), grads = jax.value_and_grad(objective, has_aux=True)(params)
                gnorm = optax.tree.norm(grads) if hasattr(optax, "tree") else optax.global_norm(grads)
                updates, opt_state = self.tx.update(grads, opt_state, params)
                params = optax.apply_updates(params, updates)
                logs = {"loss": loss, "grad_norm": gnorm}
                for key, fn, out, target, probs in self.metric_specs:
                    logs[key] = fn(outs[out], batch[target], probs).mean()
                for key, value in stats.items():  # wormholes: iterations and convergence
                    if key.endswith(("/iterations", "/converged")):
                        logs[key] = value.astype("float32").mean()
                return (params, opt_state, i + 1), logs

            self._train_step = jax.jit(step, donate_argnums=(0,),
                                       out_shardings=(self.replicated, self.replicated))  # fmt: skip
        return self._train_step

    def eval_step(self):
        if self._eval_step is None:
            import jax

            def step(params, batch, mask):
                per_example, outs, _ = self._objective(params, batch, None, False)
                sums = {"loss": (per_example * mask).sum(), "count": mask.sum()}
                for key, fn, out, target, probs in self.metric_specs:
                    sums[key] = (fn(outs[out], batch[target], probs) * mask).sum()
                return sums

            self._eval_step = jax.jit(step, out_shardings=self.replicated)
        return self._eval_step

    def eval_batches(self, arrays: dict[str, np.ndarray], limit: int | None):
        """Fixed-shape batches (the last padded) with a mask of real examples."""
        b = self.config.batch
        n = len(next(iter(arrays.values())))
        if limit:
            n = min(n, limit * b)
        out = []
        for start in range(0, n, b):
            stop = min(start + b, n)
            batch = {k: v[start:stop] for k, v in arrays.items()}
            mask = np.ones(b, np.float32)
            if stop - start < b:
                pad = b - (stop - start)
                batch = {k: np.concatenate([v, np.repeat(v[:1], pad, axis=0)]) for k, v in batch.items()}
                mask[stop - start:] = 0
            out.append((batch, mask))
        return out

    def evaluate(self, params, batches) -> dict[str, float]:
        import jax

        step = self.eval_step()
        totals = None
        for batch, mask in batches:
            sums = step(params, self.put_batch(batch), self.put_batch({"mask": mask})["mask"])
            totals = sums if totals is None else jax.tree_util.tree_map(lambda a, b: a + b, totals, sums)
        if totals is None:
            return {}
        totals = jax.device_get(totals)
        count = max(float(totals.pop("count")), 1.0)
        return {k: float(v) / count for k, v in totals.items()}

    # -- checkpoints
    def restore(self, path, *, with_opt: bool = True):
        """(params, opt_state or None, meta) from a checkpoint, checked against this model."""
        import jax

        from seqnet.backends.jax import checkpoint as ck

        meta, tensors = ck.read(path)
        where = meta["path"]
        p_template = self.param_template()
        params = ck.unflatten(p_template, "params", tensors, where)
        opt_state = None
        if with_opt:
            o_template = self.opt_template(p_template)
            if not any(k.startswith("opt/") for k in tensors) and jax.tree_util.tree_leaves(o_template):
                raise CheckpointError(f"checkpoint {where} holds no optimizer state; it cannot resume training")
            try:
                opt_state = ck.unflatten(o_template, "opt", tensors, where)
            except CheckpointError as e:
                raise CheckpointError(
                    f"{e} (the optimizer state does not match: the checkpoint was written with "
                    f"optimizer {meta.get('optimizer', '?')}, this run uses {self.config.optimizer.name})"
                ) from None
            opt_state = jax.device_put(opt_state, self.replicated)
        params = jax.device_put(params, self.replicated)
        return params, opt_state, meta


def _check_finite(pending: list, start_step: int, last_ckpt: str, lr_of) -> list[dict]:
    """Host copies of the pending per-step logs; TrainingError at the first non-finite one."""
    import jax

    host = jax.device_get(pending)
    for j, logs in enumerate(host):
        for what in ("loss", "grad_norm"):
            v = float(logs[what])
            if not math.isfinite(v):
                step = start_step + j + 1
                raise TrainingError(
                    f"training diverged at step {step}: {what.replace('_', ' ')} is {v} "
                    f"(learning rate {lr_of(step - 1):.3g}). Last good checkpoint: {last_ckpt}. "
                    "Lower the learning rate, add clip = 1.0, or check the data."
                )
    return host


def _locate_nonfinite(rt, params, batch) -> str:
    """A sentence pointing at the spec line where NaN/Inf first appears (best effort)."""
    if batch is None:
        return ""
    try:
        inputs = {k: batch[k] for k in rt.inputs}
        where = rt.lowered.first_nonfinite(params, inputs)
    except Exception as e:  # a diagnosis must never hide the error it explains
        return f"(could not locate the first non-finite value: {type(e).__name__})"
    if where is None:
        return "Every parameter and node output is finite on the last batch: the loss produced it."
    return where[0].upper() + where[1:] + "."


class _SigintFlag:
    """While active (main thread only), the first Ctrl-C sets a flag; the second raises."""

    def __init__(self):
        self.hit = False
        self._old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            try:
                self._old = signal.signal(signal.SIGINT, self._handler)
            except ValueError:
                self._old = None
        return self

    def _handler(self, signum, frame):
        if self.hit:
            raise KeyboardInterrupt
        self.hit = True

    def check(self, where: str) -> None:
        """Stop here if Ctrl-C was pressed (before anything was written)."""
        if self.hit:
            print(f"seqnet: interrupted {where}: nothing was written", file=sys.stderr)
            raise KeyboardInterrupt

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


# -- train -----------------------------------------------------------------------------------------

def _check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError as e:
        raise TrainingError(f"cannot write checkpoints to {folder}: {e.strerror or e}; "
                            "choose another folder with --out DIR") from None


def _refuse_earlier_run(out: Path, checkpoints: list) -> None:
    """A fresh run must not silently delete the checkpoints and metrics of an earlier one."""
    if out.exists() and not out.is_dir():
        raise TrainingError(f"the output folder {out} is a file; choose another with --out DIR")
    held = []
    if checkpoints:
        held.append(f"checkpoints up to {Path(checkpoints[-1]).name}")
    if (out / "metrics.jsonl").is_file():
        held.append("metrics.jsonl")
    if held:
        raise TrainingError(f"{out} holds an earlier run ({', '.join(held)}); nothing was changed. "
                            "Continue it with --resume (resume=True), replace it with --overwrite "
                            "(overwrite=True), or train into another folder (--out DIR, out=...)")  # fmt: skip


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
    with _SigintFlag() as sigint:
        return _train(model, out, resume, steps, progress, sigint, overwrite=overwrite,
                      log_every=log_every, keep=keep, callback=callback, **overrides)  # fmt: skip


def _train(model, out, resume, steps, progress, sigint, *, overwrite, log_every, keep, callback,
           **overrides) -> TrainResult:  # fmt: skip
    import jax

    from seqnet.backends.jax import checkpoint as ck
    from seqnet.backends.jax.progress import Bar, Clock, MetricsLog, plot
    from seqnet.data.batches import batches, prefetch

    config = resolve_config(model, steps, overrides)
    enable_compilation_cache()
    check_memory(model, config)
    rt = Runtime(model, config)
    name = spec_name(model)
    out = Path(out) if out is not None else Path("runs") / name
    ckpt_dir = out / "checkpoints"
    is_main = jax.process_index() == 0
    if not resume and not overwrite and is_main:
        _refuse_earlier_run(out, ck.list_checkpoints(ckpt_dir))
    out.mkdir(parents=True, exist_ok=True)

    start, last_ckpt, replaced = 0, None, []
    if is_main:  # find an unwritable output before training, not after it
        _check_writable(ckpt_dir)
    if resume:
        records = ck.list_checkpoints(ckpt_dir)
        if not records:
            raise CheckpointError(f"resume: no checkpoint in {ckpt_dir}")
        params, opt_state, meta = rt.restore(ckpt_dir)  # the newest intact one
        start, last_ckpt = int(meta["step"]), Path(meta["path"])
        if meta.get("spec") not in (None, name):
            raise CheckpointError(f"checkpoint {last_ckpt} belongs to spec '{meta.get('spec')}', not '{name}'")
    else:
        # An overwritten run's checkpoints go when this run writes its first one, not before:
        # a run that fails to start leaves the old one usable.
        replaced = ck.list_checkpoints(ckpt_dir)
        params, opt_state = rt.init_state()
    structure = ck.structure_hash({"params": params, "opt": opt_state})

    sigint.check("before the data was loaded")
    train_arrays = rt.load_split("train", config.examples)
    eval_arrays = rt.load_split("eval")
    eval_sets = rt.eval_batches(eval_arrays, config.eval_batches or None)
    sigint.check("after loading the data, before the first step")
    total = config.steps
    log_every = log_every or max(1, min(50, total // 20 or 1))

    # An overwritten run's metrics stay until this run writes its first checkpoint.
    staged = bool(replaced) or (not resume and (out / "metrics.jsonl").exists())
    log = MetricsLog(out, start if resume else None, staged=staged) if is_main else None
    saved_step = start if resume else None  # the step this run's newest checkpoint holds
    bar = Bar(total, start, progress and is_main, description=name)
    clock = Clock()
    lr_of = lambda s: float(rt.schedule(s))  # noqa: E731

    def save(step, p, o):
        nonlocal last_ckpt, saved_step
        if not is_main:
            return
        meta = {"spec": name, "config_hash": config_hash(config), "structure_hash": structure,
                "optimizer": config.optimizer.name,
                "data": {"source": config.data.name, "seed": config.seed, "batch": config.batch,
                         "start_step": step}}  # fmt: skip
        written = ck.save(ckpt_dir, step, p, o, meta=meta, keep=None if replaced else keep)
        if replaced:  # the run this one overwrites goes now that this one has a checkpoint
            for old in replaced:
                if old != written:
                    ck.remove(old)
            replaced.clear()
            ck.prune(ckpt_dir, keep)
        if log is not None:
            log.commit()
        last_ckpt, saved_step = written, step

    def last_good():
        return f"{last_ckpt} (step {json.loads(Path(last_ckpt).read_text())['step']})" if last_ckpt else \
            "none (no checkpoint was written yet)"

    def record(step, split, values, **extra):
        rec = {"step": step, "split": split, "loss": values.get("loss"),
               "metrics": {k: v for k, v in values.items() if k not in ("loss", "grad_norm")},
               "time": round(clock(), 4), **extra}  # fmt: skip
        if log is not None:
            log.write(rec)
        return rec

    step_fn = rt.train_step()
    state = (params, opt_state, jax.device_put(np.int32(start), rt.replicated))
    del params, opt_state
    stream = prefetch(batches(train_arrays, config.batch, config.seed, start_step=start),
                      size=2, transform=rt.put_batch)  # fmt: skip
    pending: list = []
    last_batch = None
    window_start = start
    train_metrics: dict[str, float] = {}
    step = start
    timed_from: tuple[float, int] | None = None
    interrupted = False

    def flush():
        nonlocal pending, window_start, train_metrics
        if not pending:
            return
        try:
            host = _check_finite(pending, window_start, last_good(), lr_of)
        except TrainingError as e:
            raise TrainingError(f"{e} {_locate_nonfinite(rt, state[0], last_batch)}") from None
        n = len(host)
        means = {k: float(np.mean([h[k] for h in host])) for k in host[0]}
        rate = None
        if timed_from is not None and step > timed_from[1]:
            rate = (step - timed_from[1]) * config.batch / max(clock() - timed_from[0], 1e-9)
        train_metrics = means
        for key, value in means.items():  # mechanisms.md 2: never silent
            if key.endswith("/converged") and value < 1.0 and key not in warned:
                warned.add(key)
                gate = key.split("/")[1]
                bar.print(f"warning: wormhole {gate}: {1 - value:.1%} of examples did not converge "
                          f"within max_iter (steps {window_start + 1}-{step}); raise max_iter or tol")  # fmt: skip
        record(step, "train", means, lr=lr_of(step - 1), grad_norm=means["grad_norm"],
               examples_per_s=round(rate, 1) if rate else None, steps=n)  # fmt: skip
        bar.update(step, means["loss"], rate)
        pending, window_start = [], step

    final_eval: dict[str, float] = {}
    warned: set[str] = set()
    try:
        try:
            while step < total:
                batch = next(stream)
                last_batch = batch
                state, logs = step_fn(state, batch)
                step += 1
                pending.append(logs)
                if timed_from is None:  # first step compiled: time from here
                    jax.block_until_ready(logs)
                    timed_from = (clock(), step)
                if callback is not None:
                    callback(step, logs)
                if sigint.hit:
                    raise KeyboardInterrupt
                if step % log_every == 0 or step == total:
                    flush()
                if config.eval_every and step % config.eval_every == 0 and step < total:
                    flush()
                    record(step, "eval", rt.evaluate(state[0], eval_sets))
                if config.checkpoint_every and step % config.checkpoint_every == 0 and step < total:
                    flush()
                    save(step, state[0], state[1])
        except KeyboardInterrupt:
            interrupted = True
            leaves = jax.tree_util.tree_leaves(state)
            if not any(getattr(x, "is_deleted", lambda: False)() for x in leaves):
                flush()
                save(step, state[0], state[1])
                bar.print(f"interrupted at step {step}: checkpoint written to {last_ckpt}; "
                          "continue with resume=True (--resume)")  # fmt: skip
            else:
                bar.print(f"interrupted at step {step} while the state was being updated: "
                          f"no checkpoint written; last good: {last_good()}")  # fmt: skip
            raise
        flush()
        wall = clock()
        if timed_from is not None and step > timed_from[1]:
            steps_per_s = (step - timed_from[1]) / max(wall - timed_from[0], 1e-9)
        else:
            steps_per_s = 0.0
        final_eval = rt.evaluate(state[0], eval_sets)
        record(step, "eval", final_eval)
        if saved_step != step:  # only this run's own record counts, never an older one at `step`
            save(step, state[0], state[1])
    finally:
        stream.close()
        bar.close()
        if log is not None:
            log.close()
        if log is not None and not log.committed:
            log.discard()  # a replacing run that never checkpointed leaves the old metrics
        if not interrupted and log is not None and log.committed:
            try:
                plot(log.history, out / "curves.png")
            except Exception:  # a plot is a convenience; never fail a run over it
                pass
    history = log.history if log is not None else []
    return TrainResult(
        metrics=final_eval, train_metrics=train_metrics, history=history, step=step, out_dir=out,
        checkpoint=Path(last_ckpt) if last_ckpt else None, metrics_path=out / "metrics.jsonl",
        plot_path=(out / "curves.png") if (out / "curves.png").exists() else None,
        params=state[0], steps_per_s=steps_per_s, examples_per_s=steps_per_s * config.batch,
        wall_s=wall, start_step=start,
    )  # fmt: skip


# -- evaluate / predict ----------------------------------------------------------------------------

def evaluate(model, checkpoint_dir: str | Path, *, batches: int | None = None, **overrides) -> dict[str, float]:
    """Loss and metrics on the eval split for the newest checkpoint in `checkpoint_dir`
    (a run folder, its checkpoints folder, or a step_*.json / .safetensors file).

    batches: how many eval batches (default: the config's eval_batches; 0 = the whole split)."""
    config = resolve_config(model, None, overrides)
    rt = Runtime(model, config)
    params, _, _ = rt.restore(checkpoint_dir, with_opt=False)
    limit = config.eval_batches if batches is None else batches
    return rt.evaluate(params, rt.eval_batches(rt.load_split("eval"), limit or None))


def first_true(mask: np.ndarray) -> tuple[int, ...] | None:
    """The index of the first True in `mask` (example first), or None: what bad-data errors name."""
    found = np.argwhere(mask)
    return tuple(int(i) for i in found[0]) if len(found) else None


def read_npz(path, model) -> dict[str, np.ndarray]:
    """The arrays of an .npz file of inputs; anything else is refused in words (never unpickled)."""
    import zipfile

    names = ", ".join(model.inputs)
    example = "np.savez(path, " + ", ".join(f"{k}=..." for k in model.inputs) + ")"
    try:
        loaded = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder, not an .npz file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise InputError(f"{path} is not an .npz file of arrays ({type(e).__name__}); write the "
                         f"inputs ({names}) with {example}") from None  # fmt: skip
    if isinstance(loaded, np.ndarray):
        raise InputError(f"{path} holds a single array (.npy); predict reads an .npz with one array "
                         f"per input ({names}): {example}")  # fmt: skip
    try:
        with loaded as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise InputError(f"{path}: cannot read its arrays ({type(e).__name__}: {e}); is it a "
                         f"complete .npz file?") from None  # fmt: skip


def check_targets(loss: str, out_type, name: str, target: np.ndarray, where: str) -> None:
    """Targets a loss cannot use make training diverge or learn nothing without a word: class
    indices outside the output's classes, fractional class indices, bce targets outside [0, 1]."""
    if target.size == 0:
        return
    classes = out_type.dims[-1] if out_type.dims else 1
    soft = np.issubdtype(target.dtype, np.floating) and tuple(target.shape[1:]) == tuple(out_type.dims)
    if loss == "bce":
        i = first_true(~((target >= 0) & (target <= 1)))
        if i is not None:
            raise InputError(f"{where}: bce targets must lie in [0, 1], but '{name}' holds "
                             f"{target[i]} at example {i[0]}")  # fmt: skip
        return
    if loss not in ("cross_entropy", "accuracy") or soft or (loss == "accuracy" and classes == 1):
        return
    if np.issubdtype(target.dtype, np.floating):
        i = first_true(target != np.round(target))
        if i is not None:
            raise InputError(f"{where}: {loss} needs class indices (whole numbers 0..{classes - 1}) in "
                             f"'{name}', but example {i[0]} holds {target[i]}")  # fmt: skip
    i = first_true((target < 0) | (target >= classes))
    if i is not None:
        raise InputError(f"{where}: {loss} needs class indices 0..{classes - 1} (the output "
                         f"{out_type} has {classes} classes), but '{name}' holds {target[i]} at "
                         f"example {i[0]}")  # fmt: skip


def check_inputs(model, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Arrays for the spec's inputs, shapes and dtypes checked (same-kind dtypes are cast)."""
    out, n = {}, None
    for name, t in model.inputs.items():
        want = f"{t.dtype}[batch, {', '.join(map(str, t.dims))}]".replace(", ]", "]")
        if name not in arrays:
            raise InputError(f"input '{name}' is missing: expected {want}; the file has "
                             + (", ".join(sorted(arrays)) or "no arrays"))  # fmt: skip
        a = np.asarray(arrays[name])
        got = f"{a.dtype}[{', '.join(map(str, a.shape))}]"
        want_dt = np.dtype(t.dtype) if t.dtype != "bfloat16" else np.dtype(np.float32)
        if a.ndim != len(t.dims) + 1 or tuple(a.shape[1:]) != tuple(t.dims):
            raise InputError(f"input '{name}': expected shape {want}, got {got}")
        if a.dtype.kind != want_dt.kind and not (a.dtype.kind in "iu" and want_dt.kind in "iu"):
            raise InputError(f"input '{name}': expected dtype {want}, got {got}")
        if n is not None and a.shape[0] != n:
            raise InputError(f"input '{name}' has {a.shape[0]} examples, other inputs have {n}")
        if t.vocab is not None and a.size:  # token ids out of range would embed garbage, silently
            where = first_true((a < 0) | (a >= t.vocab))
            if where is not None:
                raise InputError(f"input '{name}': token ids must lie in 0..{t.vocab - 1} "
                                 f"(declared {want} vocab {t.vocab}), but example {where[0]} holds "
                                 f"{a[where]} at position {where[1:]}")  # fmt: skip
        n = a.shape[0]
        out[name] = a.astype(t.dtype if t.dtype != "bfloat16" else np.float32, copy=False)
    return out


def predict(model, checkpoint_dir: str | Path, input_npz: str | Path, output_npz: str | Path | None = None,
            *, batch: int = 256) -> dict[str, np.ndarray]:  # fmt: skip
    """Run the model of a checkpoint on the arrays of `input_npz` (named like the spec inputs);
    write the outputs to `output_npz` atomically (when given) and return them."""
    import io

    import jax

    from seqnet.backends.jax import checkpoint as ck

    config = model.train_config
    lowered = model._jax()
    meta, tensors = ck.read(checkpoint_dir)
    template = jax.eval_shape(lowered.init, jax.random.PRNGKey(0))
    params = ck.unflatten(template, "params", tensors, meta["path"])
    arrays = read_npz(input_npz, model)
    inputs = check_inputs(model, arrays)
    n = len(next(iter(inputs.values()))) if inputs else 0
    if inputs and n == 0:
        raise InputError(f"{input_npz} holds no examples (its arrays have length 0)")
    fn = jax.jit(lambda p, x: lowered.apply(p, x, rng=None, train=False))
    chunks = []
    for s in range(0, n, batch):
        part = {k: v[s:s + batch] for k, v in inputs.items()}
        chunks.append(jax.device_get(fn(params, part)))
    outputs = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]} if chunks else {}
    if output_npz is not None:
        buf = io.BytesIO()
        np.savez(buf, **outputs)
        ck.atomic_write_bytes(output_npz, buf.getvalue())
    del config
    return outputs
