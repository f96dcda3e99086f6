"""Files that are whole or absent: the one atomic writer of the project (data cache, run directories).

Readers see the old file, no file, or the complete new one; never half of one, also when the disk
fills or the process dies mid-write. Used by :mod:`colorize_core.data` (the decoded-data cache) and
:mod:`search.rundir` (every JSON and text file of a run directory).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = ["write_atomic"]


def write_atomic(path: str | os.PathLike, write: Callable[[IO], None], *, binary: bool = False,
                 mode: int = 0o644) -> None:
    """Call ``write(handle)`` on a temporary file in ``path``'s folder, fsync it, give it ``mode``
    and rename it to ``path``. On any failure the temporary file is removed and ``path`` is untouched."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
