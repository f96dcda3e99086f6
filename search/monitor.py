"""Driver-side view of a running sweep: the trial records file and the live terminal progress."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

from ray.tune import Callback

from search.memory.oom import is_out_of_memory
from search.records import first_error_line
from search.resume_point import checkpoint_epoch, resumable_checkpoint
from search.rundir import (FAILED_STATUSES, TrialLedger, TrialStatus, is_disk_full_error, is_disk_full_text,
                           write_text_atomic)

__all__ = ["SweepMonitor"]


# What Ray's own loggers write for each trial into the driver's staging folder
# (/tmp/ray/session_*/artifacts/...); Ray copies them into the run directory only when it saves its
# experiment state (every few seconds: Ray's own period; the copy below does not depend on it).
_RAY_TRIAL_FILES = ("result.json", "progress.csv", "params.json", "params.pkl")


def _copy_result_lines(trial) -> None:
    """Copy the trial's ``result.json`` (and Ray's other per-trial files) from Ray's staging folder
    into its folder in the run directory, each through a temporary name. Called when a trial's
    checkpoint is registered, after Ray's loggers wrote that epoch's line. Without it a ``kill -9``
    of the driver lost the epochs reported since Ray's last experiment snapshot from the records
    (their checkpoint folders were in the run directory already). A copy that fails is retried at
    the next checkpoint; Ray's own copy still runs."""
    local, stored = getattr(trial, "local_path", None), getattr(trial, "path", None)
    if not local or not stored or os.path.abspath(local) == os.path.abspath(stored):
        return
    for name in _RAY_TRIAL_FILES:
        source, target = Path(local) / name, Path(stored) / name
        tmp = target.with_name(target.name + ".colorsweep-tmp")
        try:
            if not source.is_file():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, tmp)  # no fsync: the next checkpoint copies it again
            os.replace(tmp, target)
        except OSError:
            try:
                tmp.unlink(missing_ok=True)  # a full disk leaves no partial copy behind
            except OSError:
                pass
            continue


def _carry_result_lines(trial) -> None:
    """Give Ray's staging folder the trial's earlier ``result.json`` and ``progress.csv`` lines before
    Ray's loggers open them, when Ray starts a trial again without a checkpoint.

    Ray restores those files only for a trial it restores from a checkpoint; a trial whose saved
    state predates its first checkpoint starts with empty ones, and the copies into the run directory
    (:func:`_copy_result_lines`, Ray's own) would then replace its recorded epochs. The trial continues
    from the folder of its latest recorded epoch (:func:`search.resume_point.resumable_checkpoint`, the
    same choice the trainable makes), so the lines up to that epoch are carried, and no later ones.
    Called from ``on_trial_start``, which Ray runs before its loggers' (user callbacks come first)."""
    if getattr(trial, "checkpoint", None) is not None:
        return  # Ray's loggers restore the files themselves
    local, stored = getattr(trial, "local_path", None), getattr(trial, "path", None)
    if not local or not stored or os.path.abspath(local) == os.path.abspath(stored):
        return
    try:
        folder = resumable_checkpoint(stored)
    except OSError:
        return
    epoch = checkpoint_epoch(folder) if folder else None
    if epoch is None:
        return  # the trial starts again from epoch 1: nothing of the last run is its history
    for name, keep in (("result.json", _result_lines_until), ("progress.csv", _progress_rows_until)):
        source, target = Path(stored) / name, Path(local) / name
        try:
            if not source.is_file() or (target.is_file() and target.stat().st_size > 0):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(target, keep(source.read_text(), epoch))
        except (OSError, ValueError):
            continue


def _result_lines_until(text: str, epoch: int) -> str:
    """The whole lines of a ``result.json`` whose epoch is at most ``epoch``."""
    kept = []
    for line in text.splitlines():
        try:
            value = json.loads(line).get("epoch")
        except (ValueError, AttributeError):
            continue
        if isinstance(value, int) and value <= epoch:
            kept.append(line)
    return "".join(line + "\n" for line in kept)


def _progress_rows_until(text: str, epoch: int) -> str:
    """A ``progress.csv`` with its header and the rows whose epoch is at most ``epoch``."""
    import csv
    import io

    rows = list(csv.reader(io.StringIO(text)))
    if not rows or "epoch" not in rows[0]:
        return ""
    column = rows[0].index("epoch")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(rows[0])
    for row in rows[1:]:
        try:
            if len(row) == len(rows[0]) and int(float(row[column])) <= epoch:
                writer.writerow(row)
        except ValueError:
            continue
    return out.getvalue()


