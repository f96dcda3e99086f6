"""The ``colorsweep`` command line: the parser and ``main``; each command group lives in its own module.

``run`` / ``resume`` (:mod:`search.cli.run`), ``report`` (:mod:`search.cli.report`), ``export`` /
``colorize`` / ``finetune`` (:mod:`search.cli.export`), ``plan`` (:mod:`search.cli.plan`), ``train``
(:mod:`search.cli.train`), ``models`` / ``spaces`` / ``data inspect`` (:mod:`search.cli.catalog`).
Every command that prints a table also takes ``--json``. Heavy libraries (Keras, Ray) are imported
inside the commands that need them, so ``--help`` and input errors answer at once.

Exit status: 0 done; 2 what was asked for cannot be done (one line on stderr): an error colorsweep
raises on purpose (:class:`colorize_core.errors.ColorsweepError`: bad values, spaces, images, a run
directory that is missing, exists or is locked; :class:`UserError`), or the operating system refusing
a file the user named (not found, exists, permission denied); 1 the disk was full or a colorize
wrote nothing; 130 / 143 interrupted by Ctrl-C / SIGTERM (nothing lost: resume). Anything else is a
bug: Python's traceback, exit 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

from search.cli import catalog, export, plan, report, run, train
from colorize_core.errors import ColorsweepError
from search.cli._output import UserError, signal_name

__all__ = ["main", "build_parser", "UserError"]


def build_parser() -> argparse.ArgumentParser:
    """The ``colorsweep`` parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="colorsweep",
        description="Find the best colorization model for your photos with a Ray Tune + Optuna + ASHA sweep.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run.add_parsers(sub)
    train.add_parsers(sub)
    catalog.add_parsers(sub)
    report.add_parsers(sub)
    plan.add_parsers(sub)
    export.add_parsers(sub)
    return parser


def _needs_backend(args) -> bool:
    """Whether the command trains or loads models (then Keras' backend starts quietly first)."""
    if not getattr(args, "needs_backend", True):
        return False
    return not (args.command == "report" and getattr(args, "no_models", False))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``colorsweep`` console script; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing notices are not for users
    args = build_parser().parse_args(argv)
    if _needs_backend(args):
        from colorize_core._backend import import_backend_quietly
        from colorize_core.data import default_cache_dir

        # the backend's native start-up lines go to a log file, not between the user and our output
        import_backend_quietly(default_cache_dir() / "logs" / "backend-start.log")
    from search.signals import Interrupted, exit_status

    try:
        if getattr(args, "stops_on_signals", False):  # SIGTERM outside Ray's loop: stop cleanly, not mid-write
            from search.signals import StopSignals

            with StopSignals():
                return int(args.func(args) or 0)
        return int(args.func(args) or 0)
    except (ColorsweepError, FileNotFoundError, FileExistsError, PermissionError) as exc:
        print(f"colorsweep: error: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        print(f"colorsweep: interrupted ({signal_name(exc.signum)}); nothing was lost", file=sys.stderr)
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
