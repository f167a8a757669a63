"""`mode = mask_merge` on JAX: one training step is one meta-epoch of Algorithm 1 (compiler/
modes/mask_merge.py says what it is), jitted whole: a lax.scan over the session's matrices, in
each an inner scan over `epochs` x `minibatches` optimiser steps on fresh vectors x, then the
merge. Everything random derives from the run's seed and the session index, so a resumed run is
the uninterrupted one."""

from __future__ import annotations

import numpy as np

from seqnet.backends.jax.failures import TrainingError
from seqnet.backends.jax.modes import BACKEND
from seqnet.backends.jax.modes.standard import Standard
from seqnet.compiler.graph import output_type
from seqnet.compiler.ir import node as ir_node
from seqnet.compiler.modes.mask_merge import adjacency_inputs
from seqnet.compiler.modes.registry import MODES, register_driver
from seqnet.compiler.ops.registry import OPS
from seqnet.data.matrix_sets import default_size, session_matrices


@register_driver("mask_merge", BACKEND)
class MaskMerge(Standard):
    def __init__(self, rt):
        super().__init__(rt)
        graph = rt.model.graph
        masked = adjacency_inputs(graph)
        self.adj = next(iter(masked.values()))
        self.x = next(i for i in graph.graph["inputs"] if i != self.adj)
        self.n = int(output_type(graph, (self.adj, 0)).dims[-1])
        args = MODES["mask_merge"].resolved(rt.config.mode_args)
        self.epochs, self.minibatches, self.condition = args["epochs"], args["minibatches"], args["condition"]
        self.size = args["matrices"] or default_size(self.n)
        self.vectors = args["vectors"] or 8 * self.n
        if self.vectors < self.minibatches:
            raise TrainingError(f"mask_merge: {self.vectors} vectors per matrix do not fill "
                                f"{self.minibatches} minibatches")  # fmt: skip
        self.batch = self.vectors // self.minibatches
        self.masks = []  # (parameter owner, its edge-mask rule, the node's attrs, parameter shapes)
        for name in masked:
            rec = ir_node(graph, name)
            shapes = {p: spec.shape for p, spec in rec.params.items()}
            self.masks.append((rec.param_owner, OPS[rec.op].edge_mask, dict(rec.attrs), shapes))

    def train_data(self):
        return None  # the sessions draw their own matrices and vectors

    def train_stream(self, arrays, start: int):
        c = self.rt.config

        def sessions():
            s = start
            while True:
                yield session_matrices(self.condition, self.n, self.size, c.seed, s)
                s += 1

        return _Stream(sessions())

    def eval_data(self, arrays):
        """The targets recomputed as adj @ x in float64 (the data source stores them in float32,
        which a float64 run would otherwise measure as its error)."""
        target = self.rt.config.loss.target
        a, x = np.asarray(arrays[self.adj], np.float64), np.asarray(arrays[self.x], np.float64)
        exact = np.einsum("bij,bj->bi", a, x)
        return {**arrays, target: exact.astype(np.float64 if self.rt.config.dtype == "float64" else np.float32)}

    def examples_per_step(self) -> int:
        return self.size * self.vectors * self.epochs

    def draws(self, session, count: int, dtype):
        """Session `session`'s random vectors x (count, vectors, n), in the inputs' precision,
        and minibatch indices (count, epochs * minibatches, batch): each epoch a permutation of
        the vectors."""
        import jax

        k, n, b = self.vectors, self.n, self.batch
        x_in = self.rt.inputs[self.x].dtype
        keys = jax.random.split(jax.random.fold_in(self.rt.dropout_key, session), count)

        def one(key):
            kx, kp = jax.random.split(key)
            x = jax.random.uniform(kx, (k, n), dtype).astype(x_in).astype(dtype)
            order = jax.vmap(lambda kk: jax.random.permutation(kk, k))(jax.random.split(kp, self.epochs))
            return x, order[:, : self.minibatches * b].reshape(self.epochs * self.minibatches, b)

        return jax.vmap(one)(keys)

    def train_step(self):
        import jax
        import jax.numpy as jnp
        import optax

        rt, lo = self.rt, self.rt.config.loss
        n, b = self.n, self.batch
        dtype = jnp.float64 if rt.config.dtype == "float64" else jnp.float32
        # the inputs keep their declared dtypes (float32); the lowering computes in `dtype`
        a_in, x_in = rt.inputs[self.adj].dtype, rt.inputs[self.x].dtype

        def loss_of(p, a, x, t):
            inputs = {self.adj: jnp.broadcast_to(a, (b, n, n)).astype(a_in), self.x: x.astype(x_in)}
            outs, _ = rt.forward(p, inputs, None, True)
            return rt.loss_fn(outs[lo.output], t, rt.loss_probs).mean()

        def update(carry, batch):
            p, o, a = carry
            loss, g = jax.value_and_grad(loss_of)(p, a, *batch)
            updates, o = rt.tx.update(g, o, p)
            return (optax.apply_updates(p, updates), o, a), (loss, optax.tree.norm(g))

        def merge(p, before, a):
            """The masked parameters' entries that `a` disables return to their values before it."""
            for owner, rule, attrs, shapes in self.masks:
                on = rule.enabled(attrs, a, shapes, jnp)
                group = dict(p[owner])
                for param, enabled in on.items():
                    group[param] = jnp.where(enabled, p[owner][param], before[owner][param])
                p = {**p, owner: group}
            return p

        def per_matrix(carry, inp):
            p, o = carry
            a, x, idx = inp
            t = x @ a.T  # exact for these x: a is binary
            (q, o, _), (losses, norms) = jax.lax.scan(update, (p, o, a), (x[idx], t[idx]))
            return (merge(q, p, a), o), (losses.mean(), norms.mean())

        def session(state, d):
            params, opt_state, i = state
            x, idx = self.draws(i, d.shape[0], dtype)
            (params, opt_state), (losses, norms) = jax.lax.scan(
                per_matrix, (params, opt_state), (d.astype(dtype), x, idx))  # fmt: skip
            return (params, opt_state, i + 1), {"loss": losses.mean(), "grad_norm": norms.mean()}

        return jax.jit(session, donate_argnums=(0,))


class _Stream:
    """The sessions' matrix sets, made on demand (the loop closes its stream when done)."""

    def __init__(self, iterator):
        self.iterator = iterator

    def __next__(self):
        return next(self.iterator)

    def close(self):
        self.iterator.close()
