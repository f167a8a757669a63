"""`mode = local`: fusion encoder network local training (mechanisms.md 1). Each segment's
decoder is trained on its own loss; the gradient is that of the sum of the per-segment losses,
never of the end-to-end loss (which is logged only)."""

from __future__ import annotations

from seqnet.compiler.modes.registry import ModeContext, ModeProblem, ModeSetting, mode
from seqnet.compiler.ops.registry import OPS


def _check(c: ModeContext) -> list[ModeProblem]:
    problems = []
    if c.settings.get("loss_terms"):
        problems.append(ModeProblem(
            "SQN0502", "mode = local trains each segment on one loss; this loss is a weighted sum",
            "loss", "use one unweighted loss term, or mode = standard"))  # fmt: skip
    if not any(op in OPS and OPS[op].local_training for _, op in c.graph.nodes(data="op")):
        problems.append(ModeProblem(
            "SQN0502", "mode = ... trains segment structures, but this spec has none", "mode",
            "use mode = standard"))  # fmt: skip
    return problems


mode(
    "local", "FEN local training: the gradient of the sum of the per-segment losses",
    settings=(ModeSetting("reduction", "choice", "sum", ("sum", "mean"),
                          doc="how the per-segment losses combine: their sum (the paper's) or mean"),),
    check=_check,
)  # fmt: skip
