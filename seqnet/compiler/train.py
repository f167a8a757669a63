"""Resolving the `train { ... }` section into a TrainConfig, checking it against the spec."""

from __future__ import annotations

import math

from seqnet.compiler import choices, objectives
from seqnet.compiler import values as V
from seqnet.compiler.context import Cascade, Ctx
from seqnet.compiler.curriculum import read_curriculum
from seqnet.compiler.graph import output_type
from seqnet.compiler.ir import node as ir_node
from seqnet.compiler.loss_terms import split_terms
from seqnet.compiler.modes.catalog import load_modes
from seqnet.compiler.names import did_you_mean
from seqnet.compiler.objectives import LOSSES, METRICS, OBJECTIVES
from seqnet.compiler.ops.registry import OPS
from seqnet.compiler.overrides import override_expr
from seqnet.compiler.padding import lengths_problems
from seqnet.compiler.sharding_rules import check_sharding, read_sharding
from seqnet.compiler.train_config import (
    OPTIMIZERS,
    SCHEDULES,
    TRAIN_KEYS,
    CallSpec,
    LossSpec,
    MetricSpec,
    TrainConfig,
    arg_problems,
)
from seqnet.compiler.train_mode import all_dtypes, resolve_mode
from seqnet.errors import CompileError, Note
from seqnet.grammar import ast

_INT_KEYS = ("batch", "steps", "eval_every", "eval_batches", "checkpoint_every", "seed", "examples")
_INT_HINTS = {
    "batch": "examples per training step, for example 32",
    "steps": "the number of training steps, for example 1000",
    "eval_every": "evaluate every this many steps (0: only at the end), for example 100",
    "eval_batches": "batches per evaluation (0: the whole eval split), for example 8",
    "checkpoint_every": "checkpoint every this many steps (0: only at the end), for example 500",
    "seed": "any whole number, for example 0",
    "examples": "how many training examples to draw, for example 10000",
}


def _least(key: str) -> int:
    return 1 if key == "batch" else 0


def _int_kind(key: str) -> str:
    return "a positive" if _least(key) else "a non-negative"


_SETTING_OVERRIDES = (*_INT_KEYS, "clip", "mode", "dtype", "decoder_lr")


def _validation_text(e: Exception) -> str:
    """A pydantic ValidationError as one line a person reads (no links, no type codes)."""
    errors = getattr(e, "errors", None)
    if not callable(errors):
        return str(e)
    return "; ".join(f"{'.'.join(map(str, err.get('loc', ())))}: {err.get('msg', '')}".lstrip(": ")
                     for err in errors())  # fmt: skip


class _Section:
    """Resolves one train section, reporting every setting's error instead of stopping at the
    first: each step runs through `attempt`, which records a CompileError and carries on."""

    def __init__(self, el):
        self.el = el
        self.failed = False

    def attempt(self, fn, *args):
        try:
            return fn(*args)
        except Cascade:  # a name whose own definition failed: that error is already reported
            self.failed = True
        except CompileError as e:
            self.failed = True
            self.el.reporter.error(e.code, e.message, e.span, hint=e.hint, notes=e.notes)
        except _AlreadyReported:
            self.failed = True
        return None


def resolve_train(el, stmt: ast.Train, scope) -> None:
    first = len(el.reporter.diagnostics)
    try:
        _resolve(el, stmt, Ctx(scope))
        choices.check_train_choices(el, stmt, Ctx(scope), lambda other: _resolve(el, other, Ctx(scope)))
    finally:  # the section's errors in the order of the text, wherever they were found
        el.reporter.diagnostics[first:] = sorted(el.reporter.diagnostics[first:], key=_position)


def _position(d) -> tuple:
    span = d.span
    return (0, "", 0, 0) if span is None else (1, span.file, span.line, span.column)


