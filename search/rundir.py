"""A run directory that loses nothing: names kept inside storage, one writer at a time, atomic JSON.

* :func:`run_dir_for` turns ``--storage`` and ``--name`` into a run directory and refuses any name
  that could point elsewhere (``..``, ``.``, absolute paths, a symlink leading out of storage).
* :class:`RunLock` is an OS file lock (``flock``) on ``RUN_DIR/.colorsweep.lock``, held by the driver
  for the whole ``run`` / ``resume``. The kernel drops it when its process dies (``kill -9``, a
  reboot), so a stale lock never blocks a later ``resume``; a live holder is named (pid, host, start).
* :func:`write_json_atomic` is the one way the project writes a JSON file: a temporary file in the
  same folder, fsync, rename. Readers see the old file or the new one, never half of one, and no
  temporary file is left behind, also when the disk is full.
* :class:`TrialLedger` is the driver's record of every trial and the one writer of ``trials.json``
  and of its journal (``trials.journal.jsonl``, the changes since ``trials.json`` was last written
  whole): the monitor (a Ray callback) and the memory searcher share it in memory.
  :func:`read_trial_entries` reads the two back.
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
import zlib
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any

from colorize_core.errors import ColorsweepError, InvalidValueError
from colorize_core.files import write_atomic

__all__ = [
    "LOCK_FILE",
    "SWEEP_FILE",
    "TRIALS_FILE",
    "TRIALS_JOURNAL_FILE",
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
    "read_trial_entries",
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
#: The trial records changed since ``trials.json`` was last written whole: one JSON line each, after
#: a first line naming that ``trials.json`` (:class:`TrialLedger`, :func:`read_trial_entries`).
TRIALS_JOURNAL_FILE = "trials.journal.jsonl"


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
    write_text_atomic(path, json_text(payload))


def json_text(payload: Any) -> str:
    """``payload`` as the project's JSON files hold it (indented by one, ASCII only, numpy numbers as
    floats): what :func:`write_json_atomic` writes."""
    return json.dumps(payload, indent=1, default=_json_default)


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
    writer of ``trials.json`` and of its journal. Neither user pickles it: both find it again by run
    directory (:meth:`for_run`), also after Ray restores them on ``resume``.

    Writing stays linear in the number of trials. Rewriting the whole ``trials.json`` after every
    epoch of every trial would cost O(trials) per event, O(trials²) per sweep (at 1,000 trials, a
    500 KiB file rewritten and fsynced thousands of times). So a changed record is appended to
    ``trials.journal.jsonl`` (:meth:`save_entry`, one line, O(1)), fsynced at once when the trial's
    status changed (started, ended, failed: never lost, also not to a power cut) and at most a second
    later otherwise; a ``kill -9`` of the driver loses nothing that was appended. ``trials.json`` is
    written whole (:meth:`save`, atomically) on the first change, when the journal has grown as large
    as it, at most every :attr:`SNAPSHOT_INTERVAL_S` seconds while changes come in (and never taking
    more than :attr:`SNAPSHOT_SHARE` of the time), and at the end of the sweep; the journal then
    starts again. Readers take ``trials.json`` with the journal's lines applied
    (:func:`read_trial_entries`).
    """

    #: Least seconds between two whole writes of ``trials.json`` while changes come in.
    SNAPSHOT_INTERVAL_S = 5.0
    #: Largest share of the driver's time spent rewriting ``trials.json`` (the interval grows with its cost).
    SNAPSHOT_SHARE = 0.02
    #: The journal is folded into ``trials.json`` once it is larger than this and than ``trials.json``.
    JOURNAL_MIN_BYTES = 256 * 1024
    #: Most seconds a journal line of a change other than a status change waits for its fsync.
    SYNC_INTERVAL_S = 1.0

    _open: dict[Path, "TrialLedger"] = {}  # this process's ledgers by resolved run directory

    def __init__(self, run_dir: str | os.PathLike, entries: dict[str, dict] | None = None):
        self.run_dir = Path(run_dir)
        self.entries: dict[str, dict] = dict(entries or {})
        self.snapshots = 0                      # whole writes of trials.json by this ledger
        self.appends = 0                        # journal lines written by this ledger
        self._snapshot: tuple[int, int] | None = None  # (CRC-32, bytes) of the trials.json this ledger wrote
        self._snapshot_at = 0.0                 # time.monotonic() of that write
        self._snapshot_cost_s = 0.0             # seconds it took
        self._journal_fd: int | None = None
        self._journal_bytes = 0                 # bytes in the journal now (its first line included)
        self._unsynced_since: float | None = None  # time.monotonic() of the oldest journal line not fsynced
        self._status_of: dict[str, Any] = {}     # each record's status when it was last saved
        self._with_status: dict[Any, dict[str, None]] = {}  # status -> ids (ordered) as last saved
        self._reindex()

    @classmethod
    def open(cls, run_dir: str | os.PathLike, entries: dict[str, dict] | None = None) -> "TrialLedger":
        """Start this process's ledger of ``run_dir`` with ``entries`` (a new sweep: none; a resumed
        one: the records read back, :func:`search.records.load_trial_entries`). Nothing is written."""
        ledger = cls(run_dir, entries)
        previous = cls._open.get(Path(run_dir).resolve())
        if previous is not None:
            previous._close_journal()
        cls._open[Path(run_dir).resolve()] = ledger
        return ledger

    @classmethod
    def for_run(cls, run_dir: str | os.PathLike) -> "TrialLedger":
        """This process's ledger of ``run_dir``; opened from ``trials.json`` (and its journal) when none
        is open yet (a monitor or searcher used on its own)."""
        ledger = cls._open.get(Path(run_dir).resolve())
        if ledger is None:
            try:
                entries = read_trial_entries(run_dir)
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

    def count(self, status: str) -> int:
        """How many records had ``status`` when they were last saved (O(1): the progress line asks at
        every event)."""
        return len(self._with_status.get(status, ()))

    def ids_with(self, status: str) -> list[str]:
        """The ids of the records that had ``status`` when they were last saved (in the order they got it)."""
        return list(self._with_status.get(status, ()))

    def add(self, entries: dict[str, dict]) -> None:
        """Record whole entries (e.g. configurations never launched) and save them (as status changes)."""
        self.entries.update(entries)
        for trial_id in entries:
            self.save_entry(trial_id, status_changed=True)

    def save(self) -> None:
        """Write the whole ``trials.json`` now, atomically, and start the journal again (OSError, e.g.
        a full disk, is the caller's to handle; the old file and journal are then intact)."""
        t0 = time.monotonic()
        text = json_text(self.entries)
        write_text_atomic(self.run_dir / TRIALS_FILE, text)
        encoded = text.encode("utf-8")
        self._snapshot = (zlib.crc32(encoded), len(encoded))
        self._reindex()
        self.snapshots += 1
        self._close_journal()
        try:  # its lines are all in trials.json now (and a reader ignores a journal of an older one)
            (self.run_dir / TRIALS_JOURNAL_FILE).unlink()
        except FileNotFoundError:
            pass
        self._journal_bytes = 0
        self._snapshot_at = time.monotonic()
        self._snapshot_cost_s = self._snapshot_at - t0

    def save_entry(self, trial_id: str, *, status_changed: bool = True) -> None:
        """Make the record of ``trial_id`` as it is in memory durable: one journal line (fsynced now
        when ``status_changed``, else within :attr:`SYNC_INTERVAL_S`), or the whole ``trials.json``
        when it is due (the first write, a journal as large as it, :attr:`SNAPSHOT_INTERVAL_S`
        passed). OSError (a full disk) is the caller's to handle; nothing half-written stays."""
        if self._snapshot is None or self._snapshot_due(time.monotonic()):
            self.save()
            return
        self._index(trial_id)
        line = json.dumps({"trial_id": trial_id, "entry": self.entries.get(trial_id)}, default=_json_default) + "\n"
        self._append(line.encode("utf-8"), sync=status_changed)

    def flush(self, *, final: bool = False) -> None:
        """What is due now: the whole ``trials.json`` when its interval has passed and the journal holds
        changes (or always with ``final``), else an fsync of journal lines waiting longer than
        :attr:`SYNC_INTERVAL_S`. The monitor calls it at every step of Ray's loop; cheap when nothing is due."""
        now = time.monotonic()
        if final or (self._journal_bytes and self._snapshot_due(now)):
            self.save()
        elif self._unsynced_since is not None and now - self._unsynced_since >= self.SYNC_INTERVAL_S:
            os.fsync(self._journal_fd)
            self._unsynced_since = None

    # -- internals -----------------------------------------------------------------------------
    def _index(self, trial_id: str) -> None:
        """Move ``trial_id`` to the bucket of its status now (O(1))."""
        new = (self.entries.get(trial_id) or {}).get("status")
        old = self._status_of.get(trial_id)
        if trial_id in self._status_of and old == new:
            return
        if trial_id in self._status_of:
            self._with_status.get(old, {}).pop(trial_id, None)
        self._status_of[trial_id] = new
        self._with_status.setdefault(new, {})[trial_id] = None

    def _reindex(self) -> None:
        """Every record's status, from scratch (O(trials): with each whole write only)."""
        self._status_of, self._with_status = {}, {}
        for trial_id in self.entries:
            self._index(trial_id)

    def _snapshot_due(self, now: float) -> bool:
        """Whether the journal should be folded into a new ``trials.json``: it is as large as
        ``trials.json`` (the rewrite then costs O(1) per journal line), or it holds changes and the
        interval since the last rewrite (at least :attr:`SNAPSHOT_INTERVAL_S`, longer when a rewrite
        is slow) has passed."""
        if not self._journal_bytes:
            return False
        if self._journal_bytes > max(self.JOURNAL_MIN_BYTES, self._snapshot[1] if self._snapshot else 0):
            return True
        interval = max(self.SNAPSHOT_INTERVAL_S, self._snapshot_cost_s / self.SNAPSHOT_SHARE)
        return now - self._snapshot_at >= interval

    def _append(self, data: bytes, *, sync: bool) -> None:
        """Append one journal line (the journal is created, with its first line naming the
        ``trials.json`` it follows, when needed); a failed write is cut off again."""
        if self._journal_fd is None:
            fd = os.open(self.run_dir / TRIALS_JOURNAL_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
            self._journal_fd, self._journal_bytes = fd, 0
            crc, size = self._snapshot
            header = json.dumps({"journal_of": TRIALS_FILE, "crc32": crc, "bytes": size}) + "\n"
            self._write_all(header.encode("utf-8"))
        self._write_all(data)
        self.appends += 1
        if sync:
            os.fsync(self._journal_fd)
            self._unsynced_since = None
        elif self._unsynced_since is None:
            self._unsynced_since = time.monotonic()

    def _write_all(self, data: bytes) -> None:
        """Write ``data`` at the journal's end; on failure (a full disk) truncate back to the last whole line."""
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._journal_fd, view):]
        except OSError:
            try:
                os.ftruncate(self._journal_fd, self._journal_bytes)
            except OSError:
                pass
            raise
        self._journal_bytes += len(data)

    def _close_journal(self) -> None:
        if self._journal_fd is not None:
            try:
                os.close(self._journal_fd)
            except OSError:
                pass
            self._journal_fd = None
            self._unsynced_since = None


