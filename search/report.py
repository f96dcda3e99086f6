"""The sweep report: a ranked comparison of every trial that people read at a glance.

:func:`write_report` reads a run directory (through :mod:`search.records`, so it works on a sweep
that is still running, was killed, or had failures) and writes into ``RUN_DIR/report/``:

``report.md``
    for terminals and code hosts (figures linked as the PNG files beside it);
``report.html``
    one self-contained file: inline CSS, every figure embedded as a base64 PNG ``data:`` URI, no
    external resource, so it opens offline and can be mailed around;
``trials.csv`` / ``trials.json``
    one row per trial with the columns of :data:`COLUMNS` (``trials.json`` also holds the
    baselines, the architecture comparison, the parameter importances and the notes);
``image_grid.png``, ``learning_curves.png``, ``metric_vs_hparams.png``, ``param_importances.png``
    the figures (each is skipped, with a note, when it cannot be drawn);
``tensorboard/``
    one TensorBoard run per trial (per-epoch curves) with the HParams plugin's data: every trial's
    hyperparameters, status and best-epoch metrics. Open it with the command of
    :func:`tensorboard_commands`.

Contents: the ranked table of every trial with the two baselines (neutral grey, training-mean ab,
from ``baselines.json``) placed where they rank; test-split metrics of the top trials (their
``best.keras`` from the latest checkpoint, on the sweep's own data, reloaded from ``sweep.json`` and
checked against its fingerprint); the study's comparison regenerated (architecture × (optimizer,
loss), best metric per cell; the best trial per architecture); a grid of validation images (input,
truth, the top-3 models); learning curves; the ranking metric against learning rate and batch size;
Optuna's parameter importances over the finished trials.

Only the Markdown table, CSV and JSON need nothing but the records: every other part is skipped
with a note in the report (never an exception) when its inputs are missing.
"""

from __future__ import annotations

import base64
import csv
import gc
import html
import io
import json
import math
import os
import shlex
import shutil
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from colorize_core import metrics as metric_defs
from colorize_core.train import BEST_MODEL
from search import pareto
from search.records import (
    TrialRecord,
    constraints_of,
    data_source,
    first_error_line,
    load_records,
    load_sweep_info,
    objectives_of,
    rank_records,
    trial_path,
)

__all__ = [
    "REPORT_DIR",
    "FORMATS",
    "COLUMNS",
    "OBJECTIVE_COLUMNS",
    "FIGURES",
    "PARETO_FIGURES",
    "write_report",
    "report_rows",
    "tensorboard_commands",
    "add_commands",
]

REPORT_DIR = "report"
"""Folder of a run directory that :func:`write_report` writes into."""

FORMATS = ("md", "html", "csv", "json")
"""Report formats: ``report.md``, ``report.html``, ``trials.csv``, ``trials.json``."""

BASELINES_FILE = "baselines.json"
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
_ALL_FIGURES = {**FIGURES, **PARETO_FIGURES}

_FORMAT_FILES = {"md": "report.md", "html": "report.html", "csv": "trials.csv", "json": "trials.json"}
_DPI = 90
_GRID_IMAGES = 6
_GRID_MODELS = 3
_FRONT_PICTURES = 8  # front trials shown side by side (the best on the first objective first)


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

_STATUS_ORDER = ("completed", "stopped", "running", "pending", "interrupted", "error", "oom", "infeasible")


# ---------------------------------------------------------------------------------------------------
# Collected report


@dataclass
class _Report:
    run_dir: Path
    out_dir: Path
    info: dict
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


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _gpu_ids_text(value: Any) -> str | None:
    """GPU ids as reported (a "0,1" string, or a list) → "0,1"; None when there were none."""
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    return str(value) if value not in (None, "") else None


def _num(value: Any) -> float | None:
    return float(value) if _finite(value) else None


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
        gpu_memory = [r.get("gpu_peak_memory_mb") for r in record.history if _finite(r.get("gpu_peak_memory_mb"))]
        memory = gpu_memory or [r.get("peak_memory_mb") for r in record.history if _finite(r.get("peak_memory_mb"))]
        last = record.history[-1] if record.history else {}
        params = record.params_count
        if params is None:
            params = next((r.get("params") for r in reversed(record.history) if _finite(r.get("params"))), None)
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
            "node_id": record.node_id,
            "gpu_ids": _gpu_ids_text(last.get("gpu_ids")),
            "gpu_share": _num(last.get("gpu_share")) or None,
            "retry_of": record.retry_of,
            "error_first_line": first_error_line(record.error) if record.error else None,
            "config": json.dumps(record.params, sort_keys=True, default=str),
        })
    return rows


def _resolve_metric(info: dict, metric: str | None) -> tuple[str, str]:
    metric = metric or info.get("metric") or "delta_e"
    mode = metric_defs.metric_mode(metric)  # ValueError listing the known metrics
    if metric == info.get("metric") and info.get("mode") in ("min", "max"):
        mode = info["mode"]
    return metric, mode


