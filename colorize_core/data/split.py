"""Assign each sample to train, validation or test by a SHA-1 hash of its key, never by the other samples.

A file's key is its path relative to its source root, so adding files never moves existing ones
(:func:`_assign_splits` says how empty splits are avoided).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

from colorize_core.errors import InvalidValueError

__all__ = ["DEFAULT_SPLIT"]

#: Train / validation / test fractions of the original study.
DEFAULT_SPLIT = (0.7, 0.15, 0.15)

_SPLIT_NAMES = ("train", "val", "test")


def _check_split(split: Any) -> tuple[float, float, float]:
    """``split`` as (train, val, test) fractions if each is >= 0, train > 0 and they sum to 1; else ValueError."""
    try:
        fractions = tuple(float(x) for x in split)
    except (TypeError, ValueError):
        fractions = ()
    if (
        len(fractions) != 3
        or not all(math.isfinite(x) and x >= 0 for x in fractions)
        or fractions[0] <= 0
        or abs(sum(fractions) - 1.0) > 1e-6
    ):
        raise InvalidValueError(
            "split must be three fractions (train, val, test), each >= 0, train > 0, summing to 1, "
            f"got {split!r}"
        )
    return fractions  # type: ignore[return-value]


def _hash_unit(key: str) -> float:
    """A stable number in [0, 1) from the SHA-1 of ``key`` (its first 8 bytes)."""
    return int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:8], "big") / 2.0**64


def _assign_splits(keys: Sequence[str], fractions: tuple[float, float, float]) -> list[int]:
    """Split index (0 train, 1 val, 2 test) per key.

    Each key's bucket ``u = sha1(key) ∈ [0, 1)`` falls in ``[0, f_train)`` → train,
    ``[f_train, f_train + f_val)`` → val, else test, so a key's split never depends on other keys.
    With 3 or more keys, every split with a positive fraction gets at least one key. In bucket order
    the splits are contiguous runs separated by two cuts, ``cut1`` (train|val) and ``cut2`` (val|test);
    ``cut1`` is clamped to ``[1, n - needed]`` and then ``cut2`` to ``[cut1 + need_val, n - need_test]``.
    In effect: an empty train takes the lowest-bucket key; an empty test takes the highest-bucket
    key; an empty val takes the next key in bucket order (the lowest-bucket test key, or the
    highest-bucket train key when test has only one). Only keys next to a cut move, and only while a
    split would otherwise be empty; once the hash split fills every split, nothing moves.
    """
    n = len(keys)
    units = [_hash_unit(k) for k in keys]
    f_train, f_val, f_test = fractions
    order = sorted(range(n), key=lambda i: (units[i], keys[i]))
    cut1 = sum(1 for u in units if u < f_train)
    cut2 = sum(1 for u in units if u < f_train + f_val) if f_test > 0 else n
    if n >= 3:
        need_val, need_test = int(f_val > 0), int(f_test > 0)
        cut1 = min(max(cut1, 1), n - need_val - need_test)
        cut2 = min(max(cut2, cut1 + need_val), n - need_test)
    assignment = [0] * n
    for rank, i in enumerate(order):
        assignment[i] = 0 if rank < cut1 else (1 if rank < cut2 else 2)
    return assignment
