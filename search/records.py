"""Trial records: what a sweep did, as plain data readable without Ray, Optuna or Keras.

A run directory holds ``sweep.json`` (how the sweep was launched), ``trials.json`` (one record per
trial, kept up to date by the driver while the sweep runs) and Ray Tune's own trial folders, whose
``result.json`` has one line per reported epoch. :func:`load_records` joins them into
:class:`TrialRecord` objects, so a report works on a sweep that is running, was killed, or failed.

Statuses: ``running``, ``pending``, ``completed`` (ran to max epochs or stopped by its own early
stopping), ``stopped`` (stopped early by the ASHA scheduler), ``error`` (raised; ``error`` holds the
traceback), ``oom`` (ran out of memory), ``infeasible`` (never launched: does not fit the budget),
``interrupted`` (the driver died while it was running).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from colorize_core.errors import InvalidValueError
from search.memory import is_out_of_memory
from search.rundir import (FINAL_STATUSES, LIVE_STATUSES, SWEEP_FILE, TRIALS_FILE, TrialStatus, read_json_file,
                           read_trial_entries, write_json_atomic)
from search.sweep_info import SweepInfo

__all__ = [
    "SWEEP_FILE",
    "TRIALS_FILE",
    "SweepInfo",
    "TrialRecord",
    "load_sweep_info",
    "load_records",
    "rank_records",
    "write_json_atomic",
    "load_trial_entries",
    "driver_alive",
    "data_source",
    "trial_path",
    "trial_point",
    "objectives_of",
    "constraints_of",
    "meets_constraints",
]



def data_source(value: Any) -> Any:
    """What ``load_dataset`` takes for a data source as ``sweep.json`` records it: ``"demo"``, one
    path, or a list of paths (a recorded ``os.pathsep``-joined source is split again)."""
    if isinstance(value, (list, tuple)):
        return value[0] if len(value) == 1 else list(value)
    if isinstance(value, str) and value != "demo" and os.pathsep in value:
        return value.split(os.pathsep)
    return value


def trial_path(run_dir: str | os.PathLike, trial_dir: str | os.PathLike | None) -> Path | None:
    """A trial's folder from its recorded ``trial_dir`` (relative to the run directory, or absolute;
    an absolute one that is gone but sits in ``run_dir`` under its own name means the run directory
    was moved), or None when none was recorded."""
    if not trial_dir:
        return None
    run_dir, path = Path(run_dir), Path(trial_dir)
    if not path.is_absolute():
        return run_dir / path
    if not path.exists() and (run_dir / path.name).exists():
        return run_dir / path.name
    return path


@dataclass
class TrialRecord:
    """One trial: its hyperparameters, status, per-epoch validation metrics and where it lives."""

    trial_id: str
    params: dict
    status: str
    history: list[dict] = field(default_factory=list)
    error: str | None = None
    trial_dir: str | None = None
    node_id: str | None = None
    max_epochs: int | None = None
    params_count: int | None = None
    note: str | None = None
    retry_of: str | None = None

    @property
    def epochs(self) -> int:
        """Epochs trained (reported)."""
        return len(self.history)

    def best(self, metric: str, mode: str) -> dict | None:
        """The epoch record with the best finite ``metric`` value, or None."""
        rows = [r for r in self.history if _finite(r.get(metric))]
        if not rows:
            return None
        pick = min if mode == "min" else max
        return pick(rows, key=lambda r: r[metric])

    def best_value(self, metric: str, mode: str) -> float | None:
        row = self.best(metric, mode)
        return None if row is None else float(row[metric])

    @property
    def train_time_s(self) -> float:
        return float(self.history[-1].get("train_time_s", 0.0)) if self.history else 0.0

    def status_text(self) -> str:
        """Human status, e.g. ``stopped early by ASHA at epoch 2`` or ``error: ValueError: ...``."""
        if self.status == TrialStatus.STOPPED:
            if self.note == "time budget":
                return f"stopped at epoch {self.epochs}: the time budget ran out"
            return f"stopped early by ASHA at epoch {self.epochs}"
        if self.status == TrialStatus.COMPLETED and self.history and self.history[-1].get("early_stopped"):
            return f"completed (early stopping at epoch {self.epochs})"
        if self.status in (TrialStatus.ERROR, TrialStatus.OOM) and self.error:
            return f"{self.status}: {first_error_line(self.error)}"
        if self.status == TrialStatus.INFEASIBLE and self.note:
            return f"infeasible ({self.note})"
        if self.status == TrialStatus.INTERRUPTED:
            why = f"{self.note}; " if self.note else ""
            return f"interrupted at epoch {self.epochs} ({why}continues on resume)"
        return self.status

    def to_dict(self) -> dict:
        return asdict(self)


def first_error_line(text: str) -> str:
    """The most telling line of a traceback: its last non-empty line (the exception itself)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def load_sweep_info(run_dir: str | os.PathLike) -> SweepInfo:
    """``sweep.json`` of a run directory as a :class:`~search.sweep_info.SweepInfo` (:meth:`SweepInfo.load`:
    FileNotFoundError that says what a run directory is; ValueError for a damaged or newer file)."""
    return SweepInfo.load(run_dir)


