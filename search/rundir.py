"""A run directory that loses nothing: names kept inside storage, one writer at a time, atomic JSON.

* :func:`run_dir_for` turns ``--storage`` and ``--name`` into a run directory and refuses any name
  that could point elsewhere (``..``, ``.``, absolute paths, a symlink leading out of storage).
* :class:`RunLock` is an OS file lock (``flock``) on ``RUN_DIR/.colorsweep.lock``, held by the driver
  for the whole ``run`` / ``resume``. The kernel drops it when its process dies (``kill -9``, a
  reboot), so a stale lock never blocks a later ``resume``; a live holder is named (pid, host, start).
* :func:`write_json_atomic` is the one way the project writes a JSON file: a temporary file in the
  same folder, fsync, rename. Readers see the old file or the new one, never half of one, and no
  temporary file is left behind, also when the disk is full.
* :class:`TrialLedger` is the driver's record of every trial and the one writer of ``trials.json``:
  the monitor (a Ray callback) and the memory searcher share it in memory.
* The names of the files a run directory holds (:data:`SWEEP_FILE`, :data:`TRIALS_FILE`,
  :data:`BASELINES_FILE`, :data:`LOCK_FILE`), a trial's statuses (:class:`TrialStatus`), and the
  readers every module shares: :func:`read_json_file`, :func:`load_baselines`, :func:`newest_checkpoint`,
  :func:`resolve_metric`. What ``sweep.json`` holds is :class:`search.sweep_info.SweepInfo`.
* :func:`check_trusted` refuses to unpickle Ray's experiment state from a folder that someone else
  could have written (a run folder is code: Ray pickles its state).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import socket
import stat
import time
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any

from colorize_core.errors import ColorsweepError, InvalidValueError
from colorize_core.files import write_atomic

__all__ = [
    "LOCK_FILE",
    "SWEEP_FILE",
    "TRIALS_FILE",
    "BASELINES_FILE",
    "TrialStatus",
    "TrialLedger",
    "FINAL_STATUSES",
    "LIVE_STATUSES",
    "FAILED_STATUSES",
    "load_baselines",
    "newest_checkpoint",
    "resolve_metric",
    "RunLock",
    "RunLockedError",
    "run_dir_for",
    "validate_run_name",
    "write_json_atomic",
    "write_text_atomic",
    "read_json_file",
    "is_run_dir",
    "clear_run_dir",
    "check_trusted",
    "disk_full_message",
    "is_disk_full_error",
    "is_disk_full_text",
]

#: The run directory's files: the lock the driver holds, how the sweep was launched, one record per
#: trial (kept up to date by the driver), and the baselines' validation metrics.
LOCK_FILE = ".colorsweep.lock"
SWEEP_FILE = "sweep.json"
TRIALS_FILE = "trials.json"
BASELINES_FILE = "baselines.json"


class TrialStatus(StrEnum):
    """What became of a trial, as ``trials.json`` and the report write it (members are strings)."""

    PENDING = "pending"          #: proposed, not started
    RUNNING = "running"          #: training now
    COMPLETED = "completed"      #: ran to max epochs, or stopped by its own early stopping
    STOPPED = "stopped"          #: stopped early by the ASHA scheduler
    INTERRUPTED = "interrupted"  #: the driver died while it ran (``resume`` runs it again)
    ERROR = "error"              #: raised; the record holds the traceback
    OOM = "oom"                  #: ran out of accelerator memory
    INFEASIBLE = "infeasible"    #: never launched: does not fit the memory budget
    ABANDONED = "abandoned"      #: started, but killed before Ray saved it: a new trial took its place


#: Statuses a trial ends in; a trial in one of them is not run again.
FINAL_STATUSES = frozenset({TrialStatus.COMPLETED, TrialStatus.STOPPED, TrialStatus.ERROR, TrialStatus.OOM,
                            TrialStatus.INFEASIBLE})
#: Statuses of a trial whose training may still go on (a driver holds the run directory).
LIVE_STATUSES = frozenset({TrialStatus.RUNNING, TrialStatus.PENDING})
#: Statuses of a trial that failed while training.
FAILED_STATUSES = frozenset({TrialStatus.ERROR, TrialStatus.OOM})


class RunLockedError(ColorsweepError, RuntimeError):
    """Another live ``colorsweep run`` / ``resume`` holds the run directory."""


def validate_run_name(name: str) -> PurePosixPath:
    """``--name`` as a relative path of plain components (``a`` or ``team/a``); ValueError otherwise."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidValueError("--name must be a non-empty folder name, e.g. --name my-sweep")
    if "\x00" in name:
        raise InvalidValueError(f"--name {name!r} contains a NUL character; choose a plain folder name")
    path = PurePosixPath(name)
    if path.is_absolute() or name.startswith("~"):
        raise InvalidValueError(
            f"--name {name!r} is an absolute path; --name is a folder inside --storage. "
            f"To put the run elsewhere use --storage DIR --name NAME"
        )
    bad = [part for part in name.split("/") if part in ("", ".", "..")]
    if bad:
        raise InvalidValueError(
            f"--name {name!r} has {'an empty' if not bad[0] else repr(bad[0]) + ' as a'} component; --name is one or more plain folder names "
            f"inside --storage (no '.', '..' or empty parts)"
        )
    return path


