"""Resolving the `train { ... }` section into a TrainConfig, checking it against the spec."""

from __future__ import annotations

import math

from seqnet.compiler import values as V
from seqnet.compiler.train_config import (
    LOSSES,
    METRICS,
    MODES,
    OPTIMIZERS,
    SCHEDULES,
    TRAIN_KEYS,
    CallSpec,
    LossSpec,
    MetricSpec,
    TrainConfig,
)
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
DTYPES = ("float32", "bfloat16")  # compute dtypes a train section may ask for


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


def resolve_train(el, stmt: ast.Train, scope) -> None:
    from seqnet.compiler.elaborate import Ctx, did_you_mean, override_expr

    ctx = Ctx(scope)
    settings: dict[str, ast.Setting] = {}
    for s in stmt.settings:
        if s.name not in TRAIN_KEYS:
            raise CompileError("SQN0501", f"train has no setting '{s.name}'", s.name_span,
                               hint=did_you_mean(s.name, TRAIN_KEYS) or "settings: " + ", ".join(TRAIN_KEYS))  # fmt: skip
        if s.name in settings:
            raise CompileError("SQN0107", f"'{s.name}' is set twice", s.name_span,
                               notes=(Note(settings[s.name].name_span, "first set here"),))  # fmt: skip
        settings[s.name] = s
    for name, text in el.overrides.items():  # --set steps=10: checked as if the spec said it
        if name in _SETTING_OVERRIDES:
            el.used_overrides.add(name)
            expr = override_expr(name, text, el.overrides)
            settings[name] = ast.Setting(name, expr, expr.span, expr.span)
    for key in ("data", "loss"):
        if key not in settings:
            raise CompileError("SQN0501", f"train needs '{key} = ...'", stmt.span,
                               hint="for example: data = task.parity(N) and loss = cross_entropy(y, label)")  # fmt: skip
    out: dict = {}
    fields = _data(el, settings["data"], ctx, out)
    outputs = el.graph.graph["outputs"]
    declared = el.declared_outputs
    try:
        out["loss"] = _loss_like(settings["loss"], LOSSES, LossSpec, outputs, fields, "loss", declared)
        if "metrics" in settings:
            v = settings["metrics"].value
            items = v.items if isinstance(v, ast.ListExpr) else (v,)
            out["metrics"] = tuple(_loss_like(ast.Setting("metrics", i, i.span, i.span), METRICS,
                                              MetricSpec, outputs, fields, "metric", declared)
                                   for i in items)  # fmt: skip
    except _AlreadyReported:
        return
    for key in _INT_KEYS:
        if key in settings:
            value = el._eval(settings[key].value, ctx)
            if not (isinstance(value, V.Num) and value.is_int and value.value >= _least(key)):
                raise CompileError("SQN0108", f"{key} must be {_int_kind(key)} integer, got "
                                   f"{V.describe(value)}", settings[key].value.span,
                                   hint=_INT_HINTS[key])  # fmt: skip
            out[key] = value.value
    if out.get("examples") is not None and out["examples"] < out.get("batch", 32):
        raise CompileError("SQN0108", f"examples = {out['examples']} is fewer than one batch "
                           f"({out.get('batch', 32)})", settings["examples"].value.span)  # fmt: skip
    if "decoder_lr" in settings:
        value = el._eval(settings["decoder_lr"].value, ctx)
        if not (isinstance(value, V.Num) and value.value > 0):
            raise CompileError("SQN0108", "decoder_lr must be a positive number",
                               settings["decoder_lr"].value.span)  # fmt: skip
        out["decoder_lr"] = float(value.value)
    if "clip" in settings:
        value = el._eval(settings["clip"].value, ctx)
        if not (isinstance(value, V.Num) and value.value > 0):
            raise CompileError("SQN0108", f"clip must be a positive number, got {V.describe(value)}",
                               settings["clip"].value.span,
                               hint="the largest global gradient norm, for example 1.0")  # fmt: skip
        out["clip"] = float(value.value)
    for key, choices in (("mode", MODES), ("dtype", DTYPES)):
        if key in settings:
            value = el._eval(settings[key].value, ctx)
            text = value.name if isinstance(value, V.Symbol) else getattr(value, "value", None)
            if text not in choices:
                raise CompileError("SQN0108", f"{key} must be one of {', '.join(choices)}",
                                   settings[key].value.span, hint=did_you_mean(str(text), choices))  # fmt: skip
            out[key] = text
    for key, table in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES)):
        if key in settings:
            out[key] = _named_call(el, settings[key], table, ctx, key)
    if "mesh" in settings:
        out["mesh"] = _mesh(el, settings["mesh"], ctx)
    if "data_axis" in settings:
        v = el._eval(settings["data_axis"].value, ctx)
        out["data_axis"] = v.name if isinstance(v, V.Symbol) else getattr(v, "value", "data")
    axis = out.get("data_axis", "data")
    mesh = out.get("mesh", {"data": -1})
    if axis not in mesh:
        where = settings.get("data_axis") or settings.get("mesh")
        raise CompileError("SQN0108", f"the data axis '{axis}' is not an axis of the mesh "
                           f"({', '.join(mesh) or 'none'})", where.value.span if where else stmt.span,
                           hint=did_you_mean(str(axis), mesh) or f"data_axis = {next(iter(mesh), 'data')}, "
                           f"or add it: mesh = mesh({axis}=-1)")  # fmt: skip
    if "lr" in el.overrides:  # --set lr=0.01: the optimiser's learning rate
        el.used_overrides.add("lr")
        expr = override_expr("lr", el.overrides["lr"], el.overrides)
        value = el._eval(expr, ctx)
        if not (isinstance(value, V.Num) and value.value > 0):
            raise CompileError("SQN0108", f"lr must be a positive number, got {V.describe(value)}",
                               expr.span, hint=f"for example {el.overrides.written('lr', '3e-4')}")  # fmt: skip
        opt = out.get("optimizer", TrainConfig.model_fields["optimizer"].default)
        out["optimizer"] = CallSpec(name=opt.name, args={**opt.args, "lr": float(value.value)})
    has_segments = any(el.graph.nodes[n]["op"] == "segments" for n in el.graph.nodes)
    for key in ("mode", "decoder_lr"):
        if key in settings and not has_segments and (key != "mode" or out.get("mode") == "local"):
            raise CompileError("SQN0502", f"{key} = ... trains segment structures, but this spec has "
                               "none", settings[key].value.span,
                               hint="remove it" if key == "decoder_lr" else "use mode = standard")  # fmt: skip
    try:
        el.graph.graph["train"] = TrainConfig(**out)
    except Exception as e:  # pydantic validation of an override value
        raise CompileError("SQN0108", f"invalid train setting: {_validation_text(e)}", stmt.span) from None