def _resolve(el, stmt: ast.Train, ctx) -> None:
    section = _Section(el)
    settings: dict[str, ast.Setting] = {}

    def setting(s: ast.Setting) -> None:
        if s.name not in TRAIN_KEYS:
            raise CompileError("SQN0501", f"train has no setting '{s.name}'", s.name_span,
                               hint=did_you_mean(s.name, TRAIN_KEYS) or "settings: " + ", ".join(TRAIN_KEYS))  # fmt: skip
        if s.name in settings:
            raise CompileError("SQN0107", f"'{s.name}' is set twice", s.name_span,
                               notes=(Note(settings[s.name].name_span, "first set here"),))  # fmt: skip
        settings[s.name] = choices.picked(el, s, ctx)  # choose(...): the chosen value

    for s in stmt.settings:
        section.attempt(setting, s)
    for name, text in el.overrides.items():  # --set steps=10: checked as if the spec said it
        if name in _SETTING_OVERRIDES:
            el.used_overrides.add(name)
            expr = section.attempt(override_expr, name, text, el.overrides)
            if expr is not None:
                settings[name] = ast.Setting(name, expr, expr.span, expr.span)
    for key in ("data", "loss"):
        if key not in settings:
            section.attempt(_raise, CompileError(
                "SQN0501", f"train needs '{key} = ...'", stmt.span,
                hint="for example: data = task.parity(N) and loss = cross_entropy(y, label)"))  # fmt: skip
    out: dict = {}
    fields = section.attempt(_data, el, settings["data"], ctx, out) if "data" in settings else None
    data_span = settings["data"].value.span if "data" in settings else stmt.span
    declared = el.declared_outputs
    if "loss" in settings:
        terms = section.attempt(split_terms, el, settings["loss"].value, ctx) or []
        specs = [section.attempt(_objective, el, call, "loss", fields, data_span, declared)
                 for _, call in terms]  # fmt: skip
        if specs and None not in specs:
            specs = [s.model_copy(update={"weight": w}) for s, (w, _) in zip(specs, terms, strict=True)]
            out["loss"] = specs[0]
            if len(specs) > 1 or specs[0].weight != 1.0:
                out["loss_terms"] = tuple(specs)
    if "metrics" in settings:
        v = settings["metrics"].value
        items = v.items if isinstance(v, ast.ListExpr) else (v,)
        metrics = tuple(section.attempt(_objective, el, item, "metric", fields, data_span, declared)
                        for item in items)  # fmt: skip
        out["metrics"] = metrics
    for key in _INT_KEYS:
        if key in settings:
            out[key] = section.attempt(_int_setting, el, key, settings[key], ctx)
    if isinstance(out.get("examples"), int) and out["examples"] < (out.get("batch") or 32):
        section.attempt(_raise, CompileError(
            "SQN0108", f"examples = {out['examples']} is fewer than one batch ({out.get('batch') or 32})",
            settings["examples"].value.span))  # fmt: skip
    for key, hint in (("decoder_lr", None), ("clip", "the largest global gradient norm, for example 1.0")):
        if key in settings:
            out[key] = section.attempt(_positive_setting, el, key, settings[key], ctx, hint)
    if "dtype" in settings:
        out["dtype"] = section.attempt(_choice_setting, el, "dtype", settings["dtype"], ctx, all_dtypes())
    resolve_mode(el, section, settings, out, ctx)
    if "curriculum" in settings:
        out["curriculum"] = section.attempt(read_curriculum, el, settings["curriculum"], ctx, out)
    for key, table in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES)):
        if key in settings:
            out[key] = section.attempt(_named_call, el, settings[key], table, ctx, key)
    if "mesh" in settings:
        out["mesh"] = section.attempt(_mesh, el, settings["mesh"], ctx)
    if "data_axis" in settings:
        v = section.attempt(el._eval, settings["data_axis"].value, ctx)
        out["data_axis"] = v.name if isinstance(v, V.Symbol) else getattr(v, "value", "data")
    axis = out.get("data_axis") or "data"
    mesh = out.get("mesh") or {"data": -1}
    if axis not in mesh:
        where = settings.get("data_axis") or settings.get("mesh")
        section.attempt(_raise, CompileError(
            "SQN0108", f"the data axis '{axis}' is not an axis of the mesh ({', '.join(mesh) or 'none'})",
            where.value.span if where else stmt.span,
            hint=did_you_mean(str(axis), mesh) or f"data_axis = {next(iter(mesh), 'data')}, "
            f"or add it: mesh = mesh({axis}=-1)"))  # fmt: skip
    if "sharding" in settings:
        out["sharding"] = section.attempt(_sharding, el, settings["sharding"], mesh, section)
    if "lr" in el.overrides:  # --set lr=0.01: the optimiser's learning rate
        el.used_overrides.add("lr")
        lr = section.attempt(_lr_override, el, ctx)
        opt = out.get("optimizer") or TrainConfig.model_fields["optimizer"].default
        if lr is not None:
            out["optimizer"] = CallSpec(name=opt.name, args={**opt.args, "lr": lr})
    local = [n for n, op in el.graph.nodes(data="op") if op in OPS and OPS[op].local_training]
    if "decoder_lr" in settings and not local:
        section.attempt(_raise, CompileError(
            "SQN0502", "decoder_lr = ... trains segment structures, but this spec has none",
            settings["decoder_lr"].value.span, hint="remove it"))  # fmt: skip
    _check_trainable(section, el.graph)
    if section.failed:
        return
    try:
        el.graph.graph["train"] = TrainConfig(**{k: v for k, v in out.items() if v is not None})
    except Exception as e:  # pydantic validation of an override value
        raise CompileError("SQN0108", f"invalid train setting: {_validation_text(e)}", stmt.span) from None


