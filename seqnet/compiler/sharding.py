"""Which mesh axis splits which axis of every parameter: the plan that `check` validates, the JAX
runtime turns into shardings, and `summary --devices` counts per device.

A spec declares it once, in its train section (compiler/train.py reads it into a ShardingConfig):

    mesh     = mesh(data=2, model=4)
    sharding = sharding(dense=columns(model), embedding=vocab(model), attention=heads(model),
                        fsdp=data, fsdp_min=4096, nodes=nodes(head=rows(model), proj=replicated))

A rule names an op family and a parameter role: one of the axis names the op's ParamSpecs give
(registry `ParamSpec.axes`: "in" and "out" of a dense kernel, "vocab" of an embedding table,
"heads" of attention projections, ...), `columns` for "out" and `rows` for "in". Each parameter of
the family that has that axis splits it over the mesh axis; one without it stays whole (a dense
bias under `rows`). `nodes(...)` overrides the family rule for the nodes so named (a name matches
a node and every block copy of it: `proj` matches `layer_1/proj`). `fsdp` then splits every
parameter of at least `fsdp_min` elements along its largest axis that the fsdp mesh axis divides
and no rule has taken; one that no axis fits stays whole (the summary shows it).

Nothing here imports JAX: the runtime turns a plan's tuples of mesh axes into PartitionSpecs.
The rules reach the parameters inside regions one level down (a scanned cell, a segment
structure's roles, whose copies stack along a first axis that stays whole); deeper ones, and
any parameter no ParamSpec describes, are placed by fsdp alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from seqnet.compiler.ir import node as ir_node
from seqnet.compiler.names import did_you_mean
from seqnet.compiler.ops.registry import OPS

if TYPE_CHECKING:  # pydantic models: `summary` of a spec without a train section never loads them
    from seqnet.compiler.train_config import ShardingConfig, ShardRule

ROLE_ALIASES = {"columns": "out", "rows": "in"}  # column- and row-parallel dense kernels


@dataclass(frozen=True)
class Placement:
    """One parameter's split: for each of its axes the mesh axis that splits it (None: whole)."""

    node: str
    name: str
    shape: tuple[int, ...]
    spec: tuple[str | None, ...]
    why: str  # "rule", "node rule", "fsdp" or "replicated"

    @property
    def split(self) -> bool:
        return any(a is not None for a in self.spec)

    def per_device(self, sizes: dict[str, int]) -> int:
        """Elements one device holds."""
        return math.prod(
            d // (sizes.get(a) or 1) if a else d for d, a in zip(self.shape, self.spec)
        )


@dataclass(frozen=True)
class Problem:
    """A rule that does not fit: `node` and `param` name the parameter at fault (None: the rule
    itself is at fault, e.g. a role the family's parameters do not have)."""

    message: str
    rule: ShardRule
    hint: str | None = None
    node: str | None = None


