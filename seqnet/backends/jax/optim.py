"""The optax optimiser and learning-rate schedule of a TrainConfig."""

from __future__ import annotations

import optax

from seqnet.compiler.train_config import TrainConfig

_DEFAULTS = {
    "sgd": {"lr": 1e-2},
    "momentum": {"lr": 1e-2, "momentum": 0.9, "nesterov": False},
    "adam": {"lr": 1e-3, "b1": 0.9, "b2": 0.999, "eps": 1e-8},
    "adamw": {"lr": 1e-3, "b1": 0.9, "b2": 0.999, "eps": 1e-8, "weight_decay": 1e-4},
    "rmsprop": {"lr": 1e-3, "decay": 0.9, "eps": 1e-8, "momentum": 0.0},
    "lion": {"lr": 1e-4, "b1": 0.9, "b2": 0.99, "weight_decay": 0.0},
}


def base_lr(config: TrainConfig) -> float:
    return float({**_DEFAULTS.get(config.optimizer.name, {"lr": 1e-3}), **config.optimizer.args}["lr"])


def make_schedule(config: TrainConfig, steps: int | None = None):
    """step -> learning rate (an optax schedule)."""
    args = {**_DEFAULTS.get(config.optimizer.name, {"lr": 1e-3}), **config.optimizer.args}
    lr = float(args["lr"])
    steps = config.steps if steps is None else steps
    s = config.schedule
    if s.name == "constant":
        return optax.constant_schedule(lr)
    if s.name == "warmup_cosine":
        warmup = int(s.args.get("warmup", 0))
        end = float(s.args.get("end", 0.0))
        return optax.warmup_cosine_decay_schedule(
            0.0, lr, warmup_steps=warmup, decay_steps=max(steps, warmup + 1), end_value=lr * end)
    if s.name == "exponential":
        return optax.exponential_decay(lr, transition_steps=int(s.args.get("every", 1)),
                                       decay_rate=float(s.args.get("rate", 0.5)))  # fmt: skip
    raise ValueError(f"unknown schedule '{s.name}'; schedules: constant, warmup_cosine, exponential")


def make_optimizer(config: TrainConfig, steps: int | None = None):
    """(optax GradientTransformation, schedule), with global-norm clipping first when set."""
    name = config.optimizer.name
    if name not in _DEFAULTS:
        raise ValueError(f"unknown optimizer '{name}'; optimizers: {', '.join(_DEFAULTS)}")
    a = {**_DEFAULTS[name], **config.optimizer.args}
    lr = make_schedule(config, steps)
    if name == "sgd":
        opt = optax.sgd(lr)
    elif name == "momentum":
        opt = optax.sgd(lr, momentum=float(a["momentum"]), nesterov=bool(a["nesterov"]))
    elif name == "adam":
        opt = optax.adam(lr, b1=float(a["b1"]), b2=float(a["b2"]), eps=float(a["eps"]))
    elif name == "adamw":
        opt = optax.adamw(lr, b1=float(a["b1"]), b2=float(a["b2"]), eps=float(a["eps"]),
                          weight_decay=float(a["weight_decay"]))  # fmt: skip
    elif name == "rmsprop":
        opt = optax.rmsprop(lr, decay=float(a["decay"]), eps=float(a["eps"]),
                            momentum=float(a["momentum"]) or None)  # fmt: skip
    else:
        opt = optax.lion(lr, b1=float(a["b1"]), b2=float(a["b2"]),
                         weight_decay=float(a["weight_decay"]))  # fmt: skip
    if config.clip is not None:
        opt = optax.chain(optax.clip_by_global_norm(float(config.clip)), opt)
    return opt, lr


def adam_like(config: TrainConfig) -> int:
    """How many parameter-sized buffers the optimiser keeps (for the memory estimate)."""
    return {"sgd": 0, "momentum": 1, "rmsprop": 2, "lion": 1}.get(config.optimizer.name, 2)


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

    prefixes = [tuple(n.split("/")) + ("decoder",) for n in graph.nodes
                if graph.nodes[n]["op"] == "segments"]  # fmt: skip

    def scale(path, _leaf):
        keys = tuple(getattr(k, "key", str(k)) for k in path)
        return ratio if any(keys[: len(p)] == p for p in prefixes) else 1.0

    return jax.tree_util.tree_map_with_path(scale, params)
