"""`seqnet summary`: a table of nodes with shapes, parameters and cost, plus totals."""

from __future__ import annotations

import networkx as nx

from seqnet.compiler.graph import output_type, param_count, topo_order
from seqnet.compiler.ir import Node
from seqnet.compiler.ir import node as ir_node


def summarize(g: nx.MultiDiGraph) -> dict:
    rows = []
    total_flops = 0
    activation_bytes = 0
    for name in topo_order(g):
        rec = ir_node(g, name)
        flops = rec.flops
        for region in (rec.regions or {}).values():
            flops += sum(ir_node(region, n).flops for n in region.nodes) * _uses(rec, region)
        total_flops += flops
        activation_bytes += sum(t.nbytes for t in rec.outputs)
        rows.append({
            "name": name,
            "op": rec.op,
            "shape": ", ".join(str(t) for t in rec.outputs),
            "resolved": ", ".join(t.resolved() for t in rec.outputs),
            "params": param_count(g, name),
            "shared_with": rec.param_owner if rec.param_owner != name else None,
            "flops": flops,
            "location": str(rec.span),
        })  # fmt: skip
    outputs = {k: str(output_type(g, ref)) for k, ref in g.graph["outputs"].items()}
    loops = [{"from": u, "to": v, "max_iter": e.get("settings", {}).get("max_iter")}
             for u, v, e in g.edges(data=True) if e.get("wormhole")]  # fmt: skip
    return {
        "spec": g.graph.get("source"),
        "nodes": rows,
        "outputs": outputs,
        "dims": dict(g.graph["dims"]),
        "total_params": sum(r["params"] for r in rows),
        "flops_per_example": total_flops,  # one pass through each wormhole loop
        "wormhole_loops": loops,
        "activation_bytes_per_example": activation_bytes,
    }


def _uses(node: Node, region) -> int:
    """How many times a region runs per example in the final network."""
    structure = node.attrs["structure"]
    role = next(k for k, v in node.regions.items() if v is region)
    return {"token": structure.n, "fusion": max(structure.n - 1, 0), "decoder": 1}[role]


def _human(n: float, unit: str = "") -> str:
    for suffix in ("", "K", "M", "G", "T"):
        if abs(n) < 1000:
            return f"{n:.0f}{suffix}{unit}" if suffix == "" else f"{n:.1f}{suffix}{unit}"
        n /= 1000
    return f"{n:.1f}P{unit}"


def summary_table(data: dict) -> str:
    shares = any(r["shared_with"] for r in data["nodes"])
    header = ("name", "op", "output shape", "params") + (("shares weights of",) if shares else ())
    rows = [(r["name"], r["op"], r["shape"], f"{r['params']:,}" if not r["shared_with"] else "-")
            + ((r["shared_with"] or "",) if shares else ()) for r in data["nodes"]]  # fmt: skip
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    cells = [f"{{:<{w}}}" for w in widths]
    cells[3] = f"{{:>{widths[3]}}}"  # numbers right-aligned
    line = "  ".join(cells)
    out = [line.format(*header).rstrip(), "  ".join("-" * w for w in widths)]
    out += [line.format(*r).rstrip() for r in rows]
    out.append("")
    out.append("outputs: " + ", ".join(f"{k}: {v}" for k, v in data["outputs"].items()))
    out.append(f"parameters: {data['total_params']:,} ({_human(data['total_params'] * 4, 'B')} in float32)")
    flops = f"FLOPs per example: {_human(data['flops_per_example'])}"
    loops = data.get("wormhole_loops") or []
    if loops:  # the solver's iteration count is only known at run time
        most = max((w["max_iter"] or 0 for w in loops), default=0)
        which = "the wormhole loop" if len(loops) == 1 else f"each of the {len(loops)} wormhole loops"
        flops += f" (one pass through {which}; solving repeats a loop up to max_iter = {most} times)"
    out.append(flops)
    out.append(f"activation memory per example: {_human(data['activation_bytes_per_example'], 'B')}")
    return "\n".join(out)
