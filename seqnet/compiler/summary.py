"""`seqnet summary`: a table of nodes with shapes, parameters and cost, plus totals."""

from __future__ import annotations

import math

import networkx as nx

from seqnet.compiler import sharding
from seqnet.compiler.graph import is_input, node_call, output_type, param_count, topo_order
from seqnet.compiler.ir import Node
from seqnet.compiler.ir import node as ir_node
from seqnet.compiler.ops.registry import OPS
from seqnet.compiler.ties import describe as describe_ties


def summarize(g: nx.MultiDiGraph) -> dict:
    rows = []
    total_flops = 0
    activation_bytes = 0
    for name in topo_order(g):
        rec = ir_node(g, name)
        flops = rec.flops
        activations = sum(t.nbytes for t in rec.outputs)
        for region in (rec.regions or {}).values():
            uses = region_uses(rec, region)
            flops += sum(ir_node(region, n).flops for n in region.nodes) * uses
            activations += sum(t.nbytes for n in region.nodes for t in ir_node(region, n).outputs) * uses
        total_flops += flops
        activation_bytes += activations
        rows.append({
            "name": name,
            "op": rec.op,
            "shape": ", ".join(str(t) for t in rec.outputs),
            "resolved": ", ".join(t.resolved() for t in rec.outputs),
            "params": param_count(g, name),
            "shared_with": rec.param_owner if rec.param_owner != name else None,
            "tied": describe_ties(rec.ties) or None,
            "flops": flops,
            "location": str(rec.span),
        })  # fmt: skip
    outputs = {k: str(output_type(g, ref)) for k, ref in g.graph["outputs"].items()}
    found = temporaries(g)
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
        "activation_bytes_per_example": activation_bytes,  # segment regions once per use
        "temporary_bytes_per_example": sum(sum(t.values()) for _, t in found),
        "largest_temporaries": None if not found else max(found, key=lambda f: sum(f[1].values()))[0],
        # each choose(...) / wormhole enabled= site: the parameters of every alternative
        "choices": [{k: v for k, v in c.items() if k != "span"} for c in summarize_choices(g)],
    }


def summarize_choices(g: nx.MultiDiGraph) -> list[dict]:
    """Each choose(...) / wormhole enabled= site: what it chose and the parameters of every
    alternative (compiler/choices.py), with its span for the language server."""
    return [{"what": c.what, "key": c.key, "chosen": c.chosen, "params": dict(c.params),
             "location": str(c.span), "span": c.span} for c in g.graph.get("choices", ())]  # fmt: skip


def per_device(graph, data: dict, devices: int) -> str | None:
    """Add the per-device memory and each node's split to `data`; what is wrong, if anything."""
    config = graph.graph.get("train")
    if config is None:
        return "--devices needs a train section (its mesh says how the devices are shaped)"
    fixed = math.prod(v for v in config.mesh.values() if v != -1)
    if devices < 1 or fixed > devices:  # a mesh of fewer devices uses the first ones, as a run does
        return f"--devices {devices} does not fit {sharding.mesh_text(config.mesh)} ({fixed} devices)"
    per_example = data["activation_bytes_per_example"] + data["temporary_bytes_per_example"]
    memory = sharding.device_memory(graph, config, devices, per_example)
    if memory["problems"]:
        return "error: " + "; ".join(memory["problems"])
    data["per_device"] = memory
    for row in data["nodes"]:
        row["split"] = " ".join(f"{k.rsplit('.', 1)[1]}[{', '.join(a or '-' for a in v)}]"
                                for k, v in memory["splits"].items() if k.rsplit(".", 1)[0] == row["name"])  # fmt: skip
    return None


def temporaries(g: nx.MultiDiGraph) -> list[tuple[str, dict[str, int]]]:
    """(node, {what: bytes per example}) for every node whose op's lowering holds temporaries
    (`OpDef.temporaries`: attention scores, 2-simplicial pair tensors), in dependency order.
    Nodes of a segment structure's regions count as often as their region runs per example
    (the backward pass keeps every use's), which their entries say."""
    found = []
    for n in topo_order(g):
        if is_input(g, n):
            continue
        rec = ir_node(g, n)
        parts = OPS[rec.op].temporaries(node_call(g, n), list(rec.outputs))
        if any(parts.values()):
            found.append((n, dict(parts)))
        for region in (rec.regions or {}).values():
            uses = region_uses(rec, region)
            found += [(m, {f"{k}, {uses} uses": v * uses for k, v in p.items()} if uses != 1 else p)
                      for m, p in temporaries(region)]  # fmt: skip
    return found


def region_uses(node: Node, region) -> int:
    """How many times a region runs per example in the final network (a scanned cell says:
    once per step)."""
    if "uses" in region.graph:
        return region.graph["uses"]
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
    ties = any(r.get("tied") for r in data["nodes"])
    splits = any(r.get("split") for r in data["nodes"])
    header = ("name", "op", "output shape", "params") + (("shares weights of",) if shares else ())
    header += (("tied weights",) if ties else ()) + (("split over the mesh",) if splits else ())
    rows = [(r["name"], r["op"], r["shape"], f"{r['params']:,}" if not r["shared_with"] else "-")
            + ((r["shared_with"] or "",) if shares else ()) + ((r.get("tied") or "",) if ties else ())
            + ((r.get("split") or "",) if splits else ())
            for r in data["nodes"]]  # fmt: skip
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
    if data.get("temporary_bytes_per_example"):  # attention scores and the like, in the lowering
        out.append(f"temporaries per example: {_human(data['temporary_bytes_per_example'], 'B')} "
                   f"(most in '{data['largest_temporaries']}')")  # fmt: skip
    if data.get("per_device"):
        out.append(_per_device_line(data["per_device"]))
    out += [choice_line(c) for c in data.get("choices") or ()]
    return "\n".join(out)


def choice_line(c: dict) -> str:
    """`choose(BLOCK) at f:9:5 (BLOCK): attention 50,562 parameters (chosen), simplicial 60,738`:
    the parameter budget of each alternative, so a comparison states whether they are equal."""
    parts = [f"{name} {n:,} parameters" + (" (chosen)" if name == c["chosen"] else "")
             for name, n in c["params"].items()]  # fmt: skip
    return f"{c['what']} at {c['location']}: " + ", ".join(parts)


def _per_device_line(memory: dict) -> str:
    """One device's share of a training step under the mesh (compiler/sharding.device_memory)."""
    mesh = ", ".join(f"{k}={v}" for k, v in memory["mesh"].items())
    parts = memory["parts"]
    shown = ", ".join(f"{k} {_human(v, 'B')}" for k, v in parts.items())
    return (f"per device ({memory['devices']} devices, mesh({mesh})): {shown}; "
            f"total {_human(sum(parts.values()), 'B')}")