def _raise(error: CompileError):
    raise error


def _int_setting(el, key: str, setting: ast.Setting, ctx) -> int:
    value = el.evaluate(setting.value, ctx)
    if not (isinstance(value, V.Num) and value.is_int and value.value >= _least(key)):
        raise CompileError("SQN0108", f"{key} must be {_int_kind(key)} integer, got {V.describe(value)}",
                           setting.value.span, hint=_INT_HINTS[key])  # fmt: skip
    return value.value


def _positive_setting(el, key: str, setting: ast.Setting, ctx, hint) -> float:
    value = el.evaluate(setting.value, ctx)
    if not (isinstance(value, V.Num) and value.value > 0 and math.isfinite(value.value)):
        raise CompileError("SQN0108", f"{key} must be a positive number, got {V.describe(value)}",
                           setting.value.span, hint=hint)  # fmt: skip
    return float(value.value)


def _choice_setting(el, key: str, setting: ast.Setting, ctx, choices) -> str:
    value = el.evaluate(setting.value, ctx)
    text = value.name if isinstance(value, V.Symbol) else getattr(value, "value", None)
    if text not in choices:
        raise CompileError("SQN0108", f"{key} must be one of {', '.join(choices)}", setting.value.span,
                           hint=did_you_mean(str(text), choices))  # fmt: skip
    return text


def _lr_override(el, ctx) -> float:
    expr = override_expr("lr", el.overrides["lr"], el.overrides)
    value = el.evaluate(expr, ctx)
    if not (isinstance(value, V.Num) and value.value > 0 and math.isfinite(value.value)):
        raise CompileError("SQN0108", f"lr must be a positive number, got {V.describe(value)}",
                           expr.span, hint=f"for example {el.overrides.written('lr', '3e-4')}")  # fmt: skip
    return float(value.value)


def _check_trainable(section: _Section, graph) -> None:
    """Ops that cannot be trained as configured (their registry entry's `train_rule` says why),
    anywhere in the graph, segment regions included."""
    for n in graph.nodes:
        rec = ir_node(graph, n)
        rule = OPS[rec.op].train_rule if rec.op in OPS else None
        problem = rule(rec.attrs) if rule is not None else None
        if problem is not None:
            message, attr, hint = problem
            span = (rec.attr_spans or {}).get(attr, rec.span)
            section.attempt(_raise, CompileError("SQN0405", message, span, hint=hint))
        for region in (rec.regions or {}).values():
            _check_trainable(section, region)


