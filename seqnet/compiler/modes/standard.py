"""`mode = standard`: every step one minibatch of the data source, the gradient of the whole
loss, one optimiser update. The default."""

from __future__ import annotations

from seqnet.compiler.modes.registry import mode

mode("standard", "end-to-end training: the gradient of the whole loss on each minibatch")
