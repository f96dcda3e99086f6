"""The ``colorsweep`` command line. Every command that prints a table also takes ``--json``.

Heavy libraries (Keras, Ray) are imported inside the commands that need them, so ``--help`` and
input errors answer at once.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Sequence

__all__ = ["main", "build_parser"]


class UserError(Exception):
    """An error in what the user asked for: printed as one line, exit status 2."""


# -- output helpers ----------------------------------------------------------------------------------
def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.3g}"
        return f"{value:.4g}" if abs(value) < 10 else f"{value:.2f}"
    return str(value)


def format_table(rows: list[dict], columns: Sequence[str] | None = None) -> str:
    """A plain-text table of ``rows`` (dicts), columns in the given order."""
    if not rows:
        return "(nothing to show)"
    columns = list(columns or rows[0].keys())
    cells = [[_fmt(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


def int_at_least(minimum: int):
    """An argparse type: a whole number >= ``minimum``, checked while parsing (before anything heavy
    is imported), with a message that says what was wrong."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {value}")
        return value

    parse.__name__ = f"int >= {minimum}"  # what argparse names in its own errors
    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def _unit_interval(text: str) -> float:
    """An argparse type: a number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {value:g}")
    return value


def _emit(args, payload: Any, text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(payload, indent=1, default=str))
    else:
        print(text)


def _data_arg(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else values


# -- commands ----------------------------------------------------------------------------------------
#: Descriptions in listing tables are cut to this many characters (a 100-column terminal row).
_DESCRIPTION_WIDTH = 60


def _clip(text: Any, width: int) -> Any:
    """``text`` cut to ``width`` characters with an ellipsis (non-strings unchanged)."""
    if not isinstance(text, str) or len(text) <= width:
        return text
    return text[: width - 1].rstrip() + "…"


def _param_count(n: Any) -> Any:
    """A parameter count in words: 46.7 k, 1.93 M."""
    if not isinstance(n, (int, float)):
        return n
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return str(int(n))


def cmd_models(args) -> int:
    from colorize_core.models import default_param_count, list_models, model_info

    rows = []
    for name in list_models():
        info = model_info(name)
        rows.append({
            "name": name,
            "params": default_param_count(name, args.size),
            "family": getattr(info, "family", None),
            "output": getattr(info, "default_output_activation", getattr(info, "output_activation", None)),
            "description": info.description,
        })
    shown = [{**row, "params": _param_count(row["params"]),
              "description": _clip(row["description"].replace("``", ""), _DESCRIPTION_WIDTH)} for row in rows]
    _emit(args, rows, f"architectures (parameters at {args.size}x{args.size}):\n" + format_table(shown))
    return 0


def cmd_data_inspect(args) -> int:
    from colorize_core.data import inspect_data

    _apply_max_megapixels(args)
    summary = inspect_data(_data_arg(args.path), size=args.size)
    if args.json:
        print(json.dumps(summary, indent=1, default=str))
        return 0
    skipped = summary.get("skipped", [])
    ignored = summary.get("ignored") or {}
    lines = [f"{k}: {v}" for k, v in summary.items() if k != "skipped" and not isinstance(v, (list, dict))]
    for key, value in summary.items():
        if key == "ignored":
            lines.append("ignored (not image files searched): " + (
                ", ".join(f"{n} {ext}" for ext, n in ignored.items()) if ignored else "none"))
        elif key == "original_size" and isinstance(value, dict):
            lines.append("original size (px): " + ", ".join(
                f"{axis} {r.get('min'):g}–{r.get('max'):g} (median {r.get('median'):g})"
                for axis, r in value.items() if isinstance(r, dict) and r.get("min") is not None))
        elif key == "pool" and isinstance(value, dict):
            lines.append(f"training photos kept whole for random crops: {value.get('photos')}, short side shrunk to "
                         f"at most {value.get('short_side')} px ({value.get('megabytes', 0):.1f} MB)")
        elif isinstance(value, dict):
            lines.append(f"{key}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in value.items()))
    if skipped:
        lines.append(f"skipped {len(skipped)} file(s):")
        lines += [f"  {s['path']}: {s['reason']}" for s in skipped]
    else:
        lines.append("skipped: none")
    print("\n".join(lines))
    return 0


def _apply_max_megapixels(args) -> None:
    """``--max-megapixels N``: images over N MP are skipped (COLORSWEEP_MAX_IMAGE_PIXELS, also for Ray workers)."""
    value = getattr(args, "max_megapixels", None)
    if value is None:
        return
    if not value > 0:
        raise UserError(f"--max-megapixels must be positive, got {value}")
    os.environ["COLORSWEEP_MAX_IMAGE_PIXELS"] = str(int(value * 1e6))


def cmd_spaces(args) -> int:
    from spaces import describe_space, load_space, space_summary_rows

    if args.action == "show":
        if not args.space:
            raise UserError("usage: colorsweep spaces show NAME_OR_YAML")
        space = load_space(args.space)
        _emit(args, space.to_dict(), describe_space(space))
        return 0
    rows = space_summary_rows()
    shown = [{**row, "description": _clip(row.get("description"), _DESCRIPTION_WIDTH)} for row in rows]
    _emit(args, rows, format_table(shown) + "\n\nshow one (its whole description) with: colorsweep spaces show NAME")
    return 0


def _baseline_rows(values: dict, baselines: dict, metric_names) -> list[dict]:
    rows = [{"prediction": "model (best epoch)", **{m: values.get(m) for m in metric_names}}]
    for name, vals in baselines.items():
        rows.append({"prediction": f"baseline: {name}", **{m: vals.get(m) for m in metric_names}})
    return rows


def _samples_per_epoch(value: int) -> int | None:
    """``--samples-per-epoch``: 0 (one pass over the fixed centre crops) means None in TrainConfig."""
    return value or None


def cmd_train(args) -> int:
    from colorize_core import metrics
    from colorize_core.data import load_dataset
    from colorize_core.train import TrainConfig, fit, predict_ab

    config = TrainConfig(
        arch=args.arch, optimizer=args.optimizer, loss=args.loss, learning_rate=args.lr,
        batch_size=args.batch_size, epochs=args.epochs, output_activation=args.output_activation,
        seed=args.seed, augment=args.augment, monitor=args.monitor, temperature=args.temperature,
        samples_per_epoch=_samples_per_epoch(args.samples_per_epoch), rebalance=args.rebalance,
    )
    _apply_max_megapixels(args)
    data = load_dataset(_data_arg(args.data), size=args.size)
    out = Path(args.out or f"colorsweep-train/{args.arch}-{time.strftime('%Y%m%d-%H%M%S')}")
    print(
        f"data: {len(data.train)} train / {len(data.val)} val / {len(data.test)} test at {data.size}px "
        f"({'from cache' if data.cache_hit else 'decoded'}, {len(data.skipped)} skipped); checkpoints in {out}",
        file=sys.stderr,
    )

    def report(epoch: int, values: dict) -> None:
        print(
            f"epoch {epoch}/{config.epochs}: train_loss {values['train_loss']:.5f}  delta_e {values['delta_e']:.3f}  "
            f"gain_vs_gray {values['gain_vs_gray']:.4f}  ({values['epoch_train_s']:.1f}s)", file=sys.stderr,
        )

    result = fit(config, data, report, workdir=out, keep_model=True)
    names = list(metrics.METRICS)
    test_values = metrics.evaluate(data.test.lightness, data.test.ab, predict_ab(
        result.model, data.test.lightness, temperature=config.temperature, decode=config.decode)) if len(data.test) else {}
    baselines_val = metrics.baseline_metrics(data.val.lightness, data.val.ab, ab_train=data.train.ab)
    payload = {**result.to_dict(), "baselines_val": baselines_val, "test_metrics": test_values,
               "model_path": str(out / "best.keras")}
    (out / "result.json").write_text(json.dumps(payload, indent=1, default=float))
    text = (
        f"validation metrics (best epoch {result.best_epoch} of {result.epochs_trained}):\n"
        + format_table(_baseline_rows(result.best_metrics, baselines_val, names))
        + f"\n\nmodel: {out / 'best.keras'}  ({result.params:,} parameters, {result.train_time_s:.1f}s training)"
    )
    _emit(args, payload, text)
    return 0


def _print_sweep(args, result) -> int:
    """The final table of a run / resume and its exit status: 0 when the sweep ran to its end,
    130 / 143 after Ctrl-C / SIGTERM, 1 when the disk was full."""
    from search.signals import exit_status
    from search.sweep import resume_command

    rows = result.table()
    payload = {"run_dir": str(result.run_dir), "metric": result.metric, "mode": result.mode,
               "wall_time_s": result.wall_time_s, "time_budget_s": result.budget_s, "complete": result.complete, "planned_trials": result.planned,
               "finished_trials": result.finished_trials,
               "interrupted": None if result.interrupted is None else _signal_name(result.interrupted),
               "disk_full": result.disk_full, "trials": rows, "baselines": result.baselines}
    others = [o.metric for o in result.objectives[1:]]
    columns = ["rank", "trial_id", "status", "arch", "optimizer", "loss", "learning_rate", "batch_size",
               "epochs", result.metric, *others, "gain_vs_gray", "train_time_s"]
    if result.constraints:
        columns.append("meets_constraints")
    base_rows = [{"rank": "-", "trial_id": f"baseline: {k}", result.metric: v.get(result.metric),
                  **{m: v.get(m) for m in others}, "gain_vs_gray": v.get("gain_vs_gray")}
                 for k, v in result.baselines.items()]
    shown = rows[:_SHOWN_TRIALS]
    more = f" ({len(rows) - len(shown)} more in the report)" if len(rows) > len(shown) else ""
    budget = ""
    if result.budget_s:
        used = result.budget_used_s if result.budget_used_s is not None else result.wall_time_s
        budget = (f"\ntime budget {_duration(result.budget_s)}: the trials used {_duration(used)} "
                  f"({_duration(result.wall_time_s)} in all, with start-up and report)")
    if others:
        payload["objectives"] = [o.to_dict() for o in result.objectives]
        more += (f"; objectives {', '.join(o.metric for o in result.objectives)}: the report's Pareto section shows "
                 f"the trade-off")
    if result.constraints:
        payload["constraints"] = [c.text for c in result.constraints]
        more += f"; constraints {', '.join(c.text for c in result.constraints)}: trials that violate one rank last"
    if result.complete:
        head = f"\n{_count(len(rows), 'trial')} ranked by validation {result.metric}{more}"
    else:
        why = "disk full" if result.disk_full else ("interrupted" if result.interrupted else "unfinished")
        planned = f" of {result.planned}" if result.planned else ""
        head = (f"\n{why}: {result.finished_trials}{planned} {'trial' if (result.planned or result.finished_trials) == 1 else 'trials'} finished; ranked by validation "
                f"{result.metric}{more}")
    text = (
        f"{head} ({'lower' if result.mode == 'min' else 'higher'} is better):\n"
        + format_table(shown + base_rows, columns)
        + f"\n\nresults: {result.run_dir}  ({result.wall_time_s:.0f}s)" + budget
    )
    if not result.complete:
        text += f"\ncontinue with: {resume_command(result.run_dir)}"
    _emit(args, payload, text)
    if result.disk_full:
        from search.rundir import disk_full_message

        print(f"colorsweep: error: {disk_full_message(result.run_dir)}", file=sys.stderr)
        return 1
    if result.interrupted is not None:
        return exit_status(result.interrupted)
    return 0


_SHOWN_TRIALS = 20


def _duration(seconds: float) -> str:
    """``42 s``, ``12.5 min`` or ``2.1 h``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _signal_name(signum: int) -> str:
    import signal

    return signal.Signals(signum).name


