"""Elaboration of the mechanism statements: wormholes and segment structures."""

from __future__ import annotations

import networkx as nx

from seqnet.compiler import choices
from seqnet.compiler import segments as seg
from seqnet.compiler import values as V
from seqnet.compiler.context import Cascade
from seqnet.compiler.graph import dag_view, is_input
from seqnet.compiler.ir import Ref
from seqnet.compiler.names import did_you_mean
from seqnet.compiler.ops.registry import OPS
from seqnet.compiler.regions import elaborate_region
from seqnet.compiler.types import TensorType
from seqnet.errors import CompileError, Note
from seqnet.grammar import ast
from seqnet.limits import MAX_SEGMENT_N

SHARE_POLICIES = ("none", "per_level", "all")
ROLES = {"token": 1, "fusion": 2, "decoder": 3}  # role -> number of tensors it receives
WORMHOLE_SETTINGS = ("gate", "gate_bias", "tol", "rtol", "max_iter", "solver", "backward_tol",
                     "backward_max_iter", "anderson_m")  # fmt: skip


def add_wormhole(el, stmt: ast.Wormhole, ctx) -> None:
    """`wormhole h3 -> h1 ...`: a wormhole_gate node reading h3, and a back-edge into h1. With
    `enabled=false` the wormhole is checked the same way but built only tentatively: the
    spec then computes as if the line were deleted (choices.py)."""
    enabled, setting = choices.wormhole_enabled(el, stmt, ctx)
    if setting is None:
        return _build_wormhole(el, stmt, ctx)
    key = choices.format_expr(setting.value)
    what = f"wormhole {stmt.source.id} -> {stmt.target.id} enabled={key}"
    if enabled:
        with choices.built(el) as made:
            _build_wormhole(el, stmt, ctx)
        params = choices.params_of(el, made)
    else:
        with choices.tentative(el) as trial:
            _build_wormhole(el, stmt, ctx)
        params = trial.params
    choices.record(el, what, key, "true" if enabled else "false", stmt.span,
                   {"true": params, "false": 0})  # fmt: skip


def _build_wormhole(el, stmt: ast.Wormhole, ctx) -> None:
    src = _tensor_name(el, stmt.source, ctx, "source")
    dst = _tensor_name(el, stmt.target, ctx, "target")
    g = el.graph
    if src.node == dst.node:
        raise CompileError("SQN0402", "a wormhole needs two different nodes", stmt.target.span,
                           hint="a wormhole feeds a later node back into an earlier one: "
                           "`wormhole h3 -> h1`")  # fmt: skip
    if is_input(g, dst.node):
        raise CompileError("SQN0402", f"the target '{stmt.target.id}' is a spec input",
                           stmt.target.span, hint="a wormhole feeds back into a computed node")  # fmt: skip
    if not nx.has_path(dag_view(g), dst.node, src.node):
        raise CompileError(
            "SQN0402", f"wormhole {stmt.source.id} -> {stmt.target.id} closes no loop: "
            f"'{stmt.source.id}' does not depend on '{stmt.target.id}'", stmt.span,
            notes=(Note(src.span, f"'{stmt.source.id}' is computed here"),
                   Note(dst.span, f"'{stmt.target.id}' is computed here")),
            hint="a wormhole carries a later node back to an earlier one it depends on",
        )  # fmt: skip
    attrs = {}
    op = OPS["wormhole_gate"]
    for s in stmt.settings:
        if s.name == "enabled":
            continue  # add_wormhole's
        arg = op.arg(s.name)
        if s.name not in WORMHOLE_SETTINGS or arg is None:
            raise CompileError("SQN0103", f"wormholes have no setting '{s.name}'", s.name_span,
                               hint=did_you_mean(s.name, (*WORMHOLE_SETTINGS, "enabled"))
                               or "settings: " + ", ".join((*WORMHOLE_SETTINGS, "enabled")))  # fmt: skip
        attrs[s.name] = el._attr(el.evaluate(s.value, ctx), s.value.span, op, arg, ctx)
    for a in op.attr_args:
        if a.name not in attrs and not a.required:
            attrs[a.name] = a.default
    target_type = dst.type
    attrs["units"] = target_type.dims[-1] if target_type.rank else 1
    attrs["target_shape"] = target_type.shape
    label = f"wormhole_{stmt.source.id}_to_{stmt.target.id}"
    spans = {"x": stmt.source.span, **{st.name: st.value.span for st in stmt.settings
                                        if st.name != "enabled"}}
    gate = el._op_node("wormhole_gate", {"x": src}, attrs, stmt.span, ctx, label, spans,
                       extra={"attr_spans": {k: v for k, v in spans.items() if k != "x"}})  # fmt: skip
    g.add_edge(gate.node, dst.node, arg="__wormhole__", index=0, port=0, type=gate.type,
               wormhole=True, span=stmt.span,
               settings={k: attrs[k] for k in WORMHOLE_SETTINGS})  # fmt: skip


