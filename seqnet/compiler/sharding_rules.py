"""Reading a train section's `sharding = sharding(...)` into a ShardingConfig, and checking its
rules against every parameter of the spec (compiler/sharding.py has the plan they make).

Each rule keeps its source span here, so that a size that does not divide is reported at the
node whose parameter it is, with a note at the rule that asked for the split.
"""

from __future__ import annotations

from seqnet.compiler import sharding
from seqnet.compiler.names import did_you_mean
from seqnet.compiler.ops.registry import FAMILY_STYLES
from seqnet.compiler.train_config import ShardingConfig, ShardRule
from seqnet.errors import CompileError, Note
from seqnet.grammar import ast

_FORM = ("sharding is written sharding(dense=columns(model), embedding=vocab(model), fsdp=data, "
         "nodes=nodes(head=rows(model)))")  # fmt: skip
_OPTIONS = ("fsdp", "fsdp_min", "nodes")


def read_sharding(
    setting: ast.Setting, mesh: dict[str, int], report
) -> tuple[ShardingConfig, dict]:
    """(config, {rule: span}) from `sharding = sharding(...)`; every bad argument is reported
    through `report(CompileError)`, and what remains of the rules is kept."""
    call = setting.value
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id == "sharding"
    ):
        raise CompileError("SQN0502", _FORM, call.span)
    if call.args:
        raise CompileError(
            "SQN0105", "sharding rules are named: sharding(dense=columns(model))", call.args[0].span
        )
    rules, nodes, spans, options = [], [], {}, {}
    for kw in call.kwargs:
        try:
            if kw.name == "nodes":
                for inner in _node_rules(kw.value):
                    rule = _rule(inner.name, inner.value, mesh)
                    nodes.append(rule)
                    spans[rule] = inner.value.span
            elif kw.name == "fsdp":
                options["fsdp"] = _mesh_axis(kw.value, mesh)
            elif kw.name == "fsdp_min":
                if not (
                    isinstance(kw.value, ast.Number)
                    and isinstance(kw.value.value, int)
                    and kw.value.value >= 0
                ):
                    raise CompileError("SQN0108", "fsdp_min is a whole number of elements, at least 0",
                                       kw.value.span, hint="for example fsdp_min=4096")  # fmt: skip
                options["fsdp_min"] = kw.value.value
            elif kw.name in FAMILY_STYLES:
                rule = _rule(kw.name, kw.value, mesh)
                rules.append(rule)
                spans[rule] = kw.value.span
            else:
                raise CompileError("SQN0103", f"sharding has no argument '{kw.name}': rules name an op family",
                                   kw.name_span, hint=did_you_mean(kw.name, (*FAMILY_STYLES, *_OPTIONS))
                                   or "families: " + ", ".join(FAMILY_STYLES) + "; options: " + ", ".join(_OPTIONS))  # fmt: skip
        except CompileError as e:
            report(e)
    return ShardingConfig(rules=tuple(rules), nodes=tuple(nodes), **options), spans


def _node_rules(value) -> tuple[ast.Keyword, ...]:
    if not (ast.is_call(value, "nodes") and not value.args):
        raise CompileError("SQN0502", "per-node rules are written nodes(head=rows(model), proj=replicated)",
                           value.span)  # fmt: skip
    return value.kwargs


def _rule(target: str, value, mesh: dict[str, int]) -> ShardRule:
    """`columns(model)`, `vocab(model)`, `heads(model)`, any parameter role, or `replicated`."""
    if isinstance(value, ast.Name) and value.id == "replicated":
        return ShardRule(target=target)
    if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and len(value.args) == 1
            and not value.kwargs):  # fmt: skip
        raise CompileError("SQN0502", "a sharding rule is a parameter axis and a mesh axis, like "
                           "columns(model), or replicated", value.span,
                           hint="roles: columns (= out), rows (= in), vocab, heads, or any axis the op's "
                           "parameters name")  # fmt: skip
    role = sharding.ROLE_ALIASES.get(value.func.id, value.func.id)
    return ShardRule(target=target, axis=role, mesh_axis=_mesh_axis(value.args[0], mesh))


def _mesh_axis(value, mesh: dict[str, int]) -> str:
    if not isinstance(value, ast.Name):
        raise CompileError("SQN0502", "name a mesh axis, like model", value.span)
    if value.id not in mesh:
        axes = ", ".join(f"{k}={v}" for k, v in mesh.items())
        raise CompileError("SQN0108", f"'{value.id}' is not an axis of the mesh ({', '.join(mesh)})", value.span,
                           hint=did_you_mean(value.id, mesh) or f"add it: mesh = mesh({axes}, {value.id}=2)")  # fmt: skip
    return value.id


def check_sharding(
    graph, config: ShardingConfig, spans: dict, mesh: dict[str, int], report
) -> None:
    """Report every rule that does not fit a parameter's shape (sizes of -1 axes are known only
    when the run starts: the runtime checks those)."""
    _, problems = sharding.plan(graph, config, sharding.resolve_mesh(mesh, None))
    for p in problems:
        rule_span = spans.get(p.rule)
        if p.node is None:
            report(CompileError("SQN0505", p.message, rule_span, hint=p.hint))
            continue
        span = sharding.node_span(graph, p.node) or rule_span
        notes = (Note(rule_span, "the rule that splits it"),) if rule_span else ()
        report(CompileError("SQN0505", p.message, span, hint=p.hint, notes=notes))
