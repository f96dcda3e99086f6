"""Cell formatting: values as the report's tables show them, and the columns and facts they hold.

Shared by the Markdown and HTML renderers (and the command's text table); everything here returns
plain text, escaped by the renderer that uses it.
"""

from __future__ import annotations

import json
import math
import shlex
from typing import Any

from colorize_core import metrics as metric_defs
from search import pareto
from search.report.analysis import _front_rows
from search.report.rows import _STATUS_ORDER, _counts, is_finite, _Report


_LEFT = {"trial_id", "status_text", "arch", "optimizer", "loss", "output_activation", "node_id"}
"""Columns whose cells align left (text); the others are numbers, aligned right."""
_HYPERPARAMETER_COLUMNS = ("arch", "optimizer", "loss", "learning_rate", "batch_size", "output_activation")
#: Columns the HTML ranking table leaves to the per-trial details table below it, so that the ranking
#: fits a 1,366-px laptop screen (the Markdown table keeps every column).
_DETAIL_COLUMNS = ("output_activation", "params", "peak_memory_mb", "train_time_s", "elapsed_s", "compile_s",
                   "compiled_programs", "cached_programs", "node_id", "gpu_ids", "gpu_share", "retry_of")
_BASELINE_SPAN = ("arch", "optimizer", "loss", "learning_rate", "batch_size", "output_activation", "epochs_best")
_BASELINE_LABELS = {"gray": "neutral grey (ab = 0)", "train_mean": "training-set mean ab"}


def format_cell(value: Any, column: str = "") -> str:
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
        if column in ("train_time_s", "peak_memory_mb", "elapsed_s", "compile_s"):
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
    return format_cell(row[key], key)


def _counts_text(rep: _Report) -> str:
    counts = _counts(rep)
    words = {"completed": "completed", "stopped": "stopped early by ASHA", "error": "errored", "oom": "out of memory",
             "infeasible": "infeasible", "running": "running", "pending": "pending", "interrupted": "interrupted"}
    parts = [f"{counts[s]} {words.get(s, s)}" for s in _STATUS_ORDER if counts.get(s)]
    parts += [f"{n} {s}" for s, n in counts.items() if s not in _STATUS_ORDER]
    return f"{len(rep.records)} trial{'s' if len(rep.records) != 1 else ''}" + (f" ({', '.join(parts)})" if parts else "")


def _or_unknown(value: Any) -> Any:
    """A fact ``sweep.json`` records, or ``?`` when it records none."""
    return "?" if value is None else value


def _colour_strength(best: dict, gray: dict | None, run_dir) -> str | None:
    """How strong the best trial's colours are on the test split beside the true photos', and the
    ``colorsweep colorize --chroma`` that changes them; None when its test split was not scored.

    The truth's colourfulness is grey's: grey has colourfulness 0, so its gap is the truth's value.
    Within ±15 % of the truth's counts as "about as strong"."""
    predicted = best.get("test_colorfulness")
    if not gray or not is_finite(predicted) or not is_finite(gray.get("colorfulness_gap")):
        return None
    truth = gray["colorfulness_gap"] + (gray.get("colorfulness") or 0.0)
    if truth <= 0:
        return None
    text = f"test-split colourfulness {predicted:.1f} against {truth:.1f} for the true photos"
    run_dir = shlex.quote(str(run_dir))
    ratio = predicted / truth
    if ratio < 0.85:
        return (text + f": weaker than the truth's (its own colours; `colorsweep colorize` strengthens them as far "
                       f"as costs no validation accuracy). `colorsweep colorize {run_dir} PHOTOS --out DIR --chroma 1.2` "
                       "sets 20 % stronger yourself, hues kept, at a cost in accuracy")
    if ratio > 1.15:
        return text + f": stronger than the truth's. `colorsweep colorize {run_dir} PHOTOS --out DIR --chroma 0.8` tones them down"
    return text + ": about as strong as the truth's"