def _data(el, setting: ast.Setting, ctx, out: dict) -> dict:
    """Check `data = task.parity(N)` against the data catalogue and the spec's inputs."""
    from seqnet.compiler.elaborate import did_you_mean
    from seqnet.data import SOURCES, DataArgError

    call = setting.value
    if not isinstance(call, ast.Call):
        raise CompileError("SQN0502", "data must name a data source, e.g. task.parity(N)", call.span)
    name = _dotted(call.func)
    bare = name.split(".", 1)[1] if name.startswith(("task.", "data.")) else name
    if bare not in SOURCES:
        raise CompileError("SQN0502", f"unknown data source '{name}'", call.func.span,
                           hint=did_you_mean(bare, SOURCES) or "sources: " + ", ".join(sorted(SOURCES)))  # fmt: skip
    source = SOURCES[bare]
    names = [a.name for a in source.args]
    if len(call.args) > len(names):
        raise CompileError("SQN0105", f"{bare} takes at most {len(names)} arguments",
                           call.args[len(names)].span)  # fmt: skip
    args = {}
    for value, arg_name in zip(call.args, names):
        args[arg_name] = _plain(el._eval(value, ctx), value.span)
    for kw in call.kwargs:
        if kw.name not in names:
            raise CompileError("SQN0103", f"{bare} has no argument '{kw.name}'", kw.name_span,
                               hint=did_you_mean(kw.name, names) or "arguments: " + ", ".join(names))  # fmt: skip
        args[kw.name] = _plain(el._eval(kw.value, ctx), kw.value.span)
    if bare == "npz":
        root = el.root_dir
        args.setdefault("base_dir", str(root) if root else ".")
    try:
        fields = source.fields(**args)
    except DataArgError as e:
        raise CompileError("SQN0108", f"{bare}: {e}", call.span) from None
    except TypeError as e:
        raise CompileError("SQN0104", f"{bare}: {e}", call.span) from None
    graph = el.graph
    for inp in graph.graph["inputs"]:
        t = graph.nodes[inp]["outputs"][0]
        if inp not in fields:
            raise CompileError(
                "SQN0503", f"the data source {bare} has no field '{inp}' for the input '{inp}'",
                graph.nodes[inp]["span"],
                hint="its fields: " + ", ".join(f"{k}: {v}" for k, v in fields.items()),
            )  # fmt: skip
        f = fields[inp]
        if f.dims != t.dims or f.dtype != t.dtype:
            raise CompileError(
                "SQN0503", f"input '{inp}' is {t} but the data source {bare} gives {f}",
                graph.nodes[inp]["span"], notes=(Note(call.span, f"data source {bare}"),),
                hint=f"declare 'input {inp} : {f}'",
            )  # fmt: skip
    out["data"] = CallSpec(name=bare, args=args)
    return fields


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


