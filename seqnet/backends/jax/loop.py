"""The training loop: setup of a run (fresh, resumed or replacing one), the steps, logging,
the eval and checkpoint schedule, divergence and Ctrl-C, and the final evaluation."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seqnet.backends.jax import checkpoint as ck
from seqnet.backends.jax.checkpoint import CheckpointError
from seqnet.backends.jax.cluster import check_peers
from seqnet.backends.jax.devices import enable_compilation_cache
from seqnet.backends.jax.failures import TrainingError
from seqnet.backends.jax.memory import check_memory
from seqnet.backends.jax.metricslog import MetricsLog
from seqnet.backends.jax.modes import precision
from seqnet.backends.jax.plots import plot
from seqnet.backends.jax.progress import Bar, Clock
from seqnet.backends.jax.runfolder import (
    CHECKPOINTS,
    CURVES,
    METRICS,
    RunLock,
    check_writable,
    clean_temp_files,
    refuse_earlier_run,
)
from seqnet.backends.jax.runtime import Runtime
from seqnet.backends.jax.settings import config_hash, resolve_config, spec_name
from seqnet.backends.jax.soundness import CheckpointHistory
from seqnet.backends.jax.step import check_finite, locate_nonfinite
from seqnet.backends.jax.wormhole_report import TrainingWatch


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


def param_norm(params) -> float:
    """The global L2 norm of a parameter tree, in float64 on the host (a float32 sum of squares
    overflows at norms of 1e19, which exploded parameters reach while still finite)."""
    import jax

    leaves = jax.tree_util.tree_leaves(params)
    if not all(getattr(x, "is_fully_addressable", True) for x in leaves):
        return _spread_norm(leaves)
    leaves = jax.device_get(leaves)
    return math.sqrt(sum(float(np.sum(np.square(np.asarray(x, np.float64)))) for x in leaves))


def _spread_norm(leaves) -> float:
    """The norm of parameters spread over processes (no process can fetch them whole): each
    leaf's largest magnitude m and sum of (x / m)^2 on the devices, combined in float64 here."""
    import jax
    import jax.numpy as jnp

    @jax.jit
    def parts(x):
        m = jnp.max(jnp.abs(x)).astype(jnp.float32)
        scaled = jnp.where(m > 0, x.astype(jnp.float32) / jnp.where(m > 0, m, 1.0), 0.0)
        return m, jnp.sum(scaled * scaled)

    total = 0.0
    for m, s in jax.device_get([parts(x) for x in leaves]):
        total += float(m) ** 2 * float(s)
    return math.sqrt(total)


def run(model, out, resume, steps, progress, sigint, *, overwrite, log_every, keep, callback,
        **overrides) -> TrainResult:  # fmt: skip
    """The body of `train` (train.py), run with Ctrl-C turned into `sigint`'s flag, in the
    precision the run asks for."""
    config = resolve_config(model, steps, overrides)
    with precision(config):
        return _run(model, config, out, resume, progress, sigint, overwrite=overwrite,
                    log_every=log_every, keep=keep, callback=callback)  # fmt: skip


def _run(model, config, out, resume, progress, sigint, *, overwrite, log_every, keep, callback):
    import jax

    enable_compilation_cache()
    check_memory(model, config)
    rt = Runtime(model, config)
    name = spec_name(model)
    out = Path(out) if out is not None else Path("runs") / name
    is_main = jax.process_index() == 0
    if not is_main:  # only process 0 writes the run folder
        return train_in(rt, model, config, name, out, resume, progress, sigint, overwrite=overwrite,
                        log_every=log_every, keep=keep, callback=callback, is_main=False)  # fmt: skip
    if out.exists() and not out.is_dir():
        refuse_earlier_run(out, [])
    out.mkdir(parents=True, exist_ok=True)
    with RunLock(out):  # one run at a time in a folder, from its first look to its last write
        for path in clean_temp_files(out):
            print(f"seqnet: removed {path}, left by a write that was killed", file=sys.stderr)
        return train_in(rt, model, config, name, out, resume, progress, sigint, overwrite=overwrite,
                        log_every=log_every, keep=keep, callback=callback, is_main=True)  # fmt: skip


