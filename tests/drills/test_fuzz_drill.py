"""Drill: a few thousand generated specs through the front end, and not one internal error.

Two sources of specs, both seeded so that a failure names a reproducible case:

- a grammar-aware generator that writes whole programs from the statements of
  seqnet/grammar/seqnet.lark (dim, const, input, assign, output, block, repeat, wormhole,
  segments, train), calling the ops in the registry (compiler/ops/registry.OPS) with arguments of
  the kinds their signatures ask for, often right and sometimes wrong (a name where a number
  goes, a bogus choice, a huge or negative number, a missing or unknown keyword);
- token-level mutations of the shipped specs (specs/ and tests/diagnostics/): deleted, duplicated
  and swapped tokens, random bytes, deep nesting, huge numbers, truncation.

Every spec goes through `pipeline.run` in-process (cheap); every tenth also through
`seqnet.cli.main(["check", path])` with its output captured. The promise checked: bad input
only ever produces diagnostics (exit 0 or 1, never "internal error" or a traceback), and every
error names a place in the file unless it is about the file as a whole.

SEQNET_FUZZ_SEED and SEQNET_FUZZ_COUNT change the seed and the number of specs (the default
count keeps the drill to well under a minute on two cores).
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
import traceback
from pathlib import Path

from seqnet import cli
from seqnet.compiler.objectives import LOSSES, METRICS
from seqnet.compiler.ops.catalog import load_ops
from seqnet.compiler.train_config import OPTIMIZERS, SCHEDULES
from seqnet.data.sources import SOURCES
from seqnet.pipeline import run
from seqnet.source import SourceFile

ROOT = Path(__file__).resolve().parents[2]
SEED = int(os.environ.get("SEQNET_FUZZ_SEED", "0"))
COUNT = int(os.environ.get("SEQNET_FUZZ_COUNT", "3000"))
CLI_EVERY = 10  # every tenth spec also goes through `seqnet check` in-process

OPS = load_ops()
SHIPPED = sorted([*(ROOT / "specs").glob("*.seqnet"), *(ROOT / "tests" / "diagnostics").glob("*.seqnet")])
TEXTS = {p: p.read_text(encoding="utf-8", errors="replace") for p in SHIPPED}
# Errors about the file as a whole (unreadable, too large, nothing declared) carry no place.
FILE_LEVEL = {"SQN0004", "SQN0005", "SQN0603"}

HUGE = ["0", "-1", "2**62", "99999999999999999999", "1e400", "1e-400", "1.5", "-0", "3.0e9"]
KEYWORDS = {"import", "as", "dim", "const", "input", "output", "block", "wormhole", "segments", "train",
            "return", "repeat", "shared", "vocab"}  # fmt: skip
DTYPES = ["float32", "int32", "bool", "float16", "bfloat16", "float64", "uint8", "complex64"]


class Gen:
    """Writes one random program, keeping track of the names it has defined so that most
    references are to something real (the interesting errors are deep, not unknown names)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        # How often a deliberate mistake is made: some programs make none, so that the deep
        # stages (shape rules, verification, train checks) see well-formed input too.
        self.chaos = rng.choice([0.0, 0.0, 0.3, 1.0, 2.0])
        self.dims: list[str] = []
        self.tensors: list[str] = []
        self.blocks: list[tuple[str, int]] = []
        self.n = 0

    def oops(self, p: float) -> bool:
        """Whether to make a mistake that is made with probability p at full chaos."""
        return self.rng.random() < p * self.chaos

    def fresh(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    # -- values ------------------------------------------------------------------------------
    def int_expr(self, depth: int = 0) -> str:
        if self.oops(0.08):
            return self.rng.choice(HUGE)
        r = self.rng.random()
        if self.chaos == 0 and depth == 0 and r < 0.6:
            return str(self.rng.choice([1, 2, 4, 8]))
        if r < 0.4 and self.dims:
            return self.rng.choice(self.dims)
        if r < 0.55 and depth < 3:
            op = self.rng.choice(["+", "*", "+"] if self.chaos == 0 else ["+", "-", "*", "//", "/", "%", "**"])
            return f"{self.int_expr(depth + 1)} {op} {self.int_expr(depth + 1)}"
        if r < 0.6 and depth < 3:
            return f"({self.int_expr(depth + 1)})"
        return str(self.rng.choice([1, 2, 3, 4, 8, 16, 32, 64, self.rng.randint(0, 100)]))

    def tensor(self) -> str:
        if not self.tensors or self.oops(0.03):
            return self.rng.choice(["nope", "3", '"x"', "[1, 2]"])
        if self.rng.random() < 0.15:
            return self.call(depth=1)
        return self.rng.choice(self.tensors)

    def attr(self, arg) -> str:
        rng = self.rng
        if self.oops(0.07):  # the wrong kind of value
            return rng.choice([self.tensor(), '"str"', "[1, 2]", "true", "relu", "1.5", "-3"])
        kind = arg.kind
        if kind == "int":
            return self.int_expr()
        if kind == "float":
            if self.oops(0.5):
                return rng.choice(["-1.0", "1e30", "nan", self.int_expr()])
            return rng.choice(["0.0", "0.5", "1e-3", "2"])
        if kind == "bool":
            return rng.choice(["True", "1"]) if self.oops(0.3) else rng.choice(["true", "false"])
        if kind == "choice":
            return "bogus" if self.oops(0.1) or not arg.choices else rng.choice(arg.choices)
        if kind == "ints":
            return "[" + ", ".join(self.int_expr() for _ in range(rng.randint(0, 4))) + "]"
        if kind == "str":
            return rng.choice([f'"{d}"' for d in DTYPES] + [d for d in DTYPES[:3]])
        return rng.choice(["[1, 2]", "binary_tree(2)", self.int_expr(), '"any"', self.tensor()])

    def call(self, depth: int = 0) -> str:
        rng = self.rng
        if self.blocks and rng.random() < 0.15:
            name, nparams = rng.choice(self.blocks)
            args = [self.tensor() for _ in range(nparams + rng.choice([0, 0, 0, -1, 1]))]
            return f"{name}({', '.join(args)})"
        names = sorted(OPS) if self.chaos else [n for n in sorted(OPS) if n not in KEYWORDS and not n.startswith("wormhole")]
        op = OPS[rng.choice(names)]
        parts = []
        for arg in op.args:
            if arg.kind == "tensors":
                parts.append(", ".join(self.tensor() for _ in range(rng.randint(0, 3))))
            elif arg.is_tensor and arg.required:
                parts.append(self.tensor() if depth < 2 else rng.choice(self.tensors or ["x"]))
            elif arg.required:
                if self.oops(0.05):
                    continue  # missing
                value = self.attr(arg)
                keyword = arg.name not in KEYWORDS or self.chaos
                parts.append(f"{arg.name}={value}" if keyword and rng.random() < 0.4 else value)
            elif rng.random() < 0.3 and (arg.name not in KEYWORDS or self.chaos):
                value = self.tensor() if arg.is_tensor else self.attr(arg)
                parts.append(f"{arg.name}={value}")
        if self.oops(0.04):
            parts.append(f"{rng.choice(['units', 'act', 'foo', 'axis'])}={self.int_expr()}")
        if self.oops(0.03):
            rng.shuffle(parts)
        return f"{op.name}({', '.join(p for p in parts if p)})"

    def shape(self) -> str:
        return ", ".join(self.int_expr() for _ in range(self.rng.choice([0, 1, 1, 2, 2, 3, 4])))

    # -- statements --------------------------------------------------------------------------
    def statements(self, n: int, inner: bool = False) -> list[str]:
        out = []
        for _ in range(n):
            r = self.rng.random()
            if r < 0.12 and not inner:
                name = self.fresh("D")
                out.append(f"{self.rng.choice(['dim', 'dim', 'const'])} {name} = {self.int_expr()}")
                self.dims.append(name)
            elif r < 0.22 and not inner:
                name = self.fresh("x")
                dtype = self.rng.choice(["float32"] * 4 + DTYPES) if self.chaos else "float32"
                vocab = f" vocab {self.int_expr()}" if self.oops(0.2) else ""
                out.append(f"input {name} : {dtype}[{self.shape()}]{vocab}")
                self.tensors.append(name)
            elif r < 0.3 and not inner and len(self.blocks) < 3:
                out.append(self.block())
            elif r < 0.37 and self.tensors:
                name = self.rng.choice(self.tensors)
                shared = " shared" if self.rng.random() < 0.3 else ""
                body = "; ".join(self.statements(1, inner=True)) if self.rng.random() < 0.2 else self.call()
                out.append(f"{name} = repeat {self.int_expr()}{shared} {{ {body} }}".replace("; ", "\n"))
            elif r < 0.42 and len(self.tensors) >= 2 and not inner:
                a, b = self.rng.sample(self.tensors, 2)
                extra = " ".join(f"{k}={v}" for k, v in self.rng.sample(
                    [("gate", self.rng.choice(["sigmoid", "tanh", "none", "x"])), ("tol", "1e-3"),
                     ("max_iter", self.int_expr()), ("solver", self.rng.choice(["fixed_point", "unrolled", "forward"])),
                     ("bogus", "1")], self.rng.randint(0, 3)))  # fmt: skip
                out.append(f"wormhole {a} -> {b} {extra}".rstrip())
            elif r < 0.45 and not inner and self.chaos:
                out.append(self.segments())
            else:
                names = [self.fresh("h") for _ in range(self.rng.choice([1, 1, 1, 1, 2]) if self.chaos else 1)]
                out.append(f"{', '.join(names)} = {self.call()}")
                self.tensors.extend(names)
        return out

    def block(self) -> str:
        name = self.fresh("blk")
        params = [self.fresh("p") for _ in range(self.rng.randint(1, 3))]
        saved = self.tensors
        self.tensors = list(params)
        body = self.statements(self.rng.randint(1, 4), inner=True)
        ret = self.rng.choice(self.tensors)
        self.tensors = saved
        defaults = [f"{p}={self.int_expr()}" if i and self.rng.random() < 0.3 else p for i, p in enumerate(params)]
        self.blocks.append((name, len(params)))
        return f"block {name}({', '.join(defaults)}) {{\n  " + "\n  ".join(body) + f"\n  return {ret}\n}}"

    def segments(self) -> str:
        structure = self.rng.choice([f"binary_tree({self.int_expr()})", f"chain({self.int_expr()})",
                                     "custom(3, [[1, 3, 1], [1, 2, 1]])", "nope"])  # fmt: skip
        roles = self.rng.sample(["token", "fusion", "decoder", "other"], self.rng.randint(0, 3))
        body = "\n".join(f"  {r} = {self.rng.choice([b for b, _ in self.blocks] or ['dense'])}(out={self.int_expr()})"
                         for r in roles)  # fmt: skip
        name = self.fresh("seg")
        self.blocks.append((name, 1))
        return f"segments {name} = {structure} {{\n{body}\n}}"

    def train(self) -> str:
        rng = self.rng
        outs = self.outputs or ["y"]
        src = rng.choice(sorted(SOURCES))
        settings = {
            "data": f"{rng.choice(['task.', 'data.', ''])}{src}({', '.join(self.int_expr() for _ in range(rng.randint(0, 2)))})",
            "loss": f"{rng.choice(sorted(LOSSES))}({rng.choice(outs)}, {rng.choice(['target', 'label', 'y'])})",
            "optimizer": f"{rng.choice(sorted(OPTIMIZERS))}(lr={rng.choice(['1e-3', '-1', '0', 'x'])})",
            "schedule": f"{rng.choice(sorted(SCHEDULES))}()",
            "batch": self.int_expr(), "steps": self.int_expr(),
            "metrics": f"[{rng.choice(sorted(METRICS))}({rng.choice(outs)}, target)]",
            "bogus": "1",
        }  # fmt: skip
        keys = rng.sample(sorted(settings), rng.randint(1, len(settings)))
        return "train {\n" + "\n".join(f"  {k} = {settings[k]}" for k in keys) + "\n}"

    def program(self) -> str:
        self.outputs: list[str] = []
        self.dims.append("N")
        self.tensors.append("x")
        lines = ["dim N = 8", f"input x : float32[{self.shape() if self.chaos else 'N, 4'}]"]
        lines += self.statements(self.rng.randint(2, 10))
        for _ in range(self.rng.choice([0, 1, 1, 1, 2])):
            name = self.fresh("y")
            typed = f" : float32[{self.shape()}]" if self.oops(0.7) else ""
            value = "" if self.oops(0.1) else f" = {self.tensor()}"
            lines.append(f"output {name}{typed}{value}")
            self.outputs.append(name)
        if self.rng.random() < 0.3:
            lines.append(self.train())
        return "\n".join(lines) + "\n"


TOKEN = re.compile(r'"[^"\n]*"|\w+|->|//|\*\*|\S|\n')


def mutate(rng: random.Random, text: str) -> str:
    """One to four token-level edits of a shipped spec."""
    for _ in range(rng.randint(1, 4)):
        toks = TOKEN.findall(text)
        kind = rng.choice(["del", "dup", "swap", "bytes", "nest", "huge", "truncate", "splice"])
        if kind in ("del", "dup", "swap", "splice") and len(toks) > 2:
            i = rng.randrange(len(toks) - 1)
            if kind == "del":
                del toks[i: i + rng.randint(1, 3)]
            elif kind == "dup":
                toks[i:i] = toks[i: i + rng.randint(1, 8)]
            elif kind == "swap":
                toks[i], toks[i + 1] = toks[i + 1], toks[i]
            else:  # a run of tokens moved elsewhere
                j = rng.randrange(len(toks))
                toks[j:j] = toks[i: i + rng.randint(1, 12)]
            text = " ".join(toks).replace(" \n ", "\n")
        elif kind == "bytes":
            i = rng.randint(0, len(text))
            junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6))).decode("latin-1")
            text = text[:i] + junk + text[i:]
        elif kind == "nest":
            depth = rng.choice([5, 50, 200, 2000])
            opener, closer = rng.choice([("(", ")"), ("[", "]"), ("{", "}"), ("dense(", ", 4)"),
                                         ("repeat 2 { ", " }")])  # fmt: skip
            i = rng.randint(0, len(text))
            inner = rng.choice(["x", "h", "1", ""])
            text = text[:i] + opener * depth + inner + closer * rng.choice([depth, depth - 1, 0]) + text[i:]
        elif kind == "huge":
            nums = [m for m in re.finditer(r"\d+", text)]
            if nums:
                m = rng.choice(nums)
                text = text[: m.start()] + rng.choice(["9" * rng.choice([10, 19, 40, 400]), "0", "1e999", "2**64"]) + text[m.end():]
        elif kind == "truncate" and text:
            text = text[: rng.randrange(len(text))]
    return text