def _tensor_name(el, name: ast.Name, ctx, what: str) -> V.TensorRef:
    value = ctx.scope.lookup(name.id)
    if isinstance(value, V.Poison):
        raise Cascade()
    if value is None:
        raise CompileError("SQN0101", f"unknown name '{name.id}' (the wormhole's {what})", name.span,
                           hint=ctx.scope.suggest(name.id))  # fmt: skip
    if not isinstance(value, V.TensorRef):
        raise CompileError("SQN0402", f"the wormhole's {what} must be a tensor, but '{name.id}' is "
                           f"{V.describe(value)}", name.span)  # fmt: skip
    return value


# --- segment structures --------------------------------------------------------------------------


def define_segments(el, stmt: ast.Segments, ctx) -> None:
    structure = _structure(el, stmt.structure, ctx)
    problems = seg.validate(structure)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise CompileError("SQN0403", f"invalid segment structure: {problems[0]}{more}",
                           stmt.structure.span,
                           hint="every segment (i, j) needs a split point s with (i, s) and (s+1, j) in S, "
                                "and every prefix (1, i) and suffix (i, N) must be present")  # fmt: skip
    settings = {s.name: s for s in stmt.settings}
    for s in stmt.settings:
        if s.name not in (*seg_roles(), "share"):
            raise CompileError("SQN0103", f"segment structures have no setting '{s.name}'", s.name_span,
                               hint=did_you_mean(s.name, (*seg_roles(), "share"))
                               or "settings: token, fusion, decoder, share")  # fmt: skip
    for role in seg_roles():
        if role not in settings:
            raise CompileError("SQN0104", f"segment structure '{stmt.name}' needs '{role} = ...'",
                               stmt.name_span,
                               hint="give the token encoder, fusion encoder and decoder blocks")  # fmt: skip
        if not isinstance(settings[role].value, ast.Call):
            raise CompileError("SQN0106", f"'{role}' must be a block or op call such as mlp(out=E)",
                               settings[role].value.span)  # fmt: skip
    share = "none"
    if "share" in settings:
        v = el.evaluate(settings["share"].value, ctx)
        share = v.name if isinstance(v, V.Symbol) else v.value if isinstance(v, V.Str) else None
        if share not in SHARE_POLICIES:
            raise CompileError("SQN0108", "share must be none, per_level or all",
                               settings["share"].value.span)  # fmt: skip
    el._check_free(stmt.name, stmt.name_span, ctx.scope, "segment structure")
    ctx.scope.bind(stmt.name, V.SegmentsRef(stmt.name, stmt, structure, share, ctx.scope),
                   stmt.name_span)  # fmt: skip


def seg_roles():
    return tuple(ROLES)


def _structure(el, e, ctx) -> seg.SegmentStructure:
    if not isinstance(e, ast.Call) or not isinstance(e.func, ast.Name):
        raise CompileError("SQN0106", "a segment structure is binary_tree(N) or custom(N, [[i, j, s], ...])",
                           e.span)  # fmt: skip
    name = e.func.id
    args = [el.evaluate(a, ctx) for a in e.args]
    if name not in ("binary_tree", "custom"):
        raise CompileError("SQN0102", f"unknown segment structure '{name}'", e.func.span,
                           hint=did_you_mean(name, ("binary_tree", "custom"))
                           or "use binary_tree(N) or custom(N, [[i, j, s], ...])")  # fmt: skip
    if not args or not (isinstance(args[0], V.Num) and args[0].is_int and args[0].value >= 1):
        raise CompileError("SQN0106", f"{name} needs the sequence length N (a positive integer) first",
                           e.span, hint=f"for example {name}(8) for sequences of length 8")  # fmt: skip
    n = args[0].value
    if n > MAX_SEGMENT_N:
        raise CompileError("SQN0108", f"N = {n} is too long for a segment structure (at most "
                           f"{MAX_SEGMENT_N})", e.args[0].span)  # fmt: skip
    if name == "binary_tree":
        if len(args) != 1 or e.kwargs:
            raise CompileError("SQN0105", "binary_tree takes one argument, N", e.span)
        return seg.binary_tree(n)
    if len(args) != 2 or not isinstance(args[1], V.ListVal):
        raise CompileError("SQN0106", "custom(N, splits) needs a list of [i, j, s] triples", e.span)
    triples = []
    first: dict[tuple[int, int], tuple[int, V.ListVal]] = {}
    for item in args[1].items:
        ok = isinstance(item, V.ListVal) and len(item.items) == 3 and all(
            isinstance(x, V.Num) and x.is_int for x in item.items)  # fmt: skip
        if not ok:
            raise CompileError("SQN0106", "each split is a list [i, j, s] of three integers",
                               item.span or e.span)  # fmt: skip
        i, j, s = (x.value for x in item.items)
        if (i, j) in first:  # a segment has one split point: a second one would silently win
            s0, item0 = first[(i, j)]
            said = "again" if s == s0 else f"at {s}, but it already splits at {s0}"
            raise CompileError("SQN0403", f"segment ({i}, {j}) is given a split {said}",
                               item.span or e.span, notes=(Note(item0.span or e.span, "first split here"),),
                               hint="each segment (i, j) appears once in custom(N, ...), with its one split point")  # fmt: skip
        first[(i, j)] = (s, item)
        triples.append((i, j, s))
    return seg.custom(n, triples)


