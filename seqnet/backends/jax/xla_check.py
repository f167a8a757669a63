"""`seqnet summary --xla`: compare the registry's FLOPs estimate with XLA's own cost analysis.

The forward pass (`apply`, inference mode) is jitted on zero inputs of `batch` examples and XLA's
`cost_analysis()["flops"]` of the compiled executable is set against the registry's
`flops_per_example * batch`.

How the two count, and so how far apart they may be:

* a matrix product (dense, attention projections, conv) is 2 * m * n * k in both: the registry's
  dense is 2 * in * out per example;
* the registry leaves out a dense layer's bias add and its fused `act=` activation; XLA counts one
  flop per output element for each elementwise op (the bias add, relu's max, ...), so for a dense
  MLP XLA reports slightly more (784-512-512-10: +2,058 on 1,337,344 per example, 0.15%);
* transcendental functions (exp, tanh, erf) are "transcendentals" in XLA, not flops;
* loops: XLA's cost analysis counts the body of a `while` loop (lax.scan: recurrent layers;
  wormhole fixed points) once, whatever the trip count, so for recurrent models XLA reports
  about 1/T of the work (and a fixed-point solver's own work is not in the registry). `loops` gives the number of while loops in the compiled program and
  `note` says so; compare FLOPs only where `loops` is 0.
"""

from __future__ import annotations

import networkx as nx

LOOP_NOTE = ("the program has {n} while loop(s) (scan / fixed point): XLA counts each loop body "
             "once, not once per iteration, so the FLOPs are not comparable")  # fmt: skip


def xla_cross_check(graph: nx.MultiDiGraph, batch: int = 1) -> dict:
    import jax
    import jax.numpy as jnp

    from seqnet.backends.jax.lower import lower
    from seqnet.compiler.graph import output_type
    from seqnet.compiler.summary import summarize

    lowered = lower(graph)
    # Shapes only: nothing the size of the model is allocated to compile it.
    params = jax.eval_shape(lowered.init, jax.random.key(0))
    inputs = {}
    for name in graph.graph["inputs"]:
        t = output_type(graph, (name, 0))
        inputs[name] = jax.ShapeDtypeStruct((batch, *t.dims), jnp.dtype(t.dtype))
    compiled = jax.jit(lambda p, x: lowered.apply(p, x)).lower(params, inputs).compile()
    cost = compiled.cost_analysis()
    if isinstance(cost, list):  # older JAX returns one dict per computation
        cost = cost[0] if cost else {}
    memory = compiled.memory_analysis()
    registry = summarize(graph)["flops_per_example"] * batch
    xla_flops = float((cost or {}).get("flops", 0.0))
    loops = _count_loops(compiled)
    return {
        "batch": batch,
        "registry_flops": registry,
        "xla_flops": xla_flops,
        "ratio": xla_flops / registry if registry else float("nan"),
        "temp_bytes": getattr(memory, "temp_size_in_bytes", 0) if memory else 0,
        "argument_bytes": getattr(memory, "argument_size_in_bytes", 0) if memory else 0,
        "loops": loops,
        "note": LOOP_NOTE.format(n=loops) if loops else None,
    }


def _count_loops(compiled) -> int:
    """How many `while` instructions the optimised HLO holds (0 when the text is unavailable)."""
    try:
        text = compiled.as_text() or ""
    except Exception:  # not every backend / version gives the text
        return 0
    return sum(1 for line in text.splitlines() if " while(" in line)
