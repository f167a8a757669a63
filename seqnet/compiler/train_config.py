"""The resolved `train { ... }` section: what the training runtime needs, checked by the compiler.

Every callable setting is a `CallSpec` (a name and keyword arguments, resolved to plain values):
`optimizer = adam(lr=3e-4)` -> CallSpec("adam", {"lr": 3e-4}).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CallSpec(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class LossSpec(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str  # cross_entropy | mse | bce | l1
    output: str  # a spec output name
    target: str  # a data field name


class MetricSpec(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str  # accuracy | mse | cross_entropy | ...
    output: str
    target: str


class TrainConfig(BaseModel):
    model_config = ConfigDict(frozen=True)
    data: CallSpec  # e.g. CallSpec("parity", {"n": 16}); see seqnet.data
    loss: LossSpec
    optimizer: CallSpec = CallSpec(name="adam", args={"lr": 1e-3})
    schedule: CallSpec = CallSpec(name="constant")
    batch: int = 32
    examples: int | None = None  # training examples drawn from a generated task (None: its default)
    steps: int = 1000
    eval_every: int = 0  # 0: only at the end
    eval_batches: int = 8
    checkpoint_every: int = 0  # 0: only at the end
    seed: int = 0
    clip: float | None = None  # global gradient-norm clipping
    metrics: tuple[MetricSpec, ...] = ()
    mode: str = "standard"  # standard | local (FEN local training)
    # FEN: the segment decoders' learning rate (the paper's eta; encoders use lr, its eta-bar)
    decoder_lr: float | None = None
    dtype: str = "float32"  # compute dtype: float32 | bfloat16 (parameters stay float32)
    mesh: dict[str, int] = Field(default_factory=lambda: {"data": -1})  # -1: all devices
    data_axis: str = "data"


LOSSES = ("cross_entropy", "mse", "bce", "l1")
METRICS = ("accuracy", "mse", "cross_entropy", "l1")
OPTIMIZERS = {
    "sgd": ("lr",),
    "momentum": ("lr", "momentum", "nesterov"),
    "adam": ("lr", "b1", "b2", "eps"),
    "adamw": ("lr", "b1", "b2", "eps", "weight_decay"),
    "rmsprop": ("lr", "decay", "eps", "momentum"),
    "lion": ("lr", "b1", "b2", "weight_decay"),
}
SCHEDULES = {
    "constant": (),
    "warmup_cosine": ("warmup", "end"),  # warmup steps; end: final lr as a fraction of lr
    "exponential": ("rate", "every"),  # lr * rate ** (step / every)
}
MODES = ("standard", "local")
TRAIN_KEYS = (
    "data", "loss", "optimizer", "schedule", "batch", "steps", "eval_every", "eval_batches",
    "checkpoint_every", "seed", "clip", "metrics", "mode", "dtype", "mesh", "data_axis", "decoder_lr", "examples",
)  # fmt: skip