def cases(seed: int, count: int):
    """(label, path it pretends to live at, text): half generated programs, half mutations."""
    rng = random.Random(seed)
    for i in range(count):
        if i % 2 == 0:
            yield f"generated #{i}", ROOT / "specs" / f"fuzz_{i}.seqnet", Gen(rng).program()
        else:
            path = rng.choice(SHIPPED)
            yield f"mutated {path.name} #{i}", path, mutate(rng, TEXTS[path])


def front_end_problems(label: str, path: Path, text: str) -> list[str]:
    """Why this spec broke the promise (empty: it did not)."""
    try:
        c = run(SourceFile(str(path.name), text, path))
    except Exception:  # noqa: BLE001 - any escape is exactly what the drill looks for
        return [f"{label}: internal error\n{traceback.format_exc()}"]
    problems = []
    for d in c.diagnostics:
        rendered = d.render()
        if not d.code.startswith("SQN") or "Traceback" in rendered or "internal error" in rendered:
            problems.append(f"{label}: bad diagnostic {rendered}")
        if d.severity == "error" and d.span is None and d.code not in FILE_LEVEL:
            problems.append(f"{label}: error {d.code} without a location: {rendered}")
    return problems


def cli_problems(label: str, path: Path, text: str, tmp: Path) -> list[str]:
    spec = tmp / path.name  # imports of shipped specs resolve (or not) against tmp: both are fine
    spec.write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(["check", str(spec)])
    said = out.getvalue() + err.getvalue()
    if rc not in (0, 1) or "internal error" in said or "Traceback" in said:
        return [f"{label}: seqnet check exited {rc}\n{said}"]
    return []


def test_generated_and_mutated_specs_only_produce_diagnostics(tmp_path):
    problems: list[str] = []
    texts = []
    for i, (label, path, text) in enumerate(cases(SEED, COUNT)):
        texts.append(text)
        problems += front_end_problems(label, path, text)
        if i % CLI_EVERY == 0:
            problems += cli_problems(label, path, text, tmp_path)
    assert len(texts) == COUNT and len(set(texts)) > COUNT * 0.9  # the generator does vary
    assert not problems, f"seed {SEED}: {len(problems)} problems; first:\n" + "\n\n".join(problems[:5])


def test_the_generator_writes_specs_that_compile_too():
    """A generator whose every spec is rejected at the first token tests little: some of its
    programs must get all the way through verification."""
    rng = random.Random(SEED)
    ok = sum(not run(SourceFile("g.seqnet", Gen(rng).program())).failed for _ in range(300))
    assert ok >= 3, ok