def read_trial_entries(run_dir: str | os.PathLike) -> Any:
    """The trial records of ``run_dir``: ``trials.json`` (parsed JSON, normally a dict of trial id →
    record) with the newer records of its journal applied when the journal follows this very
    ``trials.json`` (its first line names the file's CRC-32 and size: a journal left from an older
    ``trials.json`` is ignored; a torn last line is dropped). FileNotFoundError when ``trials.json``
    is missing, ValueError when it is damaged."""
    run_dir = Path(run_dir)
    raw = (run_dir / TRIALS_FILE).read_bytes()
    entries = json.loads(raw)
    if isinstance(entries, dict):
        entries.update(_journal_records(run_dir / TRIALS_JOURNAL_FILE, zlib.crc32(raw), len(raw)))
    return entries


def _journal_records(path: Path, crc: int, size: int) -> dict[str, dict]:
    """The records of a journal that follows the ``trials.json`` with ``crc`` and ``size``, in order
    (a later line of a trial replaces an earlier one); {} when there is none or it follows another."""
    try:
        lines = path.read_bytes().split(b"\n")
    except (FileNotFoundError, NotADirectoryError):
        return {}
    try:
        header = json.loads(lines[0])
    except ValueError:
        return {}
    if not isinstance(header, dict) or header.get("crc32") != crc or header.get("bytes") != size:
        return {}
    records: dict[str, dict] = {}
    for line in lines[1:]:
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            break  # the last line, cut short by a crash
        if isinstance(item, dict) and isinstance(item.get("entry"), dict):
            records[str(item["trial_id"])] = item["entry"]
    return records


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