def _data(el, setting: ast.Setting, ctx, out: dict) -> dict:
    """Check `data = task.parity(N)` against the data catalogue and the spec's inputs."""
    from seqnet.data import SOURCES, DataArgError

    call = setting.value
    if not isinstance(call, ast.Call):
        raise CompileError("SQN0502", "data must name a data source, e.g. task.parity(N)", call.span)
    name, name_span, positional, notes = _dotted(call.func), call.func.span, call.args, ()
    if name in ("task", "data"):  # data = task(TASK, N): the source named by a value
        name, origin = _named_source(el, call, ctx)
        name_span, positional = call.args[0].span, call.args[1:]
        notes = (Note(origin, f"'{name}' comes from here"),) if origin not in (None, name_span) else ()
    bare = name.split(".", 1)[1] if name.startswith(("task.", "data.")) else name
    if bare not in SOURCES:
        raise CompileError("SQN0502", f"unknown data source '{name}'", name_span, notes=notes,
                           hint=did_you_mean(bare, SOURCES) or "sources: " + ", ".join(sorted(SOURCES)))  # fmt: skip
    source = SOURCES[bare]
    names = [a.name for a in source.args]
    if len(positional) > len(names):
        raise CompileError("SQN0105", f"{bare} takes at most {len(names)} arguments",
                           positional[len(names)].span)  # fmt: skip
    args, spans = {}, {}
    for value, arg_name in zip(positional, names):
        args[arg_name] = _plain(el.evaluate(value, ctx), value.span)
        spans[arg_name] = value.span
    for kw in call.kwargs:
        if kw.name not in names:
            raise CompileError("SQN0103", f"{bare} has no argument '{kw.name}'", kw.name_span,
                               hint=did_you_mean(kw.name, names) or "arguments: " + ", ".join(names))  # fmt: skip
        args[kw.name] = _plain(el.evaluate(kw.value, ctx), kw.value.span)
        spans[kw.name] = kw.value.span
    if source.uses_base_dir:
        root = el.root_dir
        args.setdefault("base_dir", str(root) if root else ".")
    try:
        fields = source.fields(**args)
    except DataArgError as e:  # at the argument at fault, where the spec writes it
        raise CompileError("SQN0108", f"{bare}: {e}", spans.get(e.arg, call.span),
                           hint=e.hint) from None  # fmt: skip
    except TypeError as e:
        raise CompileError("SQN0104", f"{bare}: {e}", call.span) from None
    problems = [p for inp in el.graph.graph["inputs"]
                if (p := _input_problem(el.graph, inp, fields, bare, call)) is not None]  # fmt: skip
    if not problems:
        problems = lengths_problems(el.graph, fields, bare, call.span)
    for p in problems[1:]:  # every input's mismatch in one run; the caller reports the first
        el.reporter.error(p.code, p.message, p.span, hint=p.hint, notes=p.notes)
    if problems:
        raise problems[0]
    out["data"] = CallSpec(name=bare, args=args)
    return fields


def _named_source(el, call: ast.Call, ctx):
    """(name, where it was written) of the source `task(NAME, ...)` names by its first argument:
    a string, usually a const, so that `--set TASK=s5` switches the task of one spec."""
    value = el.evaluate(call.args[0], ctx) if call.args else None
    if isinstance(value, V.Str):
        return value.value, value.span
    if isinstance(value, V.Symbol):
        return value.name, value.span
    span = call.args[0].span if call.args else call.span
    raise CompileError("SQN0502", "task(...) names its data source first, as a string",
                       span, hint='for example task("parity", N), or task(TASK, N) with const TASK = "parity"')  # fmt: skip


def _input_problem(graph, inp: str, fields: dict, bare: str, call) -> CompileError | None:
    """Why the data cannot feed the input `inp`: no such field, another shape or dtype, or
    another vocabulary (token ids past a smaller vocabulary would be clamped by the embedding)."""
    t = output_type(graph, (inp, 0))
    span = ir_node(graph, inp).span
    if inp not in fields:
        return CompileError("SQN0503", f"the data source {bare} has no field '{inp}' for the input '{inp}'",
                            span, hint="its fields: " + ", ".join(f"{k}: {v}" for k, v in fields.items()))  # fmt: skip
    f = fields[inp]
    note = (Note(call.span, f"data source {bare}"),)
    if f.dims != t.dims or f.dtype != t.dtype:
        return CompileError("SQN0503", f"input '{inp}' is {t} but the data source {bare} gives {f}",
                            span, notes=note, hint=f"declare 'input {inp} : {f}'")  # fmt: skip
    if f.vocab is not None and t.vocab != f.vocab:
        if t.vocab is None:
            message = f"input '{inp}' declares no vocabulary, but the data source {bare} gives token ids of vocab {f.vocab}"
        else:
            message = (f"input '{inp}' declares vocab {t.vocab}, but the data source {bare} gives "
                       f"token ids 0..{f.vocab - 1} (vocab {f.vocab})")  # fmt: skip
        return CompileError("SQN0503", message, span, notes=note, hint=f"declare 'input {inp} : {f}'")
    return None


def _plain(value, span):
    if isinstance(value, (V.Num, V.Str, V.Bool)):
        return value.value
    if isinstance(value, V.Symbol):
        return value.name
    raise CompileError("SQN0106", f"expected a number, string or name, got {V.describe(value)}", span)


def _dotted(e) -> str:
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, ast.Attribute):
        return f"{_dotted(e.value)}.{e.attr}"
    return "?"


class _AlreadyReported(Exception):
    """The loss names an output whose own definition failed: that error is already reported."""


