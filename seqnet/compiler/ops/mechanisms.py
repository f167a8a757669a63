"""Mechanism ops: wormhole gates, masked (ensemble mask network) layers, segment structures."""

from __future__ import annotations

from seqnet.compiler.ops.registry import (
    ACTIVATIONS,
    Arg,
    EdgeMask,
    OpCall,
    ParamSpec,
    ShapeError,
    TensorType,
    dims,
    need_float,
    need_rank,
    op,
    positive,
    zero_flops,
)

GATES = ("sigmoid", "tanh", "none")
SOLVERS = ("fixed_point", "anderson", "unrolled", "forward")


def _wormhole_infer(c: OpCall):
    need_float(c["x"], "x")
    if c["x"].rank == 0:  # its weights map the source's last axis onto the target's
        raise ShapeError(f"the source is a scalar ({c['x']}): a wormhole reads a tensor with at "
                         "least one axis", arg="x", code="SQN0402",
                         hint="carry back a node before the reduction that made it a scalar")  # fmt: skip
    positive(c, "units")
    if c["tol"] <= 0:
        raise ShapeError(f"tol must be positive, got {c['tol']}", arg="tol", code="SQN0108",
                         hint="tol is the largest per-example change counted as converged, e.g. tol=1e-3")  # fmt: skip
    if c["rtol"] < 0:
        raise ShapeError(f"rtol must be 0 or more, got {c['rtol']}", arg="rtol", code="SQN0108",
                         hint="rtol scales with the state's size: tol + rtol * max|z|; 0 turns it off")  # fmt: skip
    if c["max_iter"] < 1:
        raise ShapeError(f"max_iter must be at least 1, got {c['max_iter']}", arg="max_iter",
                         code="SQN0108")  # fmt: skip
    if c["anderson_m"] < 1:
        raise ShapeError(f"anderson_m must be at least 1, got {c['anderson_m']}", arg="anderson_m",
                         code="SQN0108", hint="anderson_m is how many past iterates Anderson "
                         "acceleration mixes, e.g. anderson_m=5 (1 is plain iteration)")  # fmt: skip
    return [TensorType.of(c["x"].dtype, c["target_shape"])]


def _wormhole_trainable(attrs: dict):
    """Forward-mode AD gives tangents, not gradients: JAX refuses reverse mode through its
    tangent loop, so a trained spec must solve its wormholes with a reverse-mode solver."""
    if attrs.get("solver") == "forward":
        return ("a wormhole solved with solver=forward cannot be trained: forward-mode AD gives "
                "no reverse-mode gradient", "solver",
                "train with solver=fixed_point (implicit gradients) or solver=unrolled; keep "
                "forward for jax.jvp and Hessian-vector products outside training")  # fmt: skip
    return None


def _wormhole_flops(c: OpCall, outs) -> int:
    """Multiply-adds of W h_b (2 x.size units), and of the gate's W_g h_b when there is one:
    gate=none computes W h_b only, so it costs half the gated form."""
    matmuls = 1 if c["gate"] == "none" else 2
    return 2 * matmuls * c["x"].size * c["units"]


def _wormhole_params(c: OpCall) -> dict:
    """W always; the gate's W_g and b_g only when there is a gate (gate=none adds W h_b)."""
    specs = {"w": ParamSpec((c["x"].dims[-1], c["units"]), "glorot_uniform", axes=("in", "out"))}
    if c["gate"] != "none":
        specs["gate_w"] = ParamSpec((c["x"].dims[-1], c["units"]), "zeros")
        specs["gate_b"] = ParamSpec((c["units"],), "constant", c["gate_bias"])
    return specs


op(
    "wormhole_gate", "mechanism",
    [Arg("x", "tensor", doc="the later node h_b"),
     Arg("units", "int", doc="features of the target h_a"),
     Arg("target_shape", "any", doc="the target's shape (set by the compiler)"),
     Arg("gate", "choice", "sigmoid", GATES),
     Arg("gate_bias", "float", -4.0, doc="initial gate bias: nearly closed, as the paper asks"),
     Arg("tol", "float", 1e-3, doc="absolute tolerance on the per-example max change"),
     Arg("rtol", "float", 0.0, doc="relative tolerance: converged when change <= tol + rtol * max|z|"),
     Arg("max_iter", "int", 300),
     Arg("solver", "choice", "fixed_point", SOLVERS),
     Arg("backward_tol", "float", 1e-5), Arg("backward_max_iter", "int", 300),
     Arg("anderson_m", "int", 5, doc="solver=anderson: how many past iterates it mixes")],
    _wormhole_infer,
    params=_wormhole_params,
    flops=_wormhole_flops,
    doc="The gated back-connection of a wormhole: g * W h_b with g = gate(W_g h_b + b_g), added to "
        "the target's pre-activation; the cycle it closes is solved to a fixed point.",
    train_rule=_wormhole_trainable,
    statement="wormhole",
)  # fmt: skip