def resolve_mesh(mesh: dict[str, int], devices: int | None) -> dict[str, int | None]:
    """Axis sizes; the -1 axis takes what the fixed ones leave of `devices` (None: unknown)."""
    fixed = math.prod(v for v in mesh.values() if v != -1)
    if devices is None:
        return {k: (None if v == -1 else v) for k, v in mesh.items()}
    return {k: (devices // fixed if v == -1 else v) for k, v in mesh.items()}


def mesh_text(mesh: dict[str, int | None]) -> str:
    return "mesh(" + ", ".join(f"{k}={'-1' if v is None else v}" for k, v in mesh.items()) + ")"


def rule_text(rule: ShardRule) -> str:
    if rule.mesh_axis is None:
        return f"{rule.target}=replicated"
    return f"{rule.target}={rule.axis}({rule.mesh_axis})"


def owners(graph):
    """(node name, node record) of every node that owns parameters, in the spec's order."""
    found = []
    for n in graph.nodes:
        rec = ir_node(graph, n)
        if rec.param_owner == n and rec.params:
            found.append((n, rec))
    return sorted(found, key=lambda item: item[1].order)


def region_owners(graph) -> list[tuple[str, object, str, int | None]]:
    """(node name, record, key path, copies) of every parameter-owning node one region down:
    a scanned cell's, a segment structure's roles'. The key path is where the lowering keeps
    its parameters (backends/jax/cells.py, segments.py): under the region's node, the region's
    own prefix dropped from the name, and for a segment structure (a region with parameter
    `copies`) under the role too, every parameter stacked over the role's copies (None: not
    stacked)."""
    found = []
    for n, rec in sorted(((n, ir_node(graph, n)) for n in graph.nodes), key=lambda item: item[1].order):
        for role, region in (rec.regions or {}).items():
            first = region.graph["inputs"][0] if region.graph.get("inputs") else ""
            prefix = first.rsplit("/", 1)[0] + "/" if "/" in first else ""
            copies = int(region.graph["copies"]) if "copies" in region.graph else None
            inner = sorted(((m, ir_node(region, m)) for m in region.nodes), key=lambda item: item[1].order)
            for m, r in inner:
                if r.param_owner == m and r.params:
                    rel = m[len(prefix):] if m.startswith(prefix) else m
                    found.append((m, r, "/".join([n, rel] if copies is None else [n, role, rel]), copies))
    return found


def node_span(graph, name: str):
    """The span of node `name` of `graph` or of one of its regions (None: not found)."""
    if name in graph:
        return graph.nodes[name].get("span")
    for n in graph.nodes:
        for region in (ir_node(graph, n).regions or {}).values():
            if name in region:
                return region.nodes[name].get("span")
    return None


def matches(key: str, node: str) -> bool:
    return node == key or node.endswith("/" + key)


def plan(graph, config: ShardingConfig, sizes: dict[str, int | None]) -> tuple[dict, list[Problem]]:
    """({(key path, param): Placement}, problems) for every parameter-owning node of `graph`
    and of its regions (a top-level node's key path is its name; `region_owners` says where a
    region's parameters live, and a segment structure's are stacked over their copies)."""
    placements: dict[tuple[str, str], Placement] = {}
    problems: list[Problem] = []
    every = [(n, rec, n, None) for n, rec in owners(graph)] + region_owners(graph)
    nodes = [(n, rec) for n, rec, _, _ in every]
    for rule in config.nodes:
        if not any(matches(rule.target, n) for n, _ in nodes):
            names = {n.rsplit("/", 1)[-1] for n, _ in nodes}
            problems.append(Problem(f"no node with parameters is named '{rule.target}'", rule,
                                    did_you_mean(rule.target, names) or "nodes with parameters: "
                                    + ", ".join(sorted(names)[:8])))  # fmt: skip
    problems += _unknown_roles(nodes, config)
    for n, rec, key, copies in every:
        override = next((r for r in config.nodes if matches(r.target, n)), None)
        rule = rule_for(n, rec, config)
        misfits = []
        for pname, ps in sorted(rec.params.items(), key=lambda item: (-item[1].size, item[0])):
            spec: list[str | None] = [None] * len(ps.shape)
            why = "replicated"
            if rule is not None and rule.mesh_axis is not None and rule.axis in ps.axes:
                i = ps.axes.index(rule.axis)
                size = sizes.get(rule.mesh_axis)
                if size is not None and ps.shape[i] % size:
                    misfits.append((pname, ps, i))
                else:
                    spec[i], why = rule.mesh_axis, "node rule" if override else "rule"
            if fsdp_axis(ps.shape, spec, config, sizes) is not None:
                spec[fsdp_axis(ps.shape, spec, config, sizes)], why = config.fsdp, "fsdp"
            if copies is None:
                placements[(key, pname)] = Placement(n, pname, ps.shape, tuple(spec), why)
            else:  # one copy of the parameter per segment, along a new first axis
                placements[(key, pname)] = Placement(n, pname, (copies, *ps.shape), (None, *spec), why)
        if misfits:  # one error per node, at its largest parameter
            problems.append(_indivisible(n, rec.op, misfits, rule, sizes))
    return placements, problems


def rule_for(n: str, rec, config: ShardingConfig) -> ShardRule | None:
    """The rule that splits node `n`'s parameters: its per-node override, else its family's."""
    override = next((r for r in config.nodes if matches(r.target, n)), None)
    return override or next((r for r in config.rules if r.target == OPS[rec.op].family), None)


def activation_specs(graph, config: ShardingConfig, placements: dict, data_axis: str) -> dict:
    """{node: mesh axis per axis of its first result, batch axis first}: what the parameter
    plan implies for the activations. The batch is split over the data axis; the last axis
    over the mesh axis that a rule put on the parameter axis the op's result runs along
    (OpDef.feature_axis: "out" of a column-parallel dense, "embed" of an embedding split by
    embed). None: the rules imply nothing for that axis (a row-parallel dense, attention split
    by heads, fsdp, which splits parameters for storage only), and the partitioner chooses. The
    lowering turns these into sharding constraints (backends/jax/placement.py)."""
    out = {}
    for n in graph.nodes:
        rec = ir_node(graph, n)
        if not rec.outputs:
            continue
        spec: list[str | None] = [data_axis] + [None] * len(rec.outputs[0].dims)
        feature = OPS[rec.op].feature_axis if rec.op in OPS else None
        owner = ir_node(graph, rec.param_owner or n)
        rule = rule_for(rec.param_owner or n, owner, config) if feature and len(spec) > 1 else None
        if rule is not None and rule.axis == feature and rule.mesh_axis not in (None, data_axis):
            for name, ps in owner.params.items():
                p = placements.get((rec.param_owner or n, name))
                if p is not None and feature in ps.axes and p.spec[ps.axes.index(feature)] == rule.mesh_axis:
                    spec[-1] = rule.mesh_axis
        out[n] = tuple(spec)
    return out


def fsdp_axis(shape: tuple[int, ...], spec: list, config: ShardingConfig, sizes) -> int | None:
    """The axis fsdp splits: the largest one its mesh axis divides that no rule took (None:
    no fsdp, a small parameter, the mesh axis already used, or no axis that fits). An axis of
    unknown size (a -1 axis before the run) is taken to divide."""
    if not config.fsdp or math.prod(shape) < config.fsdp_min or config.fsdp in spec:
        return None
    size = sizes.get(config.fsdp)
    if size == 1:
        return None
    fits = [i for i, d in enumerate(shape) if spec[i] is None and (size is None or (d % size == 0 and d >= size))]
    return max(fits, key=lambda i: (shape[i], -i)) if fits else None


def leaf_spec(shape: tuple[int, ...], config: ShardingConfig, sizes) -> tuple[str | None, ...]:
    """The split of a parameter the plan does not describe (in a region inside a region): fsdp
    alone."""
    spec: list[str | None] = [None] * len(shape)
    i = fsdp_axis(tuple(shape), spec, config, sizes)
    if i is not None:
        spec[i] = config.fsdp
    return tuple(spec)


def _unknown_roles(nodes, config: ShardingConfig) -> list[Problem]:
    """A family rule whose role no parameter of that family in this spec has."""
    out = []
    for rule in config.rules:
        if rule.mesh_axis is None:
            continue
        roles = {a for _, rec in nodes if OPS[rec.op].family == rule.target
                 for ps in rec.params.values() for a in ps.axes}  # fmt: skip
        if roles and rule.axis not in roles:
            shown = ", ".join(sorted(roles))
            out.append(Problem(f"{rule.target} parameters have no axis '{rule.axis}' (their axes: {shown})",
                               rule, f"for example {rule.target}={sorted(roles)[-1]}({rule.mesh_axis})"))  # fmt: skip
    return out


def _indivisible(n: str, op: str, misfits: list, rule: ShardRule, sizes) -> Problem:
    pname, ps, i = misfits[0]
    size = sizes[rule.mesh_axis]
    shape = ", ".join(map(str, ps.shape))
    also = ", ".join(f"'{m[0]}'" for m in misfits[1:])
    message = (f"parameter '{pname}' of '{n}' ({op}, [{shape}]): its axis '{ps.axes[i]}' of size "
               f"{ps.shape[i]} does not divide over mesh axis '{rule.mesh_axis}' ({size} devices) of "
               f"{mesh_text(sizes)}" + (f" (nor does {also})" if also else ""))  # fmt: skip
    last = n.rsplit("/", 1)[-1]
    hint = (f"make it a multiple of {size}, or keep this node whole: "
            f"nodes({last}=replicated)")  # fmt: skip
    return Problem(message, rule, hint, n)


def device_memory(graph, config, devices: int, activation_bytes: int) -> dict:
    """Bytes each device holds for training under the spec's mesh on `devices` devices:
    parameters and gradients (as the plan splits them), the optimiser's buffers (they follow
    their parameters), and the activations kept for the backward pass (values and cotangents
    of the batch share on the data axis; tensor-parallel splits of activations not counted).
    Parameters the plan does not describe (in a region inside a region) count whole.
    activation_bytes: per example, temporaries included (compiler/summary.py counts them)."""
    from seqnet.compiler.graph import total_params
    from seqnet.compiler.train_config import OPTIMIZERS

    sizes = resolve_mesh(config.mesh, devices)
    placements, problems = plan(graph, config.sharding, sizes)
    planned = sum(math.prod(p.shape) for p in placements.values())
    per_device = sum(p.per_device(sizes) for p in placements.values()) + total_params(graph) - planned
    buffers = OPTIMIZERS[config.optimizer.name].buffers
    batch_share = config.batch // max(sizes.get(config.data_axis) or 1, 1)
    act = activation_bytes * batch_share * 2
    parts = {"parameters": per_device * 4, "gradients": per_device * 4,
             f"{config.optimizer.name} state": per_device * 4 * buffers, "activations": act}  # fmt: skip
    return {
        "devices": devices,
        "mesh": sizes,
        "parts": parts,  # bytes one device holds, by what they are
        "splits": {f"{n}.{p}": list(pl.spec) for (n, p), pl in placements.items() if pl.split},
        "problems": [p.message for p in problems],
    }

