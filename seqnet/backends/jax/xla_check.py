"""`seqnet summary --xla`: compare the registry's FLOPs estimate with XLA's own cost analysis."""

from __future__ import annotations

import networkx as nx


def xla_cross_check(graph: nx.MultiDiGraph, batch: int = 1) -> dict:
    import jax
    import jax.numpy as jnp

    from seqnet.backends.jax.lower import lower
    from seqnet.compiler.summary import summarize

    lowered = lower(graph)
    params = lowered.init(jax.random.key(0))
    inputs = {}
    for name in graph.graph["inputs"]:
        t = graph.nodes[name]["outputs"][0]
        inputs[name] = jnp.zeros((batch, *t.dims), dtype=t.dtype)
    compiled = jax.jit(lambda p, x: lowered.apply(p, x)).lower(params, inputs).compile()
    cost = compiled.cost_analysis()
    if isinstance(cost, list):  # older JAX returns one dict per computation
        cost = cost[0] if cost else {}
    memory = compiled.memory_analysis()
    registry = summarize(graph)["flops_per_example"] * batch
    xla_flops = float((cost or {}).get("flops", 0.0))
    return {
        "batch": batch,
        "registry_flops": registry,
        "xla_flops": xla_flops,
        "ratio": xla_flops / registry if registry else float("nan"),
        "temp_bytes": getattr(memory, "temp_size_in_bytes", 0) if memory else 0,
        "argument_bytes": getattr(memory, "argument_size_in_bytes", 0) if memory else 0,
    }
