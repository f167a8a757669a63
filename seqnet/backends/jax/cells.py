"""A user-defined recurrent cell scanned over a sequence (`scan`, compiler/cells.py) in JAX.

The scan node owns one region, "cell", with inputs (x_t, state) and outputs "out" and "state".
Its parameters are one set, under the node's name, shared by every step. The steps run in
`lax.scan` over the sequence's first axis, the state carried from each step to the next,
from zeros (or `initial`); reverse=True runs from the end with the outputs kept aligned with
their input positions, as the built-in rnn/lstm/gru do. many_to_many returns every step's output,
(batch, T, ...); many_to_one the output of the last step processed. In training each step gets
its own PRNG key (the step index folded into the node's key), for dropout inside the cell.
lengths= pads as in the built-in cells: past its length an example's state is held and its output
is zero, so many_to_one gives the output of its last valid step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from seqnet.backends.jax.context import LowerCtx, NodeProgram, RunState
from seqnet.backends.jax.padding import hold, valid_positions
from seqnet.compiler.ir import Node

ROLE = "cell"


class CellProgram(NodeProgram):
    """The `scan` op's node program (its ProgramRule in ops/recurrent.py)."""

    def __init__(self, name: str, data: Node, lower_region):
        self.name = name
        region = data.regions[ROLE]
        first = region.graph["inputs"][0]
        prefix = first.rsplit("/", 1)[0] + "/" if "/" in first else ""
        self.program = lower_region(region, prefix)
        self.x_name, self.state_name = region.graph["inputs"]
        self.out_ref = tuple(region.graph["outputs"]["out"])
        self.state_ref = tuple(region.graph["outputs"]["state"])

    def init(self, key: jax.Array) -> dict:
        return self.program.init(key)

    def step(self, params: dict, x_t, state, rng, train: bool):
        """One application of the cell: (new_state, out)."""
        env = self.program.run(params, {self.x_name: x_t, self.state_name: state},
                               RunState(train=train, rng=rng))  # fmt: skip
        return env[self.state_ref], env[self.out_ref]

    def __call__(self, ctx: LowerCtx, x, state, initial, mode, reverse, out_type, lengths=None):
        batch, steps = x.shape[0], x.shape[1]
        sequence = jnp.swapaxes(x, 0, 1)  # scan runs over the leading axis: (T, batch, ...)
        dtype = x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else ctx.compute_dtype
        carry = jnp.zeros((batch, *state), dtype) if initial is None else initial.astype(dtype)
        keys = None if ctx.rng is None else jax.random.split(ctx.rng, steps)
        valid = None if lengths is None else jnp.swapaxes(valid_positions(lengths, steps), 0, 1)
        if mode != "many_to_one":

            def body(carry, item):
                new_state, out = self.step(ctx.params, item[0], carry, item[1], ctx.train)
                new_state = new_state.astype(carry.dtype)
                if item[2] is not None:  # past its length: the state held, the output zero
                    new_state, out = hold(item[2], new_state, carry), hold(item[2], out, jnp.zeros_like(out))
                return new_state, out

            _, outs = lax.scan(body, carry, (sequence, keys, valid), reverse=reverse)
            return jnp.swapaxes(outs, 0, 1)

        # many_to_one: the last (valid) step's output rides along with the state
        last = jnp.zeros((batch, *out_type.dims), dtype)

        def last_body(carry, item):
            new_state, out = self.step(ctx.params, item[0], carry[0], item[1], ctx.train)
            new = (new_state.astype(carry[0].dtype), out.astype(carry[1].dtype))
            if item[2] is not None:
                new = (hold(item[2], new[0], carry[0]), hold(item[2], new[1], carry[1]))
            return new, None

        (_, out), _ = lax.scan(last_body, (carry, last), (sequence, keys, valid), reverse=reverse)
        return out
