"""Plain-text tables: the one table layout of the project (CLI output, model cards, report summaries).

Columns are padded to their widest cell and separated by two spaces, under a header and a rule of
dashes. How a single value is written is the caller's choice (``cell``); :func:`format_value` is the
default: ``-`` for missing, ``yes``/``no``, four significant digits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["format_table", "format_value"]


def format_value(value: Any, column: str = "") -> str:
    """One table cell: ``-`` for None, ``yes``/``no`` for booleans, floats to 4 significant digits
    (2 decimals from 10 up, scientific below 1e-3 or from 1e5), anything else as ``str``."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.3g}"
        return f"{value:.4g}" if abs(value) < 10 else f"{value:.2f}"
    return str(value)


def format_table(rows: list[dict], columns: Sequence[str] | None = None, *,
                 cell: Callable[[Any, str], str] = format_value, empty: str | None = "(nothing to show)") -> str:
    """``rows`` (dicts) as a plain-text table, columns in the given order (default: the first row's keys).

    ``cell(value, column)`` writes one value. With no rows: ``empty``, or just the header when
    ``empty`` is None.
    """
    if not rows and empty is not None:
        return empty
    columns = list(columns or (rows[0].keys() if rows else ()))
    cells = [[cell(row.get(c), c) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)
