"""``colorsweep run`` and ``colorsweep resume``: launch or continue a sweep, print its ranking."""

from __future__ import annotations

import os

import shlex
import sys

from search.cli._output import (UserError, add_json_flag, apply_max_megapixels, count, data_arg, duration, emit,
                                format_table, non_negative_int, positive_int, signal_name)

__all__ = ["add_parsers", "cmd_run", "cmd_resume", "print_sweep"]

#: Trials shown in the final table; the report has them all.
SHOWN_TRIALS = 20


def _command_line() -> str:
    return "colorsweep " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def print_sweep(args, result) -> int:
    """The final table of a run / resume and its exit status: 0 when the sweep ran to its end,
    130 / 143 after Ctrl-C / SIGTERM, 1 when the disk was full."""
    from search.signals import exit_status
    from search.sweep import resume_command

    rows = result.table()
    payload = {"run_dir": str(result.run_dir), "metric": result.metric, "mode": result.mode,
               "wall_time_s": result.wall_time_s, "time_budget_s": result.budget_s, "complete": result.complete, "planned_trials": result.planned,
               "finished_trials": result.finished_trials,
               "interrupted": None if result.interrupted is None else signal_name(result.interrupted),
               "disk_full": result.disk_full, "trials": rows, "baselines": result.baselines}
    others = [o.metric for o in result.objectives[1:]]
    columns = ["rank", "trial_id", "status", "arch", "optimizer", "loss", "learning_rate", "batch_size",
               "epochs", result.metric, *others, "gain_vs_gray", "train_time_s"]
    if result.constraints:
        columns.append("meets_constraints")
    base_rows = [{"rank": "-", "trial_id": f"baseline: {k}", result.metric: v.get(result.metric),
                  **{m: v.get(m) for m in others}, "gain_vs_gray": v.get("gain_vs_gray")}
                 for k, v in result.baselines.items()]
    shown = rows[:SHOWN_TRIALS]
    more = f" ({len(rows) - len(shown)} more in the report)" if len(rows) > len(shown) else ""
    budget = ""
    if result.budget_s:
        used = result.budget_used_s if result.budget_used_s is not None else result.wall_time_s
        budget = (f"\ntime budget {duration(result.budget_s)}: the trials used {duration(used)} "
                  f"({duration(result.wall_time_s)} in all, with start-up and report)")
    from search.report.rows import compile_summary

    compiling = compile_summary(rows)
    if compiling:
        budget += f"\n{compiling}"
    if others:
        payload["objectives"] = [o.to_dict() for o in result.objectives]
        more += (f"; objectives {', '.join(o.metric for o in result.objectives)}: the report's Pareto section shows "
                 f"the trade-off")
    if result.constraints:
        payload["constraints"] = [c.text for c in result.constraints]
        more += f"; constraints {', '.join(c.text for c in result.constraints)}: trials that violate one rank last"
    if result.complete:
        head = f"\n{count(len(rows), 'trial')} ranked by validation {result.metric}{more}"
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
    emit(args, payload, text)
    if result.disk_full:
        from search.rundir import disk_full_message

        print(f"colorsweep: error: {disk_full_message(result.run_dir)}", file=sys.stderr)
        return 1
    if result.interrupted is not None:
        return exit_status(result.interrupted)
    return 0


def _compile_cache_option(parser) -> None:
    parser.add_argument("--compile-cache", metavar="DIR|off",
                        help="where trials keep compiled programs for later trials and runs (default: "
                             "~/.cache/colorsweep/compile on each machine, or $COLORSWEEP_COMPILE_CACHE); off: none")


def _apply_compile_cache(args) -> None:
    """``--compile-cache`` overrides ``COLORSWEEP_COMPILE_CACHE`` for this command (and the local Ray it starts)."""
    if getattr(args, "compile_cache", None):
        from colorize_core.compile_cache import COMPILE_CACHE_ENV

        os.environ[COMPILE_CACHE_ENV] = args.compile_cache


def cmd_resume(args) -> int:
    """Continue an interrupted sweep, or add ``--trials +N`` to a finished one."""
    from search.sweep import resume_sweep

    _apply_compile_cache(args)
    extra = 0
    if args.trials is not None:
        if not args.trials.startswith("+") or not args.trials[1:].isdigit():
            raise UserError(f"--trials takes +N (trials to add), got {args.trials!r}")
        extra = int(args.trials[1:])
    result = resume_sweep(args.run_dir, retry_errored=args.retry_errored, extra_trials=extra,
                          live=not args.json, address=args.address, num_cpus=args.num_cpus,
                          command_line=_command_line())
    return print_sweep(args, result)


def cmd_run(args) -> int:
    """Launch a sweep over a search space."""
    from search.sweep import run_sweep

    apply_max_megapixels(args)
    _apply_compile_cache(args)
    result = run_sweep(
        args.space, data=data_arg(args.data), name=args.name, storage=args.storage, trials=args.trials,
        max_epochs=args.max_epochs, size=args.size, metric=args.metric, mode=args.mode, seed=args.seed,
        concurrency=args.concurrency, cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial,
        address=args.address, grace_period=args.grace_period, reduction_factor=args.reduction_factor,
        overwrite=args.overwrite, live=not args.json, num_cpus=args.num_cpus,
        gpu_memory=args.gpu_memory, fit_batch=args.fit_batch, time_budget=args.time_budget,
        samples_per_epoch=args.samples_per_epoch, searcher=args.searcher, scheduler=args.scheduler,
        constraints=args.constraint, command_line=_command_line(),
    )
    return print_sweep(args, result)


def add_parsers(sub) -> None:
    """Register ``run`` and ``resume``."""
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
    _compile_cache_option(p)
    p.add_argument("--max-megapixels", type=float, help="skip images larger than this (default 50; checked before decoding)")
    add_json_flag(p)
    p.set_defaults(func=cmd_run, stops_on_signals=True)

    p = sub.add_parser("resume", help="continue an interrupted sweep, or add trials to a finished one")
    p.add_argument("run_dir", help="the run directory `colorsweep run` printed")
    p.add_argument("--retry-errored", action="store_true", help="run errored trials again")
    _compile_cache_option(p)
    p.add_argument("--trials", help="+N: add N trials, the searcher warm-started on all earlier results")
    p.add_argument("--address", help="existing Ray cluster (default: the one recorded, else local)")
    p.add_argument("--num-cpus", type=positive_int, help="CPUs of the local Ray instance (default: all)")
    add_json_flag(p)
    p.set_defaults(func=cmd_resume, stops_on_signals=True)
