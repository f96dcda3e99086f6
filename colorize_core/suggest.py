""""Did you mean" for unknown names (spaces, architectures, metrics, YAML keys): one place, difflib."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = ["did_you_mean"]


def did_you_mean(name: Any, known: Iterable[str]) -> str:
    """``" (did you mean 'X'?)"`` for the known name closest to ``name`` (difflib ratio >= 0.6,
    case-insensitive), or ``""`` when none is close or ``name`` is not a string."""
    if not isinstance(name, str):
        return ""
    known = list(known)
    lowered = {k.lower(): k for k in known}
    if name.lower() in lowered and lowered[name.lower()] != name:
        return f" (did you mean {lowered[name.lower()]!r}?)"
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean {lowered[close[0]]!r}?)" if close else ""
