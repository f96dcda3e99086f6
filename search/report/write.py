"""Write a sweep's report into ``RUN_DIR/report/``: :func:`write_report`, the entry point.

It collects the records into a ``_Report``, runs each part (a failing optional part becomes a note)
and writes the files: CSV, JSON, Markdown, HTML, figures, TensorBoard logs.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from colorize_core.errors import InvalidValueError, MissingFileError
from search import pareto
from search.records import (
    constraints_of,
    first_error_line,
    load_records,
    load_sweep_info,
    objectives_of,
    rank_records,
)
from search.report.analysis import _comparison, _importances, _importances_per_objective, _mark_standing
from search.report.evaluate import (
    _GRID_IMAGES,
    _evaluate_models,
    _fill_param_counts,
    _grid_indices,
    _predict_front,
    _reload_data,
)
from search.report.figures import (
    _figure_front_pictures,
    _figure_image_grid,
    _figure_importances,
    _figure_learning_curves,
    _figure_metric_vs_hparams,
    _figure_pareto,
)
from search.report.render import _render_html, _render_md
from search.rundir import load_baselines, resolve_metric
from search.report.rows import (
    ALL_FIGURES,
    FORMAT_FILES,
    BASELINES_FILE,
    FORMATS,
    REPORT_DIR,
    _check_formats,
    _counts,
    _Report,
    report_rows,
)
from search.report.tensorboard import _write_tensorboard, tensorboard_commands

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
    recorded = rep.info.to_dict()  # sweep.json's keys, as the file has them
    return {
        "run_dir": str(rep.run_dir),
        "name": recorded.get("name"),
        "generated": rep.generated,
        "state": rep.state,
        "metric": rep.metric,
        "mode": rep.mode,
        "sweep": {k: recorded.get(k) for k in ("space", "data", "trials", "max_epochs", "seed", "scheduler", "searcher",
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
        "figures": {name: ALL_FIGURES[name] for name in rep.figures},
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


def json_default(value: Any):
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
        raise MissingFileError(
            f"run directory {run_dir} does not exist; pass the folder `colorsweep run` printed, "
            "e.g. ./colorsweep-runs/<name>"
        )
    run_dir = run_dir.resolve()
    info = load_sweep_info(run_dir)
    metric, mode = resolve_metric(info, metric)
    if isinstance(top, bool) or not isinstance(top, int) or top <= 0:
        raise InvalidValueError(f"top must be a positive int, got {top!r}")
    formats = _check_formats(formats)

    objectives, constraints = objectives_of(info), constraints_of(info)
    records = rank_records(load_records(run_dir), metric=metric, mode=mode, constraints=constraints)
    baselines = load_baselines(run_dir)
    finished = info.finished is not None
    rep = _Report(
        run_dir=run_dir, out_dir=run_dir / REPORT_DIR, info=info, metric=metric, mode=mode, top=top,
        records=records, baselines=baselines, state="finished" if finished else "running or interrupted",
        rows=report_rows(records, metric=metric, mode=mode, fixed=dict((info.space or {}).get("fixed") or {}),
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
        for filename in ALL_FIGURES.values():  # never leave a stale figure beside the new report
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
            path = rep.out_dir / ALL_FIGURES[name]
            path.write_bytes(data)
            written[name] = path
    if tensorboard:
        _guard(rep, "the TensorBoard logs", _write_tensorboard, rep)
        if rep.tensorboard_dir:
            written["tensorboard"] = rep.tensorboard_dir

    if "md" in formats:
        written["md"] = rep.out_dir / FORMAT_FILES["md"]
        _write_text(written["md"], _render_md(rep))
    if "html" in formats:
        written["html"] = rep.out_dir / FORMAT_FILES["html"]
        _write_text(written["html"], _render_html(rep))
    if "csv" in formats:
        written["csv"] = rep.out_dir / FORMAT_FILES["csv"]
        _write_csv(rep, written["csv"])
    if "json" in formats:
        written["json"] = rep.out_dir / FORMAT_FILES["json"]
        _write_text(written["json"], json.dumps(_json_payload(rep), indent=1, default=json_default))
    del dataset
    return written


def _guard(rep: _Report, what: str, fn, *args):
    """Run an optional part of the report; a failure becomes a note, never a failed report."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - a report with a note beats no report
        rep.notes.append(f"{what} skipped: {type(exc).__name__}: {first_error_line(str(exc)) or exc!r}")
        return None