def _objective(el, call, what: str, fields: dict | None, data_span, declared=()) -> LossSpec | MetricSpec:
    """`cross_entropy(y, label)`: a loss or metric of an output and a data field, type-checked by
    the objective's rule (compiler/objectives.py)."""
    table = LOSSES if what == "loss" else METRICS
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and len(call.args) == 2
            and all(isinstance(a, ast.Name) for a in call.args)):  # fmt: skip
        raise CompileError("SQN0502", f"a {what} is written {table[0]}(output, target)", call.span,
                           hint=f"for example {table[0]}(y, label)")  # fmt: skip
    name = call.func.id
    if name not in table:
        hint = did_you_mean(name, table) or f"{what}{'es' if what == 'loss' else 's'}: " + ", ".join(table)
        if name in OBJECTIVES:
            hint = f"{name} is a {'metric' if what == 'loss' else 'loss'}; {what}es: " + ", ".join(table)
        raise CompileError("SQN0502", f"unknown {what} '{name}'", call.func.span, hint=hint)
    output, target = call.args
    outputs = el.graph.graph["outputs"]
    if output.id not in outputs:
        if output.id in declared:
            raise _AlreadyReported()
        raise CompileError("SQN0502", f"'{output.id}' is not an output of the spec", output.span,
                           hint=did_you_mean(output.id, outputs) or ("outputs: " + ", ".join(outputs) if outputs else None))  # fmt: skip
    lengths = _lengths_arg(call, name)
    spec = (LossSpec if what == "loss" else MetricSpec)(name=name, output=output.id, target=target.id,
                                                         lengths=lengths.id if lengths else None)  # fmt: skip
    if fields is None:  # the data source failed, and said why
        raise _AlreadyReported()
    for field in (target, lengths) if lengths else (target,):
        if field.id not in fields:
            raise CompileError("SQN0503", f"the data has no field '{field.id}'", field.span,
                               hint=did_you_mean(field.id, fields) or "fields: " + ", ".join(fields))  # fmt: skip
    out_type = output_type(el.graph, outputs[output.id])
    if lengths:
        check_padded_target(name, lengths, fields, target.id, data_span)
    try:
        objectives.check(name, out_type, fields[target.id])
    except objectives.ObjectiveTypeError as e:
        notes = []
        out_span = el.graph.graph["output_spans"].get(output.id)
        if out_span is not None:
            notes.append(Note(out_span, f"'{output.id}' is {out_type}, declared here"))
        notes.append(Note(data_span, f"'{target.id}' is {fields[target.id]}, from this data"))
        raise CompileError("SQN0504", e.message, output.span if e.side == "output" else target.span,
                           hint=e.hint, notes=tuple(notes)) from None
    return spec


def _lengths_arg(call: ast.Call, name: str) -> ast.Name | None:
    """The data field a loss or metric's `lengths=` names (positions past it are padding)."""
    found = None
    for kw in call.kwargs:
        if kw.name != "lengths":
            raise CompileError("SQN0103", f"{name} has no argument '{kw.name}'", kw.name_span,
                               hint=did_you_mean(kw.name, ("lengths",)) or "its one keyword is lengths=, "
                               "a data field of lengths: positions past them are padding")  # fmt: skip
        if not isinstance(kw.value, ast.Name):
            raise CompileError("SQN0502", "lengths= names a data field", kw.value.span,
                               hint=f"for example {name}(y, target, lengths=length)")  # fmt: skip
        found = kw.value
    return found


def check_padded_target(name: str, lengths: ast.Name, fields: dict, target: str, data_span) -> None:
    """`lengths=` needs one integer per example, and a target with a sequence axis they bound."""
    t, seq = fields[lengths.id], fields[target]
    note = (Note(data_span, f"'{lengths.id}' is {t}, '{target}' is {seq}, from this data"),)
    if t.is_float or t.dtype == "bool" or t.rank:
        fit = [k for k, f in fields.items() if not (f.is_float or f.dtype == "bool" or f.rank)]
        raise CompileError("SQN0504", f"{name}: lengths= must be one integer per example (int32[]), "
                           f"but '{lengths.id}' is {t}", lengths.span, notes=note,
                           hint=f"lengths={fit[0]}" if fit else "the data has no lengths field")  # fmt: skip
    if not seq.rank:
        raise CompileError("SQN0504", f"{name}: lengths= skips padded positions, but the target "
                           f"'{target}' is {seq}, one value per example", lengths.span, notes=note,
                           hint="remove lengths=: a target without a sequence axis has no padding")  # fmt: skip
    if t.bounds is not None and t.bounds[1] > seq.dims[0]:
        raise CompileError("SQN0504", f"{name}: '{lengths.id}' reaches {t.bounds[1]:g}, past the "
                           f"{seq.dims[0]} positions of '{target}'", lengths.span, notes=note)  # fmt: skip


