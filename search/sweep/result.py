"""What a sweep hands back: :class:`SweepResult` (its run directory and ranked trials) and how its loop ended.

Also the facts ``sweep.json`` and ``baselines.json`` record beside the trials: the package versions
(:func:`package_versions`) and the two baselines' metrics (:func:`baseline_metrics_for`).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from colorize_core import metrics as metric_defs
from colorize_core.data import LabDataset
from search.records import TrialRecord, constraints_of, load_records, load_sweep_info, objectives_of, rank_records
from search.rundir import (
    FINAL_STATUSES,
    LIVE_STATUSES,
    TrialStatus,
    is_disk_full_error,
)

#: Statuses of a trial that has not reached a final status: resume runs it (again).
UNFINISHED_STATUSES = LIVE_STATUSES | {TrialStatus.INTERRUPTED}


@dataclass
class SweepResult:
    """A finished (or ended) sweep: its run directory and its trials ranked on ``metric``."""

    run_dir: Path
    metric: str
    mode: str
    records: list[TrialRecord]
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    wall_time_s: float = 0.0
    planned: int | None = None           # trials the sweep asked for (sweep.json "trials")
    budget_s: float | None = None        # its time budget in seconds (sweep.json "time_budget_s")
    budget_used_s: float | None = None   # seconds from the budget's start to the end of the trials
    interrupted: int | None = None       # the signal that stopped it (SIGINT 2, SIGTERM 15), else None
    disk_full: str | None = None         # the message when it stopped because the disk was full
    objectives: list = field(default_factory=list)   # spaces.objectives.Objective; [] or one: ``metric``
    constraints: list = field(default_factory=list)  # spaces.objectives.Constraint

    @property
    def finished_trials(self) -> int:
        """Trials that ended on their own (completed, stopped by ASHA, failed, infeasible)."""

        return sum(1 for r in self.records if r.status in FINAL_STATUSES)

    @property
    def complete(self) -> bool:
        """Whether the sweep ran to its end (not interrupted, nothing left unfinished)."""
        return self.interrupted is None and self.disk_full is None and not any(
            r.status in UNFINISHED_STATUSES for r in self.records)

    @property
    def best(self) -> TrialRecord | None:
        """The best trial on ``metric`` that meets the constraints, or None."""
        from search.records import meets_constraints

        ranked = [r for r in self.records if r.best_value(self.metric, self.mode) is not None
                  and meets_constraints(r, self.constraints, metric=self.metric, mode=self.mode)]
        return ranked[0] if ranked else None

    def table(self, top: int | None = None) -> list[dict]:
        """Rows of the ranking: rank, trial, status, hyperparameters and best validation metrics."""
        rows = []
        try:  # hyperparameters a space fixes are not in the trials' sampled params: show them too
            fixed = dict((load_sweep_info(self.run_dir).space or {}).get("fixed") or {})
        except (OSError, ValueError):
            fixed = {}
        for rank, record in enumerate(self.records[:top] if top else self.records, start=1):
            best = record.best(self.metric, self.mode) or {}
            hparams = {**fixed, **record.params}
            rows.append({
                "rank": rank,
                "trial_id": record.trial_id,
                "status": record.status_text(),
                **{k: hparams.get(k) for k in ("arch", "optimizer", "loss", "learning_rate", "batch_size", "output_activation") if k in hparams},
                "epochs": record.epochs,
                "best_epoch": best.get("epoch"),
                **{name: best.get(name) for name in metric_defs.METRICS},
                "train_time_s": round(record.train_time_s, 2),
                **{key: (record.history[-1].get(key) if record.history else None)
                   for key in ("elapsed_s", "compile_s", "compiled_programs", "cached_programs")},
                "node_id": (record.node_id or "")[:8] or None,
            })
            if self.constraints:
                from search.records import meets_constraints

                rows[-1]["meets_constraints"] = meets_constraints(record, self.constraints, metric=self.metric,
                                                                  mode=self.mode) if best else None
        return rows


def package_versions() -> dict[str, str]:
    """Versions of the packages a result depends on."""
    from importlib import metadata

    out = {"python": sys.version.split()[0]}
    for name in ("colorsweep", "keras", "tensorflow", "jax", "ray", "optuna", "numpy", "opencv-python-headless", "scikit-image"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    out["keras_backend"] = os.environ.get("KERAS_BACKEND", "tensorflow")
    return out


def baseline_metrics_for(data: LabDataset, split: str = "val") -> dict[str, dict[str, float]]:
    """Metrics of the neutral-grey and training-mean-ab predictions on ``split``."""
    part = getattr(data, split)
    return metric_defs.baseline_metrics(part.lightness, part.ab, ab_train=data.train.ab)


class _Outcome:
    """How a tuning loop ended: the signal that stopped it, or the full disk."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self.disk_full: str | None = None
        self.loop_end: float = time.time()  # wall clock when Ray's loop returned


def _result(run_dir: Path, *, metric: str, mode: str, baselines: dict, started: float, outcome: "_Outcome",
            resumed: bool = False, record: bool = True) -> SweepResult:
    """The ranked result of a run or resume, with its wall time recorded in ``sweep.json``."""
    info = load_sweep_info(run_dir)
    constraints = constraints_of(info)
    records = rank_records(load_records(run_dir), metric=metric, mode=mode, constraints=constraints)
    for record in records:  # Ray's loop has ended: nothing of this sweep runs any more
        if record.status in LIVE_STATUSES:
            record.status = TrialStatus.INTERRUPTED
    result = SweepResult(run_dir=run_dir, metric=metric, mode=mode, records=records, baselines=baselines,
                         objectives=objectives_of(info), constraints=constraints,
                         wall_time_s=time.monotonic() - started, planned=int(info.trials or 0) or None,
                         budget_s=info.time_budget_s,
                         interrupted=outcome.signal, disk_full=outcome.disk_full)
    if outcome.disk_full or not record:
        return result  # nothing more is written to a full disk (nor after a resume that did nothing)
    if resumed:
        info.resumed = (info.resumed or 0) + 1
    else:
        info.wall_time_s = result.wall_time_s
    try:
        info.save(run_dir)
    except OSError as exc:
        if not is_disk_full_error(exc):
            raise
        result.disk_full = str(exc)
    return result
