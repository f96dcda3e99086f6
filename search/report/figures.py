"""The report's matplotlib figures, each drawn into ``rep.figures`` as PNG bytes (with its caption)."""

from __future__ import annotations

import io
import math
from typing import Any, Sequence

import numpy as np

from colorize_core import metrics as metric_defs
from search import pareto
from search.report.analysis import _arch_order, _truth_colorfulness
from search.report.cells import format_cell
from search.report.rows import is_finite, _Report

_DPI = 90


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
        if is_finite(value):
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
        points = [(h["epoch"], h[metric]) for h in record.history if is_finite(h.get(metric))]
        if points and record.trial_id not in top_ids:
            ax.plot(*zip(*points), color="#c8ccd1", linewidth=1, marker=".", markersize=4, zorder=2)
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    rank_of = {row["trial_id"]: row for row in ranked}
    for i, trial_id in enumerate(top_ids):
        record, row = by_id[trial_id], rank_of[trial_id]
        points = [(h["epoch"], h[metric]) for h in record.history if is_finite(h.get(metric))]
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
              if any(is_finite(row.get(key)) for row in scored)]
    if not scored or not panels:
        return
    archs = _arch_order(rep, (str(row["arch"]) for row in scored))
    colors = _arch_colors(archs)
    fig = Figure(figsize=(5.2 * len(panels) + 1.6, 3.8))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (key, label) in zip(axes, panels):
        groups: dict[tuple[str, bool], tuple[list, list]] = {}  # one scatter per colour and fill, not per trial
        for row in scored:
            x = row.get(key)
            if not is_finite(x):
                continue
            if key == "batch_size":  # spread points that share a batch size
                x = x * 2 ** (0.12 * (((row["rank"] * 7) % 5) - 2) / 2)
            xs, ys = groups.setdefault((str(row["arch"]), row["status"] == "completed"), ([], []))
            xs.append(x)
            ys.append(row[metric])
        for (arch, filled), (xs, ys) in groups.items():
            color = colors[arch]
            ax.scatter(xs, ys, s=46, zorder=3, edgecolors=[color], linewidths=1.6,
                       facecolors=[color] if filled else ["white"])
        _baseline_lines(ax, rep)
        ax.set_xscale("log", base=2 if key == "batch_size" else 10)
        values = sorted({row[key] for row in scored if is_finite(row.get(key))})
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
# Several objectives: the Pareto front


def _figure_pareto(rep: _Report) -> None:
    """Every trial on the first two objectives: the front highlighted and joined, infeasible trials
    crossed out, the baselines marked, and where the truth lies on a colourfulness axis."""
    from matplotlib.figure import Figure

    x_obj, y_obj = rep.objectives[0], rep.objectives[1]
    points = [(tid, s) for tid, s in rep.standing.items() if s.values and is_finite(s.values.get(x_obj.metric))
              and is_finite(s.values.get(y_obj.metric))]
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
        if is_finite(values.get(x_obj.metric)) and is_finite(values.get(y_obj.metric)):
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
        values = " / ".join(f"{format_cell(row.get(o.metric))}" for o in rep.objectives)
        knee = " (knee)" if row["trial_id"] == rep.knee_id else ""
        models.append((f"{row['trial_id']}{knee}\n{values}", ab))
    rep.figures["pareto_pictures"] = _draw_pictures(rep, dataset, grid_idx, models)
    rep.captions["pareto_pictures"] = (
        f"The same {len(grid_idx)} validation images coloured by each trial on the Pareto front (best "
        f"{rep.objectives[0].metric} first; beside each label: {' / '.join(o.metric for o in rep.objectives)})."
    )
