"""The JAX lowering rules, one module per op family (mirroring seqnet/compiler/ops).

Importing this package registers every rule with the op registry.
"""

from seqnet.backends.jax.ops import (  # noqa: F401
    attention,
    core,
    masks,
    mechanisms,
    recurrent,
    simplicial,
    tensors,
)
