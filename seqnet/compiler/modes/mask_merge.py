"""`mode = mask_merge`: Algorithm 1 of the ensemble mask network paper (mechanisms.md 4).

For each of `meta_epochs` sessions, over a set d of `matrices` binary symmetric n x n matrices
(stratified by L1 norm, as the paper samples them): per matrix A, `vectors` random x ~ U[0, 1]^n
with targets A x, `epochs` passes over them in `minibatches` minibatches with the spec's optimiser,
the masked layers masked by A; then merge: the entries of the masked layers' parameters that A
disables return to their values before A. Conditions: control (the same d every session),
shuffled (d permuted every session), subsampled (a fresh d every session). One training step of
the run is one session, so checkpoints, evaluation and resume count sessions.

The spec gives the model: masked layers whose mask is a spec input (the adjacency), one other
input (the vector x) and an mse loss; the data source's eval split is the test set.
"""

from __future__ import annotations

from seqnet.compiler.modes.registry import ModeContext, ModeProblem, ModeSetting, mode
from seqnet.compiler.ops.registry import OPS

CONDITIONS = ("control", "shuffled", "subsampled")


def adjacency_inputs(graph) -> dict[str, str]:
    """{masked node: the spec input that masks it} for every top-level node whose op declares
    an edge mask ({} when it is fed by a computed value: that node is reported by the check)."""
    out = {}
    for n, data in graph.nodes(data=True):
        op = OPS.get(data["op"])
        if op is None or op.edge_mask is None:
            continue
        ref = dict(data["args"]).get(op.edge_mask.arg)
        out[n] = ref.node if ref is not None and ref.node in graph.graph["inputs"] else None
    return out


def _check(c: ModeContext) -> list[ModeProblem]:
    problems = []
    masked = adjacency_inputs(c.graph)
    sources = {a for a in masked.values() if a is not None}
    if not masked or None in masked.values() or len(sources) != 1:
        why = ("has none" if not masked else "masks them by a computed value" if None in masked.values()
               else "masks them by several inputs")  # fmt: skip
        problems.append(ModeProblem(
            "SQN0502", f"mode = mask_merge trains layers masked by an input adjacency, but this spec {why}",
            "mode", "mask the layers with one input, e.g. masked_dense(x, adj); or use mode = standard"))  # fmt: skip
    others = [i for i in c.graph.graph["inputs"] if i not in sources]
    if sources and len(others) != 1:
        problems.append(ModeProblem(
            "SQN0502", f"mode = mask_merge feeds one vector x besides the adjacency; this spec has "
            f"{len(others)} other inputs", "mode", "declare exactly two inputs: the adjacency and x"))  # fmt: skip
    loss = c.settings.get("loss")
    if c.settings.get("loss_terms") or (loss is not None and loss.name != "mse"):
        problems.append(ModeProblem(
            "SQN0502", "mode = mask_merge trains on the targets A x with one mse loss", "loss",
            "loss = mse(y, target)"))  # fmt: skip
    if "steps" in c.written:
        problems.append(ModeProblem(
            "SQN0502", "mode = mask_merge counts its steps in meta-epochs; steps does not apply", "steps",
            "remove steps and set mask_merge(meta_epochs=...)"))  # fmt: skip
    return problems


mode(
    "mask_merge",
    "ensemble mask networks' Algorithm 1: meta-epochs over a set of adjacency matrices, "
    "per matrix `epochs` passes with the mask applied, then merge",
    settings=(
        ModeSetting("meta_epochs", "int", 16, doc="training sessions over the matrix set (the run's steps)", low=1),
        ModeSetting("epochs", "int", 3, doc="passes over one matrix's vectors per session", low=1),
        ModeSetting("condition", "choice", "control", CONDITIONS,
                    doc="control: the same set each session; shuffled: permuted; subsampled: drawn anew"),
        ModeSetting("matrices", "int", 0, doc="size of the matrix set d (0: round(36 n^1.3))"),
        ModeSetting("vectors", "int", 0, doc="random vectors x per matrix (0: 8 n)"),
        ModeSetting("minibatches", "int", 4, doc="minibatches per pass over a matrix's vectors", low=1),
    ),
    dtypes=("float32", "float64"),
    check=_check,
    steps_setting="meta_epochs",
    curriculum=False,  # its own sessions over matrix sets, not minibatches of the data source
)  # fmt: skip
