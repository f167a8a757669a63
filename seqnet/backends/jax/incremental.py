"""Incremental evaluation of a sequence model: one new position per call, with a cache.

Generation feeds a model one token at a time. Re-running the whole window per token costs
O(window) layers of work per token; this program instead runs each node's incremental rule
(`register_step(op, "jax")`, see `context.StepRule`) on the one new position, with what the
node kept from earlier positions: a recurrent op its state, causal attention its keys and
values (a KV cache), position-wise ops nothing. Every value that depends on the spec's input
holds one position here (its time axis, the example's first, has length 1); values that do not
(learned tensors, and what is computed from them alone) are computed once, in `init`, and
position-wise ops read such a value at the new position when it has the time axis.

A spec is run this way only when every input-dependent node has a step rule that accepts its
configuration and no wormhole cycle or node program is involved; `refusals` lists what stands
in the way otherwise (generation then re-runs the window, and says so).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
from jax import lax

from seqnet.backends.jax.context import LowerCtx, RunState
from seqnet.backends.jax.lower import BACKEND, Cycle
from seqnet.compiler.graph import is_input, output_type, topo_order
from seqnet.compiler.ir import node as ir_node
from seqnet.compiler.ops.registry import OPS


@dataclass(frozen=True)
class Refusal:
    """A node that cannot run incrementally, and why (for the uncached report)."""

    node: str
    op: str
    span: object
    reason: str

    def __str__(self) -> str:
        return f"'{self.node}' ({self.op}, {self.span}): {self.reason}"


class StepProgram:
    """`init(params, batch) -> cache`; `step(params, cache, ids, pos) -> (outputs, cache)` with
    ids (batch,) the tokens at position `pos` and outputs {name: (batch, *dims[1:])}."""

    def __init__(self, lowered, input_name: str):
        self.program = lowered.program
        self.graph = g = lowered.graph
        self.input = input_name
        self.length = output_type(g, (input_name, 0)).dims[0]
        self.order = [n for n in topo_order(g) if not is_input(g, n)]
        in_cycle = {n for u in self.program.schedule if isinstance(u, Cycle) for n in u.members}
        varying = {input_name}
        for n in self.order:
            if any(p in varying for p in g.predecessors(n)):
                varying.add(n)
        self.varying = varying
        self.refusals: list[Refusal] = []
        for n in self.order:
            rec = ir_node(g, n)
            if n in in_cycle or n in self.program.node_programs:
                self.refusals.append(Refusal(n, rec.op, rec.span, "it solves or runs a sub-program"))
                continue
            if n not in varying:
                continue
            rule = OPS[rec.op].steps.get(BACKEND)
            why = "the op has no incremental rule" if rule is None else rule.refuses(
                self._described_args(n), list(rec.outputs))  # fmt: skip
            if why:
                self.refusals.append(Refusal(n, rec.op, rec.span, why))

    @property
    def cached(self) -> bool:
        return not self.refusals

    def _described_args(self, name: str) -> dict:
        """The node's attributes, with each tensor argument it was given (by type)."""
        kwargs, in_types = self.program.call_args(name, _Absent())
        return {**{k: v for k, v in kwargs.items() if k not in in_types},
                **{k: t for k, t in in_types.items() if t}}  # fmt: skip

    def _ctx(self, params: dict, name: str, in_types: dict, batch: int) -> LowerCtx:
        rec = ir_node(self.graph, name)
        return LowerCtx(params=self.program.node_params(params, name), rng=None, train=False,
                        in_types=in_types, out_types=list(rec.outputs),
                        compute_dtype=self.program.compute_dtype, batch=batch)  # fmt: skip

    def init(self, params: dict, batch: int) -> dict:
        """The cache before position 0: each stateful node's, and the input-free values."""
        state = RunState(train=False, rng=None, batch=batch)
        fixed: dict = {}
        nodes: dict = {}
        for n in self.order:
            if n not in self.varying:
                outs = self.program.eval_node(n, self.program.node_params(params, n), fixed, None, state)
                fixed.update({(n, port): v for port, v in enumerate(outs)})
                continue
            kwargs, in_types = self.program.call_args(n, _Absent())
            attrs = {k: v for k, v in kwargs.items() if k not in in_types}
            rule = OPS[ir_node(self.graph, n).op].steps[BACKEND]
            nodes[n] = rule.init(self._ctx(params, n, in_types, batch), batch, **attrs)
        return {"fixed": {f"{n}:{p}": v for (n, p), v in fixed.items()}, "nodes": nodes}

    def step(self, params: dict, cache: dict, ids: jax.Array, pos: jax.Array):
        g = self.graph
        env = {_ref(k): v for k, v in cache["fixed"].items()}
        env[(self.input, 0)] = ids[:, None]
        batch = ids.shape[0]
        new_nodes = {}
        for n in self.order:
            if n not in self.varying:
                continue
            rec = ir_node(g, n)
            kwargs, in_types = self.program.call_args(n, env)
            rule = OPS[rec.op].steps[BACKEND]
            if rule.positionwise:
                kwargs = {k: self._at(v, in_types.get(k), rec, pos) for k, v in kwargs.items()}
            with jax.named_scope(n):
                out, new_nodes[n] = rule.step(self._ctx(params, n, in_types, batch),
                                              cache["nodes"][n], pos, **kwargs)  # fmt: skip
            outs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
            env.update({(n, port): v for port, v in enumerate(outs)})
        outputs = {name: env[tuple(ref)][:, 0] for name, ref in g.graph["outputs"].items()
                   if tuple(ref)[0] in self.varying}  # fmt: skip
        return outputs, {"fixed": cache["fixed"], "nodes": new_nodes}

    def _at(self, value, typ, rec, pos):
        """An input-free argument of a position-wise op, read at position `pos` when it has the
        time axis (its rank is the result's and its first axis the window); else as it is."""
        if isinstance(value, list):
            return [self._at(v, t, rec, pos) for v, t in zip(value, typ or (), strict=False)]
        out = rec.outputs[0]
        if (typ is None or value is None or value.shape[1:2] == (1,)
                or typ.rank != out.rank or typ.dims[0] != self.length):  # fmt: skip
            return value
        return lax.dynamic_slice_in_dim(value, pos, 1, axis=1)


class _Absent(dict):
    """An environment with no values: call_args then gives the attributes and the types."""

    def __missing__(self, key):
        return None


def _ref(key: str) -> tuple[str, int]:
    node, port = key.rsplit(":", 1)
    return node, int(port)