def run_dir_for(storage: str | os.PathLike, name: str) -> Path:
    """The run directory ``storage/name``, checked to stay inside ``storage`` (symlinks resolved)."""
    storage = Path(storage).expanduser().resolve()
    run_dir = storage / validate_run_name(name)
    resolved = run_dir.resolve()
    if not resolved.is_relative_to(storage):
        raise InvalidValueError(f"--name {name!r} leads outside --storage {storage} (through a symbolic link to "
                                f"{resolved}); choose another name")
    return run_dir


def is_run_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a colorsweep run directory (it holds ``sweep.json``)."""
    return (Path(path) / SWEEP_FILE).is_file()


def clear_run_dir(run_dir: Path) -> None:
    """Delete the contents of a colorsweep run directory, keeping its lock file (the caller holds it)."""
    if not is_run_dir(run_dir):
        raise InvalidValueError(f"{run_dir} is not a colorsweep run directory (no {SWEEP_FILE}); --overwrite only "
                                f"replaces runs colorsweep made. Move or delete that folder yourself, or choose another --name")
    for child in run_dir.iterdir():
        if child.name == LOCK_FILE:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


class RunLock:
    """An exclusive, non-blocking OS lock on a run directory for one driver process.

    ``acquire()`` creates the folder if needed; a second holder gets :class:`RunLockedError` naming
    the first (pid, host, start time, command). The lock file stays; the lock itself goes with the
    process (flock semantics; also on NFS, where Linux maps it to a POSIX lock).
    """

    def __init__(self, run_dir: str | os.PathLike, *, command: str = ""):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self.command = command
        self.fd: int | None = None
        self.created_dir = False

    def acquire(self) -> "RunLock":
        if not self.run_dir.exists():
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.created_dir = True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise RunLockedError(
                f"{self.run_dir} is in use by another colorsweep ({describe_holder(self.path)}); a second run or "
                f"resume would mix their trials. Wait for it to end or stop it; `colorsweep report` works meanwhile"
            ) from None
        holder = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": self.command}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.ftruncate(self.fd, 0)
        except OSError:
            pass
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None

    def discard(self) -> None:
        """Release, and remove the folder again when this lock created it and nothing else was written."""
        self.release()
        if self.created_dir:
            try:
                self.path.unlink()
                self.run_dir.rmdir()
            except OSError:
                pass

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def describe_holder(lock_path: Path) -> str:
    """``pid 123 on host h since 2026-...: colorsweep run ...`` from a lock file (best effort)."""
    try:
        holder = json.loads(lock_path.read_text() or "{}")
    except (OSError, ValueError):
        holder = {}
    if not holder:
        return "holder unknown"
    text = f"pid {holder.get('pid')} on host {holder.get('host')} since {holder.get('started')}"
    return text + (f": {holder['command']}" if holder.get("command") else "")


def write_json_atomic(path: str | os.PathLike, payload: Any) -> None:
    """Write JSON to ``path`` atomically (see :func:`write_text_atomic`)."""
    write_text_atomic(path, json.dumps(payload, indent=1, default=_json_default))


def read_json_file(path: str | os.PathLike, what: str) -> Any:
    """A JSON file of the run directory; ValueError naming the file when it is unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidValueError(f"{path} ({what}) is damaged ({type(exc).__name__}: {exc}); restore it from a backup, "
                                f"or start the sweep again with `colorsweep run`") from None


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write text to ``path`` atomically: temporary file in the same folder, fsync, rename.

    On any failure (a full disk included) the temporary file is removed and the old ``path`` is intact.
    """
    write_atomic(path, lambda handle: handle.write(text))


def _json_default(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


_DISK_FULL_TEXT = ("No space left on device", "ENOSPC", "Disk quota exceeded")


def is_disk_full_text(text: str) -> bool:
    """Whether an error text (e.g. a trial's traceback) says the disk (or the quota) was full."""
    return any(marker in text for marker in _DISK_FULL_TEXT)


def is_disk_full_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a full disk or an exceeded quota (ENOSPC, EDQUOT)."""
    return isinstance(exc, OSError) and (exc.errno in (errno.ENOSPC, errno.EDQUOT) or is_disk_full_text(str(exc)))


def disk_full_message(path: str | os.PathLike) -> str:
    """One line for a full disk: the folder, its free space, and how to go on."""
    path = Path(path)
    probe = path if path.exists() else path.parent
    try:
        free = shutil.disk_usage(probe).free
        free_text = f"{free / 2**20:.1f} MiB free"
    except OSError:
        free_text = "free space unknown"
    return (f"the disk holding {path} is full ({free_text}); the finished trials are safe. Free some space, then "
            f"continue with `colorsweep resume {path}`")


# Files that Ray unpickles when a sweep is resumed (its experiment state and searcher state).
_PICKLE_GLOBS = ("*.pkl", "*/*.pkl", "experiment_state-*.json")


def check_trusted(run_dir: str | os.PathLike) -> None:
    """Refuse to resume from pickles that another user could have written (like ssh with its keys).

    Ray Tune's experiment state (``*.pkl``) runs code when it is loaded. Each pickle and the folders
    holding it must belong to the current user (or root) and not be writable by group or others.
    """
    run_dir = Path(run_dir)
    me = os.geteuid()
    checked: set[Path] = set()
    for pattern in _PICKLE_GLOBS:
        for path in sorted(run_dir.glob(pattern)):
            for item in [path, *[p for p in path.parents if p.is_relative_to(run_dir)]]:
                if item in checked:
                    continue
                checked.add(item)
                info = item.stat()
                if info.st_uid not in (me, 0):
                    raise PermissionError(
                        f"{item} belongs to another user (uid {info.st_uid}); Ray runs the code in a run folder's "
                        f"pickles when resuming, so colorsweep resumes only folders you own. Copy the run folder "
                        f"(cp -r) after checking it, or resume as its owner")
                if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                    raise PermissionError(
                        f"{item} is writable by other users; Ray runs the code in a run folder's pickles when "
                        f"resuming, so anyone who can write it could run code as you. If you trust it, fix with: "
                        f"chmod go-w {item}")


class TrialLedger:
    """The driver's record of every trial of one run (``trials.json``): params, status, epochs, error.

    The driver opens it (:meth:`open`) when a sweep starts or resumes; the monitor (a Ray callback)
    records what Ray reports, the memory searcher records configurations it never launches and reads
    how a failed trial ended (``oom`` or ``error``) from the same object, in memory. It is the one
    writer of ``trials.json`` (:meth:`save`, atomic). Neither user pickles it: both find it again by
    run directory (:meth:`for_run`), also after Ray restores them on ``resume``.
    """

    _open: dict[Path, "TrialLedger"] = {}  # this process's ledgers by resolved run directory

    def __init__(self, run_dir: str | os.PathLike, entries: dict[str, dict] | None = None):
        self.run_dir = Path(run_dir)
        self.entries: dict[str, dict] = dict(entries or {})

    @classmethod
    def open(cls, run_dir: str | os.PathLike, entries: dict[str, dict] | None = None) -> "TrialLedger":
        """Start this process's ledger of ``run_dir`` with ``entries`` (a new sweep: none; a resumed
        one: the records read back, :func:`search.records.load_trial_entries`). Nothing is written."""
        ledger = cls(run_dir, entries)
        cls._open[Path(run_dir).resolve()] = ledger
        return ledger

    @classmethod
    def for_run(cls, run_dir: str | os.PathLike) -> "TrialLedger":
        """This process's ledger of ``run_dir``; opened from ``trials.json`` when none is open yet (a
        monitor or searcher used on its own)."""
        ledger = cls._open.get(Path(run_dir).resolve())
        if ledger is None:
            path = Path(run_dir) / TRIALS_FILE
            try:
                entries = json.loads(path.read_text()) if path.is_file() else {}
            except (OSError, ValueError):
                entries = {}
            ledger = cls.open(run_dir, entries if isinstance(entries, dict) else {})
        return ledger

    def entry(self, trial_id: str, **defaults: Any) -> dict:
        """The record of ``trial_id``, created with ``defaults`` when it has none yet."""
        return self.entries.setdefault(trial_id, dict(defaults))

    def status(self, trial_id: str) -> str | None:
        """What became of ``trial_id`` so far (a :class:`TrialStatus` value), None if not recorded."""
        return self.entries.get(trial_id, {}).get("status")

    def add(self, entries: dict[str, dict]) -> None:
        """Record whole entries (e.g. configurations never launched) and save."""
        self.entries.update(entries)
        self.save()

    def save(self) -> None:
        """Write ``trials.json`` atomically (OSError, e.g. a full disk, is the caller's to handle)."""
        write_json_atomic(self.run_dir / TRIALS_FILE, self.entries)


def load_baselines(run_dir: str | os.PathLike) -> dict[str, dict[str, float]]:
    """The baselines' validation metrics (``{"gray": {...}, "train_mean": {...}}``) a sweep recorded in
    ``baselines.json``; ``{}`` when the file is missing (a sweep killed before writing it)."""
    path = Path(run_dir) / BASELINES_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def newest_checkpoint(trial_dir: str | os.PathLike | None) -> Path | None:
    """A trial folder's newest ``checkpoint_*`` folder that holds its best epoch's model
    (:data:`colorize_core.train.BEST_MODEL`); None if none."""
    from colorize_core.train import BEST_MODEL

    if trial_dir is None or not Path(trial_dir).is_dir():
        return None
    found = sorted(p for p in Path(trial_dir).glob("checkpoint_*") if (p / BEST_MODEL).is_file())
    return found[-1] if found else None


def resolve_metric(info: "SweepInfo", metric: str | None) -> tuple[str, str]:
    """The metric that ranks trials and its direction: ``metric`` if given (ValueError naming the known
    metrics when unknown), else the sweep's; the sweep's recorded mode when it is the sweep's metric.
    ``info`` is the run's :class:`search.sweep_info.SweepInfo`."""
    from colorize_core.metrics import metric_mode

    metric = metric or info.metric or "delta_e"
    mode = metric_mode(metric)
    if metric == info.metric and info.mode in ("min", "max"):
        mode = info.mode
    return metric, mode