def _check_formats(formats: str | Iterable[str]) -> tuple[str, ...]:
    if isinstance(formats, str):
        formats = [f for f in formats.replace(" ", "").split(",") if f]
    formats = tuple(dict.fromkeys(str(f).lower().lstrip(".") for f in formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(
            f"formats must be a non-empty selection of {', '.join(FORMATS)} (e.g. --format md,html), got "
            f"{', '.join(map(repr, unknown)) or 'nothing'}"
        )
    return formats


# ---------------------------------------------------------------------------------------------------
# Data, models, test metrics


def _reload_data(info: dict, notes: list[str]):
    """The sweep's images again, from ``sweep.json``; None (with a note) when they cannot be loaded."""
    from colorize_core.data import load_dataset

    data = info.get("data") or {}
    source, size = data.get("source"), data.get("size")
    if not source or not size:
        notes.append("sweep.json records no data source: test metrics and the image grid are skipped.")
        return None
    parts = data_source(source)
    cache_dir = None
    if data.get("cache_path") and Path(data["cache_path"]).parent.is_dir():
        cache_dir = Path(data["cache_path"]).parent
    try:
        dataset = load_dataset(parts, size=int(size), lab_mode=data.get("lab_mode", "float"), cache_dir=cache_dir,
                               pool_side=data.get("pool_side"))  # as recorded (None: a run made before pools)
    except (OSError, ValueError) as exc:
        notes.append(
            f"could not reload the sweep's images from {source!r} ({exc}): test metrics and the image grid "
            "are skipped. Put the images back at that path and run `colorsweep report` again."
        )
        return None
    if data.get("fingerprint") and dataset.fingerprint != data["fingerprint"]:
        message = (
            f"the images under {source!r} changed since the sweep ran (fingerprint {dataset.fingerprint[:12]} != "
            f"recorded {data['fingerprint'][:12]}): test metrics and pictures use the images as they are now."
        )
        warnings.warn(message, stacklevel=3)
        notes.append(message)
    return dataset


def _best_model_path(run_dir: Path, record: TrialRecord) -> Path | None:
    """``best.keras`` of the trial's latest checkpoint folder, or None."""
    folder = trial_path(run_dir, record.trial_dir)
    if folder is None or not folder.is_dir():
        return None
    for checkpoint in sorted(folder.glob("checkpoint_*"), reverse=True):
        if (checkpoint / BEST_MODEL).is_file():
            return checkpoint / BEST_MODEL
    return None


def _grid_indices(names: Sequence[str], count: int) -> list[int]:
    """A deterministic choice of ``count`` validation images for the picture grid: one per source
    photo (demo tiles of one photo share a stem), spread evenly over the sorted names so that every
    part of the data set shows (its folders sort together), in name order."""
    order = sorted(range(len(names)), key=lambda i: names[i])
    first_of_stem: dict[str, int] = {}
    for i in order:
        first_of_stem.setdefault(names[i].split("#", 1)[0], i)
    stems = list(first_of_stem.values())
    if len(stems) >= count:
        positions = np.unique(np.linspace(0, len(stems) - 1, count).round().astype(int))
        chosen = [stems[p] for p in positions]
    else:
        chosen = list(stems)
    rest = [i for i in order if i not in chosen]
    return sorted(chosen + rest[: max(0, count - len(chosen))], key=lambda i: names[i])


def _eval_max_pixels() -> int | None:
    try:
        from colorize_core.train import TrainConfig

        return TrainConfig.eval_max_pixels
    except Exception:  # pragma: no cover - older TrainConfig
        return metric_defs.DELTA_E_MAX_PIXELS


def _evaluate_models(rep: _Report, dataset, grid_idx: list[int], progress) -> list[tuple[dict, np.ndarray]]:
    """Test metrics of the top trials (into their rows) and the top-3 models' grid predictions."""
    import keras

    import colorize_core.models  # noqa: F401  (registers the custom layers models are saved with)
    from colorize_core.train import predict_ab

    seed = int(rep.info.get("seed", 0) or 0)
    max_pixels = _eval_max_pixels()
    test = dataset.test
    if len(test) == 0:
        rep.notes.append("the test split is empty: no test-split metrics.")
    else:
        rep.test_baselines = metric_defs.baseline_metrics(
            test.lightness, test.ab, ab_train=dataset.train.ab, max_pixels=max_pixels, seed=seed
        )
    by_id = {r.trial_id: r for r in rep.records}
    ranked = [row for row in rep.rows if row[rep.metric] is not None]
    grid = []
    missing = []
    for position, row in enumerate(ranked[: max(rep.top, _GRID_MODELS)]):
        path = _best_model_path(rep.run_dir, by_id[row["trial_id"]])
        if path is None:
            missing.append(row["trial_id"])
            continue
        try:
            from colorize_core.losses import register_custom_objects

            register_custom_objects()
            model = keras.saving.load_model(path, compile=False)
        except Exception as exc:  # a checkpoint being written, a model from another version, ...
            rep.notes.append(f"trial {row['trial_id']}: could not load {path.name} ({first_error_line(str(exc))}).")
            continue
        if tuple(model.input_shape[1:3]) != (dataset.size, dataset.size):
            rep.notes.append(f"trial {row['trial_id']}: model input {model.input_shape[1:3]} != data size {dataset.size}.")
            continue
        if row["params"] is None:
            row["params"] = int(model.count_params())
        want_test, want_grid = position < rep.top and len(test) > 0, len(grid) < _GRID_MODELS and bool(grid_idx)
        parts = ([test.lightness] if want_test else []) + ([dataset.val.lightness[grid_idx]] if want_grid else [])
        if not parts:
            continue
        if progress:
            progress(f"predicting with trial {row['trial_id']} (rank {row['rank']})")
        predicted = predict_ab(model, np.concatenate(parts))  # one call: each predict traces the model
        del model
        gc.collect()
        if want_grid:
            grid.append((row, predicted[len(predicted) - len(grid_idx):]))
        if want_test:
            try:
                values = metric_defs.evaluate(test.lightness, test.ab, predicted[: len(test)],
                                              max_pixels=max_pixels, seed=seed)
            except ValueError as exc:  # a diverged model predicting NaN
                rep.notes.append(f"trial {row['trial_id']}: no test metrics ({exc}).")
            else:
                for name, value in values.items():
                    row[f"test_{name}"] = value
                rep.tested.append(row["trial_id"])
    if missing:
        rep.notes.append(
            "no best.keras checkpoint for top trial(s) " + ", ".join(missing)
            + ": they have no test metrics or pictures (still running, or checkpoints were deleted)."
        )
    return grid


def _fill_param_counts(rep: _Report) -> None:
    """Parameter counts for trials that did not report one (built symbolically, one per config)."""
    from colorize_core.models.summary import count_params

    size = int((rep.info.get("data") or {}).get("size") or 0)
    if not size:
        return
    cache: dict[str, int | None] = {}
    for row in rep.rows:
        if row["params"] is not None or not row["arch"]:
            continue
        config = json.loads(row["config"])
        options = {k.split(".", 1)[1]: v for k, v in {**rep.info.get("space", {}).get("fixed", {}), **config}.items()
                   if k.startswith("model_options.")}
        if row.get("output_activation"):
            options["output_activation"] = row["output_activation"]
        key = json.dumps([row["arch"], options], sort_keys=True, default=str)
        if key not in cache:
            try:
                cache[key] = count_params(row["arch"], size, **options)
            except Exception:
                cache[key] = None
        row["params"] = cache[key]


# ---------------------------------------------------------------------------------------------------
# The study's comparison, importances


def _arch_order(rep: _Report, archs: Iterable[str]) -> list[str]:
    spec = (rep.info.get("space") or {}).get("params", {}).get("arch", {})
    listed = list(spec.get("choice", [])) if isinstance(spec, dict) else []
    archs = list(dict.fromkeys(archs))
    return [a for a in listed if a in archs] + [a for a in archs if a not in listed]


def _comparison(rep: _Report) -> None:
    metric, mode = rep.metric, rep.mode
    scored = [row for row in rep.rows if row[metric] is not None]
    archs = _arch_order(rep, (str(row["arch"]) for row in scored))
    combos = sorted({(str(row["optimizer"]), str(row["loss"])) for row in scored})
    cells = {}
    for row in scored:
        key = (str(row["arch"]), str(row["optimizer"]), str(row["loss"]))
        cell = cells.setdefault(key, {"value": row[metric], "trial_id": row["trial_id"], "n": 0})
        cell["n"] += 1
        if metric_defs.is_better(metric, row[metric], cell["value"]):
            cell.update(value=row[metric], trial_id=row["trial_id"])
    rep.comparison = {
        "metric": metric, "mode": mode, "rows": archs,
        "columns": [{"optimizer": o, "loss": loss} for o, loss in combos],
        "cells": [{"arch": a, "optimizer": o, "loss": loss, **c} for (a, o, loss), c in cells.items()],
    }
    rep.best_per_arch = []
    for arch in archs:
        row = next(r for r in scored if str(r["arch"]) == arch)  # rows are ranked: first is best
        rep.best_per_arch.append({k: row[k] for k in ("arch", "trial_id", "rank", metric, "optimizer", "loss",
                                                      "learning_rate", "batch_size", "output_activation",
                                                      "epochs", "status_text")})


def _distributions(space: dict) -> dict:
    """Optuna distributions of the space's searched params (``value`` params are constants: left out)."""
    import optuna.distributions as od

    out = {}
    for name, spec in (space.get("params") or {}).items():
        if not isinstance(spec, dict) or len(spec) != 1:
            continue
        kind, arg = next(iter(spec.items()))
        if kind == "choice" and len(arg) > 1:
            out[name] = od.CategoricalDistribution(list(arg))
        elif kind == "uniform":
            out[name] = od.FloatDistribution(float(arg[0]), float(arg[1]))
        elif kind == "loguniform":
            out[name] = od.FloatDistribution(float(arg[0]), float(arg[1]), log=True)
        elif kind == "int":
            out[name] = od.IntDistribution(int(arg[0]), int(arg[1]))
        elif kind == "pow2":
            powers = [2 ** k for k in range(int(math.log2(arg[0])), int(math.log2(arg[1])) + 1)]
            if len(powers) > 1:
                out[name] = od.CategoricalDistribution(powers)
    return out


def _fanova(rep: _Report, records: Sequence[TrialRecord], value_of: Callable[[TrialRecord], float],
            mode: str, distributions: dict, varying: list[str]) -> tuple[dict[str, float], int, int]:
    """Optuna fANOVA importances of the ``varying`` hyperparameters for ``value_of(record)`` over
    ``records``: (importances, trials used, trials left out as outside the recorded space); empty
    importances with fewer than 3 usable trials."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize" if mode == "min" else "maximize")
    skipped = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for record in records:
            try:
                study.add_trial(optuna.trial.create_trial(
                    params={k: record.params[k] for k in distributions},
                    distributions=distributions, value=value_of(record),
                ))
            except (KeyError, ValueError):  # a value outside the recorded space (space edited, resumed)
                skipped += 1
        if len(study.trials) < 3:
            return {}, len(study.trials), skipped
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        importances = optuna.importance.get_param_importances(study, evaluator=evaluator, params=varying)
    return {k: float(v) for k, v in importances.items()}, len(study.trials), skipped


def _varying(rep: _Report, records: Sequence[TrialRecord]) -> tuple[dict, list[str]]:
    """The space's Optuna distributions, and the names of those that vary over ``records``."""
    distributions = _distributions(rep.info.get("space") or {})
    varying = [name for name in distributions
               if len({json.dumps(r.params.get(name), default=str) for r in records}) > 1]
    return distributions, varying


def _importances(rep: _Report) -> None:
    finished = [r for r in rep.records if r.status in ("completed", "stopped")
                and r.best_value(rep.metric, rep.mode) is not None]
    if len(finished) < 3:
        rep.notes.append(f"parameter importances need at least 3 finished trials with a {rep.metric} value; "
                         f"this sweep has {len(finished)}.")
        return
    distributions, varying = _varying(rep, finished)
    if len(varying) < 2:
        rep.notes.append("parameter importances need at least two hyperparameters that vary over the finished "
                         f"trials; varying here: {', '.join(varying) or 'none'}.")
        return
    importances, used, skipped = _fanova(rep, finished, lambda r: r.best_value(rep.metric, rep.mode), rep.mode,
                                         distributions, varying)
    if not importances:
        rep.notes.append("parameter importances skipped: fewer than 3 finished trials match the recorded space.")
        return
    rep.importances = importances
    stopped = sum(r.status == "stopped" for r in finished)
    rep.captions["param_importances"] = (
        f"Optuna fANOVA importances of the hyperparameters for validation {rep.metric}, over {used} "
        f"finished trials (best epoch of each"
        + (f"; {stopped} stopped early by ASHA, so scored on fewer epochs" if stopped else "")
        + (f"; {skipped} left out: outside the recorded space" if skipped else "") + "). "
        "With few trials these are rough."
    )


# ---------------------------------------------------------------------------------------------------
# Several objectives: the Pareto front


def _mark_standing(rep: _Report) -> None:
    """Each row's ``pareto_rank`` (several objectives) and ``meets_constraints`` (constraints), and
    the knee of the front."""
    if not rep.several and not rep.constraints:
        return
    rep.standing = pareto.standings(rep.records, rep.objectives, rep.constraints)
    for row in rep.rows:
        standing = rep.standing.get(row["trial_id"])
        if rep.several:
            row["pareto_rank"] = standing.pareto_rank if standing else None
        if rep.constraints:
            row["meets_constraints"] = standing.meets_constraints if standing else None
            if standing and standing.meets_constraints is False:
                broken = [c.text for c in rep.constraints if c.violation(standing.values.get(c.name)) > 0]
                row["status_text"] += f"; violates {', '.join(broken)}"
    if rep.several:
        knee = pareto.knee(rep.standing, rep.objectives)
        rep.knee_id = knee.trial_id if knee else None


def _front_rows(rep: _Report) -> list[dict]:
    """The rows of the front's trials, best first on the first objective."""
    by_id = {row["trial_id"]: row for row in rep.rows}
    return [by_id[s.trial_id] for s in pareto.front(rep.standing, rep.objectives) if s.trial_id in by_id]


def _predict_front(rep: _Report, dataset, grid_idx: list[int], progress) -> list[tuple[dict, np.ndarray]]:
    """The front's trials' colorizations of the picture-grid images (their best.keras), at most
    :data:`_FRONT_PICTURES` of them."""
    import keras

    import colorize_core.models  # noqa: F401  (registers the custom layers models are saved with)
    from colorize_core.losses import register_custom_objects
    from colorize_core.train import predict_ab

    register_custom_objects()
    by_id = {r.trial_id: r for r in rep.records}
    out = []
    for row in _front_rows(rep)[:_FRONT_PICTURES]:
        path = _best_model_path(rep.run_dir, by_id[row["trial_id"]])
        if path is None:
            rep.notes.append(f"front trial {row['trial_id']}: no best.keras, so no pictures.")
            continue
        if progress:
            progress(f"predicting with front trial {row['trial_id']}")
        try:
            model = keras.saving.load_model(path, compile=False)
        except Exception as exc:  # noqa: BLE001 - a checkpoint being written, another version, ...
            rep.notes.append(f"front trial {row['trial_id']}: could not load {path.name} ({first_error_line(str(exc))}).")
            continue
        out.append((row, predict_ab(model, dataset.val.lightness[grid_idx])))
        del model
        gc.collect()
    return out


def _importances_per_objective(rep: _Report) -> None:
    """fANOVA importances of the hyperparameters for each objective, over the trials with a point."""
    finished = [r for r in rep.records if r.status in ("completed", "stopped")
                and (rep.standing.get(r.trial_id) and rep.standing[r.trial_id].point is not None)]
    distributions, varying = _varying(rep, finished)
    if len(finished) < 3 or len(varying) < 2:
        rep.notes.append("importances per objective need at least 3 finished trials and two varying hyperparameters.")
        return
    for k, objective in enumerate(rep.objectives):
        importances, _, _ = _fanova(rep, finished, lambda r, k=k: rep.standing[r.trial_id].point[k], objective.mode,
                                    distributions, varying)
        if importances:
            rep.importances_by_objective[objective.metric] = importances


def _truth_colorfulness(rep: _Report) -> float | None:
    """The validation truth's mean colourfulness: grey's colorfulness_gap (grey's colourfulness is 0)."""
    value = (rep.baselines.get("gray") or {}).get("colorfulness_gap")
    return float(value) if _finite(value) else None


def _figure_pareto(rep: _Report) -> None:
    """Every trial on the first two objectives: the front highlighted and joined, infeasible trials
    crossed out, the baselines marked, and where the truth lies on a colourfulness axis."""
    from matplotlib.figure import Figure

    x_obj, y_obj = rep.objectives[0], rep.objectives[1]
    points = [(tid, s) for tid, s in rep.standing.items() if s.values and _finite(s.values.get(x_obj.metric))
              and _finite(s.values.get(y_obj.metric))]
    if not points:
        rep.notes.append("no Pareto plot: no trial has values of both objectives yet.")
        return
    fig = Figure(figsize=(7.2, 5.0))
    ax = fig.subplots()
    x = lambda s: s.values[x_obj.metric]  # noqa: E731
    y = lambda s: s.values[y_obj.metric]  # noqa: E731
    feasible = [s for _, s in points if s.meets_constraints is not False and s.pareto_rank != 1]
    infeasible = [s for _, s in points if s.meets_constraints is False]
    front = [s for s in pareto.front(rep.standing, rep.objectives)]
    ax.scatter([x(s) for s in feasible], [y(s) for s in feasible], s=28, color="#9aa5b1", label="trial", zorder=2)
    if infeasible:
        ax.scatter([x(s) for s in infeasible], [y(s) for s in infeasible], s=34, marker="x", color="#c0392b",
                   label="violates a constraint", zorder=2)
    if front:
        ordered = sorted(front, key=x)
        ax.plot([x(s) for s in ordered], [y(s) for s in ordered], color="#1a7f37", linewidth=1.2, zorder=3,
                drawstyle="steps-post" if x_obj.mode == y_obj.mode == "min" else "default")
        ax.scatter([x(s) for s in ordered], [y(s) for s in ordered], s=60, color="#1a7f37", edgecolor="black",
                   label="Pareto front", zorder=4)
        for s in ordered:
            ax.annotate(s.trial_id[:8], (x(s), y(s)), textcoords="offset points", xytext=(5, 4), fontsize=7)
        knee = rep.standing.get(rep.knee_id) if rep.knee_id else None
        if knee is not None:
            ax.scatter([x(knee)], [y(knee)], s=180, facecolor="none", edgecolor="#1a7f37", linewidth=2,
                       label="knee (export --pick knee)", zorder=5)
    styles = {"gray": ("s", "#555555", "grey baseline"), "train_mean": ("D", "#8a6d3b", "train-mean baseline")}
    for name, values in rep.baselines.items():
        if _finite(values.get(x_obj.metric)) and _finite(values.get(y_obj.metric)):
            marker, color, label = styles.get(name, ("o", "#999999", f"{name} baseline"))
            ax.scatter([values[x_obj.metric]], [values[y_obj.metric]], s=70, marker=marker, color=color, label=label,
                       zorder=4)
    truth = _truth_colorfulness(rep)
    for axis, objective in (("x", x_obj), ("y", y_obj)):
        if objective.metric == "colorfulness_gap":
            line = ax.axvline if axis == "x" else ax.axhline
            line(0.0, color="#4f5fbf", linestyle=":", linewidth=1.2,
                 label="as colourful as the truth" + (f" (M = {truth:.1f})" if truth is not None else ""))
    ax.set_xlabel(f"validation {x_obj.metric} ({'lower' if x_obj.mode == 'min' else 'higher'} is better)")
    ax.set_ylabel(f"validation {y_obj.metric} ({'lower' if y_obj.mode == 'min' else 'higher'} is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    rep.figures["pareto_front"] = _png(fig)
    rep.captions["pareto_front"] = (
        f"Every trial with both values, at its best epoch on {x_obj.metric} (the model its best.keras holds): "
        f"{len(front)} on the Pareto front (green; no other trial is at least as good on both and better on one)"
        + (f", {len(infeasible)} violating a constraint (red crosses)" if infeasible else "")
        + ". Squares: the baselines on the same validation split."
        + (" The dotted line is the truth's colourfulness (gap 0)." if "colorfulness_gap" in (x_obj.metric, y_obj.metric) else "")
        + (f" Circled: the knee, nearest to the best of both once each is scaled to the front's range." if rep.knee_id else "")
    )


def _figure_front_pictures(rep: _Report, dataset, grid_idx: list[int], front_grid: list[tuple[dict, np.ndarray]]) -> None:
    models = []
    for row, ab in front_grid:
        values = " / ".join(f"{_fmt(row.get(o.metric))}" for o in rep.objectives)
        knee = " (knee)" if row["trial_id"] == rep.knee_id else ""
        models.append((f"{row['trial_id']}{knee}\n{values}", ab))
    rep.figures["pareto_pictures"] = _draw_pictures(rep, dataset, grid_idx, models)
    rep.captions["pareto_pictures"] = (
        f"The same {len(grid_idx)} validation images coloured by each trial on the Pareto front (best "
        f"{rep.objectives[0].metric} first; beside each label: {' / '.join(o.metric for o in rep.objectives)})."
    )


def _front_table(rep: _Report) -> tuple[list[str], list[list[str]], list[str]]:
    """The front's trials: trial, hyperparameters, every objective, gain_vs_gray, colourfulness."""
    searched = list((rep.info.get("space") or {}).get("params") or {})  # what the search varied, in space order
    keys = ["trial_id"] + (searched or ["arch", "loss", "learning_rate", "batch_size"])
    metrics = [o.metric for o in rep.objectives] + [m for m in ("gain_vs_gray", "colorfulness")
                                                   if m not in [o.metric for o in rep.objectives]]
    short = {"trial_id": "trial", "learning_rate": "lr", "batch_size": "batch"}
    headers = [short.get(k, k) for k in keys] + [f"{m} {_arrow(m)}" for m in metrics] + ["pick"]
    rows = []
    for row in _front_rows(rep):
        pick = "knee" if row["trial_id"] == rep.knee_id else ""
        if row["rank"] == 1:
            pick = (pick + ", " if pick else "") + f"best {rep.metric}"
        params = json.loads(row.get("config") or "{}")
        rows.append([_fmt(row.get(k, params.get(k)), k) for k in keys] + [_fmt(row.get(m)) for m in metrics] + [pick])
    return headers, rows, ["l"] * len(keys) + ["r"] * len(metrics) + ["l"]


def _pareto_md(rep: _Report) -> list[str]:
    if not rep.several:
        return []
    names = " and ".join(o.metric for o in rep.objectives)
    out = [f"## Pareto front: {names}", ""]
    headers, rows, align = _front_table(rep)
    if not rows:
        return out + ["_No trial is on a front yet (none has values of every objective"
                      + (" and meets the constraints" if rep.constraints else "") + ")._", ""]
    truth = _truth_colorfulness(rep)
    out += [f"{len(rows)} trial(s) no other trial beats on every objective (each at its best epoch on "
            f"{rep.objectives[0].metric})."
            + (f" The truth's colourfulness: {truth:.1f}." if truth is not None else "")
            + " Export one with `colorsweep export RUN --pick knee` or `--trial ID`.", "",
            _md_table(headers, rows, align), ""]
    for name, title in (("pareto_front", "Every trial on the objectives"), ("pareto_pictures", "Pictures of the front")):
        if name in rep.figures:
            out += [f"### {title}", "", f"![{title}]({PARETO_FIGURES[name]})", "", rep.captions.get(name, ""), ""]
    if rep.importances_by_objective:
        params = sorted({p for v in rep.importances_by_objective.values() for p in v})
        out += ["### Importances per objective (Optuna fANOVA)", "",
                _md_table(["hyperparameter"] + list(rep.importances_by_objective),
                          [[p] + [_fmt(rep.importances_by_objective[m].get(p)) for m in rep.importances_by_objective]
                           for p in params], ["l"] + ["r"] * len(rep.importances_by_objective)), ""]
    return out


def _pareto_html(rep: _Report) -> str:
    if not rep.several:
        return ""
    names = " and ".join(o.metric for o in rep.objectives)
    parts = [f"<h2>Pareto front: {_e(names)}</h2>"]
    headers, rows, align = _front_table(rep)
    if not rows:
        parts.append("<p class='legend'>No trial is on a front yet (none has values of every objective"
                     + (" and meets the constraints" if rep.constraints else "") + ").</p>")
        return "".join(parts)
    truth = _truth_colorfulness(rep)
    parts.append(f"<p class='legend'>{len(rows)} trial(s) no other trial beats on every objective (each at its best "
                 f"epoch on {_e(rep.objectives[0].metric)})."
                 + (f" The truth's colourfulness: {truth:.1f}." if truth is not None else "")
                 + " Export one with <code>colorsweep export RUN --pick knee</code> or <code>--trial ID</code>.</p>")
    parts.append("<div class='scroll'><table><thead><tr>"
                 + "".join(f"<th class='{a if a == 'l' else ''}'>{_e(h)}</th>" for h, a in zip(headers, align))
                 + "</tr></thead><tbody>")
    for row in rows:
        cls = "best" if "knee" in row[-1] else ""
        parts.append(f"<tr class='{cls}'>" + "".join(
            f"<td class='{a if a == 'l' else ''}'>{_e(c)}</td>" for c, a in zip(row, align)) + "</tr>")
    parts.append("</tbody></table></div>")
    for name, title in (("pareto_front", "Every trial on the objectives"), ("pareto_pictures", "Pictures of the front")):
        if name in rep.figures:
            parts.append(f"<h3>{_e(title)}</h3><figure>{_img(rep.figures[name], title)}"
                         f"<figcaption>{_e(rep.captions.get(name, ''))}</figcaption></figure>")
    if rep.importances_by_objective:
        metrics = list(rep.importances_by_objective)
        params = sorted({p for v in rep.importances_by_objective.values() for p in v})
        parts.append("<h3>Importances per objective (Optuna fANOVA)</h3><div class='scroll'><table><thead><tr>"
                     "<th class='l'>hyperparameter</th>" + "".join(f"<th>{_e(m)}</th>" for m in metrics)
                     + "</tr></thead><tbody>")
        for p in params:
            parts.append(f"<tr><td class='l'>{_e(p)}</td>" + "".join(
                f"<td>{_e(_fmt(rep.importances_by_objective[m].get(p)))}</td>" for m in metrics) + "</tr>")
        parts.append("</tbody></table></div>")
    return "".join(parts)


# ---------------------------------------------------------------------------------------------------
# Figures


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight", facecolor="white")
    return buffer.getvalue()


def _arch_colors(archs: Sequence[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {arch: cmap(i % 10) for i, arch in enumerate(archs)}


def _short(text: str, width: int = 18) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _figure_image_grid(rep: _Report, dataset, grid_idx: list[int], grid: list[tuple[dict, np.ndarray]]) -> None:
    rep.figures["image_grid"] = _draw_pictures(
        rep, dataset, grid_idx, [(f"#{row['rank']} {row['trial_id']}\n{row['arch']}", ab) for row, ab in grid])
    rep.captions["image_grid"] = (
        f"{len(grid_idx)} validation images (chosen by name, one per source image first), at the sweep's {dataset.size} px: "
        f"the grayscale input, the ground truth, and the colorizations of the top {len(grid)} trial(s) "
        f"(their best.keras). Under each: that image's {rep.metric}."
    )


def _draw_pictures(rep: _Report, dataset, grid_idx: list[int], models: list[tuple[str, np.ndarray]]) -> bytes:
    """PNG of validation images ``grid_idx``: grayscale input, truth, then one row per (label, predicted
    ab) of ``models``, each image with its ``rep.metric`` underneath."""
    from matplotlib.figure import Figure

    from colorize_core.color import gray_ab, lab_to_rgb, merge_lab

    val = dataset.val
    lightness, ab_true = val.lightness[grid_idx], val.ab[grid_idx]
    rows = [("grayscale input", lab_to_rgb(merge_lab(lightness, gray_ab(ab_true.shape))), None),
            ("ground truth", lab_to_rgb(merge_lab(lightness, ab_true)), None)]
    for label, ab_pred in models:
        per_image = [metric_defs.evaluate(lightness[i:i + 1], ab_true[i:i + 1], ab_pred[i:i + 1],
                                          metrics=[rep.metric])[rep.metric]
                     if np.all(np.isfinite(ab_pred[i])) else None for i in range(len(grid_idx))]
        ab_pred = np.nan_to_num(ab_pred, nan=0.0, posinf=127.0, neginf=-128.0)  # a diverged model shows grey
        rows.append((label, lab_to_rgb(merge_lab(lightness, ab_pred), fit_gamut=True), per_image))
    ncols = len(grid_idx)
    fig = Figure(figsize=(1.35 * ncols + 1.3, 1.5 * len(rows) + 0.3))
    axes = fig.subplots(len(rows), ncols, squeeze=False)
    for r, (label, images, values) in enumerate(rows):
        for c in range(ncols):
            ax = axes[r][c]
            ax.imshow(np.clip(images[c], 0, 1), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if r == 0:
                ax.set_title(_short(val.names[grid_idx[c]]), fontsize=8)
            if c == 0:
                ax.set_ylabel(label, fontsize=9, rotation=0, ha="right", va="center", labelpad=8)
            if values is not None:
                text = "not finite" if values[c] is None else f"{values[c]:.2f}"
                ax.set_xlabel(f"{rep.metric} {text}", fontsize=7, labelpad=2)
    fig.subplots_adjust(wspace=0.05, hspace=0.32)
    return _png(fig)


def _baseline_lines(ax, rep: _Report) -> None:
    styles = {"gray": ("#555555", "grey baseline"), "train_mean": ("#8a6d3b", "train-mean baseline")}
    for name, values in rep.baselines.items():
        value = values.get(rep.metric)
        if _finite(value):
            color, label = styles.get(name, ("#999999", f"{name} baseline"))
            ax.axhline(value, color=color, linestyle="--", linewidth=1.1, label=label, zorder=1)


def _figure_learning_curves(rep: _Report) -> None:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    metric = rep.metric
    by_id = {r.trial_id: r for r in rep.records}
    ranked = [row for row in rep.rows if row[metric] is not None]
    if not ranked:
        return
    top_ids = [row["trial_id"] for row in ranked[: rep.top]]
    fig = Figure(figsize=(8.5, 3.8))
    ax = fig.subplots()
    for record in rep.records:
        points = [(h["epoch"], h[metric]) for h in record.history if _finite(h.get(metric))]
        if points and record.trial_id not in top_ids:
            ax.plot(*zip(*points), color="#c8ccd1", linewidth=1, marker=".", markersize=4, zorder=2)
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    rank_of = {row["trial_id"]: row for row in ranked}
    for i, trial_id in enumerate(top_ids):
        record, row = by_id[trial_id], rank_of[trial_id]
        points = [(h["epoch"], h[metric]) for h in record.history if _finite(h.get(metric))]
        xs, ys = zip(*points)
        ax.plot(xs, ys, color=cmap(i), linewidth=2 if i == 0 else 1.5, marker="o", markersize=4, zorder=3,
                label=f"#{row['rank']} {trial_id} {row['arch']}")
        if record.status == "stopped":
            ax.plot(xs[-1], ys[-1], marker="X", color=cmap(i), markersize=9, zorder=4)
    _baseline_lines(ax, rep)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"validation {metric} ({rep.better} is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    rep.figures["learning_curves"] = _png(fig)
    rep.captions["learning_curves"] = (
        f"Validation {metric} per epoch of the top {len(top_ids)} trials (colours; X = stopped early by ASHA), "
        "the other trials in grey, the baselines dashed."
    )


def _figure_metric_vs_hparams(rep: _Report) -> None:
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    metric = rep.metric
    scored = [row for row in rep.rows if row[metric] is not None]
    panels = [(key, label) for key, label in (("learning_rate", "learning rate (log scale)"),
                                              ("batch_size", "batch size (log2 scale)"))
              if any(_finite(row.get(key)) for row in scored)]
    if not scored or not panels:
        return
    archs = _arch_order(rep, (str(row["arch"]) for row in scored))
    colors = _arch_colors(archs)
    fig = Figure(figsize=(5.2 * len(panels) + 1.6, 3.8))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (key, label) in zip(axes, panels):
        for row in scored:
            x = row.get(key)
            if not _finite(x):
                continue
            if key == "batch_size":  # spread points that share a batch size
                x = x * 2 ** (0.12 * (((row["rank"] * 7) % 5) - 2) / 2)
            color = colors[str(row["arch"])]
            filled = row["status"] == "completed"
            ax.scatter([x], [row[metric]], s=46, zorder=3, edgecolors=[color], linewidths=1.6,
                       facecolors=[color] if filled else ["white"])
        _baseline_lines(ax, rep)
        ax.set_xscale("log", base=2 if key == "batch_size" else 10)
        values = sorted({row[key] for row in scored if _finite(row.get(key))})
        ticks = [int(v) for v in values] if key == "batch_size" else _nice_log_ticks(values[0], values[-1])
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel(label)
        ax.set_ylabel(f"validation {metric} ({rep.better} is better)")
        ax.grid(alpha=0.3)
    handles = [Line2D([], [], marker="o", linestyle="", color=colors[a], markersize=7, label=a) for a in archs]
    handles += [Line2D([], [], marker="o", linestyle="", markerfacecolor="white", markeredgecolor="#333",
                       markersize=7, label="not completed (e.g. ASHA-stopped)")]
    handles += [h for h in axes[0].get_legend_handles_labels()[0] if isinstance(h, Line2D)]
    axes[-1].legend(handles=handles, fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.subplots_adjust(wspace=0.28)
    rep.figures["metric_vs_hparams"] = _png(fig)
    rep.captions["metric_vs_hparams"] = (
        f"Best validation {metric} of every trial against its learning rate and batch size, coloured by architecture "
        "(hollow: did not complete, e.g. stopped early by ASHA); baselines dashed."
    )


def _nice_log_ticks(low: float, high: float, most: int = 6) -> list[float]:
    """A few round values (1, 2, 5 × 10^k) spanning ``[low, high]`` on a log axis."""
    low, high = min(low, high), max(low, high)
    ticks = [m * 10.0 ** k for k in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1)
             for m in (1, 2, 5)]
    inside = [t for t in ticks if low / 1.5 <= t <= high * 1.5]
    while len(inside) > most:
        inside = inside[::2]
    return inside or [low, high]


def _figure_importances(rep: _Report) -> None:
    from matplotlib.figure import Figure

    items = sorted(rep.importances.items(), key=lambda kv: kv[1])
    fig = Figure(figsize=(6.5, 0.42 * len(items) + 1.0))
    ax = fig.subplots()
    bars = ax.barh([k for k, _ in items], [v for _, v in items], color="#4c72b0")
    for bar, (_, value) in zip(bars, items):
        ax.text(bar.get_width() + 0.01, bar.get_y() + bar.get_height() / 2, f"{value:.2f}", va="center", fontsize=8)
    ax.set_xlim(0, max(1.0, max(v for _, v in items) + 0.12))
    ax.set_xlabel(f"importance for validation {rep.metric} (sums to 1)")
    ax.grid(axis="x", alpha=0.3)
    rep.figures["param_importances"] = _png(fig)


# ---------------------------------------------------------------------------------------------------
# TensorBoard (HParams)


def tensorboard_commands(run_dir: str | os.PathLike) -> dict[str, str]:
    """The commands that open a sweep in TensorBoard.

    ``"hparams"``: the report's logs (``RUN_DIR/report/tensorboard``), one run per trial whatever its
    status, with its hyperparameters, status and best-epoch metrics in the HParams tab and its
    per-epoch validation curves (``val/<metric>``, ``loss/train``, ``loss/val``, ``learning_rate``) in
    Scalars. They are the only TensorBoard logs in a run directory (Ray's own logger is off, trials
    write none), so ``tensorboard --logdir RUN_DIR`` shows the same runs.
    """
    run_dir = Path(run_dir)
    return {"hparams": f"tensorboard --logdir {shlex.quote(str(run_dir / REPORT_DIR / TENSORBOARD_DIR))}"}


_TB_STATUS = {"completed": "STATUS_SUCCESS", "stopped": "STATUS_SUCCESS", "running": "STATUS_RUNNING",
              "error": "STATUS_FAILURE", "oom": "STATUS_FAILURE", "infeasible": "STATUS_FAILURE"}


def _tb_kind(values: Sequence[Any]) -> str:
    values = [v for v in values if v is not None]
    if values and all(isinstance(v, bool) for v in values):
        return "bool"
    if values and all(_finite(v) for v in values):
        return "number"
    return "string"


def _write_tensorboard(rep: _Report) -> None:
    from google.protobuf import struct_pb2
    from tensorboardX import SummaryWriter
    from tensorboardX.proto.api_pb2 import DataType, Experiment, HParamInfo, Interval, MetricInfo, MetricName, Status
    from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData, SessionEndInfo, SessionStartInfo
    from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata

    def summary(tag: str, **content) -> Summary:
        data = HParamsPluginData(version=0, **content)
        metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
            plugin_name="hparams", content=data.SerializeToString()))
        return Summary(value=[Summary.Value(tag=tag, metadata=metadata)])

    logdir = rep.out_dir / TENSORBOARD_DIR
    shutil.rmtree(logdir, ignore_errors=True)
    logdir.mkdir(parents=True)

    space_params = (rep.info.get("space") or {}).get("params") or {}
    names = list(space_params) + [k for r in rep.records for k in r.params if k not in space_params]
    names = list(dict.fromkeys(names))
    kinds = {}
    experiment = Experiment(name=str(rep.info.get("name", rep.run_dir.name)),
                            description=f"colorsweep sweep {rep.run_dir}",
                            time_created_secs=time.time())
    for name in names:
        spec = space_params.get(name) or {}
        kind, arg = next(iter(spec.items())) if isinstance(spec, dict) and len(spec) == 1 else (None, None)
        observed = [r.params.get(name) for r in rep.records]
        domain = list(arg) if kind == "choice" else [arg] if kind == "value" else None
        if kind == "pow2":
            domain = [2 ** k for k in range(int(math.log2(arg[0])), int(math.log2(arg[1])) + 1)]
        kinds[name] = _tb_kind((domain or []) + observed)
        info = HParamInfo(name=name, type=DataType.Value({"bool": "DATA_TYPE_BOOL", "number": "DATA_TYPE_FLOAT64",
                                                          "string": "DATA_TYPE_STRING"}[kinds[name]]))
        if kind in ("uniform", "loguniform", "int") and kinds[name] == "number":
            info.domain_interval.CopyFrom(Interval(min_value=float(arg[0]), max_value=float(arg[1])))
        elif domain:
            values = struct_pb2.ListValue()
            for value in domain:
                _set_value(values.values.add(), value, kinds[name])
            info.domain_discrete.CopyFrom(values)
        experiment.hparam_infos.append(info)
    status_info = HParamInfo(name="status", type=DataType.Value("DATA_TYPE_STRING"))
    status_info.domain_discrete.extend(list(_STATUS_ORDER))
    experiment.hparam_infos.append(status_info)
    for name, spec in metric_defs.METRICS.items():
        arrow = "↓" if spec.mode == "min" else "↑"
        experiment.metric_infos.append(MetricInfo(
            name=MetricName(tag=f"best/{name}"), display_name=f"{name} {arrow}",
            description=f"validation {name} at the best epoch (on {rep.metric}); {spec.description}",
            dataset_type=2))
    experiment.metric_infos.append(MetricInfo(name=MetricName(tag="epochs"), display_name="epochs",
                                              description="epochs trained"))
    now = time.time()
    rows = {row["trial_id"]: row for row in rep.rows}
    for record in rep.records:
        row = rows[record.trial_id]
        start = SessionStartInfo(group_name=record.trial_id, start_time_secs=now)
        for name in names:
            if record.params.get(name) is not None:
                _set_value(start.hparams[name], record.params[name], kinds[name])
        start.hparams["status"].string_value = record.status
        with SummaryWriter(str(logdir / f"trial_{record.trial_id}")) as writer:
            if record is rep.records[0]:  # TensorBoard finds the experiment in any run: no extra run for it
                writer.file_writer.add_summary(summary("_hparams_/experiment", experiment=experiment))
            writer.file_writer.add_summary(summary("_hparams_/session_start_info", session_start_info=start))
            for epoch_row in record.history:
                epoch = int(epoch_row["epoch"])
                for name in metric_defs.METRICS:
                    if _finite(epoch_row.get(name)):
                        writer.add_scalar(f"val/{name}", epoch_row[name], epoch)
                for key, tag in (("train_loss", "loss/train"), ("val_loss", "loss/val"), ("lr", "learning_rate")):
                    if _finite(epoch_row.get(key)):
                        writer.add_scalar(tag, epoch_row[key], epoch)
            if row["best_epoch"] is not None:
                for name in metric_defs.METRICS:
                    if row[name] is not None:
                        writer.add_scalar(f"best/{name}", row[name], int(row["best_epoch"]))
            writer.add_scalar("epochs", record.epochs, max(record.epochs, 0))
            end = SessionEndInfo(status=Status.Value(_TB_STATUS.get(record.status, "STATUS_UNKNOWN")),
                                 end_time_secs=now)
            writer.file_writer.add_summary(summary("_hparams_/session_end_info", session_end_info=end))
    rep.tensorboard_dir = logdir


def _set_value(target, value: Any, kind: str) -> None:
    if kind == "bool":
        target.bool_value = bool(value)
    elif kind == "number":
        target.number_value = float(value)
    else:
        target.string_value = str(value)


# ---------------------------------------------------------------------------------------------------
# Formatting


def _fmt(value: Any, column: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        if column == "params":  # 46.7k, 1.93M
            return next((f"{value / scale:.3g}{unit}" for scale, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k"))
                         if value >= scale), str(value))
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if column == "learning_rate":
            return f"{value:.3g}"
        if column in ("train_time_s", "peak_memory_mb"):
            return f"{value:.1f}"
        if value == 0:
            return "0"
        magnitude = abs(value)
        if magnitude >= 1000:
            return f"{value:.0f}"
        if magnitude >= 100:
            return f"{value:.1f}"
        if magnitude >= 1:
            return f"{value:.3f}"
        if magnitude >= 1e-3:
            return f"{value:.4f}"
        return f"{value:.2e}"
    return str(value)


def _metric_order(metric: str) -> list[str]:
    """Metrics shown in the report's tables: the ranking one first. Raw ``colorfulness`` stays in the
    CSV/JSON only (``colorfulness_gap`` is the one that says something), unless it ranks."""
    return [metric] + [m for m in metric_defs.METRICS if m != metric and m != "colorfulness"]


def _arrow(metric: str) -> str:
    return "↓" if metric_defs.metric_mode(metric) == "min" else "↑"


def _table_columns(rep: _Report) -> list[tuple[str, str]]:
    """(key, header) of the ranked table in Markdown and HTML."""
    columns = [("rank", "#"), ("trial_id", "trial"), ("status_text", "status"), ("arch", "arch"),
               ("optimizer", "optimizer"), ("loss", "loss"), ("learning_rate", "lr"), ("batch_size", "batch"),
               ("output_activation", "output"), ("epochs_best", "epochs (best)")]
    if rep.several:
        columns += [("pareto_rank", "Pareto rank")]
    if rep.constraints:
        columns += [("meets_constraints", "meets constraints")]
    metrics = [o.metric for o in rep.objectives if o.metric != rep.metric]
    columns += [(m, f"{m} {_arrow(m)}") for m in [rep.metric, *metrics] + [m for m in _metric_order(rep.metric)
                                                                        if m != rep.metric and m not in metrics]]
    columns += [("params", "params")]
    if any(row["peak_memory_mb"] is not None for row in rep.rows):
        columns += [("peak_memory_mb", "peak MiB")]
    columns += [("train_time_s", "time (s)")]
    if len({row["node_id"] for row in rep.rows if row["node_id"]}) > 1:
        columns += [("node_id", "node")]
    columns += [("gpu_ids", "GPU"), ("gpu_share", "GPU share"), ("retry_of", "retry of")]
    return [(k, h) for k, h in columns if k in ("rank", "trial_id", "status_text", "epochs_best")
            or any(row.get(k) is not None for row in rep.rows)]


#: Columns the HTML ranking table leaves to the per-trial details table below it, so that the ranking
#: fits a 1,366-px laptop screen (the Markdown table keeps every column).
_DETAIL_COLUMNS = ("output_activation", "params", "peak_memory_mb", "train_time_s", "node_id", "gpu_ids",
                   "gpu_share", "retry_of")
_HYPERPARAMETER_COLUMNS = ("arch", "optimizer", "loss", "learning_rate", "batch_size", "output_activation")


def _same_in_every_trial(rep: _Report) -> dict[str, Any]:
    """Hyperparameter columns that hold one value in every trial (e.g. ``auto`` fixes the architecture):
    the HTML shows them once above the ranking instead of in every row."""
    if len(rep.rows) < 2:
        return {}
    same = {}
    for key in _HYPERPARAMETER_COLUMNS:
        values = {json.dumps(row.get(key), default=str) for row in rep.rows}
        if len(values) == 1 and rep.rows[0].get(key) is not None:
            same[key] = rep.rows[0][key]
    return same


def _html_ranking_columns(rep: _Report) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(ranking columns, details columns) of the HTML report."""
    same = _same_in_every_trial(rep)
    columns = _table_columns(rep)
    ranking = [(k, h) for k, h in columns if k not in _DETAIL_COLUMNS and k not in same]
    details = [(k, h) for k, h in columns if k in ("rank", "trial_id") or k in _DETAIL_COLUMNS]
    return ranking, details


def _cell(row: dict, key: str) -> str:
    """A ranked-table cell as text (``epochs_best``: epochs trained, best epoch in brackets)."""
    if key == "epochs_best":
        return f"{row['epochs']} ({row['best_epoch']})" if row["best_epoch"] is not None else str(row["epochs"])
    if key == "node_id":
        return (row["node_id"] or "")[:8] or "–"
    return _fmt(row[key], key)


def _ranked_entries(rep: _Report) -> list[tuple[str, Any]]:
    """Trial rows with the baselines inserted where they rank: ("trial", row) / ("baseline", (name, values))."""
    entries: list[tuple[str, Any]] = [("trial", row) for row in rep.rows]
    for name, values in sorted(rep.baselines.items(), key=lambda kv: kv[0]):
        value = values.get(rep.metric)
        position = len([row for row in rep.rows if row[rep.metric] is not None])
        if _finite(value):
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


_BASELINE_LABELS = {"gray": "neutral grey (ab = 0)", "train_mean": "training-set mean ab"}


def _counts(rep: _Report) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in rep.records:
        counts[record.status] = counts.get(record.status, 0) + 1
    return counts


def _counts_text(rep: _Report) -> str:
    counts = _counts(rep)
    words = {"completed": "completed", "stopped": "stopped early by ASHA", "error": "errored", "oom": "out of memory",
             "infeasible": "infeasible", "running": "running", "pending": "pending", "interrupted": "interrupted"}
    parts = [f"{counts[s]} {words.get(s, s)}" for s in _STATUS_ORDER if counts.get(s)]
    parts += [f"{n} {s}" for s, n in counts.items() if s not in _STATUS_ORDER]
    return f"{len(rep.records)} trial{'s' if len(rep.records) != 1 else ''}" + (f" ({', '.join(parts)})" if parts else "")


def _headline(rep: _Report) -> list[tuple[str, str]]:
    """(label, text) facts for the top of the report."""
    info, data = rep.info, rep.info.get("data") or {}
    facts = []
    best = next((row for row in rep.rows if row[rep.metric] is not None and row.get("meets_constraints") is not False),
                None)
    if best is None and any(row.get("meets_constraints") is False for row in rep.rows):
        facts.append(("best trial", "none: no trial meets the constraints "
                                    + ", ".join(c.text for c in rep.constraints) + " (see the ranking)"))
    elif best:
        facts.append(("best trial", f"{best['trial_id']}: {best['arch']}, {best['optimizer']}, {best['loss']}, "
                                    f"lr {_fmt(best['learning_rate'], 'learning_rate')}, batch {best['batch_size']} — "
                                    f"{rep.metric} {_fmt(best[rep.metric])}"))
        gray = rep.baselines.get("gray", {}).get(rep.metric)
        if _finite(gray):
            beats = metric_defs.is_better(rep.metric, best[rep.metric], gray)
            facts.append(("vs grey baseline", f"{_fmt(gray)} → {_fmt(best[rep.metric])} "
                                              f"({'better' if beats else 'NOT better'} than predicting grey)"))
    else:
        facts.append(("best trial", f"none yet: no trial has reported a validation {rep.metric}"))
    facts.append(("trials", _counts_text(rep)))
    split = data.get("split")
    facts.append(("data", f"{data.get('source', '?')} at {data.get('size', '?')} px"
                          + (f", {split[0]} train / {split[1]} val / {split[2]} test images" if split else "")))
    space = info.get("space") or {}
    epochs, trials = info.get("max_epochs", "?"), info.get("trials", "?")
    budget = info.get("time_budget_s")
    planned = (f"{trials} trial{'' if trials == 1 else 's'} planned" if trials is not None else "as many trials as fit")
    if budget:
        planned += f" in a {budget / 60:g}-minute budget"
    stopping = "no early stopping" if (info.get("scheduler") or {}).get("name") == "none" else "ASHA"
    crops = (space.get("fixed") or {}).get("samples_per_epoch")
    if crops:
        stopping += f", epochs of {crops} random crops"
    facts.append(("space", f"{space.get('name', '?')} — {info.get('searcher', '?')}, {stopping}, up to {epochs} "
                           f"epoch{'' if epochs == 1 else 's'}, {planned}"))
    if rep.state == "finished":
        wall = info.get("wall_time_s")
        facts.append(("sweep", f"finished {info.get('finished')}" + (f" in {wall / 60:.1f} min" if _finite(wall) else "")))
    else:
        facts.append(("sweep", f"started {info.get('created', '?')}; no end recorded: still running, or was interrupted "
                               f"(resume with `colorsweep resume {rep.run_dir}`)"))
    facts.append(("ranked on", f"validation {rep.metric} at each trial's best epoch ({rep.better} is better)"
                   + (f"; trials that violate {', '.join(c.text for c in rep.constraints)} rank after the rest"
                      if rep.constraints else "")))
    if rep.several:
        front = pareto.front(rep.standing, rep.objectives)
        facts.append(("objectives", f"{', '.join(o.metric for o in rep.objectives)}: {len(front)} trial(s) on the "
                                    f"Pareto front" + (f", knee {rep.knee_id}" if rep.knee_id else "")))
    return facts


def _md_escape(text: Any) -> str:
    """Text for a Markdown table cell or line: HTML special characters escaped like the HTML report
    (Markdown renders raw HTML), table pipes escaped, one line."""
    return html.escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")


def _md_code(text: Any) -> str:
    """Text inside a Markdown code span: backticks cannot end it early."""
    text = str(text).replace("\n", " ")
    fence = "``" if "`" in text else "`"
    return f"{fence} {text} {fence}" if fence == "``" else f"`{text}`"


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[str] | None = None) -> str:
    align = align or ["l"] * len(headers)
    lines = ["| " + " | ".join(_md_escape(h) for h in headers) + " |",
             "|" + "|".join(":---" if a == "l" else "---:" for a in align) + "|"]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


_LEFT = {"trial_id", "status_text", "arch", "optimizer", "loss", "output_activation", "node_id"}
_BASELINE_SPAN = ("arch", "optimizer", "loss", "learning_rate", "batch_size", "output_activation", "epochs_best")


def _comparison_grid(rep: _Report) -> tuple[list[str], list[list[dict | None]]]:
    comp = rep.comparison
    headers = [f"{c['optimizer']} / {c['loss']}" for c in comp["columns"]]
    cells = {(c["arch"], c["optimizer"], c["loss"]): c for c in comp["cells"]}
    grid = [[cells.get((arch, c["optimizer"], c["loss"])) for c in comp["columns"]] for arch in comp["rows"]]
    return headers, grid


def _test_table(rep: _Report) -> tuple[list[str], list[list[str]], list[str]]:
    """Headers, rows and row kinds ("trial"/"baseline") of the test-split table."""
    names = _metric_order(rep.metric)
    headers = ["#", "trial", "arch"] + [f"{m} {_arrow(m)}" for m in names]
    rows, kinds = [], []
    by_id = {row["trial_id"]: row for row in rep.rows}
    for trial_id in rep.tested:
        row = by_id[trial_id]
        rows.append([str(row["rank"]), trial_id, str(row["arch"])] + [_fmt(row[f"test_{m}"]) for m in names])
        kinds.append("trial")
    for name, values in rep.test_baselines.items():
        rows.append(["–", f"baseline: {name}", _BASELINE_LABELS.get(name, "")] + [_fmt(values.get(m)) for m in names])
        kinds.append("baseline")
    return headers, rows, kinds


# ---------------------------------------------------------------------------------------------------
# Markdown


def _render_md(rep: _Report) -> str:
    out = [f"# Sweep report: {_md_escape(rep.info.get('name', rep.run_dir.name))}", ""]
    out += [f"- **{label}**: {_md_escape(text)}" for label, text in _headline(rep)]
    out += ["", f"Run directory: {_md_code(rep.run_dir)} · generated {rep.generated}", ""]

    columns = _table_columns(rep)
    out += [f"## Ranking: every trial by validation {rep.metric} ({rep.better} is better)", "",
            "Baselines (_in italics_) sit where they rank; a trial below them does worse than a trivial prediction.", ""]
    table_rows = []
    for kind, item in _ranked_entries(rep):
        if kind == "trial":
            cells = [_cell(item, k) for k, _ in columns]
            if item["rank"] == 1 and item[rep.metric] is not None:
                cells = [f"**{c}**" for c in cells]
        else:
            name, values = item
            cells = []
            for key, _ in columns:
                if key == "rank":
                    cells.append("–")
                elif key == "trial_id":
                    cells.append(f"_baseline: {name}_")
                elif key == "status_text":
                    cells.append(f"_{_BASELINE_LABELS.get(name, name)}_")
                elif key in metric_defs.METRICS:
                    cells.append(f"_{_fmt(values.get(key))}_")
                else:
                    cells.append("")
        table_rows.append(cells)
    out += [_md_table([h for _, h in columns], table_rows,
                      ["l" if k in _LEFT else "r" for k, _ in columns]), ""]

    failures = [row for row in rep.rows if row["error_first_line"]]
    if failures:
        out += ["**Failed trials**:", ""]
        out += [f"- {_md_code(row['trial_id'])} ({_md_escape(row['arch'])}): {_md_escape(row['status_text'])}"
                for row in failures]
        out += [""]

    out += _pareto_md(rep)

    out += ["## Test split: top trials", ""]
    if rep.tested:
        headers, rows, _ = _test_table(rep)
        out += [f"Metrics of each trial's best.keras on the held-out test split, beside the baselines on the same split.", "",
                _md_table(headers, rows, ["r", "l", "l"] + ["r"] * (len(headers) - 3)), ""]
    else:
        out += ["_No test-split metrics (see the notes)._", ""]

    out += [f"## Architecture × (optimizer, loss): best validation {rep.metric} ({rep.better} is better)", ""]
    if rep.comparison.get("rows"):
        headers, grid = _comparison_grid(rep)
        rows = [[f"**{arch}**"] + [f"{_fmt(c['value'])} ({c['n']})" if c else "–" for c in cells]
                for arch, cells in zip(rep.comparison["rows"], grid)]
        out += ["Each cell: the best trial of that combination (number of trials in brackets).", "",
                _md_table(["arch"] + headers, rows, ["l"] + ["r"] * len(headers)), "",
                "**Best trial per architecture**", ""]
        keys = ["arch", "trial_id", "rank", rep.metric, "optimizer", "loss", "learning_rate", "batch_size",
                "output_activation", "epochs", "status_text"]
        out += [_md_table([k if k != rep.metric else f"{k} {_arrow(k)}" for k in keys],
                          [[_fmt(b[k], k) for k in keys] for b in rep.best_per_arch],
                          ["l", "l", "r", "r", "l", "l", "r", "r", "l", "r", "l"]), ""]
    else:
        out += [f"_No trial has a validation {rep.metric} yet._", ""]

    out += ["## Pictures", ""]
    titles = {"image_grid": "Validation images: input, truth, top models",
              "learning_curves": "Learning curves", "metric_vs_hparams": f"{rep.metric} against learning rate and batch size",
              "param_importances": "Parameter importances (Optuna)"}
    for name, title in titles.items():
        if name in rep.figures:
            out += [f"### {title}", "", f"![{title}]({FIGURES[name]})", "", rep.captions.get(name, ""), ""]
    if not rep.figures:
        out += ["_No figures (see the notes)._", ""]

    out += ["## TensorBoard", ""]
    commands = tensorboard_commands(rep.run_dir)
    if rep.tensorboard_dir:
        out += ["One run per trial. HParams tab: every trial's hyperparameters, status, best-epoch metrics; Scalars: "
                "per-epoch curves (`tensorboard --logdir RUN_DIR` shows the same runs):", "",
                f"    {commands['hparams']}", ""]

    if rep.notes:
        out += ["## Notes", ""] + [f"- {_md_escape(n)}" for n in rep.notes] + [""]

    out += ["## Metrics", ""]
    out += [f"- **{name}** ({'lower' if spec.mode == 'min' else 'higher'} is better; {spec.unit}): {spec.description}"
            for name, spec in metric_defs.METRICS.items()]
    out += ["", "Columns of trials.csv / trials.json: see docs/report.md (or `search.report.COLUMNS`).", ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------
# HTML

_CSS = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa;--best:#d2f4dc;--bestline:#1a7f37;
--base:#eef1ff;--baseline:#4f5fbf;--err:#b42318}
*{box-sizing:border-box}
body{margin:0;background:#eef1f4;color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif}
main{max-width:1440px;margin:0 auto;background:#fff;padding:24px 26px 40px;min-height:100vh}
h1{font-size:26px;margin:0 0 2px}
h2{font-size:19px;margin:34px 0 10px;padding-bottom:5px;border-bottom:2px solid var(--line)}
h3{font-size:15px;margin:22px 0 6px}
.sub{color:var(--muted);margin:0 0 16px}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:3px 16px;margin:0 0 6px;padding:12px 16px;
background:var(--soft);border:1px solid var(--line);border-radius:8px}
.facts dt{color:var(--muted);font-weight:600}.facts dd{margin:0}
.facts dd.win{color:var(--bestline);font-weight:600}.facts dd.lose{color:var(--err);font-weight:600}
.scroll{overflow-x:auto;border:1px solid var(--line);border-radius:8px}
table{border-collapse:collapse;font-size:12.5px;font-variant-numeric:tabular-nums;width:100%}
th,td{padding:5px 6px;border-bottom:1px solid #e6eaef;text-align:right;white-space:nowrap;vertical-align:top}
th{background:#f0f3f6;font-weight:600;position:sticky;top:0;white-space:normal;vertical-align:bottom}
th.l,td.l{text-align:left}
th.key,td.key{background:rgba(255,214,102,.18);font-weight:700}
td.status{white-space:normal;min-width:140px;max-width:220px;text-align:left}
tr:last-child td{border-bottom:none}
tr.best td{background:var(--best);font-weight:600}
tr.best td:first-child{box-shadow:inset 4px 0 0 var(--bestline)}
tr.baseline td{background:var(--base);color:var(--baseline);font-style:italic;border-top:1px dashed #9aa6e6;
border-bottom:1px dashed #9aa6e6}
tr.baseline td:first-child{box-shadow:inset 4px 0 0 var(--baseline)}
tr.failed td{color:#6e7781}
tr.failed td.status{color:var(--err)}
.pill{display:inline-block;padding:0 7px;border-radius:10px;font-size:11.5px;font-weight:600;font-style:normal;
margin-right:4px}
.p-completed{background:#dafbe1;color:#116329}.p-stopped{background:#fff1cc;color:#7d4e00}
.p-running,.p-pending{background:#ddf4ff;color:#0550ae}.p-error,.p-oom,.p-infeasible{background:#ffe2e0;color:#a40e26}
.p-interrupted{background:#eaeef2;color:#424a53}.p-baseline{background:#dfe3ff;color:#3442a0}
.legend{color:var(--muted);font-size:12.5px;margin:6px 0 0}
.grid td,.grid th{text-align:center}
.grid td.arch{text-align:left;font-weight:600}
.grid .n{color:var(--muted);font-size:11px}
figure{margin:10px 0 22px}figure img{max-width:100%;height:auto;border:1px solid var(--line);border-radius:6px}
figcaption{color:var(--muted);font-size:12.5px;margin-top:4px;max-width:1000px}
.notes{background:#fff8c5;border:1px solid #e5c158;border-radius:8px;padding:8px 14px 8px 30px}
pre{background:#1f2328;color:#f0f3f6;padding:10px 14px;border-radius:8px;overflow-x:auto}
code{background:var(--soft);padding:1px 5px;border-radius:4px;font-size:12.5px}
.metrics dt{font-weight:700;margin-top:6px}.metrics dd{margin:0 0 0 18px;color:var(--muted)}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _pill(status: str) -> str:
    label = {"stopped": "stopped early", "oom": "out of memory"}.get(status, status)
    return f'<span class="pill p-{_e(status)}">{_e(label)}</span>'


def _img(data: bytes, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}">'


def _cell_color(value: float, lo: float, hi: float, mode: str) -> str:
    """Green (best) to red (worst) background for a comparison cell."""
    if hi <= lo:
        t = 1.0
    else:
        t = (value - lo) / (hi - lo)
        t = 1.0 - t if mode == "min" else t
    hue = 8 + 120 * t  # red → green
    return f"background:hsl({hue:.0f},62%,86%)"


def _render_html(rep: _Report) -> str:
    title = f"Sweep report: {rep.info.get('name', rep.run_dir.name)}"
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
             f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{_e(title)}</title>",
             f"<style>{_CSS}</style></head><body><main>",
             f"<h1>{_e(title)}</h1>",
             f"<p class='sub'>Run directory <code>{_e(rep.run_dir)}</code> · generated {_e(rep.generated)}</p>"]
    parts.append("<dl class='facts'>")
    for label, text in _headline(rep):
        cls = ""
        if label == "vs grey baseline":
            cls = " class='lose'" if "NOT" in text else " class='win'"
        parts.append(f"<dt>{_e(label)}</dt><dd{cls}>{_e(text)}</dd>")
    parts.append("</dl>")

    # Ranked table
    columns, detail_columns = _html_ranking_columns(rep)
    parts.append(f"<h2>Ranking: every trial by validation {_e(rep.metric)} ({rep.better} is better)</h2>")
    same = _same_in_every_trial(rep)
    if same:
        parts.append("<p class='legend'>Same in every trial: " + ", ".join(
            f"{_e(dict(_table_columns(rep)).get(k, k))} <b>{_e(_cell(rep.rows[0], k))}</b>" for k in same) + ".</p>")
    parts.append("<div class='scroll'><table class='ranking'><thead><tr>")
    for key, header in columns:
        cls = " ".join(c for c in ("l" if key in _LEFT else "", "key" if key == rep.metric else "") if c)
        text = _e(header).replace(" ", "&nbsp;")
        if len(key) > 10 and "_" in text:  # let a long metric name break after its last underscore
            head, tail = text.rsplit("_", 1)
            text = f"{head}_<wbr>{tail}"
        parts.append(f"<th class='{cls}'>{text}</th>")
    parts.append("</tr></thead><tbody>")
    for kind, item in _ranked_entries(rep):
        if kind == "trial":
            row = item
            classes = []
            if row["rank"] == 1 and row[rep.metric] is not None:
                classes.append("best")
            if row["status"] in ("error", "oom", "infeasible") or row[rep.metric] is None:
                classes.append("failed")
            parts.append(f"<tr class='{' '.join(classes)}'>")
            for key, _ in columns:
                cls = " ".join(c for c in ("l" if key in _LEFT else "", "key" if key == rep.metric else "") if c)
                if key == "status_text":
                    text = row["status_text"]
                    if row["status"] == "stopped" and "ASHA" in text:
                        detail = text.replace("stopped early ", "")
                    else:
                        detail = text[len(row["status"]):].lstrip(": ") if text.startswith(row["status"]) else text
                    parts.append(f"<td class='status'>{_pill(row['status'])}{_e(detail)}</td>")
                else:
                    parts.append(f"<td class='{cls}'>{_e(_cell(row, key))}</td>")
            parts.append("</tr>")
        else:
            name, values = item
            parts.append("<tr class='baseline'>")
            span = [k for k, _ in columns if k in _BASELINE_SPAN]
            for key, _ in columns:
                cls = " ".join(c for c in ("l" if key in _LEFT else "", "key" if key == rep.metric else "") if c)
                if key in _BASELINE_SPAN:  # one cell across the hyperparameter columns: what the baseline is
                    if key == span[0]:
                        parts.append(f"<td class='l' colspan='{len(span)}'>{_e(_BASELINE_LABELS.get(name, name))}"
                                     f" — same validation split</td>")
                    continue
                if key == "rank":
                    text = "–"
                elif key == "trial_id":
                    text = name
                elif key == "status_text":
                    parts.append(f"<td class='status'>{_pill('baseline')}</td>")
                    continue
                elif key in metric_defs.METRICS:
                    text = _fmt(values.get(key))
                else:
                    text = ""
                parts.append(f"<td class='{cls}'>{_e(text)}</td>")
            parts.append("</tr>")
    parts.append("</tbody></table></div>")
    if len(detail_columns) > 2:
        parts.append("<details class='trial-details'><summary>Per trial: " + ", ".join(
            _e(h) for k, h in detail_columns[2:]) + "</summary><div class='scroll'><table><thead><tr>")
        parts += [f"<th class='{'l' if k in _LEFT else ''}'>{_e(h)}</th>" for k, h in detail_columns]
        parts.append("</tr></thead><tbody>")
        for row in rep.rows:
            parts.append("<tr>" + "".join(f"<td class='{'l' if k in _LEFT else ''}'>{_e(_cell(row, k))}</td>"
                                          for k, _ in detail_columns) + "</tr>")
        parts.append("</tbody></table></div></details>")
    parts.append(
        "<p class='legend'>Green row: the best trial. Blue dashed rows: baselines on the same validation split, placed "
        "where they rank — trials below them do worse than a trivial prediction. Metrics are each trial's best epoch "
        f"(on {_e(rep.metric)}); arrows show which way is better.</p>"
    )

    parts.append(_pareto_html(rep))

    # Test split
    parts.append("<h2>Test split: top trials</h2>")
    if rep.tested:
        headers, rows, kinds = _test_table(rep)
        parts.append("<p class='legend'>Each trial's best.keras on the held-out test split, beside the baselines "
                     "on the same split.</p><div class='scroll'><table><thead><tr>")
        parts += [f"<th class='{'l' if i in (1, 2) else ''}{' key' if i == 3 else ''}'>{_e(h)}</th>"
                  for i, h in enumerate(headers)]
        parts.append("</tr></thead><tbody>")
        for i, (row, kind) in enumerate(zip(rows, kinds)):
            cls = "baseline" if kind == "baseline" else ("best" if i == 0 else "")
            parts.append(f"<tr class='{cls}'>" + "".join(
                f"<td class='{'l' if j in (1, 2) else ''}{' key' if j == 3 else ''}'>{_e(c)}</td>"
                for j, c in enumerate(row)) + "</tr>")
        parts.append("</tbody></table></div>")
    else:
        parts.append("<p class='legend'>No test-split metrics (see the notes below).</p>")

    # Study comparison
    parts.append(f"<h2>Architecture × (optimizer, loss): best validation {_e(rep.metric)}</h2>")
    if rep.comparison.get("rows"):
        headers, grid = _comparison_grid(rep)
        values = [c["value"] for row in grid for c in row if c]
        lo, hi = min(values), max(values)
        parts.append("<p class='legend'>Each cell: the best trial of that combination, green = better, red = worse "
                     "(number of trials below). Empty: not sampled.</p>")
        parts.append("<div class='scroll'><table class='grid'><thead><tr><th class='l'>arch</th>")
        parts += [f"<th>{_e(h)}</th>" for h in headers]
        parts.append("</tr></thead><tbody>")
        for arch, cells in zip(rep.comparison["rows"], grid):
            parts.append(f"<tr><td class='arch'>{_e(arch)}</td>")
            for c in cells:
                if c is None:
                    parts.append("<td class='n'>–</td>")
                else:
                    parts.append(f"<td style='{_cell_color(c['value'], lo, hi, rep.mode)}' title='trial {_e(c['trial_id'])}'>"
                                 f"<b>{_e(_fmt(c['value']))}</b><br><span class='n'>{c['n']} trial{'s' if c['n'] != 1 else ''}"
                                 f" · {_e(c['trial_id'])}</span></td>")
            parts.append("</tr>")
        parts.append("</tbody></table></div>")
        parts.append("<h3>Best trial per architecture</h3><div class='scroll'><table><thead><tr>")
        keys = ["arch", "trial_id", "rank", rep.metric, "optimizer", "loss", "learning_rate", "batch_size",
                "output_activation", "epochs", "status_text"]
        for key in keys:
            header = f"{key} {_arrow(key)}" if key == rep.metric else {"status_text": "status"}.get(key, key)
            cls = ("l" if key in _LEFT else "") + (" key" if key == rep.metric else "")
            parts.append(f"<th class='{cls}'>{_e(header)}</th>")
        parts.append("</tr></thead><tbody>")
        for i, best in enumerate(rep.best_per_arch):
            parts.append(f"<tr class='{'best' if best['rank'] == 1 else ''}'>" + "".join(
                f"<td class='{('l' if k in _LEFT else '') + (' key' if k == rep.metric else '')}'>{_e(_fmt(best[k], k))}</td>"
                for k in keys) + "</tr>")
        parts.append("</tbody></table></div>")
    else:
        parts.append(f"<p class='legend'>No trial has a validation {_e(rep.metric)} yet.</p>")

    # Pictures
    parts.append("<h2>Pictures</h2>")
    titles = {"image_grid": "Validation images: input, truth and the top models",
              "learning_curves": "Learning curves of the top trials",
              "metric_vs_hparams": f"{rep.metric} against learning rate and batch size",
              "param_importances": "Parameter importances (Optuna, fANOVA)"}
    for name, figure_title in titles.items():
        if name in rep.figures:
            parts.append(f"<h3>{_e(figure_title)}</h3><figure>{_img(rep.figures[name], figure_title)}"
                         f"<figcaption>{_e(rep.captions.get(name, ''))}</figcaption></figure>")
    if not rep.figures:
        parts.append("<p class='legend'>No figures (see the notes below).</p>")

    # TensorBoard
    commands = tensorboard_commands(rep.run_dir)
    parts.append("<h2>TensorBoard</h2>")
    if rep.tensorboard_dir:
        parts.append("<p>Every trial in the <b>HParams</b> tab (hyperparameters, status, best-epoch metrics; table, "
                     "parallel coordinates, scatter) and its per-epoch curves under Scalars:</p>"
                     f"<pre>{_e(commands['hparams'])}</pre>")

    if rep.notes:
        parts.append("<h2>Notes</h2><ul class='notes'>" + "".join(f"<li>{_e(n)}</li>" for n in rep.notes) + "</ul>")

    parts.append("<h2>Metrics</h2><dl class='metrics'>")
    for name, spec in metric_defs.METRICS.items():
        parts.append(f"<dt>{_e(name)} {_arrow(name)}</dt><dd>{_e(spec.unit)} — {_e(spec.description)}</dd>")
    parts.append("</dl></main></body></html>")
    return "".join(parts)


# ---------------------------------------------------------------------------------------------------
# CSV / JSON


def _write_csv(rep: _Report, path: Path) -> None:
    buffer = io.StringIO()
    columns = rep.columns()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rep.rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in columns})
    _write_text(path, buffer.getvalue())


def _json_payload(rep: _Report) -> dict:
    info = rep.info
    return {
        "run_dir": str(rep.run_dir),
        "name": info.get("name"),
        "generated": rep.generated,
        "state": rep.state,
        "metric": rep.metric,
        "mode": rep.mode,
        "sweep": {k: info.get(k) for k in ("space", "data", "trials", "max_epochs", "seed", "scheduler", "searcher",
                                           "resources", "created", "finished", "wall_time_s", "command_line",
                                           "versions")},
        "counts": _counts(rep),
        "columns": rep.columns(),
        "trials": rep.rows,
        "baselines": {"val": rep.baselines, "test": rep.test_baselines},
        "tested": rep.tested,
        "comparison": rep.comparison,
        "best_per_arch": rep.best_per_arch,
        "importances": rep.importances,
        "figures": {name: _ALL_FIGURES[name] for name in rep.figures},
        "tensorboard": {"logdir": str(rep.tensorboard_dir) if rep.tensorboard_dir else None,
                        "commands": tensorboard_commands(rep.run_dir)},
        "notes": rep.notes,
        **({"objectives": [o.to_dict() for o in rep.objectives], "knee": rep.knee_id,
            "front": [pareto.as_dict(s) for s in pareto.front(rep.standing, rep.objectives)],
            "importances_by_objective": rep.importances_by_objective} if rep.several else {}),
        **({"constraints": [c.text for c in rep.constraints]} if rep.constraints else {}),
    }


def _write_text(path: Path, text: str) -> None:
    from search.rundir import write_text_atomic

    write_text_atomic(path, text)


def _json_default(value: Any):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return str(value)


# ---------------------------------------------------------------------------------------------------
# Entry point


def write_report(
    run_dir: str | os.PathLike,
    *,
    metric: str | None = None,
    top: int = 5,
    formats: str | Iterable[str] = FORMATS,
    models: bool = True,
    figures: bool = True,
    tensorboard: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Write the report of the sweep in ``run_dir`` into ``run_dir/report/``; returns what it wrote.

    Args:
        run_dir: a run directory (the folder ``colorsweep run`` printed, holding ``sweep.json``).
        metric: validation metric that ranks the trials (default: the sweep's); its direction comes
            from :data:`colorize_core.metrics.METRICS`.
        top: how many top trials get test-split metrics and learning curves (positive int).
        formats: any of :data:`FORMATS` (``"md"``, ``"html"``, ``"csv"``, ``"json"``), or a comma list.
        models: load the top trials' ``best.keras`` (test metrics, image grid, parameter counts);
            False skips Keras entirely.
        figures: draw the PNG figures (only used by ``md`` and ``html``).
        tensorboard: write ``report/tensorboard/`` (HParams of every trial).
        progress: called with short progress messages.

    Returns:
        ``{"md": path, "html": path, "csv": path, "json": path, <figure name>: path, "tensorboard": dir}``
        for what was written.

    Raises:
        FileNotFoundError: ``run_dir`` is not a run directory.
        ValueError: an unknown metric or format, or a bad ``top``.
    """
    run_dir = Path(run_dir).expanduser()
    if not run_dir.is_dir():
        raise FileNotFoundError(
            f"run directory {run_dir} does not exist; pass the folder `colorsweep run` printed, "
            "e.g. ./colorsweep-runs/<name>"
        )
    run_dir = run_dir.resolve()
    info = load_sweep_info(run_dir)
    metric, mode = _resolve_metric(info, metric)
    if isinstance(top, bool) or not isinstance(top, int) or top <= 0:
        raise ValueError(f"top must be a positive int, got {top!r}")
    formats = _check_formats(formats)

    objectives, constraints = objectives_of(info), constraints_of(info)
    records = rank_records(load_records(run_dir), metric=metric, mode=mode, constraints=constraints)
    baselines_path = run_dir / BASELINES_FILE
    baselines = json.loads(baselines_path.read_text()) if baselines_path.exists() else {}
    finished = "finished" in info
    rep = _Report(
        run_dir=run_dir, out_dir=run_dir / REPORT_DIR, info=info, metric=metric, mode=mode, top=top,
        records=records, baselines=baselines, state="finished" if finished else "running or interrupted",
        rows=report_rows(records, metric=metric, mode=mode, fixed=dict((info.get("space") or {}).get("fixed") or {}),
                         finished=finished),
        generated=time.strftime("%Y-%m-%d %H:%M:%S"), objectives=objectives, constraints=constraints,
    )
    _mark_standing(rep)
    if not baselines:
        rep.notes.append(f"no {BASELINES_FILE} in the run directory: no baseline rows.")
    if not records:
        rep.notes.append("no trial has started yet.")
    rep.out_dir.mkdir(parents=True, exist_ok=True)
    _comparison(rep)

    want_figures = figures and ({"md", "html"} & set(formats))
    dataset = grid = front_grid = None
    grid_idx: list[int] = []
    if models and any(row[metric] is not None for row in rep.rows):
        dataset = _reload_data(info, rep.notes)
        if dataset is not None:
            grid_idx = _grid_indices(dataset.val.names, _GRID_IMAGES) if len(dataset.val) else []
            grid = _guard(rep, "test metrics and pictures", _evaluate_models, rep, dataset, grid_idx, progress)
            if rep.several and grid_idx:
                front_grid = _guard(rep, "pictures of the Pareto front", _predict_front, rep, dataset, grid_idx, progress)
    if models:
        _guard(rep, "parameter counts", _fill_param_counts, rep)
    _guard(rep, "parameter importances", _importances, rep)
    if rep.several:
        _guard(rep, "importances per objective", _importances_per_objective, rep)

    written: dict[str, Path] = {}
    if want_figures:
        for filename in _ALL_FIGURES.values():  # never leave a stale figure beside the new report
            (rep.out_dir / filename).unlink(missing_ok=True)
        if progress:
            progress("drawing figures")
        if grid:
            _guard(rep, "the image grid", _figure_image_grid, rep, dataset, grid_idx, grid)
        elif models and dataset is not None:
            rep.notes.append("no image grid: none of the top trials has a loadable best.keras yet.")
        _guard(rep, "the learning curves", _figure_learning_curves, rep)
        _guard(rep, "the hyperparameter plots", _figure_metric_vs_hparams, rep)
        if rep.importances:
            _guard(rep, "the importance plot", _figure_importances, rep)
        if rep.several:
            _guard(rep, "the Pareto plot", _figure_pareto, rep)
            if front_grid:
                _guard(rep, "the Pareto pictures", _figure_front_pictures, rep, dataset, grid_idx, front_grid)
        for name, data in rep.figures.items():
            path = rep.out_dir / _ALL_FIGURES[name]
            path.write_bytes(data)
            written[name] = path
    if tensorboard:
        _guard(rep, "the TensorBoard logs", _write_tensorboard, rep)
        if rep.tensorboard_dir:
            written["tensorboard"] = rep.tensorboard_dir

    if "md" in formats:
        written["md"] = rep.out_dir / _FORMAT_FILES["md"]
        _write_text(written["md"], _render_md(rep))
    if "html" in formats:
        written["html"] = rep.out_dir / _FORMAT_FILES["html"]
        _write_text(written["html"], _render_html(rep))
    if "csv" in formats:
        written["csv"] = rep.out_dir / _FORMAT_FILES["csv"]
        _write_csv(rep, written["csv"])
    if "json" in formats:
        written["json"] = rep.out_dir / _FORMAT_FILES["json"]
        _write_text(written["json"], json.dumps(_json_payload(rep), indent=1, default=_json_default))
    del dataset
    return written


def _guard(rep: _Report, what: str, fn, *args):
    """Run an optional part of the report; a failure becomes a note, never a failed report."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - a report with a note beats no report
        rep.notes.append(f"{what} skipped: {type(exc).__name__}: {first_error_line(str(exc)) or exc!r}")
        return None


# ---------------------------------------------------------------------------------------------------
# Command line


def _text_table(rows: list[dict], columns: Sequence[str]) -> str:
    cells = [[_fmt(row.get(c), c) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


def cmd_report(args) -> int:
    """``colorsweep report RUN_DIR``: write the report, print the top of the ranking and the files."""
    formats = args.format
    written = write_report(
        args.run_dir, metric=args.metric, top=args.top, formats=formats, models=not args.no_models,
        progress=None if args.json else (lambda message: print(f"report: {message}", file=sys.stderr)),
    )
    run_dir = Path(args.run_dir).expanduser().resolve()
    payload = json.loads((run_dir / REPORT_DIR / _FORMAT_FILES["json"]).read_text()) if "json" in written else None
    info = load_sweep_info(run_dir)
    metric, mode = _resolve_metric(info, args.metric)
    if payload is None:
        records = rank_records(load_records(run_dir), metric=metric, mode=mode)
        rows = report_rows(records, metric=metric, mode=mode, finished="finished" in info)
        baselines = json.loads((run_dir / BASELINES_FILE).read_text()) if (run_dir / BASELINES_FILE).exists() else {}
    else:
        rows, baselines = payload["trials"], payload["baselines"]["val"]
    commands = tensorboard_commands(run_dir)
    top_rows = rows[: args.top]
    if args.json:
        out = {"run_dir": str(run_dir), "metric": metric, "mode": mode, "top": top_rows, "baselines": baselines,
               "files": {k: str(v) for k, v in written.items()}}
        if args.tensorboard:
            out["tensorboard"] = commands
        print(json.dumps(out, indent=1, default=_json_default))
        return 0
    objectives = [o.metric for o in objectives_of(info) if o.metric != metric]
    extra = [m for m in ("gain_vs_gray" if metric != "gain_vs_gray" else "delta_e",) if m not in objectives]
    columns = ["rank", "trial_id", "status_text", "arch", "optimizer", "loss", "learning_rate", "batch_size",
               "epochs", metric, *objectives, *extra, "train_time_s"]
    columns += [k for k in OBJECTIVE_COLUMNS if any(k in row for row in top_rows)]
    shown = list(top_rows)
    for name, values in sorted(baselines.items()):  # baselines where they rank (else at the end)
        value = values.get(metric)
        at = next((i for i, row in enumerate(shown) if _finite(value) and
                   (row.get(metric) is None or metric_defs.is_better(metric, value, row[metric]))), len(shown))
        shown.insert(at, {"rank": None, "trial_id": f"baseline: {name}", "status_text": "baseline", **values})
    print(f"top {len(top_rows)} of {len(rows)} trials by validation {metric} "
          f"({'lower' if mode == 'min' else 'higher'} is better; baselines where they rank):")
    print(_text_table(shown, columns))
    print()
    for key in ("html", "md", "csv", "json"):
        if key in written:
            print(f"{key:>5}: {written[key]}")
    figures = [str(written[k]) for k in _ALL_FIGURES if k in written]
    if figures:
        print(f"figures: {', '.join(Path(f).name for f in figures)} (in {run_dir / REPORT_DIR})")
    if args.tensorboard:
        print()
        if "tensorboard" in written:
            print("TensorBoard, HParams tab (every trial's hyperparameters, status and best-epoch metrics):")
            print(f"  {commands['hparams']}")
    return 0


def add_commands(subparsers) -> None:
    """Register this module's ``colorsweep`` subcommands (``report``)."""
    p = subparsers.add_parser(
        "report", help="ranked report of a sweep: Markdown, HTML, CSV, JSON, figures, TensorBoard HParams",
        description="Write RUN_DIR/report/ (report.html, report.md, trials.csv, trials.json, figures, "
                    "tensorboard/) and print the top of the ranking. Works on running, killed and failed sweeps.",
    )
    p.add_argument("run_dir", help="the run directory `colorsweep run` printed (holds sweep.json)")
    p.add_argument("--metric", help="validation metric that ranks trials (default: the sweep's); one of "
                                    + ", ".join(metric_defs.METRICS))
    p.add_argument("--top", type=int, default=5, help="trials shown, tested on the test split and plotted (default 5)")
    p.add_argument("--format", default=",".join(FORMATS), help="comma list of md, html, csv, json (default: all)")
    p.add_argument("--no-models", action="store_true",
                   help="skip loading checkpoints (no test metrics, no image grid; faster, no Keras)")
    p.add_argument("--tensorboard", action="store_true", help="also print the command that opens the sweep in TensorBoard")
    p.add_argument("--json", action="store_true", help="print the top rows and written files as JSON")
    p.set_defaults(func=cmd_report)
