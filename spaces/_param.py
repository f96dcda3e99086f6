"""One searched hyperparameter: :class:`Param`, and the parsing of its spec (``{kind: ...}``)."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

from ._errors import SpaceError
from colorize_core.suggest import did_you_mean

__all__ = ["Param", "KINDS", "CATEGORICAL_KINDS", "parse_param", "same_value", "is_scalar"]

#: Every parameter kind, in the order the docs list them.
KINDS = ("choice", "uniform", "loguniform", "int", "pow2", "value")
#: Kinds a grid space may use: a finite list written out in full.
CATEGORICAL_KINDS = ("choice", "value")
_RANGE_KINDS = ("uniform", "loguniform", "int", "pow2")


def is_scalar(value: Any) -> bool:
    """Whether ``value`` is a YAML/JSON scalar a space may hold (str, bool, int, finite float, None)."""
    if value is None or isinstance(value, (str, bool)):
        return True
    if isinstance(value, numbers.Integral):
        return True
    return isinstance(value, numbers.Real) and math.isfinite(value)


def same_value(a: Any, b: Any) -> bool:
    """Equality that keeps bools apart from numbers (``True != 1`` here) and None apart from all."""
    if isinstance(a, bool) != isinstance(b, bool) or (a is None) != (b is None):
        return False
    if isinstance(a, str) != isinstance(b, str):
        return False
    return a == b


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_pow2(value: Any) -> bool:
    return _is_int(value) and value > 0 and (int(value) & (int(value) - 1)) == 0


def _plain(value: Any) -> Any:
    """NumPy-style scalars to built-in Python ones (so they dump to YAML/JSON)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return value


@dataclass(frozen=True)
class Param:
    """One searched hyperparameter.

    Attributes:
        name: the key it sets: a ``TrainConfig`` field or ``model_options.<option>``.
        kind: one of :data:`KINDS`.
        values: the candidate values for ``choice`` (as listed), ``value`` (one element) and
            ``pow2`` (every power of two between the bounds, ascending); None for the other kinds.
        low, high: the inclusive bounds of ``uniform``, ``loguniform``, ``int`` and ``pow2``;
            None for ``choice`` and ``value``.

    Build one with :func:`spaces.space_from_dict` (which validates); constructing it directly
    checks only the kind.
    """

    name: str
    kind: str
    values: tuple | None = None
    low: float | int | None = None
    high: float | int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise SpaceError(f"params.{self.name}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.values is not None and not isinstance(self.values, tuple):
            object.__setattr__(self, "values", tuple(self.values))

    @property
    def is_categorical(self) -> bool:
        """True for ``choice`` and ``value`` (the kinds a grid space may use)."""
        return self.kind in CATEGORICAL_KINDS

    def to_spec(self) -> dict[str, Any]:
        """The spec this param was parsed from, e.g. ``{"loguniform": [0.0001, 0.03]}``."""
        if self.kind == "choice":
            return {"choice": [_plain(v) for v in self.values]}
        if self.kind == "value":
            return {"value": _plain(self.values[0])}
        return {self.kind: [_plain(self.low), _plain(self.high)]}

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is one this param can take (bounds inclusive; bools are not numbers)."""
        if self.kind in CATEGORICAL_KINDS:
            return any(same_value(value, v) for v in self.values)
        if self.kind in ("uniform", "loguniform"):
            return _is_real(value) and self.low <= value <= self.high
        if self.kind == "int":
            return _is_int(value) and self.low <= value <= self.high
        return _is_pow2(value) and self.low <= value <= self.high  # pow2

    def describe(self) -> str:
        """A short human-readable form, e.g. ``loguniform [0.0001, 0.03]`` or ``choice adam, sgd``."""
        if self.kind == "choice":
            return "choice " + ", ".join(_fmt(v) for v in self.values)
        if self.kind == "value":
            return f"value {_fmt(self.values[0])}"
        text = f"{self.kind} [{_fmt(self.low)}, {_fmt(self.high)}]"
        if self.kind == "pow2":
            text += " (" + ", ".join(str(v) for v in self.values) + ")"
        return text


def _fmt(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def parse_param(name: str, spec: Any, *, label: str) -> Param:
    """Parse ``spec`` (``{kind: ...}``) for the param ``name``; ``label`` prefixes errors."""
    if not isinstance(spec, dict):
        raise SpaceError(
            f"{label}: a param spec must be a mapping with exactly one of the kinds "
            f"{', '.join(KINDS)}, got {spec!r} (write {{value: {spec!r}}} or move the key to fixed)"
        )
    unknown = [k for k in spec if k not in KINDS]
    if unknown:
        raise SpaceError(
            f"{label}: unknown key(s) {unknown} in the param spec{did_you_mean(unknown[0], KINDS)}; "
            f"allowed: exactly one of {', '.join(KINDS)}"
        )
    kinds = list(spec)
    if len(kinds) != 1:
        raise SpaceError(
            f"{label}: a param spec takes exactly one kind, got {kinds or 'none'}; allowed: {', '.join(KINDS)}"
        )
    kind = kinds[0]
    arg = spec[kind]

    if kind == "value":
        if not is_scalar(arg):
            raise SpaceError(f"{label}: value must be a scalar (str, number, bool or null), got {arg!r}")
        return Param(name, "value", (_plain(arg),))

    if kind == "choice":
        if not isinstance(arg, list) or not arg:
            raise SpaceError(f"{label}: choice must be a non-empty list of values, got {arg!r}")
        bad = [v for v in arg if not is_scalar(v)]
        if bad:
            raise SpaceError(f"{label}: choice values must be scalars (str, number, bool or null), got {bad!r}")
        dupes: list = []
        for i, v in enumerate(arg):
            if any(same_value(v, w) for w in arg[:i]) and not any(same_value(v, d) for d in dupes):
                dupes.append(v)
        if dupes:
            raise SpaceError(f"{label}: choice has duplicate value(s) {dupes!r}; each value must appear once")
        return Param(name, "choice", tuple(_plain(v) for v in arg))

    # range kinds
    check = _is_real if kind in ("uniform", "loguniform") else _is_int
    what = "numbers" if kind in ("uniform", "loguniform") else "ints"
    if not isinstance(arg, list) or len(arg) != 2 or not all(check(v) for v in arg):
        raise SpaceError(f"{label}: {kind} bounds must be a list [low, high] of two {what}, got {arg!r}")
    low, high = (_plain(v) for v in arg)
    if kind == "loguniform":
        if not 0 < low < high:
            raise SpaceError(f"{label}: loguniform bounds must satisfy 0 < low < high, got {arg!r}")
    elif kind == "pow2":
        bad = [v for v in (low, high) if not _is_pow2(v)]
        if bad:
            raise SpaceError(
                f"{label}: pow2 bounds must both be powers of two (1, 2, 4, 8, 16, ...), got {arg!r} "
                f"({', '.join(map(str, bad))} is not)"
            )
    if not low < high:
        raise SpaceError(
            f"{label}: {kind} bounds must satisfy low < high, got {arg!r} (for a single value write {{value: {low!r}}})"
        )
    if kind in ("uniform", "loguniform"):
        low, high = float(low), float(high)
    values = None
    if kind == "pow2":
        values = tuple(1 << e for e in range(low.bit_length() - 1, high.bit_length()))
    return Param(name, kind, values, low, high)