def _loss_like(setting: ast.Setting, table, cls, outputs: dict, fields: dict, what: str,
               declared=()):  # fmt: skip
    from seqnet.compiler.elaborate import did_you_mean

    call = setting.value
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and len(call.args) == 2
            and all(isinstance(a, ast.Name) for a in call.args)):  # fmt: skip
        raise CompileError("SQN0502", f"a {what} is written {table[0]}(output, target)", call.span,
                           hint=f"for example {table[0]}(y, label)")  # fmt: skip
    name = call.func.id
    if name not in table:
        raise CompileError("SQN0502", f"unknown {what} '{name}'", call.func.span,
                           hint=did_you_mean(name, table) or f"{what}es: " + ", ".join(table)
                           if what == "loss" else "metrics: " + ", ".join(table))  # fmt: skip
    output, target = call.args
    if output.id not in outputs:
        if output.id in declared:
            raise _AlreadyReported()
        raise CompileError("SQN0502", f"'{output.id}' is not an output of the spec", output.span,
                           hint=did_you_mean(output.id, outputs) or ("outputs: " + ", ".join(outputs) if outputs else None))  # fmt: skip
    if target.id not in fields:
        raise CompileError("SQN0503", f"the data has no field '{target.id}'", target.span,
                           hint=did_you_mean(target.id, fields) or "fields: " + ", ".join(fields))  # fmt: skip
    return cls(name=name, output=output.id, target=target.id)


def _named_call(el, setting: ast.Setting, table: dict, ctx, what: str) -> CallSpec:
    from seqnet.compiler.elaborate import did_you_mean

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
    args = {}
    for kw in call.kwargs:
        if kw.name not in table[name]:
            raise CompileError("SQN0103", f"{name} has no argument '{kw.name}'", kw.name_span,
                               hint=did_you_mean(kw.name, table[name]) or "arguments: " + ", ".join(table[name]))  # fmt: skip
        value = el._eval(kw.value, ctx)
        rule = _ARG_RULES.get(kw.name)
        if rule is not None and not rule[0](value):
            raise CompileError("SQN0108", f"{name}'s {kw.name} must be {rule[1]}, got {V.describe(value)}",
                               kw.value.span, hint=f"for example {name}({kw.name}={rule[2]})")  # fmt: skip
        args[kw.name] = _plain(value, kw.value.span)
    return CallSpec(name=name, args=args)


