"""The train settings of one run: the spec's train section with keyword overrides, and its hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

from seqnet.backends.jax.failures import TrainingError


def spec_name(model) -> str:
    """The stem that names a run (runs/<stem>) and is recorded in its checkpoints."""
    if getattr(model, "path", None):
        return Path(model.path).stem
    source = model.graph.graph.get("source")
    if source and not str(source).startswith("<"):
        return Path(str(source)).stem
    return "model"


def resolve_config(model, steps: int | None, overrides: dict):
    """The model's train config with `steps` and keyword `overrides` applied, each checked."""
    config = model.train_config
    if config is None:
        raise TrainingError("this spec has no train { ... } section: nothing says how to train it")
    from seqnet.compiler.modes.catalog import load_modes
    from seqnet.compiler.train import check_setting
    from seqnet.compiler.train_mode import check_mode_setting

    fields = set(type(config).model_fields)
    mode = load_modes().get(overrides.get("mode", config.mode))
    own = {s.name for s in mode.settings} if mode is not None else set()
    same = mode is not None and mode.name == config.mode
    update, mode_args = {}, dict(config.mode_args) if same else {}
    for k, v in {**overrides, **({"steps": steps} if steps is not None else {})}.items():
        problem = check_mode_setting(k, v, mode.name) if k in own else check_setting(k, v)
        if problem is not None:
            raise TrainingError(f"train(): {problem}")
    if mode is not None and mode.steps_setting is not None and steps is not None:
        raise TrainingError(f"train(): mode = {mode.name} counts its steps in {mode.steps_setting}; "
                            f"pass {mode.steps_setting}=... instead of steps")  # fmt: skip
    for k, v in overrides.items():
        if k in own:
            mode_args[k] = v
        elif k == "lr":
            update["optimizer"] = config.optimizer.model_copy(
                update={"args": {**config.optimizer.args, "lr": float(v)}})  # fmt: skip
        elif k in fields:
            update[k] = v
        else:
            raise TypeError(f"train() got an unknown setting '{k}'; settings: "
                            + ", ".join(sorted(fields | {"lr"})))  # fmt: skip
    if steps is not None:
        update["steps"] = int(steps)
    if mode_args != config.mode_args or "mode" in update:
        update["mode_args"] = mode_args
        if mode is not None and mode.steps_setting is not None:
            update["steps"] = mode.resolved(mode_args)[mode.steps_setting]
    if update:
        config = type(config).model_validate({**config.model_dump(), **update})
    return config


def config_hash(config) -> str:
    """A short hash of every setting, recorded in each checkpoint."""
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:16]
