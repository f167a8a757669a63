"""The errors of the training runtime that a person can fix (all `seqnet.errors.UserError`)."""

from __future__ import annotations

from seqnet.errors import UserError


class TrainingError(UserError):
    """Training cannot go on: divergence (NaN/Inf), a bad setting, or local mode without support."""


class MemoryEstimateError(TrainingError):
    """The parameters and optimiser state would not fit in the available memory."""


class InputError(UserError, ValueError):
    """An input array given to `predict` (or a data split) does not match the spec's input.

    Also a ValueError, as it always was, so callers that caught ValueError still do."""
