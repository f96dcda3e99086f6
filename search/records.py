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
from typing import Any

__all__ = [
    "SWEEP_FILE",
    "TRIALS_FILE",
    "TrialRecord",
    "load_sweep_info",
    "load_records",
    "rank_records",
    "write_json_atomic",
    "data_source",
    "trial_path",
]

SWEEP_FILE = "sweep.json"
TRIALS_FILE = "trials.json"
FINAL_STATUSES = ("completed", "stopped", "error", "oom", "infeasible")


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


def write_json_atomic(path: str | os.PathLike, payload: Any) -> None:
    """Write JSON to ``path`` via a temporary file, so readers never see half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=_json_default))
    os.replace(tmp, path)


def _json_default(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


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
        if self.status == "stopped":
            return f"stopped early by ASHA at epoch {self.epochs}"
        if self.status == "completed" and self.history and self.history[-1].get("early_stopped"):
            return f"completed (early stopping at epoch {self.epochs})"
        if self.status in ("error", "oom") and self.error:
            return f"{self.status}: {first_error_line(self.error)}"
        if self.status == "infeasible" and self.note:
            return f"infeasible ({self.note})"
        return self.status

    def to_dict(self) -> dict:
        return asdict(self)


def first_error_line(text: str) -> str:
    """The most telling line of a traceback: its last non-empty line (the exception itself)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def load_sweep_info(run_dir: str | os.PathLike) -> dict:
    """``sweep.json`` of a run directory; FileNotFoundError that says what a run directory is."""
    path = Path(run_dir) / SWEEP_FILE
    if not path.exists():
        raise FileNotFoundError(
            f"{run_dir} is not a colorsweep run directory (no {SWEEP_FILE}); "
            "pass the folder `colorsweep run` printed, e.g. ./colorsweep-runs/<name>"
        )
    return json.loads(path.read_text())


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


def _epoch_rows(rows: list[dict]) -> list[dict]:
    """Keep one row per epoch (the latest, when a resumed trial reported an epoch twice)."""
    by_epoch: dict[int, dict] = {}
    for row in rows:
        if "epoch" not in row:
            continue
        by_epoch[int(row["epoch"])] = {k: v for k, v in row.items() if k not in _RESULT_KEYS_DROPPED}
    return [by_epoch[e] for e in sorted(by_epoch)]


def load_records(run_dir: str | os.PathLike) -> list[TrialRecord]:
    """All trial records of a run directory, with per-epoch histories read from Ray's trial folders."""
    run_dir = Path(run_dir)
    load_sweep_info(run_dir)
    trials_file = run_dir / TRIALS_FILE
    raw = json.loads(trials_file.read_text()) if trials_file.exists() else {}
    records = []
    for trial_id, entry in raw.items():
        record = TrialRecord(
            trial_id=trial_id,
            params=entry.get("params", {}),
            status=entry.get("status", "pending"),
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


def rank_records(records: list[TrialRecord], *, metric: str, mode: str) -> list[TrialRecord]:
    """Records ordered best first by their best epoch's ``metric``; trials without one go last."""
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    with_value = [r for r in records if r.best_value(metric, mode) is not None]
    without = [r for r in records if r.best_value(metric, mode) is None]
    with_value.sort(key=lambda r: r.best_value(metric, mode), reverse=(mode == "max"))
    return with_value + without
