"""`mode = local` on JAX: FEN local training. The step is the standard one; the differentiated
objective is the sum of the per-segment losses the segment lowering provides (step.py)."""

from __future__ import annotations

from seqnet.backends.jax.failures import TrainingError
from seqnet.backends.jax.modes import BACKEND
from seqnet.backends.jax.modes.standard import Standard
from seqnet.compiler.modes.registry import MODES, register_driver


@register_driver("local", BACKEND)
class Local(Standard):
    def __init__(self, rt):
        super().__init__(rt)
        rt.local_terms = getattr(rt.lowered, "local_loss_terms", None)
        if rt.local_terms is None:
            raise TrainingError(
                "mode = local (FEN local training) needs the segment lowering to provide "
                "local_loss_terms(params, inputs, rng=, train=); this JAX lowering has none. "
                "Use mode = standard."
            )
        rt.local_reduction = MODES["local"].resolved(rt.config.mode_args)["reduction"]
