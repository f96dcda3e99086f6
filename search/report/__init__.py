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

Modules: :mod:`~search.report.rows` (the data: columns, rows, the collected ``_Report``),
:mod:`~search.report.evaluate` (models on the sweep's data), :mod:`~search.report.analysis`
(comparison grid, importances, Pareto standing), :mod:`~search.report.figures`,
:mod:`~search.report.tensorboard`, :mod:`~search.report.cells` (cell formatting),
:mod:`~search.report.render` (Markdown and HTML from the Jinja2 templates in ``templates/``),
:mod:`~search.report.write` (:func:`write_report`). The ``colorsweep report`` command is
:mod:`search.cli.report`.
"""

from __future__ import annotations

# Every name other code imports from search.report (the module this package replaced) stays here.
from search.report.evaluate import _grid_indices
from search.report.cells import format_cell
from search.report.render import _md_code, _md_escape
from search.report.rows import (
    ALL_FIGURES,
    BASELINES_FILE,
    COLUMNS,
    FIGURES,
    FORMAT_FILES,
    FORMATS,
    HPARAM_COLUMNS,
    OBJECTIVE_COLUMNS,
    PARETO_FIGURES,
    REPORT_DIR,
    TENSORBOARD_DIR,
    is_finite,
    report_rows,
)
from search.report.tensorboard import tensorboard_commands
from search.report.write import json_default, write_report

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
    "ALL_FIGURES",
    "FORMAT_FILES",
    "format_cell",
    "is_finite",
    "json_default",
]
