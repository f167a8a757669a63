"""Compile-time choices: a spec setting that switches a mechanism.

`choose(KEY, name1=expr1, name2=expr2, ...)` is the value of the branch whose name KEY holds (a
string const, usually set from outside: `--set BLOCK=attention`; a boolean picks `true=` or
`false=`). `wormhole b -> a enabled=FLAG` adds its gate only when FLAG is true. Both are resolved
while the graph is built, so a run has only the chosen mechanism: only its nodes and parameters
exist, and the chosen branch's nodes are named exactly as if it had been written alone.

The branches not chosen are elaborated too, tentatively (`tentative`: built into the graph, then
taken out again), so that `check` reports a mistake in any branch, not only in the one the
current settings pick. The type rule is what makes one elaboration of the rest of the spec valid
for every choice: every branch must give the same kind of value, and tensors the same dtype,
shape and vocabulary (`agree`). The parameters each branch would create are recorded
(`graph.graph["choices"]`), which is how `summary` and the language server state the parameter
budget of each alternative.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from seqnet.compiler import values as V
from seqnet.compiler.graph import param_count
from seqnet.compiler.names import did_you_mean
from seqnet.errors import CompileError, Note, Reporter
from seqnet.grammar import ast
from seqnet.grammar.format import expr as format_expr
from seqnet.source import Span

CHOOSE = "choose"  # the built-in's name; a block or const of that name hides it
BOOL_CHOICES = ("true", "false")


@dataclass
class Choice:
    """One choice site in the spec (a `choose` call or a wormhole's `enabled=`), summed over
    every time it was elaborated (a block called twice, a repeat): the parameters each
    alternative creates and which one the settings picked."""

    what: str  # "choose(BLOCK)" or "wormhole h3 -> h1"
    key: str  # the key as written: BLOCK, WORMHOLE, "attention"
    chosen: str
    span: Span = field(repr=False, compare=False)  # where, not what: a reformatted spec compares equal
    params: dict[str, int] = field(default_factory=dict)
    times: int = 0

    def to_json(self) -> dict:
        return {"what": self.what, "key": self.key, "chosen": self.chosen, "params": dict(self.params),
                "times": self.times, "span": self.span.to_json()}  # fmt: skip


@dataclass
class Trial:
    """What a tentative elaboration built before it was taken out: its parameter count."""

    params: int = 0


@contextmanager
def tentative(el):
    """Elaborate inside the block, then take out everything it added to the graph being built
    (Builder.undoable: nodes, their edges and regions, names, labels, the node counter), so the
    graph is as if nothing had been elaborated. Yields a Trial that holds, afterwards, the
    parameters the tentative nodes owned."""
    trial = Trial()
    with el.builder.undoable(), built(el) as nodes:
        try:
            yield trial
        finally:
            trial.params = params_of(el, nodes)


@contextmanager
def built(el):
    """The nodes elaborated inside the block (a list, filled as they are added)."""
    with el.builder.collect() as nodes:
        yield nodes


def params_of(el, nodes: list[str]) -> int:
    """The parameters of the nodes `built` collected that are still there: a choice checked
    inside (and taken out again) may have added, and a later node re-used, the same name."""
    g = el.graph
    return sum(param_count(g, n) for n in dict.fromkeys(nodes) if n in g)


def record(el, what: str, key: str, chosen: str, span: Span, params: dict[str, int]) -> None:
    site = (span.file, span.line, span.column, what)
    c = el.choices.get(site)
    if c is None:
        c = el.choices[site] = Choice(what, key, chosen, span, {k: 0 for k in params})
    for k, n in params.items():
        c.params[k] = c.params.get(k, 0) + n
    c.times += 1


def key_name(el, e, ctx) -> tuple[str, V.Str | V.Bool | V.Symbol]:
    """The name a choice key holds: a string (or a const bound to a bare name) or a boolean."""
    if isinstance(e, ast.Name) and ctx.scope.lookup(e.id) is None and e.id not in BOOL_CHOICES:
        raise CompileError("SQN0101", f"unknown name '{e.id}' (choose's key)", e.span,
                           hint=ctx.scope.suggest(e.id) or f"declare it: const {e.id} = \"...\"")  # fmt: skip
    value = el.evaluate(e, ctx)
    if isinstance(value, V.Bool):
        return ("true" if value.value else "false"), value
    if isinstance(value, V.Str):
        return value.value, value
    if isinstance(value, V.Symbol):
        return value.name, value
    raise CompileError("SQN0106", f"choose's key must be a string, name or boolean, got {V.describe(value)}",
                       e.span, hint='key it by a const: const BLOCK = "attention", then --set BLOCK=...')  # fmt: skip


def choose(el, e: ast.Call, ctx, label):
    """`choose(KEY, a=..., b=...)`: the branches not chosen checked tentatively, then the
    chosen one elaborated for real (last, so its nodes get the names it would have alone)."""
    if len(e.args) != 1 or not e.kwargs:
        raise CompileError("SQN0106", "choose takes a key and named choices: "
                           "choose(TASK, parity=2, s5=120)", e.span)  # fmt: skip
    key_expr = e.args[0]
    what = f"choose({_text(key_expr)})"
    chosen, key = key_name(el, key_expr, ctx)
    names = [kw.name for kw in e.kwargs]
    if isinstance(key, V.Bool) and set(names) - set(BOOL_CHOICES):
        odd = next(kw for kw in e.kwargs if kw.name not in BOOL_CHOICES)
        raise CompileError("SQN0108", f"{what} is keyed by a boolean, so its choices are true= and "
                           f"false=, not '{odd.name}='", odd.name_span,
                           hint=f"choose({_text(key_expr)}, true=..., false=...)")  # fmt: skip
    if chosen not in names:
        raise unknown_choice(chosen, key, names, key_expr.span)
    branches = {kw.name: kw for kw in e.kwargs}
    tried: dict[str, tuple[object, int]] = {}
    for name, kw in branches.items():
        if name == chosen:
            continue
        with tentative(el) as trial:
            try:
                value = el.evaluate(kw.value, ctx, label)
            except CompileError as err:
                err.notes = (*err.notes, Note(kw.name_span, f"in the choice '{name}' of {what}, "
                                              f"checked though the settings choose '{chosen}'"))  # fmt: skip
                raise
        tried[name] = (value, trial.params)
    with built(el) as made:
        value = el.evaluate(branches[chosen].value, ctx, label)
    params = {chosen: params_of(el, made)}
    for name, (other, n) in tried.items():
        problem = disagreement(value, other)
        if problem is not None:
            raise CompileError(
                "SQN0307", f"the choices of {what} give different values: '{chosen}' gives "
                f"{problem[0]}, '{name}' gives {problem[1]}", branches[name].value.span,
                notes=(Note(branches[chosen].value.span, f"'{chosen}' (chosen) gives {problem[0]}"),),
                hint="every choice must give the same kind of value, and tensors the same dtype, "
                     "shape and vocab, so the rest of the spec fits whichever is chosen",
            )  # fmt: skip
        params[name] = n
    if isinstance(value, (V.TensorRef, V.TupleVal)) or any(params.values()):  # a mechanism, not a number
        record(el, what, _text(key_expr), chosen, e.span, {k: params[k] for k in names})
    return value


def unknown_choice(chosen: str, key, names, where: Span) -> CompileError:
    """The key names no choice: located at the key, with a note where its value was written (the
    const's value, or `--set` on the command line) and the nearest name hinted."""
    came = getattr(key, "span", None)
    notes = (Note(came, f"'{chosen}' comes from here"),) if came is not None and came != where else ()
    return CompileError("SQN0108", f"choose has no choice '{chosen}'; choices: {', '.join(names)}",
                        where, notes=notes, hint=did_you_mean(chosen, names) or f"add {chosen}=... to the choices")  # fmt: skip


def disagreement(a, b) -> tuple[str, str] | None:
    """How two branch values differ in what the rest of the spec can see, or None when they
    agree: the kind of value, a tensor's dtype, shape and vocabulary, a tuple's items."""
    if isinstance(a, V.TensorRef) and isinstance(b, V.TensorRef):
        ta, tb = a.type, b.type
        same = ta.dtype == tb.dtype and tuple(ta.dims) == tuple(tb.dims) and ta.vocab == tb.vocab
        return None if same else (V.describe(a), V.describe(b))
    if isinstance(a, V.TupleVal) and isinstance(b, V.TupleVal) and len(a.items) == len(b.items):
        for x, y in zip(a.items, b.items):
            problem = disagreement(x, y)
            if problem is not None:
                return problem
        return None
    if isinstance(a, (V.TensorRef, V.TupleVal)) or isinstance(b, (V.TensorRef, V.TupleVal)):
        return V.describe(a), V.describe(b)
    return None if type(a) is type(b) else (V.describe(a), V.describe(b))


def _text(e) -> str:
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, ast.String):
        return f'"{e.value}"'
    return format_expr(e)


def wormhole_enabled(el, stmt: ast.Wormhole, ctx) -> tuple[bool, ast.Setting | None]:
    """A wormhole's `enabled=` setting (default true): whether its gate is added."""
    setting = next((s for s in stmt.settings if s.name == "enabled"), None)
    if setting is None:
        return True, None
    value = el.evaluate(setting.value, ctx)
    if not isinstance(value, V.Bool):
        raise CompileError("SQN0106", f"a wormhole's enabled= must be true or false, but it is "
                           f"{V.describe(value)}", setting.value.span,
                           hint="switch it by a boolean const: const WORMHOLE = true, then "
                                "--set WORMHOLE=false")  # fmt: skip
    return value.value, setting


# --- the train section: settings read as structure (data, loss, optimizer, ...) ------------------


def is_choice(e) -> bool:
    return ast.is_call(e, CHOOSE)


def picked(el, s: ast.Setting, ctx) -> ast.Setting:
    """A train setting whose value is `choose(KEY, a=..., b=...)`, with the chosen value in its
    place (nested choices resolved too): the train section reads settings such as `optimizer`
    as written structure, not as values, so its choices are made on the text."""
    while is_choice(s.value):
        e = s.value
        if len(e.args) != 1 or not e.kwargs:
            raise CompileError("SQN0106", "choose takes a key and named choices: "
                               "choose(OPT, adam=adam(lr=1e-3), sgd=sgd(lr=0.1))", e.span)  # fmt: skip
        chosen, key = key_name(el, e.args[0], ctx)
        names = [kw.name for kw in e.kwargs]
        if chosen not in names:
            raise unknown_choice(chosen, key, names, e.args[0].span)
        s = replace(s, value=next(kw.value for kw in e.kwargs if kw.name == chosen))
    return s


def check_train_choices(el, stmt: ast.Train, ctx, resolve) -> None:
    """Resolve the train section once more per choice not taken (each with the others as
    chosen), in a scratch reporter, and report what only that choice gets wrong, noted: a
    setting's every choice is checked, as a model choice's is. The section's result is the
    chosen one's."""
    seen = {(d.code, d.message, d.span) for d in el.reporter.diagnostics}
    for s in stmt.settings:
        if not is_choice(s.value) or len(s.value.args) != 1:
            continue
        try:
            chosen = picked(el, s, ctx).value
        except CompileError:
            continue  # reported by the section itself
        for kw in s.value.kwargs:
            if kw.value is chosen:
                continue
            other = replace(stmt, settings=tuple(replace(x, value=kw.value) if x is s else x
                                                 for x in stmt.settings))  # fmt: skip
            saved, train = el.reporter, el.graph.graph.get("train")
            el.reporter = Reporter()
            try:
                resolve(other)
            finally:
                found, el.reporter = el.reporter, saved
                el.graph.graph["train"] = train
            note = Note(kw.name_span, f"in the choice '{kw.name}' of train setting {s.name}, checked "
                        "though the settings choose another")  # fmt: skip
            for d in found.diagnostics:
                if d.severity == "error" and (d.code, d.message, d.span) not in seen:
                    seen.add((d.code, d.message, d.span))
                    el.reporter.diagnostics.append(replace(d, notes=(*d.notes, note)))
