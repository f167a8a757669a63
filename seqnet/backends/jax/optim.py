"""The optax optimiser and learning-rate schedule of a TrainConfig."""

from __future__ import annotations

import optax

from seqnet.compiler.train_config import OPTIMIZERS, SCHEDULES, TrainConfig

# One optax builder per entry of the compiler's registries (compiler/train_config.py), given the
# learning rate (a schedule) and the entry's validated arguments with their defaults filled in.
OPTIMIZER_RULES = {
    "sgd": lambda lr, a: optax.sgd(lr),
    "momentum": lambda lr, a: optax.sgd(lr, momentum=a.momentum, nesterov=a.nesterov),
    "adam": lambda lr, a: optax.adam(lr, b1=a.b1, b2=a.b2, eps=a.eps),
    "adamw": lambda lr, a: optax.adamw(lr, b1=a.b1, b2=a.b2, eps=a.eps, weight_decay=a.weight_decay),
    "rmsprop": lambda lr, a: optax.rmsprop(lr, decay=a.decay, eps=a.eps, momentum=a.momentum or None),
    "lion": lambda lr, a: optax.lion(lr, b1=a.b1, b2=a.b2, weight_decay=a.weight_decay),
}
SCHEDULE_RULES = {
    "constant": lambda lr, steps, a: optax.constant_schedule(lr),
    "warmup_cosine": lambda lr, steps, a: optax.warmup_cosine_decay_schedule(
        0.0, lr, warmup_steps=a.warmup, decay_steps=max(steps, a.warmup + 1), end_value=lr * a.end),
    "exponential": lambda lr, steps, a: optax.exponential_decay(
        lr, transition_steps=a.every, decay_rate=a.rate),
}  # fmt: skip
# Parameter-sized buffers each optimiser keeps (for the memory estimate).


def _args(table: dict, call):
    if call.name not in table:
        raise ValueError(f"unknown {'optimizer' if table is OPTIMIZERS else 'schedule'} "
                         f"'{call.name}'; choose one of {', '.join(table)}")  # fmt: skip
    return table[call.name](**call.args)


def base_lr(config: TrainConfig) -> float:
    return float(_args(OPTIMIZERS, config.optimizer).lr)


def make_schedule(config: TrainConfig, steps: int | None = None):
    """step -> learning rate (an optax schedule)."""
    steps = config.steps if steps is None else steps
    return SCHEDULE_RULES[config.schedule.name](base_lr(config), steps, _args(SCHEDULES, config.schedule))


def make_optimizer(config: TrainConfig, steps: int | None = None):
    """(optax GradientTransformation, schedule), with global-norm clipping first when set."""
    args = _args(OPTIMIZERS, config.optimizer)
    lr = make_schedule(config, steps)
    opt = OPTIMIZER_RULES[config.optimizer.name](lr, args)
    if config.clip is not None:
        opt = optax.chain(optax.clip_by_global_norm(float(config.clip)), opt)
    return opt, lr


def host_schedule(config: TrainConfig, schedule):
    """step -> the learning rate as a Python float, for logs and messages. A constant schedule is
    its number; any other is jitted once: called as it is, each of its jnp operations compiles
    on its own the first time (0.7 s of a run's start for warmup_cosine, 0.1 s as one program)."""
    if config.schedule.name == "constant":
        lr = base_lr(config)
        return lambda step: lr
    import jax
    import numpy as np

    jitted = jax.jit(schedule)
    return lambda step: float(jitted(np.int32(step)))


def adam_like(config: TrainConfig) -> int:
    """How many parameter-sized buffers the optimiser keeps (for the memory estimate)."""
    return OPTIMIZERS[config.optimizer.name].buffers


def scale_subtrees(scales):
    """An optax transformation multiplying each update by a per-leaf constant (a pytree of
    floats shaped like the parameters): FEN decoders learn at decoder_lr / lr times the rate."""

    def init(params):
        del params
        return optax.EmptyState()

    def update(updates, state, params=None):
        del params
        return _mul(updates, scales), state

    return optax.GradientTransformation(init, update)


def _mul(updates, scales):
    import jax

    return jax.tree.map(lambda u, s: u * s if s != 1.0 else u, updates, scales)


def decoder_scales(params, graph, ratio: float):
    """1.0 everywhere except the `decoder` parameters of every segments node: `ratio`."""
    import jax

    prefixes = [tuple(n.split("/")) + ("decoder",) for n, regions in graph.nodes(data="regions")
                if regions and "decoder" in regions]  # fmt: skip

    def scale(path, _leaf):
        keys = tuple(getattr(k, "key", str(k)) for k in path)
        return ratio if any(keys[: len(p)] == p for p in prefixes) else 1.0

    return jax.tree_util.tree_map_with_path(scale, params)
