"""Render the report as Markdown and HTML through the Jinja2 templates.

This module turns the collected report into the templates' data (tables as rows of cell texts);
the templates lay them out.

The templates (``templates/report.md.j2``; ``templates/report.html.j2`` with the
``pareto.html.j2`` and ``macros.html.j2`` it uses) and the stylesheet (``report.css``, inlined into
the HTML) are package data beside this module, found through ``Path(__file__).parent``: the same
folder in a source checkout, an editable install and a wheel.

HTML: autoescape is on, and every value the templates print goes through :func:`_html_value` (the
environment's ``finalize``), which escapes it as :func:`html.escape` does (``&#x27;``, ``&quot;``:
the entities the report always had) and marks it safe, so each value is escaped exactly once. Only
the stylesheet and the macros' output arrive already safe. Line breaks and indentation in the HTML
templates are layout only (:func:`_joined_lines_loader` drops them): the page is one line, as
it always was.

Markdown: no autoescape (it is not HTML); values pass through the ``md`` filter (:func:`_md_escape`)
or the ``code`` filter (:func:`_md_code`) where the template prints them.
"""

from __future__ import annotations

import base64
import functools
import html
import re
from pathlib import Path
from typing import Any, Sequence

from colorize_core import metrics as metric_defs
from search.report.analysis import _truth_colorfulness
from search.report.cells import (
    _BASELINE_LABELS,
    _BASELINE_SPAN,
    _LEFT,
    _arrow,
    _cell,
    _comparison_grid,
    format_cell,
    _front_table,
    _headline,
    _html_ranking_columns,
    _same_in_every_trial,
    _table_columns,
    _test_table,
)
from search.report.rows import FIGURES, PARETO_FIGURES, _ranked_entries, _Report
from search.report.tensorboard import tensorboard_commands

_HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = _HERE / "templates"
CSS_FILE = _HERE / "report.css"

_BEST_ARCH_KEYS = ("arch", "trial_id", "rank", None, "optimizer", "loss", "learning_rate", "batch_size",
                   "output_activation", "epochs", "status_text")  # None: the ranking metric
_PARETO_TITLES = {"pareto_front": "Every trial on the objectives", "pareto_pictures": "Pictures of the front"}


# ---------------------------------------------------------------------------------------------------
# Escaping


def _md_escape(text: Any) -> str:
    """Text for a Markdown table cell or line: HTML special characters escaped like the HTML report
    (Markdown renders raw HTML), table pipes escaped, one line."""
    return html.escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")


def _md_code(text: Any) -> str:
    """Text inside a Markdown code span: backticks cannot end it early."""
    text = str(text).replace("\n", " ")
    fence = "``" if "`" in text else "`"
    return f"{fence} {text} {fence}" if fence == "``" else f"`{text}`"


def _html_value(value: Any):
    """Every value an HTML template prints (Jinja's ``finalize``): escaped as :func:`html.escape` does
    unless already safe markup (a macro's output, the stylesheet)."""
    from markupsafe import Markup

    return value if hasattr(value, "__html__") else Markup(html.escape(str(value), quote=True))


def _nbsp(value: Any):
    """A table header's text escaped, its spaces non-breaking."""
    from markupsafe import Markup

    return Markup(html.escape(str(value), quote=True).replace(" ", "&nbsp;"))


# ---------------------------------------------------------------------------------------------------
# Templates


def _joined_lines_loader(folder: Path):
    """A loader of the templates in ``folder`` that drops every line break and the indentation after
    it: the HTML templates are laid out on lines for reading, the page they make is one line."""
    import jinja2

    class JoinedLinesLoader(jinja2.FileSystemLoader):
        def get_source(self, environment, template):
            source, filename, uptodate = super().get_source(environment, template)
            return re.sub(r"\n[ \t]*", "", source), filename, uptodate

    return JoinedLinesLoader(folder)


@functools.cache
def _environment(kind: str):
    """The Jinja2 environment of the ``"md"`` or ``"html"`` templates."""
    import jinja2

    if kind == "html":
        env = jinja2.Environment(loader=_joined_lines_loader(TEMPLATES_DIR), autoescape=True, finalize=_html_value,
                                 undefined=jinja2.StrictUndefined)
        env.filters["nbsp"] = _nbsp
    else:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=False,
                                 trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                                 undefined=jinja2.StrictUndefined)
        env.filters["md"] = _md_escape
        env.filters["code"] = _md_code
    env.globals["zip"] = zip
    return env


@functools.cache
def _css():
    """The stylesheet, marked safe, to go between ``<style>`` tags."""
    from markupsafe import Markup

    return Markup("\n" + CSS_FILE.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------------
# Data the templates share


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[str] | None = None) -> dict:
    """A table for the templates: header texts, rows of cell texts, "l"/"r" per column."""
    return {"headers": list(headers), "rows": [list(r) for r in rows], "align": list(align or ["l"] * len(headers))}


def _best_arch_keys(rep: _Report) -> list[str]:
    return [rep.metric if k is None else k for k in _BEST_ARCH_KEYS]


