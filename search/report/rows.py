"""The report's data: its columns, one row per trial, and the ``_Report`` that every part fills in.

Also the names of what the report writes (:data:`REPORT_DIR`, :data:`FORMATS`, :data:`FIGURES`, ...)
and the checks of ``write_report``'s arguments that need nothing but ``sweep.json``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from colorize_core.errors import InvalidValueError
from colorize_core import metrics as metric_defs
from search.records import TrialRecord, first_error_line
from search.rundir import BASELINES_FILE, TrialStatus
from search.sweep_info import SweepInfo

REPORT_DIR = "report"
"""Folder of a run directory that :func:`write_report` writes into."""

FORMATS = ("md", "html", "csv", "json")
"""Report formats: ``report.md``, ``report.html``, ``trials.csv``, ``trials.json``."""

TENSORBOARD_DIR = "tensorboard"
HPARAM_COLUMNS = ("arch", "optimizer", "loss", "learning_rate", "batch_size", "output_activation")

FIGURES = {
    "image_grid": "image_grid.png",
    "learning_curves": "learning_curves.png",
    "metric_vs_hparams": "metric_vs_hparams.png",
    "param_importances": "param_importances.png",
}
"""Figure name → PNG file name in ``RUN_DIR/report/``."""

PARETO_FIGURES = {
    "pareto_front": "pareto_front.png",
    "pareto_pictures": "pareto_pictures.png",
}
"""The figures a sweep with several objectives adds (name → PNG file name)."""
ALL_FIGURES = {**FIGURES, **PARETO_FIGURES}

FORMAT_FILES = {"md": "report.md", "html": "report.html", "csv": "trials.csv", "json": "trials.json"}


def _metric_column_doc(name: str) -> str:
    spec = metric_defs.METRICS[name]
    better = "lower" if spec.mode == "min" else "higher"
    return f"validation {name} at the trial's best epoch ({spec.unit}; {better} is better)"


COLUMNS: dict[str, str] = {
    "rank": "1 = best on the ranking metric; trials without a value of it (no epoch yet, errors) come last",
    "trial_id": "Ray Tune trial id",
    "status": "running, pending, completed, stopped (by ASHA), error, oom, infeasible or interrupted",
    "status_text": "status in words, e.g. 'stopped early by ASHA at epoch 2' or 'error: ValueError: ...'",
    "arch": "architecture (colorize_core.models registry name)",
    "optimizer": "optimizer name",
    "loss": "training loss name",
    "learning_rate": "initial learning rate",
    "batch_size": "batch size",
    "output_activation": "output activation: original (the study's), sigmoid or linear",
    "epochs": "epochs trained (reported) so far",
    "best_epoch": "epoch with the best value of the ranking metric (empty without one)",
    **{name: _metric_column_doc(name) for name in metric_defs.METRICS},
    **{f"test_{name}": f"test-split {name} of the trial's best.keras (the top trials with a checkpoint; else empty)"
       for name in metric_defs.METRICS},
    "params": "number of model parameters (trainable and not)",
    "peak_memory_mb": "peak memory in MiB: the accelerator's where the trial reported it (gpu_peak_memory_mb), "
                      "else the trial process's host resident memory (peak RSS)",
    "train_time_s": "seconds of training over all epochs, as the trial reported it (its last epoch's train_time_s)",
    "elapsed_s": "wall-clock seconds the trial's training process spent on it (building, compiling, training, "
                 "evaluating, checkpointing), over all its epochs",
    "compile_s": "seconds the trial spent tracing, lowering and compiling programs or loading them from the "
                 "compilation cache (colorize_core.compilation)",
    "compiled_programs": "programs the trial compiled (compilation-cache misses; TensorFlow: tf.function graphs traced)",
    "cached_programs": "programs the trial loaded from the persistent compilation cache instead of compiling them",
    "node_id": "Ray node the trial ran on",
    "gpu_ids": "GPU ids Ray assigned to the trial (comma-separated), empty on CPU",
    "gpu_share": "fraction of one GPU the trial was granted (from its memory estimate), empty on CPU",
    "retry_of": "the trial this one retries at half batch size after it ran out of memory, else empty",
    "error_first_line": "the exception line of an errored trial's traceback, else empty",
    "config": "JSON of every sampled hyperparameter of the trial (including model_options.*)",
}
"""Columns of ``trials.csv`` and of each row of ``trials.json``'s ``"trials"``, in order."""

