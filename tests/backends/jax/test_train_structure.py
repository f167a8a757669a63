"""How the training runtime is put together: one UserError base decides what the CLI calls a
user error, plots leave a user's matplotlib state alone, and the modules stay small and public."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from seqnet import cli
from seqnet.errors import UserError

ROOT = Path(__file__).resolve().parents[3]
RUNTIME = ("train", "loop", "step", "runtime", "runfolder", "metricslog", "plots", "progress",
           "interrupts", "predict", "inputs", "failures", "settings", "memory", "devices",
           "checkpoint", "export")  # fmt: skip
RUNTIME_MODULES = [ROOT / "seqnet" / "backends" / "jax" / f"{name}.py" for name in RUNTIME] + [
    ROOT / "seqnet" / name for name in ("cli.py", "model.py", "errors.py", "atomic.py")
]


def user_error_classes():
    from seqnet.backends.graphviz import DotMissing
    from seqnet.backends.jax.checkpoint import CheckpointError
    from seqnet.backends.jax.export import ExportError
    from seqnet.backends.jax.train import InputError, MemoryEstimateError, TrainingError
    from seqnet.data import DataArgError, UnknownSourceError
    from seqnet.data.batches import EmptyBatchError
    from seqnet.errors import SpecError

    return [SpecError, TrainingError, MemoryEstimateError, CheckpointError, InputError,
            ExportError, DataArgError, UnknownSourceError, EmptyBatchError, DotMissing]  # fmt: skip


@pytest.mark.parametrize("cls", user_error_classes(), ids=lambda c: c.__name__)
def test_every_user_facing_error_is_a_user_error(cls):
    assert issubclass(cls, UserError)


def test_the_cli_classifies_by_the_base_class_not_by_name(monkeypatch, capsys):
    class SomeNewProblem(UserError):  # a name no list in cli.py could know
        pass

    def raising(exc):
        def command(args):
            raise exc

        return command

    monkeypatch.setattr(cli, "cmd_explain", raising(SomeNewProblem("the data is odd")))
    assert cli.main(["explain", "SQN0001"]) == cli.EXIT_SPEC
    assert capsys.readouterr().err == "seqnet: error: the data is odd\n"

    # A class that merely shares a user error's name is a bug, not the user's problem.
    TrainingError = type("TrainingError", (RuntimeError,), {})
    monkeypatch.setattr(cli, "cmd_explain", raising(TrainingError("oops")))
    assert cli.main(["explain", "SQN0001"]) == cli.EXIT_INTERNAL
    assert "internal error (TrainingError: oops)" in capsys.readouterr().err

    monkeypatch.setattr(cli, "cmd_explain", raising(PermissionError(13, "Permission denied", "x")))
    assert cli.main(["explain", "SQN0001"]) == cli.EXIT_SPEC


def test_curves_leave_the_users_matplotlib_backend_and_pyplot_alone(tmp_path):
    script = f"""
import sys, matplotlib
matplotlib.use("svg")
from seqnet.backends.jax.plots import plot
history = [{{"step": s, "split": "train", "loss": 1.0 / s, "metrics": {{"accuracy": s / 10}}}}
           for s in range(1, 10)] + [{{"step": 9, "split": "eval", "loss": 0.2, "metrics": {{}}}}]
path = plot(history, __import__("pathlib").Path({str(tmp_path / "curves.png")!r}))
print(matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules, path)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout.split()  # fmt: skip
    assert out[:2] == ["svg", "False"], out
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]  # no temp file left


@pytest.mark.parametrize("path", RUNTIME_MODULES, ids=lambda p: p.name)
def test_runtime_modules_are_small_and_use_only_public_names(path):
    text = path.read_text()
    assert len(text.splitlines()) <= 600, f"{path.name} has {len(text.splitlines())} lines"
    tree = ast.parse(text)
    reaches = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("seqnet"):
            reaches += [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):  # fmt: skip
            reaches.append(ast.unparse(node))
    assert not reaches, f"{path.name} reaches into private names: {reaches}"