def apply_segments(el, ref: V.SegmentsRef, e: ast.Call, args, kwargs, ctx, label):
    """`y = tree(h)`: elaborate the three blocks as regions and add one `segments` node."""
    if len(args) != 1 or kwargs:
        raise CompileError("SQN0105", f"segment structure '{ref.name}' takes one tensor: the sequence",
                           e.span)  # fmt: skip
    x = el._expect_tensor(args[0], e.args[0].span, OPS["segments"], "x", ctx)
    if x.type.rank < 1 or x.type.dims[0] != ref.structure.n:
        raise CompileError(
            "SQN0301", f"'{ref.name}' covers {ref.structure.n} tokens, but the sequence is {x.type}",
            e.args[0].span, notes=(Note(ref.stmt.structure.span, f"built for N = {ref.structure.n}"),),
            hint="the first axis of the input is the sequence",
        )  # fmt: skip
    settings = {s.name: s for s in ref.stmt.settings}
    token_in = TensorType(x.type.dtype, x.type.shape[1:], x.type.vocab)
    node_name = el.builder.unique(ctx.path, label or ref.name)
    path = ctx.path + (node_name.rsplit("/", 1)[-1],)
    regions = {}
    token_g, enc = _region(el, ref, "token", settings["token"].value, [token_in], path, ctx)
    regions["token"] = token_g
    fusion_g, fused = _region(el, ref, "fusion", settings["fusion"].value, [enc, enc], path, ctx)
    if fused.dims != enc.dims or fused.dtype != enc.dtype:
        raise CompileError(
            "SQN0301", f"the fusion encoder must map two encodings {enc} to one {enc}, but it gives "
            f"{fused}", settings["fusion"].value.span,
            notes=(Note(settings["token"].value.span, f"the token encoder gives {enc}"),),
        )  # fmt: skip
    regions["fusion"] = fusion_g
    decoder_g, out = _region(el, ref, "decoder", settings["decoder"].value, [enc, enc, enc], path, ctx)
    regions["decoder"] = decoder_g
    structure = ref.structure
    copies = _copies(structure, ref.share)
    for role, g in regions.items():
        g.graph["copies"] = copies[role]
    attrs = {"structure": structure, "share": ref.share, "out_type": out}
    span = e.span
    return el._op_node("segments", {"x": x}, attrs, span, ctx, label or ref.name,
                       extra={"regions": regions, "structure_name": ref.name},
                       name=node_name)  # fmt: skip


def _copies(s: seg.SegmentStructure, share: str) -> dict[str, int]:
    """How many parameter sets each role has under a sharing policy."""
    n_fused = len(s.splits)
    if share == "all":
        return {"token": 1, "fusion": 1, "decoder": 1}
    if share == "per_level":
        levels = s.depth
        return {"token": 1, "fusion": max(levels, 1), "decoder": levels + 1}
    return {"token": s.n, "fusion": n_fused, "decoder": s.n + n_fused}


def _region(el, ref: V.SegmentsRef, role: str, template: ast.Call, inputs: list[TensorType],
            path: tuple[str, ...], ctx):  # fmt: skip
    """Elaborate one role's block into its own graph, fed by `inputs`."""
    region, out = elaborate_region(el, ref.scope, role, template, inputs, path, ctx)
    if not isinstance(out, V.TensorRef):
        raise CompileError("SQN0106", f"the {role} block must return one tensor", template.span)
    region.graph["outputs"]["out"] = Ref(out.node, out.port)
    return region, out.type