def read_result_lines(result_file: Path) -> list[dict]:
    """Per-epoch results of a Ray trial folder's ``result.json`` (tolerates a torn last line)."""
    rows = []
    if not result_file.exists():
        return rows
    for line in result_file.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break  # the driver died while writing this line
    return rows


_RESULT_KEYS_DROPPED = {
    "config", "time_this_iter_s", "timestamp", "date", "pid", "hostname", "node_ip", "time_since_restore",
    "iterations_since_restore", "checkpoint_dir_name", "should_checkpoint", "done", "trial_id",
    "training_iteration", "time_total_s",
}


#: Set on a row a resumed trial reported again for an epoch it had finished before the driver was
#: killed (search.trainable): the epoch's first row stays; this one stands in only when that was lost.
REPORTED_AGAIN = "reported_again"


def _epoch_rows(rows: list[dict]) -> list[dict]:
    """Keep one row per epoch (the latest, when a resumed trial trained an epoch twice; the first, when
    the later one only reported a finished epoch again)."""
    by_epoch: dict[int, dict] = {}
    for row in rows:
        if "epoch" not in row:
            continue
        epoch = int(row["epoch"])
        if row.get(REPORTED_AGAIN) and epoch in by_epoch:
            continue
        by_epoch[epoch] = {k: v for k, v in row.items() if k not in _RESULT_KEYS_DROPPED and k != REPORTED_AGAIN}
    return [by_epoch[e] for e in sorted(by_epoch)]


def driver_alive(run_dir: str | os.PathLike) -> bool:
    """Whether a ``run`` / ``resume`` driver holds ``run_dir`` now (its lock names a living process).

    Reads the lock file only (never takes the lock): ``report`` stays read-only and lock-free.
    """
    import socket

    from search.rundir import LOCK_FILE

    try:
        holder = json.loads((Path(run_dir) / LOCK_FILE).read_text() or "{}")
    except (OSError, ValueError):
        return False
    pid = holder.get("pid")
    if not isinstance(pid, int):
        return False
    if holder.get("host") != socket.gethostname():
        return True  # another machine's process: cannot tell, assume it lives
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def load_trial_entries(run_dir: str | os.PathLike, *, notes: list[str] | None = None) -> dict[str, dict]:
    """``trials.json`` as a dict (with the newer records of its journal:
    :func:`search.rundir.read_trial_entries`); rebuilt from the trial folders when it is missing or
    unreadable.

    ``trials.json`` is derived data: each trial folder holds its parameters (``params.json``), its
    epochs (``result.json``) and any error (``error.txt``), and Ray's experiment state its status.
    A line saying it was rebuilt is appended to ``notes`` (if given).
    """
    run_dir = Path(run_dir)
    path = run_dir / TRIALS_FILE
    try:
        raw = read_trial_entries(run_dir)
        if isinstance(raw, dict):
            return raw
        problem = "is not a JSON object"
    except FileNotFoundError:
        problem = "is missing"
    except (OSError, ValueError) as exc:
        problem = f"is unreadable ({type(exc).__name__})"
    rebuilt = rebuild_trial_entries(run_dir)
    if rebuilt and notes is not None:
        notes.append(f"{path} {problem}: rebuilt {len(rebuilt)} trial record(s) from the trial folders")
    return rebuilt


def _ray_statuses(run_dir: Path) -> dict[str, str]:
    """Trial id -> Ray's status (TERMINATED, ERROR, RUNNING, ...) from the newest experiment state."""
    states = sorted(run_dir.glob("experiment_state-*.json"))
    out: dict[str, str] = {}
    for state in reversed(states):
        try:
            for entry in json.loads(state.read_text()).get("trial_data", []):
                trial = json.loads(entry[0])
                out.setdefault(str(trial["trial_id"]), str(trial.get("status")))
        except (OSError, ValueError, TypeError, KeyError, IndexError):
            continue
    return out


def rebuild_trial_entries(run_dir: str | os.PathLike) -> dict[str, dict]:
    """Trial records rebuilt from the ``trial_*`` folders and Ray's experiment state (no infeasible
    proposals: those never had a folder)."""
    run_dir = Path(run_dir)
    try:
        max_epochs = int(load_sweep_info(run_dir).max_epochs or 0)
    except (OSError, ValueError):
        max_epochs = 0
    ray_status = _ray_statuses(run_dir)
    entries: dict[str, dict] = {}
    for folder in sorted(run_dir.glob("trial_*")):
        if not folder.is_dir():
            continue
        trial_id = folder.name[len("trial_"):]
        try:
            config = json.loads((folder / "params.json").read_text())
        except (OSError, ValueError):
            config = {}
        rows = _epoch_rows(read_result_lines(folder / "result.json"))
        entry = {"params": {k: v for k, v in config.items() if k != "_memory"}, "trial_dir": folder.name,
                 "max_epochs": max_epochs or None, "epochs": len(rows)}
        if config.get("_memory"):
            entry["memory"] = config["_memory"]
        error_file = folder / "error.txt"
        finished = rows and (len(rows) >= max_epochs > 0 or rows[-1].get("early_stopped"))
        if error_file.exists():
            entry["error"] = error_file.read_text(errors="replace")
            entry["status"] = TrialStatus.OOM if is_out_of_memory(entry["error"]) else TrialStatus.ERROR
        elif finished:
            entry["status"] = TrialStatus.COMPLETED
        elif ray_status.get(trial_id) == "TERMINATED":
            entry["status"] = TrialStatus.STOPPED
        else:
            entry["status"] = TrialStatus.INTERRUPTED
        entries[trial_id] = entry
    return entries


