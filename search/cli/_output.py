"""What every ``colorsweep`` command shares: the user-error type, argument types, and how results are printed.

A command prints a table (or plain lines) on stdout, or with ``--json`` the same result as JSON;
messages go to stderr. :class:`UserError` is an error in what the user asked for: one line, exit 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
from typing import Any

from colorize_core.errors import ColorsweepError
from search.tables import format_table, format_value

__all__ = [
    "UserError", "format_table", "format_value", "emit", "clip", "param_count", "duration", "count",
    "signal_name", "int_at_least", "positive_int", "non_negative_int", "unit_interval", "positive_number", "data_arg",
    "apply_max_megapixels", "add_json_flag", "DESCRIPTION_WIDTH",
]


class UserError(ColorsweepError):
    """An error in what the user asked for on the command line: printed as one line, exit status 2."""


#: Descriptions in listing tables are cut to this many characters (a 100-column terminal row).
DESCRIPTION_WIDTH = 60


def emit(args, payload: Any, text: str) -> None:
    """Print ``payload`` as JSON when the command got ``--json``, else ``text``."""
    if getattr(args, "json", False):
        print(json.dumps(payload, indent=1, default=str))
    else:
        print(text)


def add_json_flag(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    """The ``--json`` flag every command takes."""
    parser.add_argument("--json", action="store_true",
                        help=help or "print the result as JSON on stdout (messages stay on stderr)")


def clip(text: Any, width: int) -> Any:
    """``text`` cut to ``width`` characters with an ellipsis (non-strings unchanged)."""
    if not isinstance(text, str) or len(text) <= width:
        return text
    return text[: width - 1].rstrip() + "…"


def param_count(n: Any) -> Any:
    """A parameter count in words: 46.7 k, 1.93 M."""
    if not isinstance(n, (int, float)):
        return n
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return str(int(n))


def duration(seconds: float) -> str:
    """``42 s``, ``12.5 min`` or ``2.1 h``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def count(n: int, noun: str) -> str:
    """``1 trial``, ``3 trials``."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def signal_name(signum: int) -> str:
    """``SIGINT`` for 2."""
    return signal.Signals(signum).name


def int_at_least(minimum: int):
    """An argparse type: a whole number >= ``minimum``, checked while parsing (before anything heavy
    is imported), with a message that says what was wrong."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {value}")
        return value

    parse.__name__ = f"int >= {minimum}"  # what argparse names in its own errors
    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def unit_interval(text: str) -> float:
    """An argparse type: a number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {value:g}")
    return value


def positive_number(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def data_arg(values: list[str]) -> str | list[str]:
    """``--data A [B ...]`` as one source or a list of them."""
    return values[0] if len(values) == 1 else values


def apply_max_megapixels(args) -> None:
    """``--max-megapixels N``: images over N MP are skipped (COLORSWEEP_MAX_IMAGE_PIXELS, also for Ray workers)."""
    value = getattr(args, "max_megapixels", None)
    if value is None:
        return
    if not value > 0:
        raise UserError(f"--max-megapixels must be positive, got {value}")
    from colorize_core.data import MAX_PIXELS_ENV

    os.environ[MAX_PIXELS_ENV] = str(int(value * 1e6))