def _named_call(el, setting: ast.Setting, table: dict, ctx, what: str) -> CallSpec:
    """`optimizer = adam(lr=1e-3)`: a name from the table and keyword arguments its pydantic model
    accepts; each refused argument is reported at its own value."""
    call = setting.value
    if isinstance(call, ast.Name):
        call = ast.Call(call, (), (), call.span)
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
        raise CompileError("SQN0502", f"{what} is written like adam(lr=1e-3)", call.span)
    name = call.func.id
    if name not in table:
        raise CompileError("SQN0502", f"unknown {what} '{name}'", call.func.span,
                           hint=did_you_mean(name, table) or f"{what}s: " + ", ".join(table))  # fmt: skip
    if call.args:
        raise CompileError("SQN0105", f"{what} arguments are named: {name}(lr=...)", call.args[0].span)
    fields = table[name].model_fields
    args, shown, spans = {}, {}, {}
    for kw in call.kwargs:
        if kw.name not in fields:
            raise CompileError("SQN0103", f"{name} has no argument '{kw.name}'", kw.name_span,
                               hint=did_you_mean(kw.name, fields) or "arguments: " + (", ".join(fields) or "none"))  # fmt: skip
        value = el.evaluate(kw.value, ctx)
        args[kw.name] = value.value if isinstance(value, (V.Num, V.Str, V.Bool)) else value
        shown[kw.name], spans[kw.name] = V.describe(value), kw.value.span
    problems = arg_problems(table, name, args)
    for arg, must, example in problems[1:]:  # all but the first: the caller reports that one
        el.reporter.error("SQN0108", f"{name}'s {arg} must be {must}, got {shown[arg]}", spans[arg],
                          hint=f"for example {name}({arg}={example})")  # fmt: skip
    if problems:
        arg, must, example = problems[0]
        raise CompileError("SQN0108", f"{name}'s {arg} must be {must}, got {shown[arg]}", spans[arg],
                           hint=f"for example {name}({arg}={example})")  # fmt: skip
    return CallSpec(name=name, args=args)


def _mesh(el, setting: ast.Setting, ctx) -> dict[str, int]:
    call = setting.value
    if not ast.is_call(call, "mesh"):
        raise CompileError("SQN0502", "mesh is written mesh(data=-1) (axis name = size, -1 = all devices)",
                           call.span)  # fmt: skip
    out = {}
    for kw in call.kwargs:
        v = el.evaluate(kw.value, ctx)
        if not (isinstance(v, V.Num) and v.is_int and (v.value >= 1 or v.value == -1)):
            raise CompileError("SQN0108", "a mesh axis size is a positive integer or -1", kw.value.span)
        out[kw.name] = v.value
    return out


def _sharding(el, setting: ast.Setting, mesh: dict[str, int], section: _Section):
    """The sharding rules, each checked against the mesh and every parameter's shape."""
    def report(error: CompileError) -> None:
        section.attempt(_raise, error)

    config, spans = read_sharding(setting, mesh, report)
    check_sharding(el.graph, config, spans, mesh, report)
    return config


def check_setting(key: str, value) -> str | None:
    """What is wrong with a train setting given as a plain Python value (`model.train(lr=...)`),
    by the rules a spec's train section obeys; None when it is fine."""
    if key in _INT_KEYS:
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= _least(key)):
            return f"{key} must be {_int_kind(key)} integer, got {value!r}"
    elif key in ("lr", "decoder_lr", "clip"):
        if key == "clip" and value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                math.isfinite(value) and value > 0):  # fmt: skip
            return f"{key} must be a positive number, got {value!r}"
    elif key == "mode" and value not in load_modes():
        return f"mode must be one of {', '.join(load_modes())}, got {value!r}"
    elif key == "dtype" and value not in all_dtypes():
        return f"dtype must be {' or '.join(all_dtypes())}, got {value!r}"
    elif key in ("optimizer", "schedule") and isinstance(value, dict):
        table = OPTIMIZERS if key == "optimizer" else SCHEDULES
        name, args = value.get("name"), value.get("args", {}) or {}
        if name not in table:
            return f"unknown {key} {name!r}; choose one of {', '.join(table)}"
        fields = table[name].model_fields
        for arg in args:
            if arg not in fields:
                return f"{name} has no argument {arg!r}; arguments: {', '.join(fields) or 'none'}"
        for arg, must, _example in arg_problems(table, name, args):
            return f"{name}'s {arg} must be {must}, got {args[arg]!r}"
    return None
