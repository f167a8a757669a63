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
        return self.rt.load_split("train", self.rt.config.examples)

    def train_stream(self, arrays, start: int):
        from seqnet.data.batches import batches, prefetch

        c = self.rt.config
        return prefetch(batches(arrays, c.batch, c.seed, start_step=start), size=2, transform=self.rt.put_batch)

    def eval_data(self, arrays):
        return arrays

    def examples_per_step(self) -> int:
        return self.rt.config.batch