def _pareto_common(rep: _Report) -> dict | None:
    """The Pareto section's data (None for a one-objective sweep)."""
    if not rep.several:
        return None
    headers, rows, align = _front_table(rep)
    truth = _truth_colorfulness(rep)
    return {
        "names": " and ".join(o.metric for o in rep.objectives),
        "first": rep.objectives[0].metric,
        "constraints": bool(rep.constraints),
        "truth": f"{truth:.1f}" if truth is not None else None,
        "table": _table(headers, rows, align),
        "knee_rows": ["knee" in row[-1] for row in rows],
        "importances": _importances_table(rep),
    }


def _importances_table(rep: _Report) -> dict | None:
    if not rep.importances_by_objective:
        return None
    metrics = list(rep.importances_by_objective)
    params = sorted({p for v in rep.importances_by_objective.values() for p in v})
    return _table(["hyperparameter"] + metrics,
                  [[p] + [format_cell(rep.importances_by_objective[m].get(p)) for m in metrics] for p in params],
                  ["l"] + ["r"] * len(metrics))


def _figures(rep: _Report, titles: dict[str, str], files: dict[str, str]) -> list[dict]:
    """The figures of ``titles`` that were drawn, in that order."""
    return [{"name": name, "title": title, "file": files[name], "caption": rep.captions.get(name, ""),
             "png": base64.b64encode(rep.figures[name]).decode("ascii")}
            for name, title in titles.items() if name in rep.figures]


def _metrics_list() -> list[dict]:
    return [{"name": name, "arrow": _arrow(name), "better": "lower" if spec.mode == "min" else "higher",
             "unit": spec.unit, "description": spec.description} for name, spec in metric_defs.METRICS.items()]


def _common(rep: _Report) -> dict:
    commands = tensorboard_commands(rep.run_dir)
    return {
        "metric": rep.metric, "better": rep.better, "run_dir": rep.run_dir, "generated": rep.generated,
        "headline": _headline(rep),
        "failures": [row for row in rep.rows if row["error_first_line"]],
        "pareto": _pareto_common(rep),
        "any_figures": bool(rep.figures),
        "tensorboard": commands["hparams"] if rep.tensorboard_dir else None,
        "notes": rep.notes,
        "metrics": _metrics_list(),
    }


# ---------------------------------------------------------------------------------------------------
# Markdown


def _md_ranking(rep: _Report) -> dict:
    columns = _table_columns(rep)
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
                    cells.append(f"_{format_cell(values.get(key))}_")
                else:
                    cells.append("")
        table_rows.append(cells)
    return _table([h for _, h in columns], table_rows, ["l" if k in _LEFT else "r" for k, _ in columns])


def _md_comparison(rep: _Report) -> dict | None:
    if not rep.comparison.get("rows"):
        return None
    headers, grid = _comparison_grid(rep)
    rows = [[f"**{arch}**"] + [f"{format_cell(c['value'])} ({c['n']})" if c else "–" for c in cells]
            for arch, cells in zip(rep.comparison["rows"], grid)]
    keys = _best_arch_keys(rep)
    return {
        "grid": _table(["arch"] + headers, rows, ["l"] + ["r"] * len(headers)),
        "best": _table([k if k != rep.metric else f"{k} {_arrow(k)}" for k in keys],
                       [[format_cell(b[k], k) for k in keys] for b in rep.best_per_arch],
                       ["l", "l", "r", "r", "l", "l", "r", "r", "l", "r", "l"]),
    }


def _render_md(rep: _Report) -> str:
    test = None
    if rep.tested:
        headers, rows, _ = _test_table(rep)
        test = _table(headers, rows, ["r", "l", "l"] + ["r"] * (len(headers) - 3))
    titles = {"image_grid": "Validation images: input, truth, top models",
              "learning_curves": "Learning curves", "metric_vs_hparams": f"{rep.metric} against learning rate and batch size",
              "param_importances": "Parameter importances (Optuna)"}
    return _environment("md").get_template("report.md.j2").render(
        **_common(rep),
        title=rep.info.name or rep.run_dir.name,
        ranking=_md_ranking(rep),
        pareto_figures=_figures(rep, _PARETO_TITLES, PARETO_FIGURES),
        test=test,
        comparison=_md_comparison(rep),
        figures=_figures(rep, titles, FIGURES),
    )


# ---------------------------------------------------------------------------------------------------
# HTML


def _cell_color(value: float, lo: float, hi: float, mode: str) -> str:
    """Green (best) to red (worst) background for a comparison cell."""
    if hi <= lo:
        t = 1.0
    else:
        t = (value - lo) / (hi - lo)
        t = 1.0 - t if mode == "min" else t
    hue = 8 + 120 * t  # red → green
    return f"background:hsl({hue:.0f},62%,86%)"


def _classes(key: str, metric: str) -> str:
    return " ".join(c for c in ("l" if key in _LEFT else "", "key" if key == metric else "") if c)


