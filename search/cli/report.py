"""``colorsweep report``: write a sweep's report, print the top of its ranking and the files written."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from colorize_core import metrics as metric_defs
from search.cli._output import format_table
from search.records import load_records, load_sweep_info, objectives_of, rank_records
from search.report import (ALL_FIGURES, FORMAT_FILES, FORMATS, OBJECTIVE_COLUMNS, REPORT_DIR, format_cell, is_finite,
                           json_default, report_rows, tensorboard_commands, write_report)
from search.rundir import load_baselines, resolve_metric

__all__ = ["add_parsers", "cmd_report"]


def cmd_report(args) -> int:
    """``colorsweep report RUN_DIR``: write the report, print the top of the ranking and the files."""
    formats = args.format
    written = write_report(
        args.run_dir, metric=args.metric, top=args.top, formats=formats, models=not args.no_models,
        progress=None if args.json else (lambda message: print(f"report: {message}", file=sys.stderr)),
    )
    run_dir = Path(args.run_dir).expanduser().resolve()
    payload = json.loads((run_dir / REPORT_DIR / FORMAT_FILES["json"]).read_text()) if "json" in written else None
    info = load_sweep_info(run_dir)
    metric, mode = resolve_metric(info, args.metric)
    if payload is None:
        records = rank_records(load_records(run_dir), metric=metric, mode=mode)
        rows = report_rows(records, metric=metric, mode=mode, finished=info.finished is not None)
        baselines = load_baselines(run_dir)
    else:
        rows, baselines = payload["trials"], payload["baselines"]["val"]
    commands = tensorboard_commands(run_dir)
    top_rows = rows[: args.top]
    if args.json:
        out = {"run_dir": str(run_dir), "metric": metric, "mode": mode, "top": top_rows, "baselines": baselines,
               "files": {k: str(v) for k, v in written.items()}}
        if args.tensorboard:
            out["tensorboard"] = commands
        print(json.dumps(out, indent=1, default=json_default))
        return 0
    objectives = [o.metric for o in objectives_of(info) if o.metric != metric]
    extra = [m for m in ("gain_vs_gray" if metric != "gain_vs_gray" else "delta_e",) if m not in objectives]
    columns = ["rank", "trial_id", "status_text", "arch", "optimizer", "loss", "learning_rate", "batch_size",
               "epochs", metric, *objectives, *extra, "train_time_s"]
    columns += [k for k in OBJECTIVE_COLUMNS if any(k in row for row in top_rows)]
    shown = list(top_rows)
    for name, values in sorted(baselines.items()):  # baselines where they rank (else at the end)
        value = values.get(metric)
        at = next((i for i, row in enumerate(shown) if is_finite(value) and
                   (row.get(metric) is None or metric_defs.is_better(metric, value, row[metric]))), len(shown))
        shown.insert(at, {"rank": None, "trial_id": f"baseline: {name}", "status_text": "baseline", **values})
    print(f"top {len(top_rows)} of {len(rows)} trials by validation {metric} "
          f"({'lower' if mode == 'min' else 'higher'} is better; baselines where they rank):")
    print(format_table(shown, columns, cell=format_cell, empty=None))
    print()
    for key in ("html", "md", "csv", "json"):
        if key in written:
            print(f"{key:>5}: {written[key]}")
    figures = [str(written[k]) for k in ALL_FIGURES if k in written]
    if figures:
        print(f"figures: {', '.join(Path(f).name for f in figures)} (in {run_dir / REPORT_DIR})")
    if args.tensorboard:
        print()
        if "tensorboard" in written:
            print("TensorBoard, HParams tab (every trial's hyperparameters, status and best-epoch metrics):")
            print(f"  {commands['hparams']}")
    return 0


def add_parsers(sub) -> None:
    """Register ``report``."""
    p = sub.add_parser(
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
