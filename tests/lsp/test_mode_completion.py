"""Completion of the train section's `mode`: the registry's modes, and inside a mode's call its
settings (what compiler/modes/ declares, nothing else)."""

from __future__ import annotations

from seqnet.lsp.complete import complete

TRAIN = ["train {", "  data = task.matvec(5)", "  loss = mse(y, target)", "  mode = ", "}"]


def _labels(line_text: str) -> set[str]:
    lines = [*TRAIN[:3], line_text, TRAIN[-1]]
    return {w.label for w in complete(None, lines, 4, len(line_text) + 1)}


def test_mode_completes_the_registered_modes():
    assert {"standard", "local", "mask_merge"} <= _labels("  mode = ")


def test_a_modes_call_completes_its_settings():
    labels = _labels("  mode = mask_merge(")
    assert {"meta_epochs", "epochs", "condition", "matrices", "vectors", "minibatches"} <= labels
    assert "lr" not in labels
