"""The op registry: every op is defined once, here, and every stage reads that one definition.

An `OpDef` holds the op's signature (tensor and attribute arguments with kinds and defaults), its
shape rule, its parameter shapes and initialisers, a FLOPs estimate, the temporaries its lowering
holds (for the memory estimate), whether it returns probabilities, its diagram family, and one
lowering rule per backend. Backends attach lowerings with `catalog.register_lowering` (the way JAX
attaches per-platform lowering rules to a primitive), so nothing here imports a backend. This
module is a leaf: `catalog.py` loads the family modules that fill OPS.

Drawing backends attach drawing rules the same way, with `register_drawing(op, backend)`, into
`OpDef.drawings` (kept apart from `lowerings`: a drawing rule is not a computation, and its shape
is the drawing backend's own business). An op with no drawing rule of its own is drawn by its
family's default rule, which the drawing backend defines once per entry of FAMILY_STYLES.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from seqnet.compiler.types import Dim, TensorType
from seqnet.compiler.values import spell


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

# Argument kinds. "tensor": one tensor; "tensors": any number of tensors (variadic, positional);
# the rest are attributes, fixed at compile time.
TENSOR_KINDS = ("tensor", "tensors")
ATTR_KINDS = ("int", "float", "bool", "str", "choice", "ints", "any")

ACTIVATIONS = (
    "none", "relu", "gelu", "tanh", "sigmoid", "silu", "softplus", "elu", "leaky_relu", "softmax",
)  # fmt: skip
# the activations whose results are probabilities (losses then read them as such)
PROBABILITY_ACTIVATIONS = ("sigmoid", "softmax")


@dataclass(frozen=True)
class Arg:
    name: str
    kind: str
    default: Any = REQUIRED
    choices: tuple = ()
    doc: str = ""

    @property
    def is_tensor(self) -> bool:
        return self.kind in TENSOR_KINDS

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


# the initialiser recipes a ParamSpec (and `param(..., init=...)`) may name; see ParamSpec
INITS = ("glorot_uniform", "lecun_normal", "zeros", "ones", "normal", "uniform", "constant", "orthogonal")


@dataclass(frozen=True)
class ParamSpec:
    """A learned parameter: its shape and how to initialise it (a backend-neutral recipe).

    init: "glorot_uniform", "lecun_normal", "zeros", "ones", "normal" (std = scale),
    "uniform" (+-scale), "constant" (= scale), "orthogonal".

    axes: the parameter's role, one name per axis ("in", "out" for a dense kernel, "vocab",
    "embed" for an embedding table, "heads" for attention projections); sharding rules
    (compiler/sharding.py) name these to say which axis a mesh axis splits. Empty: unnamed.
    """

    shape: tuple[int, ...]
    init: str = "glorot_uniform"
    scale: float = 1.0
    axes: tuple[str, ...] = ()

    def __post_init__(self):  # plain ints: dim texts (NamedInt) belong to shapes, not parameters
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        if self.axes and len(self.axes) != len(self.shape):
            raise ValueError(f"ParamSpec axes {self.axes} do not name the axes of {self.shape}")

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class EdgeMask:
    """The op's parameters are masked by a per-example adjacency, its tensor argument `arg`.
    `enabled(attrs, adj, shapes, xp)` gives, for each parameter it masks, a boolean array of that
    parameter's shape, true where the n x n matrix `adj` enables the entry (a parameter left out
    is never masked); `shapes` are the parameters' shapes, `xp` numpy or jax.numpy. Training
    modes that merge masked subnetworks (mask_merge) read it."""

    arg: str
    enabled: Callable[..., dict[str, Any]]


class ShapeError(Exception):
    """Raised by a shape rule. `arg` names the argument at fault, so the error points at it."""

    def __init__(self, message: str, arg: str | None = None, hint: str | None = None, code="SQN0301"):
        super().__init__(message)
        self.message = message
        self.arg = arg
        self.hint = hint
        self.code = code


@dataclass(frozen=True)
class OpCall:
    """An op applied to typed inputs and resolved attributes: what shape/param/cost rules see."""

    op: OpDef
    inputs: dict[str, TensorType | tuple[TensorType, ...]]
    attrs: dict[str, Any]

    def __getitem__(self, name: str):
        if name in self.inputs:
            return self.inputs[name]
        return self.attrs[name]

    def get(self, name: str, default=None):
        try:
            return self[name]
        except KeyError:
            return default


def _no_params(call: OpCall) -> dict[str, ParamSpec]:
    return {}


def _unstated_flops(call: OpCall, outputs: list[TensorType]) -> int:
    return 0


def zero_flops(call: OpCall, outputs: list[TensorType]) -> int:
    """The cost rule of ops that only move, select or relabel data: no arithmetic to count."""
    return 0


def _no_temporaries(call: OpCall, outputs: list[TensorType]) -> dict[str, int]:
    return {}


def _act_gives_probabilities(attrs: dict[str, Any]) -> bool:
    return attrs.get("act") in PROBABILITY_ACTIVATIONS


@dataclass
class OpDef:
    name: str
    family: str
    args: tuple[Arg, ...]
    infer: Callable[[OpCall], list[TensorType]]
    params: Callable[[OpCall], dict[str, ParamSpec]] = _no_params
    flops: Callable[[OpCall, list[TensorType]], int] = _unstated_flops  # see has_cost_rule
    # the tensors the lowering holds besides its inputs and outputs, where they outgrow them
    # (attention scores: heads x T x T), as {what they are: bytes per example}; the memory
    # estimate adds them up and names the largest when it refuses a run
    temporaries: Callable[[OpCall, list[TensorType]], dict[str, int]] = _no_temporaries
    # attrs -> whether the result is a probability (a softmax or sigmoid at the end); by default
    # an op whose `act` attribute is one of PROBABILITY_ACTIVATIONS
    probabilities: Callable[[dict[str, Any]], bool] = _act_gives_probabilities
    doc: str = ""
    notes: str = ""  # the decisions behind the op, for docs/ops.md's notes (markdown)
    needs_rng: bool = False  # dropout and friends take a PRNG key in training
    outputs: tuple[str, ...] = ("out",)  # names of the results (several for split, lstm, ...)
    lowerings: dict[str, Callable] = field(default_factory=dict)
    # backend -> incremental ("step") rule: the op computed for one new position of a sequence,
    # given what it kept from the earlier ones (a recurrent state, a KV cache), for generation
    steps: dict[str, Any] = field(default_factory=dict)
    drawings: dict[str, Any] = field(default_factory=dict)  # backend -> drawing rule
    # attrs -> (message, attribute at fault, hint) when a trained spec cannot use the op so
    # configured (a wormhole solved by forward-mode AD has no gradient to train with)
    train_rule: Callable[[dict[str, Any]], tuple[str, str, str | None] | None] | None = None
    local_training: bool = False  # trains with `mode = local` (segment structures)
    edge_mask: EdgeMask | None = None  # its parameters are masked by an input adjacency
    # the role (ParamSpec.axes) of the parameter axis its first result's last axis runs along
    # (a dense's "out"): a sharding rule that splits that axis leaves the result split there,
    # and the lowering says so with a sharding constraint (compiler/sharding.activation_specs)
    feature_axis: str | None = None
    # the statement that creates the op ("wormhole", "segments"): such an op is not called by
    # name, and diagnostics name it by its statement
    statement: str | None = None
    # its first argument is a cell: a block call template that compiler/cells.py elaborates as
    # the node's region (scan), not a value
    takes_cell: bool = False

    @property
    def has_cost_rule(self) -> bool:
        """Whether the op states its FLOPs (`zero_flops` for ops that only move data), rather
        than leaving the default that counts nothing."""
        return self.flops is not _unstated_flops

    def gives_probabilities(self, attrs: dict[str, Any]) -> bool:
        """Whether the op so configured returns probabilities, not logits."""
        return self.probabilities(attrs)

    def arg(self, name: str) -> Arg | None:
        for a in self.args:
            if a.name == name:
                return a
        return None

    @property
    def tensor_args(self) -> tuple[Arg, ...]:
        return tuple(a for a in self.args if a.is_tensor)

    @property
    def attr_args(self) -> tuple[Arg, ...]:
        return tuple(a for a in self.args if not a.is_tensor)

    def signature(self) -> str:
        parts = ["cell"] if self.takes_cell else []
        for a in self.args:
            text = f"*{a.name}" if a.kind == "tensors" else a.name
            if not a.required:  # written as a spec would write it: true, none, "text"
                if isinstance(a.default, str) and a.kind == "str":
                    text += f'="{a.default}"'
                else:
                    text += f"={spell(a.default)}"
            parts.append(text)
        return f"{self.name}({', '.join(parts)})"


OPS: dict[str, OpDef] = {}

# One diagram style per op family: (graphviz shape, light fill, dark fill).
FAMILY_STYLES: dict[str, tuple[str, str, str]] = {
    "io": ("ellipse", "#e8e8e8", "#3a3a3a"),
    "dense": ("box", "#cfe2ff", "#1d3b66"),
    "embedding": ("box", "#d7f0e3", "#1d4d35"),
    "conv": ("box", "#ffe5b4", "#6b4a12"),
    "activation": ("box", "#fde2e4", "#6b2630"),
    "norm": ("box", "#e9dff7", "#45306b"),
    "regularization": ("box", "#f0f0f0", "#444444"),
    "elementwise": ("circle", "#ffffff", "#2b2b2b"),
    "shape": ("box", "#f5f5dc", "#4a4a2a"),
    "pool": ("box", "#fff3c4", "#5e5220"),
    "attention": ("box", "#c8f0f0", "#1b5454"),
    "recurrent": ("box", "#ffd6a5", "#6e4310"),
    "mechanism": ("box", "#ffc6ff", "#5e1d5e"),
    "encoding": ("box", "#e0f7d4", "#2f5520"),
    "parameter": ("box3d", "#fde9c9", "#5c4218"),
}


def op(name: str, family: str, args, infer, **kw) -> OpDef:
    """Define an op and register it; returns the OpDef (ops/ modules call this at import)."""
    if name in OPS:
        raise ValueError(f"op {name!r} defined twice")
    if family not in FAMILY_STYLES:
        raise ValueError(f"op {name!r}: unknown family {family!r}")
    definition = OpDef(name, family, tuple(args), infer, **kw)
    OPS[name] = definition
    return definition


# --- helpers shared by shape rules ---------------------------------------------------------------


def dims(*values) -> tuple[Dim, ...]:
    return tuple(v if isinstance(v, Dim) else Dim(int(v), getattr(v, "expr", None)) for v in values)


def need_rank(t: TensorType, arg: str, ranks, what: str = "") -> None:
    ranks = (ranks,) if isinstance(ranks, int) else tuple(ranks)
    if t.rank not in ranks:
        want = " or ".join(f"rank {r}" for r in ranks)
        raise ShapeError(
            f"'{arg}' must have {want}{what}, but it has shape {t}",
            arg=arg,
            hint="the batch axis is implicit: a shape lists one example's axes",
            code="SQN0303",
        )


def need_float(t: TensorType, arg: str) -> None:
    if not t.is_float:
        raise ShapeError(
            f"'{arg}' must be a floating-point tensor, but it is {t}",
            arg=arg,
            hint="integer token ids go through embed(...) first",
            code="SQN0302",
        )


def positive(call: OpCall, *names: str) -> None:
    for n in names:
        v = call.attrs.get(n)
        if v is not None and v <= 0:
            raise ShapeError(f"'{n}' must be positive, got {v}", arg=n, code="SQN0108")


def norm_axis(axis: int, rank: int, arg: str = "axis") -> int:
    if not -rank <= axis < rank:
        raise ShapeError(
            f"axis {axis} is out of range for a tensor of rank {rank}", arg=arg, code="SQN0303"
        )
    return axis % rank
