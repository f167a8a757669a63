"""The train section's `mode`: a name from the mode registry, or a call of it with keyword
settings (`mode = mask_merge(meta_epochs=8, condition=shuffled)`), each setting checked against
the mode's declaration; `--set NAME=VALUE` overrides a setting of the resolved mode by name.
Then the mode's own check of the spec (compiler/modes/), reported at the setting it blames."""

from __future__ import annotations

from seqnet.compiler import values as V
from seqnet.compiler.modes.catalog import load_modes
from seqnet.compiler.modes.registry import ModeContext, ModeDef, ModeSetting
from seqnet.compiler.names import did_you_mean
from seqnet.compiler.overrides import override_expr
from seqnet.errors import CompileError
from seqnet.grammar import ast


def all_dtypes() -> tuple[str, ...]:
    """Every compute dtype some mode trains in (float32 first)."""
    return tuple(dict.fromkeys(d for m in load_modes().values() for d in m.dtypes))


def resolve_mode(el, section, settings: dict, out: dict, ctx) -> None:
    """Fill out["mode"] and out["mode_args"] (and out["steps"] for a mode that counts its own)."""
    modes = load_modes()
    name, args, spans = "standard", {}, {}
    if "mode" in settings:
        resolved = section.attempt(_mode_call, el, settings["mode"], ctx, modes)
        if resolved is None:
            return
        name, args, spans = resolved
    m = modes[name]
    for s in m.settings:
        if s.name in el.overrides:
            el.used_overrides.add(s.name)
            expr = section.attempt(override_expr, s.name, el.overrides[s.name], el.overrides)
            value = None if expr is None else section.attempt(_setting_value, el, m, s, expr, ctx)
            if value is not None:
                args[s.name], spans[s.name] = value, expr.span
    out["mode"] = name
    if args:
        out["mode_args"] = args
    if m.steps_setting is not None:
        out["steps"] = m.resolved(args)[m.steps_setting]

    def span_of(key: str):
        if key in spans:
            return spans[key]
        setting = settings.get(key) or settings.get("mode")
        return setting.value.span if setting is not None else None

    dtype = out.get("dtype") or "float32"
    if dtype not in m.dtypes:
        section.attempt(_raise, CompileError(
            "SQN0108", f"mode = {name} trains in {' or '.join(m.dtypes)}, not {dtype}", span_of("dtype"),
            hint=_dtype_hint(dtype, m, modes)))  # fmt: skip
    if m.check is None:
        return
    written = frozenset(settings)
    for p in m.check(ModeContext(el.graph, dict(out), m.resolved(args), written)):
        section.attempt(_raise, CompileError(p.code, p.message, span_of(p.where), hint=p.hint))


def _dtype_hint(dtype: str, m: ModeDef, modes) -> str:
    others = [n for n, o in modes.items() if dtype in o.dtypes]
    return f"dtype = {m.dtypes[0]}" + (f", or mode = {others[0]}" if others else "")


def _raise(error: CompileError):
    raise error


def _mode_call(el, setting: ast.Setting, ctx, modes) -> tuple[str, dict, dict]:
    call = setting.value
    if isinstance(call, ast.Name):
        call = ast.Call(call, (), (), call.span)
    if isinstance(call, ast.Call) and isinstance(call.func, ast.Name):
        head = call.func
    else:  # `mode = 'local'` and other values: read as a name where they are one
        value = el.evaluate(call, ctx)
        text = value.name if isinstance(value, V.Symbol) else getattr(value, "value", None)
        head, call = ast.Name(str(text), call.span), ast.Call(ast.Name(str(text), call.span), (), (), call.span)
    if head.id not in modes:
        raise CompileError("SQN0108", f"mode must be one of {', '.join(modes)}", setting.value.span,
                           hint=did_you_mean(head.id, modes))  # fmt: skip
    m = modes[head.id]
    if call.args:
        raise CompileError("SQN0105", f"mode settings are named: {m.signature()}", call.args[0].span)
    args, spans, errors = {}, {}, []
    for kw in call.kwargs:  # every bad setting reported, not only the first
        try:
            args[kw.name], spans[kw.name] = _keyword(el, m, kw, ctx), kw.value.span
        except CompileError as e:
            errors.append(e)
    for e in errors[1:]:
        el.reporter.error(e.code, e.message, e.span, hint=e.hint)
    if errors:
        raise errors[0]
    return head.id, args, spans


def _keyword(el, m: ModeDef, kw, ctx):
    s = m.setting(kw.name)
    if s is None:
        names = [x.name for x in m.settings]
        raise CompileError("SQN0103", f"mode {m.name} has no setting '{kw.name}'", kw.name_span,
                           hint=did_you_mean(kw.name, names) or (
                               "settings: " + ", ".join(names) if names else "it takes none"))  # fmt: skip
    return _setting_value(el, m, s, kw.value, ctx)


def _setting_value(el, m: ModeDef, s: ModeSetting, expr, ctx):
    if s.kind == "choice" and isinstance(expr, ast.Name) and expr.id in s.choices:
        return expr.id  # a choice is a word, even one that also names an op (mean)
    value = el.evaluate(expr, ctx)
    if isinstance(value, V.Symbol):
        plain = value.name
    elif isinstance(value, V.Num) and value.is_int:
        plain = int(value.value)
    else:
        plain = getattr(value, "value", None)
    problem = s.problem(plain)
    if problem is not None:
        raise CompileError("SQN0108", f"{m.name}'s {s.name} {problem}, got {V.describe(value)}", expr.span,
                           hint=(did_you_mean(str(plain), s.choices) if s.choices else None) or f"for example {s.name}={s.example()}")  # fmt: skip
    return plain


def check_mode_setting(key: str, value, mode_name: str) -> str | None:
    """What is wrong with a mode setting given as a Python value (`model.train(condition=...)`)."""
    m = load_modes().get(mode_name)
    s = m.setting(key) if m is not None else None
    if s is None:
        return None
    problem = s.problem(value)
    return None if problem is None else f"{m.name}'s {key} {problem}, got {value!r}"
