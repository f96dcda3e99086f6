"""One Ray Tune loop of a run or resume, and what is recorded however it ends (:func:`_fit`).

SIGINT / SIGTERM and a full disk stop it gracefully; trials still running are then recorded
``interrupted``, ``sweep.json`` says how the loop ended, the report is written and the command to
resume (:func:`resume_command`) is printed.
"""

from __future__ import annotations

import shlex
import shutil
import sys
import time
from pathlib import Path

from search.monitor import SweepMonitor
from search.records import load_records, load_sweep_info
from search.rundir import (
    LIVE_STATUSES,
    TrialLedger,
    TrialStatus,
    is_disk_full_error,
)
from search.signals import StopSignals
from search.sweep.ray_session import RAY_LOG, _ray_messages_to
from search.sweep.result import UNFINISHED_STATUSES, _Outcome

def resume_command(run_dir: Path) -> str:
    return f"colorsweep resume {shlex.quote(str(run_dir))}"


def _fit(tuner, run_dir: Path, *, live: bool, report: bool = True, monitor: SweepMonitor | None = None) -> _Outcome:
    """Run the tuner; whatever happens, record what ended, write the report and say how to resume.

    SIGINT / SIGTERM stop the loop gracefully (:mod:`search.signals`); a full disk stops it too
    (the monitor asks). Trials still running when the loop ends are recorded ``interrupted``.
    """
    if live:
        print(f"run directory: {run_dir}  (if interrupted: {resume_command(run_dir)})", file=sys.stderr)
    outcome = _Outcome()
    stop = StopSignals()
    if monitor is not None:
        monitor.stopper = stop
    try:
        with stop:
            stop.in_loop = True
            try:
                with _ray_messages_to(run_dir / RAY_LOG):
                    tuner.fit()
            except Exception as exc:  # noqa: BLE001 - re-raised unless the disk is full
                # A full disk also surfaces as Ray failing to read back what it could not write
                # (e.g. UnpicklingError of a truncated error file while building its ResultGrid).
                full = is_disk_full_error(exc) or _disk_full(run_dir) or (
                    monitor is not None and monitor.disk_full is not None)
                if not full:
                    raise
                outcome.disk_full = (monitor.disk_full if monitor is not None and monitor.disk_full else None) or str(exc)
            finally:
                stop.in_loop = False
                outcome.loop_end = time.time()
        outcome.signal = stop.received if not (monitor and monitor.disk_full) else None
        if monitor is not None and monitor.disk_full:
            outcome.disk_full = monitor.disk_full
        _mark_interrupted(run_dir)
        info = load_sweep_info(run_dir)
        if outcome.signal is None and outcome.disk_full is None:
            info.finished = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            info.interrupted = None
        else:
            info.interrupted = {"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                "why": "disk full" if outcome.disk_full else _signal_name(outcome.signal)}
        info.save(run_dir)
    except OSError as exc:
        if not is_disk_full_error(exc):
            raise
        outcome.disk_full = outcome.disk_full or str(exc)
    finally:
        if report and not outcome.disk_full:
            _write_report(run_dir, live=live)
        ray_log = run_dir / RAY_LOG
        try:
            logged = sum(1 for line in ray_log.read_text(encoding="utf-8", errors="replace").splitlines()
                         if " WARNING " in line or " ERROR " in line or " CRITICAL " in line)
        except OSError:
            logged = 0
        if live and logged:
            print(f"Ray logged {logged} warning(s) or error(s): {ray_log}", file=sys.stderr)
        try:
            unfinished = [r for r in load_records(run_dir) if r.status in UNFINISHED_STATUSES]
        except (OSError, ValueError):
            unfinished = []
        if unfinished:
            print(f"{len(unfinished)} trial(s) unfinished; continue with: {resume_command(run_dir)}", file=sys.stderr)
    return outcome


def _disk_full(path: Path, *, below_bytes: int = 1 << 20) -> bool:
    """Whether the disk holding ``path`` has less than ``below_bytes`` free (1 MiB)."""
    try:
        return shutil.disk_usage(path).free < below_bytes
    except OSError:
        return False


def _signal_name(signum: int | None) -> str:
    import signal

    return signal.Signals(signum).name if signum else "unknown"


def _mark_interrupted(run_dir: Path) -> None:
    """Records still ``running``/``pending`` after the driver's loop ended become ``interrupted``."""
    ledger = TrialLedger.for_run(run_dir)
    changed = False
    for entry in ledger.entries.values():
        if entry.get("status") in LIVE_STATUSES:
            entry["status"] = TrialStatus.INTERRUPTED
            changed = True
    if changed:
        ledger.save()


def _write_report(run_dir: Path, *, live: bool) -> None:
    """The ranked report into RUN_DIR/report/; a failure here never loses the sweep's results."""
    from search.report import write_report

    try:
        paths = write_report(run_dir)
    except Exception as exc:  # noqa: BLE001 - the sweep's results are safe on disk either way
        print(f"could not write the report ({type(exc).__name__}: {exc}); "
              f"retry with: colorsweep report {shlex.quote(str(run_dir))}", file=sys.stderr)
        return
    if live and "html" in paths:
        print(f"report: {paths['html']}", file=sys.stderr)
