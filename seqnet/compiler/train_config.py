"""The resolved `train { ... }` section: what the training runtime needs, checked by the compiler.

Every callable setting is a `CallSpec` (a name and keyword arguments, resolved to plain values):
`optimizer = adam(lr=3e-4)` -> CallSpec("adam", {"lr": 3e-4}).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
)


class CallSpec(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)
    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class LossSpec(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)
    name: str  # cross_entropy | mse | bce | l1
    output: str  # a spec output name
    target: str  # a data field name
    weight: float = 1.0  # its factor in a weighted sum of loss terms
    lengths: str | None = None  # a data field of lengths: positions past them are skipped


class MetricSpec(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)
    name: str  # accuracy | mse | cross_entropy | ...
    output: str
    target: str
    lengths: str | None = None  # as LossSpec's


class ShardRule(BaseModel):
    """The parameters of `target` (an op family, or in `nodes` a node name) split their axis
    `axis` (a ParamSpec role: in, out, vocab, heads, ...) over mesh axis `mesh_axis`; a rule
    without a mesh axis keeps them whole (replicated). compiler/sharding.py applies it."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    target: str
    axis: str | None = None
    mesh_axis: str | None = None


class ShardingConfig(BaseModel):
    """`sharding = sharding(dense=columns(model), fsdp=data, nodes=nodes(head=rows(model)))`:
    where parameters and optimiser state live on the mesh (none of it: everything replicated)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    rules: tuple[ShardRule, ...] = ()  # by op family
    nodes: tuple[ShardRule, ...] = ()  # by node, over the family rules
    fsdp: str | None = None  # the mesh axis that splits every large parameter
    fsdp_min: int = Field(4096, ge=0)  # elements a parameter needs for fsdp to split it

    @property
    def active(self) -> bool:
        return bool(self.fsdp or any(r.mesh_axis for r in (*self.rules, *self.nodes)))


class Curriculum(BaseModel):
    """`curriculum = lengths(start=2, every=250)`: training sequences from short to long.

    Stage s (s = 0, 1, ...) is the run's steps s * every + 1 .. (s + 1) * every; its examples are
    the data source's at length min(n, start * 2**s) (the first L tokens drawn, the rest the
    task's identity token, its own examples per length); from the first stage at n on, the rest
    of the run is at full length. Evaluation is always at full length. every = 0: no curriculum.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    start: int = Field(2, ge=1)
    every: int = Field(0, ge=0)

    def lengths(self, n: int) -> tuple[int, ...]:
        """The length of each stage, the last one n."""
        if not self.every:
            return (n,)
        out = [min(n, self.start)]
        while out[-1] < n:
            out.append(min(n, out[-1] * 2))
        return tuple(out)

    def stage(self, step: int, n: int) -> int:
        """The stage of the step after `step` steps were done (0-based step index)."""
        return min(step // self.every, len(self.lengths(n)) - 1) if self.every else 0


class TrainConfig(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)
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
    # `loss = cross_entropy(y, label) + 0.1 * mse(z, target)`: every term (the first is `loss`);
    # empty for a loss of one unweighted term
    loss_terms: tuple[LossSpec, ...] = ()
    mode: str = "standard"  # a training mode of the registry (compiler/modes/)
    mode_args: dict[str, Any] = Field(default_factory=dict)  # its settings, as written
    # FEN: the segment decoders' learning rate (the paper's eta; encoders use lr, its eta-bar)
    decoder_lr: float | None = None
    curriculum: Curriculum | None = None  # short to long training sequences (monoid tasks)
    dtype: str = "float32"  # compute dtype: float32 | bfloat16 | float64 (as the mode allows)
    mesh: dict[str, int] = Field(default_factory=lambda: {"data": -1})  # -1: all devices
    data_axis: str = "data"
    sharding: ShardingConfig = Field(default_factory=ShardingConfig)
    @property
    def terms(self) -> tuple[LossSpec, ...]:
        """The loss terms whose weighted sum is trained (one, unweighted, for most specs)."""
        return self.loss_terms or (self.loss,)


# --- optimisers and schedules: one pydantic model each --------------------------------------------
# A field's constraints decide what is valid; its description says so in words, and its example
# is the hint ("for example adam(lr=1e-3)"). Both the spec's train section and model.train(...)
# validate through these models, and the runtime reads the defaults from them.


def _number(v: Any) -> Any:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError("not a number")
    return v


def _whole(v: float) -> int:
    if not float(v).is_integer():
        raise ValueError("not a whole number")
    return int(v)


Number = Annotated[float, BeforeValidator(_number)]
Whole = Annotated[float, BeforeValidator(_number), AfterValidator(_whole)]


def _arg(default, what: str, example: str, **constraints):
    return Field(default, description=what, examples=[example], allow_inf_nan=False, **constraints)


def _positive(default, example):
    return _arg(default, "a positive number", example, gt=0)


def _fraction(default, example):
    return _arg(default, "a number in [0, 1)", example, ge=0, lt=1)


class SettingArgs(BaseModel):
    """The keyword arguments of one optimiser or schedule, with their defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    buffers: ClassVar[int] = 0  # an optimiser's parameter-sized state buffers (memory estimates)


class Sgd(SettingArgs):
    lr: Number = _positive(1e-2, "1e-2")


class Momentum(SettingArgs):
    buffers: ClassVar[int] = 1
    lr: Number = _positive(1e-2, "1e-2")
    momentum: Number = _fraction(0.9, "0.9")
    nesterov: StrictBool = Field(False, description="true or false", examples=["true"])


class Adam(SettingArgs):
    buffers: ClassVar[int] = 2
    lr: Number = _positive(1e-3, "1e-3")
    b1: Number = _fraction(0.9, "0.9")
    b2: Number = _fraction(0.999, "0.999")
    eps: Number = _positive(1e-8, "1e-8")


class AdamW(Adam):
    weight_decay: Number = _arg(1e-4, "a number of at least 0", "1e-4", ge=0)


class RmsProp(SettingArgs):
    buffers: ClassVar[int] = 2
    lr: Number = _positive(1e-3, "1e-3")
    decay: Number = _fraction(0.9, "0.9")
    eps: Number = _positive(1e-8, "1e-8")
    momentum: Number = _fraction(0.0, "0.9")


class Lion(SettingArgs):
    buffers: ClassVar[int] = 1
    lr: Number = _positive(1e-4, "1e-4")
    b1: Number = _fraction(0.9, "0.9")
    b2: Number = _fraction(0.99, "0.99")
    weight_decay: Number = _arg(0.0, "a number of at least 0", "1e-4", ge=0)


class Constant(SettingArgs):
    pass


class WarmupCosine(SettingArgs):
    warmup: Whole = _arg(0, "a whole number of steps, at least 0", "100", ge=0)
    end: Number = _arg(0.0, "a fraction of lr in [0, 1]", "0.1", ge=0, le=1)  # final lr / lr


class Exponential(SettingArgs):  # lr * rate ** (step / every)
    rate: Number = _positive(0.5, "0.5")
    every: Whole = _arg(1, "a whole number of steps, at least 1", "1000", ge=1)


OPTIMIZERS: dict[str, type[SettingArgs]] = {
    "sgd": Sgd, "momentum": Momentum, "adam": Adam, "adamw": AdamW, "rmsprop": RmsProp, "lion": Lion,
}  # fmt: skip
SCHEDULES: dict[str, type[SettingArgs]] = {
    "constant": Constant, "warmup_cosine": WarmupCosine, "exponential": Exponential,
}  # fmt: skip


def arg_problems(table: dict[str, type[SettingArgs]], name: str, args: dict[str, Any]):
    """[(argument, what it must be, an example)] for each argument the model refuses."""
    model = table[name]
    try:
        model(**args)
    except ValidationError as e:
        out = []
        for err in e.errors():
            arg = str(err["loc"][0]) if err.get("loc") else ""
            info = model.model_fields.get(arg)
            what = info.description if info is not None else err.get("msg", "invalid")
            example = info.examples[0] if info is not None and info.examples else None
            out.append((arg, what, example))
        return out
    return []


def resolved_args(table: dict[str, type[SettingArgs]], call: CallSpec) -> dict[str, Any]:
    """A call's arguments with the defaults filled in (already validated by the compiler)."""
    return table[call.name](**call.args).model_dump()


TRAIN_KEYS = (
    "data", "loss", "optimizer", "schedule", "batch", "steps", "eval_every", "eval_batches",
    "checkpoint_every", "seed", "clip", "metrics", "mode", "dtype", "mesh", "data_axis", "sharding",
    "decoder_lr", "examples", "curriculum",
)  # fmt: skip