def _num(v, lo=None, hi=None, lo_open=False, hi_open=False, whole=False) -> bool:
    if not isinstance(v, V.Num) or isinstance(v.value, bool) or not math.isfinite(v.value):
        return False
    x = v.value
    if whole and not float(x).is_integer():
        return False
    if lo is not None and (x <= lo if lo_open else x < lo):
        return False
    return not (hi is not None and (x >= hi if hi_open else x > hi))


# Optimiser and schedule arguments: (check, what it must be, an example).
_ARG_RULES = {
    "lr": (lambda v: _num(v, 0, lo_open=True), "a positive number", "1e-3"),
    "eps": (lambda v: _num(v, 0, lo_open=True), "a positive number", "1e-8"),
    "b1": (lambda v: _num(v, 0, 1, hi_open=True), "a number in [0, 1)", "0.9"),
    "b2": (lambda v: _num(v, 0, 1, hi_open=True), "a number in [0, 1)", "0.999"),
    "decay": (lambda v: _num(v, 0, 1, hi_open=True), "a number in [0, 1)", "0.9"),
    "momentum": (lambda v: _num(v, 0, 1, hi_open=True), "a number in [0, 1)", "0.9"),
    "weight_decay": (lambda v: _num(v, 0), "a number of at least 0", "1e-4"),
    "nesterov": (lambda v: isinstance(v, V.Bool), "true or false", "true"),
    "warmup": (lambda v: _num(v, 0, whole=True), "a whole number of steps, at least 0", "100"),
    "end": (lambda v: _num(v, 0, 1), "a fraction of lr in [0, 1]", "0.1"),
    "rate": (lambda v: _num(v, 0, lo_open=True), "a positive number", "0.5"),
    "every": (lambda v: _num(v, 1, whole=True), "a whole number of steps, at least 1", "1000"),
}


def _mesh(el, setting: ast.Setting, ctx) -> dict[str, int]:
    call = setting.value
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "mesh"):
        raise CompileError("SQN0502", "mesh is written mesh(data=-1) (axis name = size, -1 = all devices)",
                           call.span)  # fmt: skip
    out = {}
    for kw in call.kwargs:
        v = el._eval(kw.value, ctx)
        if not (isinstance(v, V.Num) and v.is_int and (v.value >= 1 or v.value == -1)):
            raise CompileError("SQN0108", "a mesh axis size is a positive integer or -1", kw.value.span)
        out[kw.name] = v.value
    return out


def check_setting(key: str, value) -> str | None:
    """What is wrong with a train setting given as a plain Python value (`model.train(lr=...)`),
    by the rules a spec's train section obeys; None when it is fine."""

    def wrap(v):
        if isinstance(v, bool):
            return V.Bool(v)
        if isinstance(v, (int, float)):
            return V.Num(v, str(v))
        return V.Str(str(v))

    if key in _INT_KEYS:
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= _least(key)):
            return f"{key} must be {_int_kind(key)} integer, got {value!r}"
    elif key == "lr" or key == "decoder_lr" or key == "clip":
        if key == "clip" and value is None:
            return None
        if not _num(wrap(value), 0, lo_open=True):
            return f"{key} must be a positive number, got {value!r}"
    elif key == "mode" and value not in MODES:
        return f"mode must be one of {', '.join(MODES)}, got {value!r}"
    elif key == "dtype" and value not in DTYPES:
        return f"dtype must be {' or '.join(DTYPES)}, got {value!r}"
    elif key in ("optimizer", "schedule") and isinstance(value, dict):
        table = OPTIMIZERS if key == "optimizer" else SCHEDULES
        name, args = value.get("name"), value.get("args", {}) or {}
        if name not in table:
            return f"unknown {key} {name!r}; choose one of {', '.join(table)}"
        for arg, v in args.items():
            if arg not in table[name]:
                return f"{name} has no argument {arg!r}; arguments: {', '.join(table[name]) or 'none'}"
            rule = _ARG_RULES.get(arg)
            if rule is not None and not rule[0](wrap(v)):
                return f"{name}'s {arg} must be {rule[1]}, got {v!r}"
    return None