def _headline(rep: _Report) -> list[tuple[str, str]]:
    """(label, text) facts for the top of the report."""
    info, data = rep.info, rep.info.data
    facts = []
    best = next((row for row in rep.rows if row[rep.metric] is not None and row.get("meets_constraints") is not False),
                None)
    if best is None and any(row.get("meets_constraints") is False for row in rep.rows):
        facts.append(("best trial", "none: no trial meets the constraints "
                                    + ", ".join(c.text for c in rep.constraints) + " (see the ranking)"))
    elif best:
        facts.append(("best trial", f"{best['trial_id']}: {best['arch']}, {best['optimizer']}, {best['loss']}, "
                                    f"lr {format_cell(best['learning_rate'], 'learning_rate')}, batch {best['batch_size']} — "
                                    f"{rep.metric} {format_cell(best[rep.metric])}"))
        gray = rep.baselines.get("gray", {}).get(rep.metric)
        if is_finite(gray):
            beats = metric_defs.is_better(rep.metric, best[rep.metric], gray)
            facts.append(("vs grey baseline", f"{format_cell(gray)} → {format_cell(best[rep.metric])} "
                                              f"({'better' if beats else 'NOT better'} than predicting grey)"))
        colour = _colour_strength(best, rep.test_baselines.get("gray"), rep.run_dir)
        if colour:
            facts.append(("colour", colour))
    else:
        facts.append(("best trial", f"none yet: no trial has reported a validation {rep.metric}"))
    facts.append(("trials", _counts_text(rep)))
    split = data.split
    facts.append(("data", f"{_or_unknown(data.source)} at {_or_unknown(data.size)} px"
                          + (f", {split[0]} train / {split[1]} val / {split[2]} test images" if split else "")))
    space = info.space or {}
    epochs, trials = _or_unknown(info.max_epochs), info.trials
    budget = info.time_budget_s
    planned = (f"{trials} trial{'' if trials == 1 else 's'} planned" if trials is not None else "as many trials as fit")
    if budget:
        planned += f" in a {budget / 60:g}-minute budget"
    stopping = "no early stopping" if info.scheduler.name == "none" else "ASHA"
    crops = (space.get("fixed") or {}).get("samples_per_epoch")
    if crops:
        stopping += f", epochs of {crops} random crops"
    facts.append(("space", f"{space.get('name', '?')} — {_or_unknown(info.searcher)}, {stopping}, up to {epochs} "
                           f"epoch{'' if epochs == 1 else 's'}, {planned}"))
    if rep.state == "finished":
        wall = info.wall_time_s
        facts.append(("sweep", f"finished {info.finished}" + (f" in {wall / 60:.1f} min" if is_finite(wall) else "")))
    else:
        facts.append(("sweep", f"started {_or_unknown(info.created)}; no end recorded: still running, or was interrupted "
                               f"(resume with `colorsweep resume {rep.run_dir}`)"))
    facts.append(("ranked on", f"validation {rep.metric} at each trial's best epoch ({rep.better} is better)"
                   + (f"; trials that violate {', '.join(c.text for c in rep.constraints)} rank after the rest"
                      if rep.constraints else "")))
    if rep.several:
        front = pareto.front(rep.standing, rep.objectives)
        facts.append(("objectives", f"{', '.join(o.metric for o in rep.objectives)}: {len(front)} trial(s) on the "
                                    f"Pareto front" + (f", knee {rep.knee_id}" if rep.knee_id else "")))
    return facts


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
        rows.append([str(row["rank"]), trial_id, str(row["arch"])] + [format_cell(row[f"test_{m}"]) for m in names])
        kinds.append("trial")
    for name, values in rep.test_baselines.items():
        rows.append(["–", f"baseline: {name}", _BASELINE_LABELS.get(name, "")] + [format_cell(values.get(m)) for m in names])
        kinds.append("baseline")
    return headers, rows, kinds


def _front_table(rep: _Report) -> tuple[list[str], list[list[str]], list[str]]:
    """The front's trials: trial, hyperparameters, every objective, gain_vs_gray, colourfulness."""
    searched = list((rep.info.space or {}).get("params") or {})  # what the search varied, in space order
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
        rows.append([format_cell(row.get(k, params.get(k)), k) for k in keys] + [format_cell(row.get(m)) for m in metrics] + [pick])
    return headers, rows, ["l"] * len(keys) + ["r"] * len(metrics) + ["l"]