OBJECTIVE_COLUMNS: dict[str, str] = {
    "pareto_rank": "several-objective sweeps only: 1 = on the Pareto front of the objectives (no other trial is at "
                   "least as good on all and better on one), 2 = on the front once those are removed, ...; empty for "
                   "trials that violate a constraint or have no value. Points are each trial's values at its best "
                   "epoch on the first objective",
    "meets_constraints": "constrained sweeps only: whether the trial (at its best epoch on the first objective) "
                         "satisfies every constraint; trials that do not are never ranked best",
}
"""Columns added after ``best_epoch`` for a sweep with several objectives (``pareto_rank``) or with
constraints (``meets_constraints``); a one-metric, unconstrained sweep's files have :data:`COLUMNS` only."""

_STATUS_ORDER = tuple(TrialStatus(s) for s in ("completed", "stopped", "running", "pending", "interrupted", "error",
                                                "oom", "infeasible"))


# ---------------------------------------------------------------------------------------------------
# Collected report


@dataclass
class _Report:
    run_dir: Path
    out_dir: Path
    info: SweepInfo
    metric: str
    mode: str
    top: int
    records: list[TrialRecord]
    rows: list[dict]
    baselines: dict[str, dict[str, float]]
    state: str
    test_baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    tested: list[str] = field(default_factory=list)
    comparison: dict = field(default_factory=dict)
    best_per_arch: list[dict] = field(default_factory=list)
    importances: dict[str, float] | None = None
    figures: dict[str, bytes] = field(default_factory=dict)
    captions: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    tensorboard_dir: Path | None = None
    generated: str = ""
    objectives: list = field(default_factory=list)     # spaces.objectives.Objective (one: the classic sweep)
    constraints: list = field(default_factory=list)    # spaces.objectives.Constraint
    standing: dict = field(default_factory=dict)       # trial id -> search.pareto.TrialStanding
    knee_id: str | None = None
    importances_by_objective: dict = field(default_factory=dict)

    @property
    def several(self) -> bool:
        """Whether the sweep has several objectives (a Pareto front)."""
        return len(self.objectives) > 1

    def columns(self) -> dict[str, str]:
        """:data:`COLUMNS` without the columns that do not apply to this sweep (``pareto_rank`` for one
        objective, ``meets_constraints`` without constraints): a one-metric sweep's files are as before."""
        extra = {k: v for k, v in OBJECTIVE_COLUMNS.items()
                 if (k == "pareto_rank" and self.several) or (k == "meets_constraints" and self.constraints)}
        out: dict[str, str] = {}
        for key, text in COLUMNS.items():
            out[key] = text
            if key == "best_epoch":
                out.update(extra)
        return out

    @property
    def better(self) -> str:
        return "lower" if self.mode == "min" else "higher"


# ---------------------------------------------------------------------------------------------------
# Rows


def is_finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _gpu_ids_text(value: Any) -> str | None:
    """GPU ids as reported (a "0,1" string, or a list) → "0,1"; None when there were none."""
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    return str(value) if value not in (None, "") else None


def _num(value: Any) -> float | None:
    return float(value) if is_finite(value) else None


def _count(value: Any) -> int | None:
    return int(value) if is_finite(value) else None


def compile_summary(rows: Sequence[dict]) -> str | None:
    """The sweep's compilation in one line, from report rows: e.g. ``compiling: 12 % of trial time
    (41.0 s of 342.1 s; 160 programs compiled, 820 loaded from the cache)``; None when no trial
    reported it (runs made before it was measured)."""
    measured = [r for r in rows if r.get("compile_s") is not None and r.get("elapsed_s")]
    if not measured:
        return None
    compile_s = sum(r["compile_s"] for r in measured)
    elapsed_s = sum(r["elapsed_s"] for r in measured)
    compiled = sum(r.get("compiled_programs") or 0 for r in measured)
    cached = sum(r.get("cached_programs") or 0 for r in measured)
    return (f"compiling: {100 * compile_s / elapsed_s:.0f} % of trial time ({compile_s:.1f} s of {elapsed_s:.1f} s; "
            f"{compiled} program{'s' if compiled != 1 else ''} compiled, {cached} loaded from the cache)")