def _status(text: str) -> TrialStatus | str:
    """A recorded status as a :class:`TrialStatus`; text this version does not know stays text."""
    try:
        return TrialStatus(text)
    except ValueError:
        return text


def load_records(run_dir: str | os.PathLike, *, notes: list[str] | None = None) -> list[TrialRecord]:
    """All trial records of a run directory, with per-epoch histories read from Ray's trial folders.

    A trial recorded as running while no driver holds the run directory is ``interrupted``.
    """
    run_dir = Path(run_dir)
    load_sweep_info(run_dir)
    raw = load_trial_entries(run_dir, notes=notes)
    orphaned = any(e.get("status") in LIVE_STATUSES for e in raw.values()) and not driver_alive(run_dir)
    records = []
    for trial_id, entry in raw.items():
        record = TrialRecord(
            trial_id=trial_id,
            params=entry.get("params", {}),
            status=(TrialStatus.INTERRUPTED if orphaned and entry.get("status", "pending") in LIVE_STATUSES
                    else _status(entry.get("status", "pending"))),
            error=entry.get("error"),
            trial_dir=entry.get("trial_dir"),
            node_id=entry.get("node_id"),
            max_epochs=entry.get("max_epochs"),
            params_count=entry.get("params_count"),
            note=entry.get("note"),
            retry_of=entry.get("retry_of"),
        )
        folder = trial_path(run_dir, record.trial_dir)
        if folder is not None:
            rows = read_result_lines(folder / "result.json")
            record.history = _epoch_rows(rows)
            if rows:
                record.node_id = record.node_id or rows[-1].get("node_id")
                record.params_count = record.params_count or rows[-1].get("params")
            if record.error is None and (folder / "error.txt").exists():
                record.error = (folder / "error.txt").read_text()
        records.append(record)
    return records


def objectives_of(info: SweepInfo) -> list[Any]:
    """The objectives ``sweep.json`` records (a one-metric sweep records only ``metric``/``mode``)."""
    from spaces.objectives import Objective

    if info.objectives:
        return [Objective(str(o["metric"]), str(o["mode"])) for o in info.objectives]
    from colorize_core.metrics import metric_mode

    metric = info.metric or "delta_e"
    return [Objective(metric, info.mode or metric_mode(metric))]


def constraints_of(info: SweepInfo) -> list[Any]:
    """The constraints ``sweep.json`` records (none for most sweeps)."""
    from spaces.objectives import parse_constraints

    return parse_constraints(info.constraints)


def trial_point(record: TrialRecord, metric: str, mode: str) -> dict[str, Any]:
    """A trial's values at its best epoch on ``metric`` (every metric, and its resources:
    :func:`spaces.objectives.trial_values`); ``{}`` when no epoch has a finite ``metric``."""
    from spaces.objectives import trial_values

    best = record.best(metric, mode)
    return trial_values(record.history, best.get("epoch")) if best is not None else {}


def meets_constraints(record: TrialRecord, constraints: Sequence[Any], *, metric: str, mode: str) -> bool:
    """Whether the trial, at its best epoch on ``metric``, satisfies every constraint (True when
    there are none)."""
    from spaces.objectives import is_feasible

    return not constraints or is_feasible(trial_point(record, metric, mode), constraints)


def rank_records(records: list[TrialRecord], *, metric: str, mode: str,
                 constraints: Sequence[Any] = ()) -> list[TrialRecord]:
    """Records ordered best first by their best epoch's ``metric``; with ``constraints``
    (:class:`spaces.objectives.Constraint`), the trials that violate one come after every trial that
    meets them all (never ranked best); trials without a value go last."""
    if mode not in ("min", "max"):
        raise InvalidValueError(f"mode must be 'min' or 'max', got {mode!r}")
    with_value = [r for r in records if r.best_value(metric, mode) is not None]
    without = [r for r in records if r.best_value(metric, mode) is None]
    with_value.sort(key=lambda r: r.best_value(metric, mode), reverse=(mode == "max"))
    if constraints:
        meets = {id(r): meets_constraints(r, constraints, metric=metric, mode=mode) for r in with_value}
        with_value = [r for r in with_value if meets[id(r)]] + [r for r in with_value if not meets[id(r)]]
    return with_value + without