def train_in(rt, model, config, name, out, resume, progress, sigint, *, overwrite, log_every, keep,
             callback, is_main) -> TrainResult:  # fmt: skip
    """The run itself, in `out` (whose lock process 0 holds)."""
    import jax

    ckpt_dir = out / CHECKPOINTS
    if not resume and not overwrite and is_main:
        refuse_earlier_run(out, ck.list_checkpoints(ckpt_dir))

    start, last_ckpt, replaced = 0, None, []
    if is_main:  # find an unwritable output before training, not after it
        check_writable(ckpt_dir)
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
    history = CheckpointHistory()  # which checkpoint is the last good one (soundness.py)
    history.start(param_norm(params), (last_ckpt, start) if resume else None)

    sigint.check("before the data was loaded")
    train_arrays = rt.driver.train_data()
    eval_arrays = rt.driver.eval_data(rt.load_split("eval"))
    eval_sets = rt.eval_batches(eval_arrays, config.eval_batches or None)
    sigint.check("after loading the data, before the first step")
    total = config.steps
    log_every = log_every or max(1, min(50, total // 20 or 1))

    # An overwritten run's metrics stay until this run writes its first checkpoint.
    staged = bool(replaced) or (not resume and (out / METRICS).exists())
    log: MetricsLog | None = None  # opened inside the try below, so the finally always closes it
    saved_step = start if resume else None  # the step this run's newest checkpoint holds
    bar = Bar(total, start, progress and is_main, description=name)
    clock = Clock()
    lr_of = rt.lr_of

    sharded = rt.placements.config.active  # each process writes its own shards

    def save(step, p, o):
        nonlocal last_ckpt, saved_step
        if not is_main and not sharded:
            return
        meta = {"spec": name, "config_hash": config_hash(config), "structure_hash": structure,
                "optimizer": config.optimizer.name,
                "data": {"source": config.data.name, "seed": config.seed, "batch": config.batch,
                         "start_step": step}}  # fmt: skip
        norm = param_norm(p)
        protect = [history.sound[0]] if history.sound and history.why_unsound(
            train_metrics.get("loss"), norm) else []  # an exploded one never pushes out the last good
        writer = ck.save_sharded if sharded else ck.save
        written = writer(ckpt_dir, step, p, o, meta=meta, keep=None if replaced else keep, within=out,
                         protect=protect)  # fmt: skip
        if written is None:  # another process's shards: process 0 commits them
            return
        history.judge(written, step, train_metrics.get("loss"), norm)
        if replaced:  # the run this one overwrites goes now that this one has a checkpoint
            for old in replaced:
                if old != written:
                    ck.remove(old)
            replaced.clear()
            ck.prune(ckpt_dir, keep, protect)
        if log is not None:
            log.commit()
        last_ckpt, saved_step = written, step

    def last_good():
        return history.describe()

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
    stream = rt.driver.train_stream(train_arrays, start)
    per_step = rt.driver.examples_per_step()
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
        host = jax.device_get(pending)
        watch.check(host, window_start, last_good(), lr_of)  # wormholes first (mechanisms.md 2)
        try:
            check_finite(host, window_start, last_good(), lr_of)
        except TrainingError as e:
            raise TrainingError(f"{e} {locate_nonfinite(rt, state[0], last_batch)}") from None
        n = len(host)
        means = {k: float(np.mean([h[k] for h in host])) for k in host[0]}
        rate = None
        if timed_from is not None and step > timed_from[1]:
            rate = (step - timed_from[1]) * per_step / max(clock() - timed_from[0], 1e-9)
        train_metrics = means
        history.log_loss(means["loss"])
        record(step, "train", means, lr=lr_of(step - 1), grad_norm=means["grad_norm"],
               examples_per_s=round(rate, 1) if rate else None, steps=n)  # fmt: skip
        bar.update(step, means["loss"], rate)
        pending, window_start = [], step

    final_eval: dict[str, float] = {}
    watch = TrainingWatch(model.graph, bar.print)
    try:
        if is_main:
            log = MetricsLog(out, start if resume else None, staged=staged)
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
        if step > start or not any(r.get("split") == "eval" and r.get("step") == step
                                   for r in (log.history if log is not None else [])):  # fmt: skip
            record(step, "eval", final_eval)  # once: a resumed finished run has its record
        if saved_step != step:  # only this run's own record counts, never an older one at `step`
            save(step, state[0], state[1])
    except Exception as e:  # in a multi-process run, a failed collective: a peer is gone
        committed = ck.list_checkpoints(ckpt_dir)
        check_peers(e, f"at step {step} (last committed checkpoint: "
                       f"{committed[-1] if committed else 'none'})")  # fmt: skip
        raise
    finally:
        stream.close()
        bar.close()
        if log is not None:
            log.close()
        if log is not None and not log.committed:
            log.discard()  # a replacing run that never checkpointed leaves the old metrics
        if not interrupted and log is not None and log.committed:
            try:
                plot(log.history, out / CURVES, within=out)
            except Exception:  # a plot is a convenience; never fail a run over it
                pass
    history = log.history if log is not None else []
    return TrainResult(
        metrics=final_eval, train_metrics=train_metrics, history=history, step=step, out_dir=out,
        checkpoint=Path(last_ckpt) if last_ckpt else None, metrics_path=out / METRICS,
        plot_path=(out / CURVES) if (out / CURVES).exists() else None,
        params=state[0], steps_per_s=steps_per_s, examples_per_s=steps_per_s * per_step,
        wall_s=wall, start_step=start,
    )  # fmt: skip
