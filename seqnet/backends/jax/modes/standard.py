"""`mode = standard` on JAX: each step one minibatch of the data source's train split."""

from __future__ import annotations

from seqnet.backends.jax import step
from seqnet.backends.jax.modes import BACKEND
from seqnet.compiler.modes.registry import register_driver


@register_driver("standard", BACKEND)
class Standard:
    """The driver every other one starts from: one minibatch, one gradient, one update."""

    def __init__(self, rt):
        self.rt = rt

    def train_step(self):
        return step.make_train_step(self.rt)

    def train_data(self):
        c = self.rt.config
        if not (c.curriculum and c.curriculum.every):
            return self.rt.load_split("train", c.examples)
        n = c.data.args["n"]  # each stage's own examples, at its length
        return [self.rt.load_split("train", c.examples, length=n_) for n_ in c.curriculum.lengths(n)]

    def train_stream(self, arrays, start: int):
        from seqnet.data.batches import batches, curriculum_batches, prefetch

        c = self.rt.config
        if isinstance(arrays, list):
            stream = curriculum_batches(arrays, c.curriculum.every, c.batch, c.seed, start)
        else:
            stream = batches(arrays, c.batch, c.seed, start_step=start)
        return prefetch(stream, size=2, transform=self.rt.put_batch)

    def eval_data(self, arrays):
        return arrays

    def examples_per_step(self) -> int:
        return self.rt.config.batch

