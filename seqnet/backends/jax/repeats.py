"""Lowering `repeat K { ... }` stacks with `lax.scan` instead of K unrolled copies.

The IR unrolls a repeat into copies (`h/0/...`, `h/1/...`) so that every stage can see and name
every node. For XLA that means K copies of the body to compile: a 12-layer encoder compiles
several times slower unrolled. Here a top-level repeat group whose copies are identical is
turned into one scan (stacks of at least `min_copies`, 8 by default: shorter stacks run faster
unrolled on CPU, longer ones compile several times faster as a scan): the body is copy 0's nodes, the carry is the values that pass from one copy
to the next, and the parameters of the K copies (still stored under their own node names, so the
parameter tree is unchanged) are stacked at apply time and scanned over; a `shared` repeat scans
with its one parameter set as a constant.

A group falls back to unrolled evaluation when scanning would change behaviour or is not
possible: fewer than 2 copies, copies that differ, a node the caller marks unscannable inside
(the members of a wormhole cycle, nodes lowered by a node program such as a segment structure),
or values of a copy other than the last read from outside the group.

Ops that draw random numbers (dropout) scan too: each node's key is derived from its own name
(`fold_in(rng, hash(name))`), so the K copies' keys are made before the scan and scanned over
with the parameters; the masks are exactly those of the unrolled stack.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import networkx as nx

from seqnet.compiler.graph import is_input
from seqnet.compiler.ir import Node
from seqnet.compiler.ir import node as ir_node
from seqnet.compiler.ops.registry import OPS

Ref = tuple[str, int]


@dataclass(frozen=True)
class ScanGroup:
    name: str
    copies: tuple[tuple[str, ...], ...]  # node names of each copy, in creation order
    carry_init: tuple[Ref, ...]  # the value each carry slot starts from (outside the group)
    carry_next: tuple[tuple[int, int], ...]  # (local node index, port) each slot takes next
    owners: tuple[int, ...]  # local indices of nodes with parameters
    shared: bool
    random: tuple[int, ...] = ()  # local indices of nodes that draw random numbers

    @property
    def template(self) -> tuple[str, ...]:
        return self.copies[0]

    @property
    def members(self) -> frozenset[str]:
        return frozenset(n for copy in self.copies for n in copy)


def _refs(ref) -> list[Ref]:
    if isinstance(ref, tuple) and len(ref) == 2 and isinstance(ref[0], str):
        return [ref]
    return list(ref)


def find_groups(g: nx.MultiDiGraph, unscannable: set[str], min_copies: int = 2) -> list[ScanGroup]:
    """Every top-level repeat group of at least `min_copies` copies that can be scanned and
    holds none of the `unscannable` nodes."""
    if min_copies <= 0:
        return []
    copies: dict[str, dict[int, list[str]]] = {}
    order = nx.get_node_attributes(g, "order")
    for n in sorted(g.nodes, key=order.__getitem__):
        reps = ir_node(g, n).repeats
        if reps:
            group, index, _count, _shared = reps[0]
            copies.setdefault(group, {}).setdefault(index, []).append(n)
    groups = []
    for name, by_index in copies.items():
        if len(by_index) < max(min_copies, 2):
            continue
        group = _scan_group(g, name, by_index, unscannable)
        if group is not None:
            groups.append(group)
    return groups


def _signature(r: Node) -> tuple:
    return (r.op, repr(sorted(r.attrs.items())), tuple(t.dims for t in r.outputs),
            tuple(t.dtype for t in r.outputs))  # fmt: skip


def _scan_group(g, name, by_index, unscannable) -> ScanGroup | None:
    count = len(by_index)
    if count < 2 or sorted(by_index) != list(range(count)):
        return None
    copies = [tuple(by_index[i]) for i in range(count)]
    size = len(copies[0])
    if any(len(c) != size for c in copies):
        return None
    members = {n for c in copies for n in c}
    if any(n in unscannable or is_input(g, n) for n in members):
        return None
    local = [{n: j for j, n in enumerate(c)} for c in copies]
    rec = {n: ir_node(g, n) for n in members}
    template_sig = [_signature(rec[n]) for n in copies[0]]
    carry_init: list[Ref] = []
    carry_next: list[tuple[int, int]] = []
    for i, copy in enumerate(copies):
        if [_signature(rec[n]) for n in copy] != template_sig:
            return None
        for j, n in enumerate(copy):
            t_args = rec[copies[0][j]].args
            args = rec[n].args
            if [a for a, _ in args] != [a for a, _ in t_args]:
                return None
            for (_, ref), (_, t_ref) in zip(args, t_args):
                refs, t_refs = _refs(ref), _refs(t_ref)
                if len(refs) != len(t_refs):
                    return None
                for r, t in zip(refs, t_refs):
                    if r[0] in local[i]:  # inside this copy: must mirror the template
                        if t[0] not in local[0] or local[i][r[0]] != local[0][t[0]] or r[1] != t[1]:
                            return None
                    elif i == 0:
                        if r[0] in members:
                            return None
                    elif r == t:
                        continue  # the same outside value in every copy: a constant
                    elif i >= 1 and r[0] in local[i - 1] and t[0] not in members:
                        slot = (local[i - 1][r[0]], r[1])
                        if t in carry_init:
                            k = carry_init.index(t)
                            if carry_next[k] != slot:
                                return None
                        elif i == 1:
                            carry_init.append(t)
                            carry_next.append(slot)
                        else:
                            return None
                    else:
                        return None
    if not carry_init:
        return None
    # Only the last copy's carried values may be read after the group.
    last = set(copies[-1])
    readable = {(copies[-1][j], p) for j, p in carry_next}
    outside_reads = [(u, p) for u, v, p in g.edges(data="port") if u in members and v not in members]
    outside_reads += [ref for ref in g.graph["outputs"].values() if ref[0] in members]
    for u, p in outside_reads:
        if u not in last or (u, p) not in readable:
            return None
    owners = tuple(j for j, n in enumerate(copies[0]) if rec[n].params)
    shared = all(rec[c[j]].param_owner == rec[copies[0][j]].param_owner
                 for c in copies for j in owners)  # fmt: skip
    random = tuple(j for j, n in enumerate(copies[0]) if OPS[rec[n].op].needs_rng)
    return ScanGroup(name, tuple(copies), tuple(carry_init), tuple(carry_next), owners, shared,
                     random)  # fmt: skip


def run_group(program, group: ScanGroup, params: dict, env: dict, state) -> None:
    """Evaluate a whole group with one lax.scan; writes the last copy's carried values to env."""
    template = group.template
    inside = set(template)
    consts = {}
    for n in template:
        for _, ref in ir_node(program.graph, n).args:
            for r in _refs(ref):
                if r[0] not in inside and r not in group.carry_init:
                    consts[r] = env[r]
    per_copy = [
        {j: program.node_params(params, copy[j]) for j in group.owners} for copy in group.copies
    ]
    if group.shared:
        stacked = None
        fixed = per_copy[0]
    else:
        stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *per_copy)
        fixed = None

    # Each copy's keys, made from its own node names as the unrolled stack makes them. Typed keys
    # travel through the scan as their raw data and are re-wrapped inside.
    keys = [{j: k for j in group.random if (k := program.node_rng(copy[j], state)) is not None}
            for copy in group.copies]  # fmt: skip
    typed = any(jnp.issubdtype(k.dtype, jax.dtypes.prng_key) for k in keys[0].values())
    impl = jax.random.key_impl(next(iter(keys[0].values()))) if typed else None
    if typed:
        keys = [{j: jax.random.key_data(k) for j, k in ks.items()} for ks in keys]
    stacked_keys = jax.tree.map(lambda *xs: jnp.stack(xs), *keys) if keys[0] else {}

    def body(carry, xs):
        layer_params, layer_keys = xs
        node_params = fixed if layer_params is None else layer_params
        local = dict(consts)
        local.update(zip(group.carry_init, carry))
        for j, n in enumerate(template):
            rng = layer_keys.get(j)
            if rng is not None and typed:
                rng = jax.random.wrap_key_data(rng, impl=impl)
            outs = program.eval_node(n, node_params.get(j, {}), local, rng, state)
            for port, v in enumerate(outs):
                local[(n, port)] = v
        return tuple(local[(template[j], p)] for j, p in group.carry_next), None

    init = tuple(env[r] for r in group.carry_init)
    with jax.named_scope(f"{group.name}/scan"):
        final, _ = jax.lax.scan(body, init, (stacked, stacked_keys), length=len(group.copies))
    last = group.copies[-1]
    for (j, p), value in zip(group.carry_next, final):
        env[(last[j], p)] = value
