"""What a JAX lowering rule sees besides its arguments (the node's parameters, PRNG key, types),
and the two forms a rule takes: a plain function, or a `ProgramRule` that builds a `NodeProgram`
per node when the op owns more than a function (sub-programs and their parameters)."""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp

if TYPE_CHECKING:
    from seqnet.compiler.ir import Node


def stable_hash(name: str) -> int:
    """A hash of a node name that is the same in every process (Python's hash() is salted)."""
    return zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF


def node_key(key: jax.Array, name: str) -> jax.Array:
    return jax.random.fold_in(key, stable_hash(name))


@dataclass
class RunState:
    """What one walk of a graph carries besides values: stats and local-training side outputs."""

    train: bool
    rng: jax.Array | None
    stats: dict[str, jax.Array] = field(default_factory=dict)
    local: dict[str, Any] | None = None  # node -> per-unit outputs, when collecting them
    batch: int | None = None  # the batch size, from the inputs (what `param` broadcasts to)
    probes: dict[str, jax.Array] | None = None  # cycle name -> adjoint probe (fixed_point.py)
    # (node, results) -> results under sharding constraints (placement.Placements.constrain)
    constrain: Any = None


@dataclass(frozen=True)
class LowerCtx:
    """The per-node context passed to every rule as `rule(ctx, **kwargs)`.

    params: this node's parameters, keyed as in `OpDef.params` ("w", "b", ...); for a
    `NodeProgram`, the tree its `init` made.
    rng: a PRNG key when training and the op needs one (`OpDef.needs_rng`), else None.
    in_types / out_types: the registry's types (batch axis excluded) of the arguments and results.
    compute_dtype: float tensor arguments and parameters are cast to this before the rule runs
    (the mixed-precision policy; see `ops.common.lowering`).
    local: where a node program of a local-training op leaves its per-unit outputs (keyed by
    node name), when the caller collects them (`Lowered.local_outputs`); else None.
    batch: the batch size of this run, for an op with no tensor argument to size its result by
    (`param` broadcasts its value to it).
    """

    params: dict[str, jax.Array]
    rng: jax.Array | None
    train: bool
    in_types: dict
    out_types: list
    compute_dtype: jnp.dtype = jnp.float32
    local: dict[str, Any] | None = None
    batch: int | None = None


class NodeProgram(ABC):
    """One node's lowering when its op owns sub-programs (the regions of a segment structure)
    and the parameters they hold. Built once per node by the op's `ProgramRule`; called like a
    plain rule, `program(ctx, **kwargs)`, with `ctx.params` the tree `init` made."""

    @abstractmethod
    def init(self, key: jax.Array) -> dict:
        """The node's parameter tree (merged with its own ParamSpecs' under the node's path)."""

    @abstractmethod
    def __call__(self, ctx: LowerCtx, **kwargs) -> Any:
        """The node's outputs, from its tensor arguments and attributes as a plain rule gets."""

    @property
    def local_units(self) -> tuple:
        """What local training computes one output for, in order (segments: the structure's
        segments); empty for programs of ops that do not train locally."""
        return ()


# build(node name, node data, lower_region) -> NodeProgram; lower_region(region, prefix) makes
# a region graph runnable (a GraphProgram of the same compute dtype).
RegionLowering = Callable[[Any, str], Any]


@dataclass(frozen=True)
class ProgramRule:
    """A JAX lowering registered as an object rather than a function: `build` makes the node's
    program once, at lowering time. In training the program gets a PRNG key whenever `apply`
    was given one, and never demands one (the ops inside its regions ask for their own)."""

    build: Callable[[str, Node, RegionLowering], NodeProgram]


@dataclass(frozen=True)
class StepRule:
    """An op's incremental rule (`register_step(op, "jax")`): the op applied to one new position
    of a sequence, every sequence-shaped value holding that one position (its time axis, the
    example's first, has length 1).

    init(ctx, batch, **attrs) -> the cache before position 0 (None when the op keeps nothing);
    step(ctx, cache, pos, **kwargs) -> (outputs, cache), with `pos` the new position (a traced
    int32) and kwargs as the plain rule gets them; refuses(attrs, out_types) -> why the op so
    configured cannot run incrementally (a reverse scan, non-causal attention), or None.
    positionwise: the op reads each position alone (an input-free argument with the time axis
    is then given at `pos`, see `incremental.StepProgram`)."""

    step: Callable[..., Any]
    init: Callable[..., Any] = lambda ctx, batch, **attrs: None
    refuses: Callable[[dict, list], str | None] = lambda attrs, out_types: None
    positionwise: bool = False