def _status_text(record: TrialRecord, *, finished: bool) -> str:
    if record.status in ("running", "pending"):
        if finished:  # the driver ended but never heard back from this trial
            return f"interrupted after epoch {record.epochs}" if record.epochs else "interrupted before its first epoch"
        if record.status == "running" and record.epochs:
            return f"running ({record.epochs} epoch{'s' if record.epochs != 1 else ''} so far)"
        return record.status
    if record.status == "interrupted":
        return f"interrupted after epoch {record.epochs}" if record.epochs else "interrupted"
    return record.status_text()


def report_rows(
    records: Sequence[TrialRecord], *, metric: str, mode: str, fixed: dict | None = None, finished: bool = True
) -> list[dict]:
    """One row per record (in the given order) with the columns of :data:`COLUMNS`.

    ``fixed`` fills hyperparameter columns the trials did not sample (a space's ``fixed`` values);
    ``finished`` says whether the sweep recorded its end (a trial still ``running`` then reads
    ``interrupted``).
    """
    rows = []
    for rank, record in enumerate(records, start=1):
        best = record.best(metric, mode) or {}
        hparams = {**(fixed or {}), **record.params}
        gpu_memory = [r.get("gpu_peak_memory_mb") for r in record.history if is_finite(r.get("gpu_peak_memory_mb"))]
        memory = gpu_memory or [r.get("peak_memory_mb") for r in record.history if is_finite(r.get("peak_memory_mb"))]
        last = record.history[-1] if record.history else {}
        params = record.params_count
        if params is None:
            params = next((r.get("params") for r in reversed(record.history) if is_finite(r.get("params"))), None)
        rows.append({
            "rank": rank,
            "trial_id": record.trial_id,
            "status": record.status,
            "status_text": _status_text(record, finished=finished),
            **{key: hparams.get(key) for key in HPARAM_COLUMNS},
            "epochs": record.epochs,
            "best_epoch": best.get("epoch"),
            **{name: _num(best.get(name)) for name in metric_defs.METRICS},
            **{f"test_{name}": None for name in metric_defs.METRICS},
            "params": int(params) if params is not None else None,
            "peak_memory_mb": max(memory) if memory else None,
            "train_time_s": round(record.train_time_s, 2) if record.history else None,
            "elapsed_s": _num(last.get("elapsed_s")),
            "compile_s": _num(last.get("compile_s")),
            "compiled_programs": _count(last.get("compiled_programs")),
            "cached_programs": _count(last.get("cached_programs")),
            "node_id": record.node_id,
            "gpu_ids": _gpu_ids_text(last.get("gpu_ids")),
            "gpu_share": _num(last.get("gpu_share")) or None,
            "retry_of": record.retry_of,
            "error_first_line": first_error_line(record.error) if record.error else None,
            "config": json.dumps(record.params, sort_keys=True, default=str),
        })
    return rows


def _counts(rep: _Report) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in rep.records:
        counts[record.status] = counts.get(record.status, 0) + 1
    return counts


def _ranked_entries(rep: _Report) -> list[tuple[str, Any]]:
    """Trial rows with the baselines inserted where they rank: ("trial", row) / ("baseline", (name, values))."""
    entries: list[tuple[str, Any]] = [("trial", row) for row in rep.rows]
    for name, values in sorted(rep.baselines.items(), key=lambda kv: kv[0]):
        value = values.get(rep.metric)
        position = len([row for row in rep.rows if row[rep.metric] is not None])
        if is_finite(value):
            for i, (kind, item) in enumerate(entries):
                item_value = item[rep.metric] if kind == "trial" else item[1].get(rep.metric)
                if item_value is None or metric_defs.is_better(rep.metric, value, item_value):
                    position = i
                    break
            else:
                position = len(entries)
        else:
            position = len(entries)
        entries.insert(position, ("baseline", (name, values)))
    return entries


# ---------------------------------------------------------------------------------------------------
# Arguments


def _check_formats(formats: str | Iterable[str]) -> tuple[str, ...]:
    if isinstance(formats, str):
        formats = [f for f in formats.replace(" ", "").split(",") if f]
    formats = tuple(dict.fromkeys(str(f).lower().lstrip(".") for f in formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise InvalidValueError(
            f"formats must be a non-empty selection of {', '.join(FORMATS)} (e.g. --format md,html), got "
            f"{', '.join(map(repr, unknown)) or 'nothing'}"
        )
    return formats
