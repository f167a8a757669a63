"""Segment structures (fusion encoder networks) in JAX (mechanisms.md section 1).

A `segments` node holds three regions (token encoder alpha, fusion encoder beta, output decoder
omega), each a graph with inputs in0.. and one output. Parameters live under the node's name as
{"token": ..., "fusion": ..., "decoder": ...}, every leaf with a leading copies axis; the copy a
segment uses depends on the share policy:

  share      token (i,i)   fusion (i,j)                      decoder (i,j)
  none       i - 1         position of (i,j) among S's splits  position of (i,j) in S
  per_level  0             level(i,j) - 1                      level(i,j)
  all        0             0                                   0

("S's splits" and "S" in `SegmentStructure.segments` order; level as `SegmentStructure.level`.)

Encodings are computed bottom-up by height (tokens 0, a split segment one more than its taller
part), all segments of one height in one vmap. The final network evaluates only the segments the
recursion from (1, N) reaches (for binary_tree: each internal vertex's root segment), then
omega_(1,N)(0, eps(1,N), 0). Local training evaluates every segment of S with stop_gradient on
every encoding an encoder or decoder reads except the segment's own (see `Lowered.local_outputs`).
The token encoders' inputs x are not stopped: layers before the structure (an embedding) learn
through the token terms.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from seqnet.backends.jax.context import LowerCtx, NodeProgram, RunState, node_key, stable_hash
from seqnet.compiler.ir import Node
from seqnet.compiler.segments import SegmentStructure

ROLES = ("token", "fusion", "decoder")
Segment = tuple[int, int]
# How much padding (as a share of the real segments' work) one trace over all copies may add
# before `_map` runs one vmap per copy instead.
PAD_WASTE = 0.25


class SegmentsProgram(NodeProgram):
    """The `segments` op's node program (registered in ops/mechanisms.py as its ProgramRule):
    one region program per role, parameters stacked per copy under the node's name."""

    def __init__(self, name: str, data: Node, lower_region):
        self.name = name
        attrs = data.attrs
        self.structure: SegmentStructure = attrs["structure"]
        self.share: str = attrs.get("share", "none")
        if self.share not in ("none", "per_level", "all"):
            raise ValueError(f"segments node {name!r}: unknown share policy {self.share!r}")
        regions = data.regions
        self.programs = {}
        self.copies = {}
        self.outputs = {}
        self.inputs = {}
        for role in ROLES:
            region = regions[role]
            first = region.graph["inputs"][0]
            prefix = first.rsplit("/", 1)[0] + "/" if "/" in first else ""
            self.programs[role] = lower_region(region, prefix)
            self.copies[role] = int(region.graph.get("copies", 1))
            self.inputs[role] = list(region.graph["inputs"])
            self.outputs[role] = tuple(region.graph["outputs"]["out"])
        s = self.structure
        self._split_order = {seg: k for k, seg in enumerate(s.segments[s.n :])}
        self._order = {seg: k for k, seg in enumerate(s.segments)}
        for role in ROLES:
            needed = max(
                (self.copy_index(role, seg) for seg in self._role_segments(role)), default=0
            )
            if needed >= self.copies[role]:
                raise ValueError(f"segments node {name!r}: role {role} needs {needed + 1} parameter "
                                 f"copies under share={self.share}, the graph has {self.copies[role]}")  # fmt: skip
        self._height: dict[Segment, int] = {}

    # -- sharing
    def _role_segments(self, role: str) -> list[Segment]:
        s = self.structure
        if role == "token":
            return s.segments[: s.n]
        if role == "fusion":
            return s.segments[s.n :]
        return s.segments

    def copy_index(self, role: str, seg: Segment) -> int:
        if self.share == "all":
            return 0
        if self.share == "per_level":
            if role == "token":
                return 0
            level = self.structure.level(seg)
            return level - 1 if role == "fusion" else level
        if role == "token":
            return seg[0] - 1
        if role == "fusion":
            return self._split_order[seg]
        return self._order[seg]

    # -- parameters
    @property
    def local_units(self) -> tuple[Segment, ...]:
        return tuple(self.structure.segments)

    def init(self, key: jax.Array) -> dict:
        out = {}
        for role in ROLES:
            keys = jax.random.split(node_key(key, role), self.copies[role])
            if isinstance(keys, jax.core.Tracer):
                # Under jit (the runtime's init), one vmapped init: a loop would put one copy of
                # every random draw per parameter copy into the program (share=none at N = 16:
                # minutes of XLA compile).
                out[role] = jax.vmap(self.programs[role].init)(keys)
                continue
            # Eagerly, the same values by a loop of calls: it reuses one compiled kernel per
            # parameter shape, where an eager vmap compiles afresh for every copies count.
            copies = [self.programs[role].init(k) for k in keys]
            out[role] = jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *copies)
        return out

    # -- structure helpers
    def height(self, seg: Segment) -> int:
        if seg not in self._height:
            i, j = seg
            if i == j:
                self._height[seg] = 0
            else:
                s = self.structure.splits[seg]
                self._height[seg] = 1 + max(self.height((i, s)), self.height((s + 1, j)))
        return self._height[seg]

    def closure(self, roots: list[Segment]) -> list[Segment]:
        """The segments the recursion from `roots` reaches, plus every token."""
        seen = {(i, i) for i in range(1, self.structure.n + 1)}
        stack = list(roots)
        while stack:
            seg = stack.pop()
            if seg in seen:
                continue
            seen.add(seg)
            i, j = seg
            s = self.structure.splits[seg]
            stack += [(i, s), (s + 1, j)]
        return sorted(seen, key=lambda g: (self.height(g), g))

    # -- running one role over many segments
    def _role_fn(self, role: str, state):
        program = self.programs[role]
        names = self.inputs[role]
        out_ref = self.outputs[role]

        def run(p, rng, *xs):
            env = program.run(
                p, dict(zip(names, xs, strict=True)), RunState(train=state.train, rng=rng)
            )
            return env[out_ref]

        return run

    def _map(self, role: str, params: dict, segs: list[Segment], rng, state, *xs):
        """Apply role's block for each segment: xs each (len(segs), batch, ...).

        Segments are grouped by the parameter copy they use, so a copy's weights are read once
        for all its segments (one matmul over segments x batch per layer), never gathered per
        segment (per-segment weights: batched matmuls and a scatter-add of their gradients).
        One copy: one vmap. Several: the groups padded to one size (a pad row repeats a real
        segment; its output is dropped) and vmapped over the copies as well, so the block is
        traced and compiled once; where padding would add more than PAD_WASTE of the work,
        one vmap per group instead."""
        fn = self._role_fn(role, state)
        rngs = None
        if rng is not None:
            salt = jnp.array([self._order[seg] for seg in segs], dtype=jnp.uint32)
            rngs = jax.vmap(
                lambda k: jax.random.fold_in(jax.random.fold_in(rng, hash_role(role)), k)
            )(salt)
        r_axis = None if rngs is None else 0
        groups: dict[int, list[int]] = {}
        for pos, seg in enumerate(segs):
            groups.setdefault(self.copy_index(role, seg), []).append(pos)
        copies = sorted(groups)

        def per_copy(p, r, *x):  # one copy's parameters shared by its segments
            return jax.vmap(lambda r, *x: fn(p, r, *x), in_axes=(r_axis,) + (0,) * len(x))(r, *x)

        def pick(rows):  # (rngs, *xs) of those rows
            return (None if rngs is None else rngs[rows], *(x[rows] for x in xs))

        if len(copies) == 1:
            return per_copy(_copy_of(params[role], copies[0]), rngs, *xs)
        size = max(len(v) for v in groups.values())
        if len(copies) * size > (1 + PAD_WASTE) * len(segs):
            outs = [per_copy(_copy_of(params[role], c), *pick(np.array(groups[c]))) for c in copies]
            order = np.concatenate([groups[c] for c in copies])
            return jnp.concatenate(outs)[np.argsort(order)]
        rows = np.array([groups[c] + groups[c][:1] * (size - len(groups[c])) for c in copies])
        stacked = params[role]
        if copies != list(range(self.copies[role])):  # a subset of the copies (share=none)
            stacked = jax.tree_util.tree_map(lambda a: jnp.take(a, np.array(copies), axis=0), stacked)
        out = jax.vmap(per_copy, in_axes=(0, r_axis) + (0,) * len(xs))(stacked, *pick(rows))
        where = np.empty(len(segs), np.int64)
        for k, c in enumerate(copies):
            where[groups[c]] = k * size + np.arange(len(groups[c]))
        return out.reshape((-1,) + out.shape[2:])[where]

    def encodings(self, params: dict, x: jax.Array, segs: list[Segment], rng, state,
                  stop: bool) -> tuple[jax.Array, dict[Segment, int]]:  # fmt: skip
        """A table (len(segs) + 1, batch, ...) of eps for `segs` (height-sorted, tokens first);
        the last row is the empty segment's zero encoding. stop: stop_gradient on the parts a
        fusion encoder reads."""
        n = self.structure.n
        tokens = [(i, i) for i in range(1, n + 1)]
        assert segs[:n] == tokens
        enc = self._map("token", params, tokens, rng, state, jnp.moveaxis(x, 1, 0))
        index = {seg: k for k, seg in enumerate(segs)}
        table = jnp.zeros((len(segs) + 1,) + enc.shape[1:], enc.dtype).at[:n].set(enc)
        sg = jax.lax.stop_gradient if stop else (lambda a: a)
        by_height: dict[int, list[Segment]] = {}
        for seg in segs[n:]:
            by_height.setdefault(self.height(seg), []).append(seg)
        for h in sorted(by_height):
            level = by_height[h]
            left = np.array([index[(i, self.structure.splits[(i, j)])] for i, j in level])
            right = np.array([index[(self.structure.splits[(i, j)] + 1, j)] for i, j in level])
            out = self._map("fusion", params, level, rng, state, sg(table[left]), sg(table[right]))
            rows = np.array([index[seg] for seg in level])
            table = table.at[rows].set(out.astype(table.dtype))
        return table, index

    def final(self, params: dict, x: jax.Array, rng, state) -> jax.Array:
        n = self.structure.n
        segs = self.closure([(1, n)])
        table, index = self.encodings(params, x, segs, rng, state, stop=False)
        root = table[index[(1, n)]][None]
        zero = jnp.zeros_like(root)
        return self._map("decoder", params, [(1, n)], rng, state, zero, root, zero)[0]

    def local(self, params: dict, x: jax.Array, rng, state) -> jax.Array:
        """y_(i,j) for every segment of S (`SegmentStructure.segments` order): (|S|, batch, ...)."""
        s = self.structure
        segs = self.closure(s.segments[s.n :])
        table, index = self.encodings(params, x, segs, rng, state, stop=True)
        empty = len(segs)
        order = s.segments
        pre = np.array([index[(1, i - 1)] if i > 1 else empty for i, _ in order])
        mid = np.array([index[seg] for seg in order])
        suf = np.array([index[(j + 1, s.n)] if j < s.n else empty for _, j in order])
        sg = jax.lax.stop_gradient
        return self._map("decoder", params, order, rng, state, sg(table[pre]), table[mid],
                         sg(table[suf]))  # fmt: skip

    def __call__(self, ctx: LowerCtx, x: jax.Array, structure, share, out_type) -> jax.Array:
        """The final network's output; with `ctx.local` set, also every segment's y_(i,j).

        In the local run the output is y_(1,N) from those: the final network's value (the same
        decoder copy and rng on the same encodings, the empty prefix and suffix encoding to
        zero), so the tree is not traced and compiled a second time. Only ctx.local is
        differentiated there (`Lowered.local_outputs`), so its stop_gradients do not matter."""
        state = RunState(train=ctx.train, rng=ctx.rng)
        if ctx.local is not None:
            ys = self.local(ctx.params, x, ctx.rng, state)
            ctx.local[self.name] = ys
            return ys[self._order[(1, self.structure.n)]]
        return self.final(ctx.params, x, ctx.rng, state)


def _copy_of(stacked: dict, copy: int) -> dict:
    return jax.tree_util.tree_map(lambda a: a[copy], stacked)


def hash_role(role: str) -> int:
    return stable_hash(role)