class SweepMonitor(Callback):
    """Records what Ray reports of every trial (status, params, epochs, error) in the run's
    :class:`~search.rundir.TrialLedger`, which writes ``trials.json``, and prints progress.

    A trial is ``stopped`` when it ended before ``max_epochs`` without its own early stopping (ASHA
    stopped it), ``completed`` otherwise.
    """

    def __init__(self, run_dir: Path, *, metric: str, mode: str, max_epochs: int, live: bool = True,
                 stream=None, existing: dict | None = None, deadline: float | None = None):
        self.run_dir = Path(run_dir)
        self.metric, self.mode, self.max_epochs = metric, mode, max_epochs
        self.live = live
        self._stream = stream
        if existing is not None:  # else the driver opened the ledger (TrialLedger.open) or it is read back
            TrialLedger.open(self.run_dir, existing)
        self.best: tuple[float, str] | None = None
        self.started = time.monotonic()
        self._last_line = ""
        self._drawn = 0                     # lines of the live block on a terminal
        self._latest: dict[str, float] = {}  # latest metric value of each trial
        self.disk_full: str | None = None   # the error when a write found the disk full
        self.deadline = deadline            # wall-clock end of the time budget (a trial stopped after it: budget)
        self.stopper = None                 # search.signals.StopSignals of the driver (asks Ray to stop)
        self._unsettled: dict[str, object] = {}  # Ray's trials not yet ended (checked at each step's end)
        self._trials_seen = 0               # how many of Ray's trials list were added to _unsettled
        self._checkpoints: dict[str, object] = {}  # each trial's newest checkpoint (older ones are deleted)

    @property
    def entries(self) -> dict[str, dict]:
        """Every trial's record: the run's ledger, shared with the memory searcher."""
        return TrialLedger.for_run(self.run_dir).entries

    @property
    def stream(self):
        return self._stream or sys.stderr

    def __getstate__(self):  # Ray pickles the run config (with its callbacks) for resuming
        state = self.__dict__.copy()
        state["_stream"] = None
        state["stopper"] = None
        state["_unsettled"], state["_trials_seen"], state["_checkpoints"] = {}, 0, {}  # this loop's trials only
        return state

    def __setstate__(self, state):  # run configs pickled by older versions lack the newer fields
        state = {k: v for k, v in state.items() if k != "entries"}  # older versions kept their own copy
        self.__dict__.update({"_drawn": 0, "_latest": {}, "_unsettled": {}, "_trials_seen": 0, "_checkpoints": {},
                              **state})

    # -- records -------------------------------------------------------------------------------
    def _entry(self, trial) -> dict:
        entry = self.entries.setdefault(trial.trial_id, {"params": dict(trial.config), "status": TrialStatus.PENDING})
        entry["params"] = {k: v for k, v in dict(trial.config).items() if k != "_memory"}
        entry["max_epochs"] = self.max_epochs
        memory = dict(trial.config).get("_memory")
        if memory:  # the memory plan (search.packing): estimate, GPU share, shrunk batch, retry of
            entry["memory"] = memory
            for key in ("note", "retry_of"):
                if memory.get(key):
                    entry[key] = memory[key]
        if trial.path:
            try:
                entry["trial_dir"] = str(Path(trial.path).relative_to(self.run_dir))
            except ValueError:
                entry["trial_dir"] = str(trial.path)
        return entry

    def _save(self, trial_id: str | None = None, *, status_changed: bool = True, final: bool = False) -> None:
        """Make what changed durable: the record of ``trial_id`` (a journal line, fsynced at once when
        ``status_changed``: :meth:`TrialLedger.save_entry`), else what is due (:meth:`TrialLedger.flush`;
        everything with ``final``). A full disk stops the sweep."""
        ledger = TrialLedger.for_run(self.run_dir)
        try:
            if trial_id is not None:
                ledger.save_entry(trial_id, status_changed=status_changed)
            else:
                ledger.flush(final=final)
        except OSError as exc:
            if not is_disk_full_error(exc):
                raise
            self._stop_for_full_disk(str(exc))

    def _stop_for_full_disk(self, text: str) -> None:
        """The disk is full: stop the sweep like Ctrl-C would (trials resumable); said once at the end."""
        if self.disk_full is None:
            self.disk_full = first_error_line(text) or text
            if self.stopper is not None:
                import signal

                self.stopper.request(signal.SIGTERM)

    def on_trial_start(self, iteration, trials, trial, **info):
        _carry_result_lines(trial)
        entry = self._entry(trial)
        entry["status"] = TrialStatus.RUNNING
        entry.pop("error", None)
        self._save(trial.trial_id)
        self._print(trials)

    on_trial_restore = on_trial_start

    def on_trial_result(self, iteration, trials, trial, result, **info):
        entry = self._entry(trial)
        status_changed = entry.get("status") != TrialStatus.RUNNING
        entry["status"] = TrialStatus.RUNNING
        entry["epochs"] = int(result.get("epoch", 0))
        entry["early_stopped"] = bool(result.get("early_stopped", False))
        entry["node_id"] = result.get("node_id")
        entry["params_count"] = result.get("params")
        if result.get("gpu_ids") or result.get("gpu_share"):
            entry["gpu_ids"], entry["gpu_share"] = result.get("gpu_ids"), result.get("gpu_share")
        value = result.get(self.metric)
        if isinstance(value, (int, float)):
            self._latest[trial.trial_id] = float(value)
            if self.best is None or (value < self.best[0] if self.mode == "min" else value > self.best[0]):
                self.best = (float(value), trial.trial_id)
        self._save(trial.trial_id, status_changed=status_changed)  # an epoch: fsynced within a second
        self._print(trials)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._checkpoints.pop(trial.trial_id, None)  # its newest checkpoint folder stays
        entry = self._entry(trial)
        epochs = entry.get("epochs", 0)
        if epochs >= self.max_epochs or entry.get("early_stopped"):
            entry["status"] = TrialStatus.COMPLETED
        else:
            entry["status"] = TrialStatus.STOPPED
            if self.deadline is not None and time.time() >= self.deadline:
                entry["note"] = "time budget"
        self._save(trial.trial_id)
        self._print(trials)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._checkpoints.pop(trial.trial_id, None)
        entry = self._entry(trial)
        text = None
        for candidate in (trial.error_file, Path(trial.path, "error.txt") if trial.path else None):
            if candidate and Path(candidate).exists():
                text = Path(candidate).read_text()
                break
        if text is None:
            error = trial.get_error()
            text = str(error) if error is not None else "error (traceback in the trial folder's error.txt)"
        text = _ANSI.sub("", text)
        if _REUSE_FAILED in text:
            text += _REUSE_HINT
        elif any(marker in text for marker in _WORKER_DIED):
            text += _WORKER_DIED_HINT
        if is_disk_full_text(text):  # not the trial's fault: resumable once space is freed
            entry["status"], entry["note"] = TrialStatus.INTERRUPTED, "the disk was full"
            entry["error"] = text
            self._save(trial.trial_id)
            self._stop_for_full_disk(text)
            return
        entry["status"] = TrialStatus.OOM if is_out_of_memory(text) else TrialStatus.ERROR
        entry["error"] = text
        self._save(trial.trial_id)
        self._print(trials, force_line=f"trial {trial.trial_id} failed: {first_error_line(text)}")

    def on_step_begin(self, iteration, trials, **info):
        if self.stopper is not None:
            self.stopper.forward()  # a stop asked for before Ray's loop could take it

    def on_step_end(self, iteration, trials, **info):
        # Ray 2.60 ends a trial that never started as ERROR without on_trial_error when the reused
        # worker it was given could not be reset; record it like any failed trial. Only the trials
        # not yet ended are looked at (Ray's list only grows): O(running) per step, not O(trials).
        if len(trials) < self._trials_seen:  # another list than last time (a new loop, a test)
            self._trials_seen = 0
        for trial in trials[self._trials_seen:]:
            self._unsettled[trial.trial_id] = trial
        self._trials_seen = len(trials)
        for trial_id, trial in list(self._unsettled.items()):
            status = trial.status
            if status == "TERMINATED":
                del self._unsettled[trial_id]
            elif status == "ERROR":
                del self._unsettled[trial_id]
                if self.entries.get(trial_id, {}).get("status") not in FAILED_STATUSES | {TrialStatus.INTERRUPTED}:
                    self.on_trial_error(iteration, trials, trial)
        self._save()  # what is due: trials.json rewritten every few seconds, journal lines fsynced

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info):
        """Keep only each trial's newest checkpoint folder (``checkpoint_*``: ``best.keras``,
        ``last.keras``, ``state.json``): the previous one is deleted once a newer one is reported.

        Ray keeps every checkpoint (no ``num_to_keep``: see
        :func:`search.sweep.ray_session._checkpoint_config`). The first checkpoint this driver sees of
        a trial also clears every other folder of it: those of the run before a resume, including one
        of a later name when Ray restarted the trial's numbering (its saved state predated the trial's
        first checkpoint; the trial continued from its folder's). A sweep killed between a checkpoint
        and Ray's next state save names a checkpoint a newer one replaced, and ``resume`` renames the
        newer one back (:func:`search.sweep.repair.repair_replaced_checkpoints`).
        """
        _copy_result_lines(trial)
        previous = self._checkpoints.get(trial.trial_id)
        self._checkpoints[trial.trial_id] = checkpoint
        if previous is not None:
            older = [previous.path] if previous.path != checkpoint.path else []
        else:  # the first one this driver sees: a resumed trial's folder may hold those of the last run
            folder = Path(checkpoint.path).parent
            name = Path(checkpoint.path).name
            older = [str(p) for p in folder.glob("checkpoint_*") if p.name != name] if folder.is_dir() else []
        for path in older:
            try:
                checkpoint.filesystem.delete_dir(path)
            except Exception:  # noqa: BLE001 - gone already, or the storage refused: a stale folder, nothing lost
                pass

    def on_experiment_end(self, trials, **info):
        self._save(final=True)

    # -- progress --------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Trials by status (running, completed, stopped, error, oom, infeasible), from the ledger's
        index: O(1) per event, however many trials the sweep has."""
        ledger = TrialLedger.for_run(self.run_dir)
        return {status: ledger.count(status) for status in (TrialStatus.RUNNING, TrialStatus.COMPLETED,
                                                              TrialStatus.STOPPED, TrialStatus.ERROR,
                                                              TrialStatus.OOM, TrialStatus.INFEASIBLE)}

    def _summary(self) -> tuple[str, str]:
        """(the progress line without its clock, the clock part): counts, best so far; elapsed and,
        with a time budget, what is left of it."""
        counts = self.counts()
        best = f"best {self.metric} {self.best[0]:.3f} ({self.best[1]})" if self.best else f"best {self.metric} -"
        text = (
            f"running {counts['running']} | done {counts['completed']} | stopped early {counts['stopped']} | "
            f"failed {counts['error'] + counts['oom']} | "
            + (f"infeasible {counts['infeasible']} | " if counts["infeasible"] else "") + best
        )
        elapsed = time.monotonic() - self.started
        clock = f"[{_mmss(elapsed)}"
        if self.deadline is not None:
            clock += f", budget left {_mmss(max(0.0, self.deadline - time.time()))}"
        return text, clock + "]"

    def _running_lines(self) -> list[str]:
        """One line per running trial: its id, configuration and current epoch (terminal display only)."""
        lines = []
        entries = self.entries
        for trial_id in TrialLedger.for_run(self.run_dir).ids_with(TrialStatus.RUNNING):  # not every trial
            entry = entries.get(trial_id)
            if entry is None or entry.get("status") != TrialStatus.RUNNING:
                continue
            params = entry.get("params", {})
            words = [str(params[k]) for k in ("arch", "loss") if k in params]
            if isinstance(params.get("learning_rate"), (int, float)):
                words.append(f"lr {params['learning_rate']:.2g}")
            if "batch_size" in params:
                words.append(f"batch {params['batch_size']}")
            config = " ".join(words)
            latest = self._latest.get(trial_id)
            value = f"  {self.metric} {latest:.3f}" if isinstance(latest, float) else ""
            lines.append(f"  {trial_id}  {config}: epoch {entry.get('epochs', 0)}/{self.max_epochs}{value}")
        return lines

    def _print(self, trials, force_line: str | None = None) -> None:
        """Show progress. On a terminal: one block redrawn in place (a summary line, then a line per
        running trial with its epoch). Piped: one line each time the counts or the best change,
        never the same line twice. ``force_line`` (a failure) is printed above, once."""
        if not self.live:
            return
        text, clock = self._summary()
        tty = self.stream.isatty()
        if tty:
            block = [f"{clock} {text}", *self._running_lines()]
            erase = f"\x1b[{self._drawn}F\x1b[J" if self._drawn else ""
            above = (force_line + "\n") if force_line else ""
            self.stream.write(erase + above + "\n".join(block) + "\n")
            self._drawn = len(block)
            self._last_line = text
        else:
            if force_line:
                self.stream.write(force_line + "\n")
            if text != self._last_line:
                self.stream.write(f"{clock} {text}\n")
                self._last_line = text
        self.stream.flush()


def _mmss(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60:02d}:{seconds % 60:02d}" if seconds < 3600 else f"{seconds // 3600}h{seconds % 3600 // 60:02d}"



_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# What Ray says when a trial's worker process ended under it (kill -9, the out-of-memory killer).
_WORKER_DIED = ("ActorDiedError", "actor died unexpectedly", "WorkerCrashedError", "worker died")
_WORKER_DIED_HINT = (
    "\nThis trial's worker process died under it (killed by a signal, or by the system's out-of-memory "
    "killer); its epochs so far are kept in its folder. Run it again with `colorsweep resume RUN_DIR "
    "--retry-errored`.")
# What Ray says when the worker of a finished trial could not be handed to this one (never started).
_REUSE_FAILED = "Trainable runner reuse requires reset_config()"
_REUSE_HINT = (
    "\nThis trial never started: the previous trial's worker process, reused for it, did not finish in "
    "time (TUNE_FUNCTION_THREAD_TIMEOUT_S). Run it with `colorsweep resume RUN_DIR --retry-errored`; "
    "COLORSWEEP_REUSE_WORKERS=off gives every trial a fresh process.")