def _html_ranking(rep: _Report) -> dict:
    """The ranking table: header cells and rows of cells (``kind``: ``td``, ``status`` or ``span``)."""
    columns, detail_columns = _html_ranking_columns(rep)
    headers = []
    for key, header in columns:
        split = len(key) > 10 and "_" in header  # let a long metric name break after its last underscore
        head, tail = header.rsplit("_", 1) if split else (header, None)
        headers.append({"cls": _classes(key, rep.metric), "head": head, "tail": tail})
    rows = []
    for kind, item in _ranked_entries(rep):
        cells = []
        if kind == "trial":
            row = item
            classes = []
            if row["rank"] == 1 and row[rep.metric] is not None:
                classes.append("best")
            if row["status"] in ("error", "oom", "infeasible") or row[rep.metric] is None:
                classes.append("failed")
            for key, _ in columns:
                if key == "status_text":
                    text = row["status_text"]
                    if row["status"] == "stopped" and "ASHA" in text:
                        detail = text.replace("stopped early ", "")
                    else:
                        detail = text[len(row["status"]):].lstrip(": ") if text.startswith(row["status"]) else text
                    cells.append({"kind": "status", "status": row["status"], "detail": detail})
                else:
                    cells.append({"kind": "td", "cls": _classes(key, rep.metric), "text": _cell(row, key)})
            rows.append({"cls": " ".join(classes), "cells": cells})
            continue
        name, values = item
        span = [k for k, _ in columns if k in _BASELINE_SPAN]
        for key, _ in columns:
            if key in _BASELINE_SPAN:  # one cell across the hyperparameter columns: what the baseline is
                if key == span[0]:
                    cells.append({"kind": "span", "colspan": len(span), "text": _BASELINE_LABELS.get(name, name)})
                continue
            if key == "status_text":
                cells.append({"kind": "status", "status": "baseline", "detail": ""})
                continue
            if key == "rank":
                text = "–"
            elif key == "trial_id":
                text = name
            else:
                text = format_cell(values.get(key)) if key in metric_defs.METRICS else ""
            cells.append({"kind": "td", "cls": _classes(key, rep.metric), "text": text})
        rows.append({"cls": "baseline", "cells": cells})
    details = None
    if len(detail_columns) > 2:
        details = {"summary": [h for _, h in detail_columns[2:]],
                   "headers": [("l" if k in _LEFT else "", h) for k, h in detail_columns],
                   "rows": [[("l" if k in _LEFT else "", _cell(row, k)) for k, _ in detail_columns] for row in rep.rows]}
    same = _same_in_every_trial(rep)
    labels = dict(_table_columns(rep))
    return {"headers": headers, "rows": rows, "details": details,
            "same": [(labels.get(k, k), _cell(rep.rows[0], k)) for k in same]}


def _html_test(rep: _Report) -> dict | None:
    if not rep.tested:
        return None
    headers, rows, kinds = _test_table(rep)
    classes = [("l" if i in (1, 2) else "") + (" key" if i == 3 else "") for i in range(len(headers))]
    return {"headers": headers, "classes": classes,
            "rows": [("baseline" if kind == "baseline" else ("best" if i == 0 else ""), row)
                     for i, (row, kind) in enumerate(zip(rows, kinds))]}


def _html_comparison(rep: _Report) -> dict | None:
    if not rep.comparison.get("rows"):
        return None
    headers, grid = _comparison_grid(rep)
    values = [c["value"] for row in grid for c in row if c]
    lo, hi = min(values), max(values)
    rows = [(arch, [None if c is None else {"style": _cell_color(c["value"], lo, hi, rep.mode),
                                            "trial_id": c["trial_id"], "value": format_cell(c["value"]), "n": c["n"]}
                    for c in cells])
            for arch, cells in zip(rep.comparison["rows"], grid)]
    keys = _best_arch_keys(rep)
    classes = [("l" if k in _LEFT else "") + (" key" if k == rep.metric else "") for k in keys]
    best_headers = [f"{k} {_arrow(k)}" if k == rep.metric else {"status_text": "status"}.get(k, k) for k in keys]
    best_rows = [("best" if best["rank"] == 1 else "", [format_cell(best[k], k) for k in keys]) for best in rep.best_per_arch]
    return {"headers": headers, "rows": rows, "best_classes": classes, "best_headers": best_headers,
            "best_rows": best_rows}


def _render_html(rep: _Report) -> str:
    facts = [(label, text, ("lose" if "NOT" in text else "win") if label == "vs grey baseline" else "")
             for label, text in _headline(rep)]
    titles = {"image_grid": "Validation images: input, truth and the top models",
              "learning_curves": "Learning curves of the top trials",
              "metric_vs_hparams": f"{rep.metric} against learning rate and batch size",
              "param_importances": "Parameter importances (Optuna, fANOVA)"}
    return _environment("html").get_template("report.html.j2").render(
        **_common(rep),
        title=f"Sweep report: {rep.info.name or rep.run_dir.name}",
        css=_css(),
        facts=facts,
        ranking=_html_ranking(rep),
        pareto_figures=_figures(rep, _PARETO_TITLES, PARETO_FIGURES),
        test=_html_test(rep),
        comparison=_html_comparison(rep),
        figures=_figures(rep, titles, FIGURES),
    )
