"""Files that are whole or absent: the one atomic writer of the project (data cache, run directories).

Readers see the old file, no file, or the complete new one; never half of one, also when the disk
fills or the process dies mid-write. Used by :mod:`colorize_core.data` (the decoded-data cache),
:mod:`colorize_core.predict` (colorized photos) and :mod:`search.rundir` (every JSON and text file of a
run directory). A process killed outright leaves a hidden temporary file that names it;
:func:`remove_stale_temporaries` clears those (``colorsweep colorize`` does, in its output folders).
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = ["write_atomic", "remove_stale_temporaries"]

_HOST = re.sub(r"[^A-Za-z0-9]", "-", socket.gethostname().split(".")[0])[:40] or "host"
_TEMP_NAME = re.compile(r"^\..+\.(?P<host>[A-Za-z0-9-]+)-(?P<pid>\d+)\.tmp$")


def write_atomic(path: str | os.PathLike, write: Callable[[IO], None], *, binary: bool = False,
                 mode: int = 0o644) -> None:
    """Call ``write(handle)`` on a temporary file in ``path``'s folder, fsync it, give it ``mode``
    and rename it to ``path``. On any failure the temporary file is removed and ``path`` is untouched.

    The temporary file is hidden and names its writer: ``.NAME.RANDOM.HOST-PID.tmp``. Only a process
    killed outright (kill -9, power loss) leaves one behind; :func:`remove_stale_temporaries` finds
    and removes those."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".{_HOST}-{os.getpid()}.tmp", dir=path.parent)
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


def _pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (one we may not signal counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return pid > 0
    return True


def remove_stale_temporaries(folder: str | os.PathLike, *, recursive: bool = False) -> list[Path]:
    """Remove, from ``folder`` (and its sub-folders with ``recursive``), the temporary files that
    :func:`write_atomic` calls of processes killed outright left behind: those written on this machine
    by a process id that no longer runs. A temporary file of a running writer, or of another machine
    sharing the folder, is left alone. Returns the paths removed; a folder that does not exist or
    cannot be read gives []."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        try:
            if recursive and entry.is_dir(follow_symlinks=False):
                removed += remove_stale_temporaries(entry.path, recursive=True)
                continue
            match = _TEMP_NAME.match(entry.name)
            if match is None or match["host"] != _HOST or _pid_alive(int(match["pid"])):
                continue
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            pass
    return removed
