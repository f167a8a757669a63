"""JAX lowerings of the mechanism ops: the wormhole gate and masked (ensemble mask network) layers.

`segments` is lowered by a `ProgramRule`: a `SegmentsProgram` (segments.py) built per node owns
the node's regions and their parameters. The fixed-point iteration that closes a wormhole's cycle
is lowered at graph level (lower.py, fixed_point.py): `wormhole_gate` here is only the gated
back-connection g * (x W).

masked_dense, with n nodes, c_in copies per node in x and c_out in the output, features
node-major (feature index = node * copies + copy), W of shape (c_in n, c_out n) used as x @ W:

* mask="adjacency": the paper's first layer h_i = sum_j A_ij W_ij x_j, generalised to copies:
  out[i, o] = sum_(j, a) A_ij W[(j, a), (i, o)] x[j, a]. In the x @ W convention the mask on W
  is kron(A^T, ones(c_in, c_out)): the row block of input node j and the column block of
  output node i are scaled by A_ij (so A masks the edges and scales them).
* mask="cluster": W masked by kron(I_n, ones(c_in, c_out)): node i's output copies see only node
  i's input copies (fully connected within the cluster); adj is not read. Only W's diagonal
  blocks are stored, params["w"] of shape (n, c_in, c_out), so nothing untrained is counted.

The masked weight is never built per example: adjacency contracts the (n, c_in, n, c_out) view
of W directly, cluster its blocks. Then the optional bias and activation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from seqnet.backends.jax.context import ProgramRule
from seqnet.backends.jax.ops.common import BACKEND, activate, lowering
from seqnet.backends.jax.segments import SegmentsProgram
from seqnet.compiler.ops.catalog import register_lowering

GATES = {"sigmoid": jax.nn.sigmoid, "tanh": jnp.tanh}


def reverse_mode_problems(graph) -> list[str]:
    """Why reverse-mode training cannot differentiate `graph`: one sentence per wormhole whose
    solver differentiates in forward mode only (empty when training can go ahead)."""
    return [f"wormhole {n} ({d['span']}) uses solver=forward, which differentiates in "
            "forward mode only; training needs reverse mode: use solver=fixed_point"
            for n, d in graph.nodes(data=True)
            if d["op"] == "wormhole_gate" and d["attrs"].get("solver") == "forward"]  # fmt: skip


def _shape_of(target_shape) -> tuple[int, ...]:
    """The compiler may pass the target's shape as Dims or as ints."""
    return tuple(d if isinstance(d, int) else d.value for d in target_shape)


@lowering("wormhole_gate")
def wormhole_gate(
    ctx,
    x,
    units,
    target_shape,
    gate,
    gate_bias,
    tol,
    rtol,
    max_iter,
    solver,
    backward_tol,
    backward_max_iter,
    anderson_m,
):
    p = ctx.params
    y = x @ p["w"]
    if gate != "none":
        y = GATES[gate](x @ p["gate_w"] + p["gate_b"]) * y
    return y.reshape((x.shape[0],) + _shape_of(target_shape))


@lowering("masked_dense")
def masked_dense(ctx, x, adj, copies, mask, act, bias):
    batch, n = x.shape[0], adj.shape[-1]
    c_in = x.shape[-1] // n
    xs = x.reshape(batch, n, c_in)
    if mask == "adjacency":
        w = ctx.params["w"].reshape(n, c_in, n, copies)  # [input node, copy, output node, copy]
        y = jnp.einsum("bja,bij,jaio->bio", xs, adj, w)
    else:
        y = jnp.einsum("bia,iao->bio", xs, ctx.params["w"])  # w: (n, c_in, c_out), the blocks
    y = y.reshape(batch, n * copies)
    if bias:
        y = y + ctx.params["b"]
    return activate(y, act)


register_lowering("segments", BACKEND)(ProgramRule(build=SegmentsProgram))
