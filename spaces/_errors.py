"""The one exception type of :mod:`spaces`."""

from __future__ import annotations

from colorize_core.errors import InvalidValueError

__all__ = ["SpaceError"]


class SpaceError(InvalidValueError):
    """A search space is malformed or does not fit its use.

    The message names the offending key (``params.learning_rate``, ``fixed.batch_size``,
    ``defaults.size``...), the value received and what is allowed.
    """