def wormhole_gates(graph) -> dict[str, dict]:
    """{gate node: its attrs plus "where" (file:line:col) and "name" ("wormhole h3 -> h1")}."""
    out = {}
    for n, d in graph.nodes(data=True):
        if d["op"] != "wormhole_gate":
            continue
        targets = [v for _, v, e in graph.out_edges(n, data=True) if e.get("wormhole")]
        source = next((ref[0] for name, ref in d["args"] if name == "x"), "?")
        arrow = f"{source} -> {targets[0]}" if targets else n
        out[n] = {**d["attrs"], "where": str(d["span"]) if d.get("span") else "?",
                  "name": f"wormhole {arrow}"}  # fmt: skip
    return out


def _masked_infer(c: OpCall):
    x, adj = c["x"], c["adj"]
    need_float(x, "x")
    need_rank(x, "x", 1, " (a vector of c*n features)")
    need_rank(adj, "adj", 2, " (an n x n adjacency matrix)")
    n = adj.dims[0]
    if adj.dims[1] != n:
        raise ShapeError(f"adjacency must be square, but it is {adj}", arg="adj")
    positive(c, "copies")
    if x.dims[0] % n:
        raise ShapeError(
            f"'x' has {x.dims[0]} features, which is not a multiple of the {n} nodes of 'adj'",
            arg="x", hint="a masked layer's input holds c copies of each of the n nodes",
        )  # fmt: skip
    return [x.with_shape(dims(c["copies"] * n))]


def _masked_params(c: OpCall):
    """mask=adjacency: the whole (c_in n, c_out n) W, every entry of which some A can enable.
    mask=cluster: only W's n diagonal blocks, (n, c_in, c_out), the weights it uses; glorot's
    fans of that shape (c_in n, c_out n) are the dense W's, so every weight keeps its init."""
    n, copies = c["adj"].dims[0], c["copies"]
    if c["mask"] == "cluster":
        w = ParamSpec((n, c["x"].dims[0] // n, copies), "glorot_uniform")
    else:
        w = ParamSpec((c["x"].dims[0], copies * n), "glorot_uniform")
    return {"w": w, **({"b": ParamSpec((copies * n,), "zeros")} if c["bias"] else {})}


def _masked_edges(attrs, adj, shapes, xp):
    """mask=adjacency: W's block of input node j and output node i is enabled where A_ij != 0
    (W is (c_in n, c_out n), node-major, used as x @ W); mask=cluster never reads A."""
    if attrs["mask"] != "adjacency":
        return {}
    n = adj.shape[-1]
    rows, cols = shapes["w"]
    on = xp.transpose(adj != 0)[:, None, :, None]  # [input node j, 1, output node i, 1]
    return {"w": xp.broadcast_to(on, (n, rows // n, n, cols // n)).reshape(rows, cols)}


def _masked_flops(c: OpCall, outs):
    if c["mask"] == "cluster":  # one (c_in, c_out) block per node
        return 2 * c["x"].dims[0] * c["copies"]
    return 3 * c["x"].dims[0] * outs[0].dims[0]  # mask, multiply, add over the dense W


op(
    "masked_dense", "mechanism",
    [Arg("x", "tensor"), Arg("adj", "tensor", doc="per-example n x n adjacency matrix"),
     Arg("copies", "int", 1, doc="c_i units per node in the output"),
     Arg("mask", "choice", "adjacency", ("adjacency", "cluster"),
         doc="adjacency: edges masked and scaled by A (first layer); cluster: only within a node's copies"),
     Arg("act", "choice", "none", ACTIVATIONS), Arg("bias", "bool", False)],
    _masked_infer,
    params=_masked_params,
    flops=_masked_flops,
    edge_mask=EdgeMask("adj", _masked_edges),
    doc="Ensemble-mask-network layer: (A (.) W) x with W's edges masked by the input's adjacency A.",
)  # fmt: skip


def _segments_infer(c: OpCall):
    x = c["x"]
    need_rank(x, "x", range(1, 8), " (sequence first)")
    n = c["structure"].n
    if x.dims[0] != n:
        raise ShapeError(
            f"the segment structure covers {n} tokens but 'x' has {x.dims[0]} along its first axis",
            arg="x", hint="build the structure with the input's sequence length, e.g. binary_tree(N)",
        )  # fmt: skip
    return [c["out_type"]]


op(
    "segments", "mechanism",
    [Arg("x", "tensor"), Arg("structure", "any"), Arg("share", "any"), Arg("out_type", "any")],
    _segments_infer,
    flops=zero_flops,  # the cost is its regions' nodes', counted once per use (summary.py)
    doc="A fusion encoder network over a segment structure: token encoders at the leaves, fusion "
        "encoders over split points, an output decoder; its blocks are the node's regions.",
    local_training=True,
    statement="segments",
)  # fmt: skip