def cmd_resume(args) -> int:
    from search.sweep import resume_sweep

    extra = 0
    if args.trials is not None:
        if not args.trials.startswith("+") or not args.trials[1:].isdigit():
            raise UserError(f"--trials takes +N (trials to add), got {args.trials!r}")
        extra = int(args.trials[1:])
    result = resume_sweep(args.run_dir, retry_errored=args.retry_errored, extra_trials=extra,
                          live=not args.json, address=args.address, num_cpus=args.num_cpus,
                          command_line="colorsweep " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
    return _print_sweep(args, result)


def cmd_run(args) -> int:
    from search.sweep import run_sweep

    _apply_max_megapixels(args)
    result = run_sweep(
        args.space, data=_data_arg(args.data), name=args.name, storage=args.storage, trials=args.trials,
        max_epochs=args.max_epochs, size=args.size, metric=args.metric, mode=args.mode, seed=args.seed,
        concurrency=args.concurrency, cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial,
        address=args.address, grace_period=args.grace_period, reduction_factor=args.reduction_factor,
        overwrite=args.overwrite, live=not args.json, num_cpus=args.num_cpus,
        gpu_memory=args.gpu_memory, fit_batch=args.fit_batch, time_budget=args.time_budget,
        samples_per_epoch=args.samples_per_epoch, searcher=args.searcher, scheduler=args.scheduler,
        constraints=args.constraint,
        command_line="colorsweep " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
    )
    return _print_sweep(args, result)


# -- parser ------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="colorsweep",
        description="Find the best colorization model for your photos with a Ray Tune + Optuna + ASHA sweep.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="launch a sweep over a search space")
    p.add_argument("space", help="built-in space name (see `colorsweep spaces`) or a YAML file")
    p.add_argument("--data", nargs="+", default=["demo"], help="image folder(s), or 'demo' (built-in photos)")
    p.add_argument("--name", help="run name (default: SPACE-date-time)")
    p.add_argument("--storage", default="./colorsweep-runs", help="folder holding run directories")
    p.add_argument("--trials", type=positive_int, help="number of trials (default: the space's; with --time-budget: as many as fit)")
    p.add_argument("--time-budget", metavar="DURATION",
                   help="e.g. 20m, 90s, 1.5h: propose trials until then, let running ones finish their epoch, report")
    p.add_argument("--max-epochs", type=positive_int, help="epochs per trial at most (default: the space's)")
    p.add_argument("--samples-per-epoch", type=non_negative_int, metavar="N",
                   help="an epoch is N random crops of the training photos (default: the space's; 0: one pass "
                        "over the fixed centre crops)")
    p.add_argument("--size", type=positive_int, help="training image size in px, multiple of 8 (default: the space's)")
    p.add_argument("--metric", action="append", metavar="METRIC",
                   help="validation metric that ranks trials (default: the space's, else delta_e); give it twice, "
                        "e.g. --metric delta_e --metric colorfulness_gap, to search both and get a Pareto front")
    p.add_argument("--mode", choices=["min", "max"], help="default: the metric's own direction (one --metric only)")
    p.add_argument("--constraint", action="append", metavar="RULE",
                   help="e.g. 'peak_memory_mb<=3500', 'train_time_s<=120', 'params<=2e6': trials that violate it are "
                        "marked and never ranked best (repeatable; default: the space's)")
    p.add_argument("--seed", type=int, default=0, help="seeds the searcher and every trial (default 0)")
    p.add_argument("--concurrency", type=positive_int, help="trials running at once (default: as resources allow)")
    p.add_argument("--cpus-per-trial", type=float, default=1.0, help="CPU cores Ray reserves for each trial (default 1)")
    p.add_argument("--gpus-per-trial", type=float, default=0.0,
                   help="GPU share of each trial, e.g. 0.25 packs four on one GPU (default 0: CPU only)")
    p.add_argument("--gpu-memory", help="one GPU's memory budget, e.g. 4GiB (default: detected); bigger configurations are not launched")
    p.add_argument("--fit-batch", action="store_true", help="shrink the batch size to fit --gpu-memory instead")
    p.add_argument("--num-cpus", type=positive_int, help="CPUs of the local Ray instance (default: all)")
    p.add_argument("--address", help="existing Ray cluster: 'auto' or ray://host:port (or set RAY_ADDRESS)")
    p.add_argument("--grace-period", type=positive_int, help="ASHA: epochs before a trial may be stopped (default: the space's, else 1)")
    p.add_argument("--reduction-factor", type=int, default=2, help="ASHA: keep 1/factor at each rung")
    p.add_argument("--searcher", choices=["tpe", "random"], default="tpe",
                   help="how configurations are proposed: Optuna TPE after the space's known-good ones (default), "
                        "or plain random sampling (a baseline)")
    p.add_argument("--scheduler", choices=["asha", "none"], default="asha",
                   help="asha stops poor trials early (default); none runs every trial to the end (a baseline)")
    p.add_argument("--overwrite", action="store_true", help="delete an existing run directory of that name")
    p.add_argument("--max-megapixels", type=float, help="skip images larger than this (default 50; checked before decoding)")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout (messages stay on stderr)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("resume", help="continue an interrupted sweep, or add trials to a finished one")
    p.add_argument("run_dir", help="the run directory `colorsweep run` printed")
    p.add_argument("--retry-errored", action="store_true", help="run errored trials again")
    p.add_argument("--trials", help="+N: add N trials, the searcher warm-started on all earlier results")
    p.add_argument("--address", help="existing Ray cluster (default: the one recorded, else local)")
    p.add_argument("--num-cpus", type=positive_int, help="CPUs of the local Ray instance (default: all)")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout (messages stay on stderr)")
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser("train", help="train one model without Ray and compare it with the baselines")
    p.add_argument("--arch", default="unet", help="architecture (see `colorsweep models`; default unet)")
    p.add_argument("--optimizer", default="adam", help="adam, rmsprop, sgd, ... (default adam)")
    p.add_argument("--loss", default=None, help="mse, mae, huber (default mse); classification archs: cls_rebalanced")
    p.add_argument("--temperature", type=float, default=0.38, help="annealed-mean temperature (classification archs)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 1e-3)")
    p.add_argument("--batch-size", type=positive_int, default=8, help="default 8, as in the study")
    p.add_argument("--epochs", type=positive_int, default=5, help="epochs (default 5)")
    p.add_argument("--size", type=positive_int, default=64, help="training image size in px (default 64)")
    p.add_argument("--output-activation", default="original", choices=["original", "sigmoid", "linear"],
                   help="regression output layer: the study's own (original), sigmoid or linear")
    p.add_argument("--monitor", default="delta_e", help="metric for early stopping and the best checkpoint")
    p.add_argument("--augment", action="store_true", help="random crop/flip of the fixed crops (with --samples-per-epoch 0)")
    p.add_argument("--samples-per-epoch", type=non_negative_int, default=1024, metavar="N",
                   help="an epoch is N random crops (random scale, position, flip) of the training photos kept "
                        "whole (default 1024); 0: one pass over the fixed centre crops, as the study did")
    p.add_argument("--rebalance", type=_unit_interval, default=0.0, metavar="S",
                   help="regression models: weight each pixel's loss by its colour's rarity to the power S, in "
                        "[0, 1] (default 0: unweighted; 1: Zhang et al.'s full class rebalancing)")
    p.add_argument("--seed", type=int, default=0, help="seeds weights, shuffling and crops (default 0)")
    p.add_argument("--data", nargs="+", default=["demo"], help="image folder(s), or 'demo' (built-in photos)")
    p.add_argument("--out", help="folder for checkpoints and result.json")
    p.add_argument("--max-megapixels", type=float, help="skip images larger than this (default 50; checked before decoding)")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout (messages stay on stderr)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("models", help="list architectures with parameter counts")
    p.add_argument("--size", type=positive_int, default=128, help="image size in px (default 128)")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout (messages stay on stderr)")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("data", help="inspect a data set")
    dsub = p.add_subparsers(dest="data_command", required=True)
    pi = dsub.add_parser("inspect", help="counts, sizes and every skipped file with its reason")
    pi.add_argument("path", nargs="+", help="image folder(s) or 'demo'")
    pi.add_argument("--size", type=positive_int, default=128, help="image size in px (default 128)")
    pi.add_argument("--max-megapixels", type=float, help="skip images larger than this (default 50; checked before decoding)")
    pi.add_argument("--json", action="store_true", help="print the result as JSON on stdout (messages stay on stderr)")
    pi.set_defaults(func=cmd_data_inspect)

    p = sub.add_parser("spaces", help="list search spaces, or `spaces show NAME`")
    p.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    p.add_argument("space", nargs="?")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout (messages stay on stderr)")
    p.set_defaults(func=cmd_spaces)

    # Commands that live beside the code they drive: report, export / colorize / finetune.
    from search import best, memory, report

    report.add_commands(sub)
    memory.add_commands(sub)
    best.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``colorsweep`` console script."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing notices are not for users
    args = build_parser().parse_args(argv)
    names_only = args.func in (cmd_spaces, cmd_models, cmd_data_inspect)  # they name things, train nothing
    report_without_models = args.func.__name__ == "cmd_report" and getattr(args, "no_models", False)
    if not (names_only or report_without_models):
        from colorize_core._backend import import_backend_quietly
        from colorize_core.data import default_cache_dir

        # the backend's native start-up lines go to a log file, not between the user and our output
        import_backend_quietly(default_cache_dir() / "logs" / "backend-start.log")
    from search.rundir import RunLockedError
    from search.signals import Interrupted, exit_status

    try:
        if args.func in (cmd_run, cmd_resume):  # SIGTERM outside Ray's loop: stop cleanly, not mid-write
            from search.signals import StopSignals

            with StopSignals():
                return int(args.func(args) or 0)
        return int(args.func(args) or 0)
    except (UserError, ValueError, FileNotFoundError, FileExistsError, RunLockedError, PermissionError) as exc:
        print(f"colorsweep: error: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        print(f"colorsweep: interrupted ({_signal_name(exc.signum)}); nothing was lost", file=sys.stderr)
        return exit_status(exc.signum)
    except KeyboardInterrupt:
        print("colorsweep: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        from search.rundir import disk_full_message, is_disk_full_error

        if not is_disk_full_error(exc):
            raise
        where = exc.filename or getattr(args, "run_dir", None) or getattr(args, "storage", None) or os.getcwd()
        print(f"colorsweep: error: {disk_full_message(Path(where).parent if exc.filename else where)}",
              file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
