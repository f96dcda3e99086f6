"""The one exception type of :mod:`spaces`."""

from __future__ import annotations

__all__ = ["SpaceError"]


class SpaceError(ValueError):
    """A search space is malformed or does not fit its use.

    The message names the offending key (``params.learning_rate``, ``fixed.batch_size``,
    ``defaults.size``...), the value received and what is allowed.
    """
