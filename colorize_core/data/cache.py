"""The decoded-data cache: one uncompressed ``.npz`` per data fingerprint, written atomically.

The fingerprint (SHA-256 of the file list, the loading settings and :data:`CONVERSION_VERSION`) names
the cache file, so any change to the inputs or to the conversion makes a new one; an unreadable or
partial cache is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from colorize_core.files import write_atomic

__all__ = ["CONVERSION_VERSION", "default_cache_dir"]

#: Bump whenever decoding, cropping, resizing or the Lab conversion changes what a cache holds:
#: every cache fingerprint includes it, so old caches are ignored.
CONVERSION_VERSION = 1

_CACHE_PREFIX = "colorsweep-lab-"
_CACHE_KEYS = frozenset(
    {"fingerprint", "n_found", "skipped_paths", "skipped_reasons", "original_sizes"}
    | {f"{split}_{part}" for split in ("train", "val", "test") for part in ("lightness", "ab", "names")}
)


def default_cache_dir() -> Path:
    """``$COLORSWEEP_CACHE`` if set, else ``~/.cache/colorsweep``."""
    env = os.environ.get("COLORSWEEP_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "colorsweep"


def _fingerprint(payload: dict[str, Any]) -> str:
    """SHA-256 hex digest of ``payload`` as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _save_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as an uncompressed ``.npz`` at ``path`` atomically, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda handle: np.savez(handle, **arrays), binary=True)


def _load_cache(path: Path, fingerprint: str) -> dict[str, np.ndarray] | None:
    """The arrays of the cache at ``path`` if it is readable, complete and of ``fingerprint``; else None."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # unreadable or partial cache: rebuild it
    if str(arrays.get("fingerprint", np.array(""))) != fingerprint or not _CACHE_KEYS <= set(arrays):
        return None
    return arrays


def _names_array(names: Sequence[str]) -> np.ndarray:
    """``names`` as a numpy string array (an empty one when there are none), as the cache stores them."""
    return np.array(list(names), dtype=str) if names else np.zeros((0,), dtype="<U1")
