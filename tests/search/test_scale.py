"""What keeps the sweep driver linear in its number of trials (issue 17 item 4; bench/scale.py measures it).

* ``trials.json`` is not rewritten whole at every event: a changed record is one journal line, and
  the whole file is written again only when due; yet a killed driver loses nothing recorded, and a
  reader always sees whole records (a torn line, a journal of an older ``trials.json``, a full disk).
* The monitor's progress line and its per-step check look at the running trials, not at every trial.
* One checkpoint folder per trial is kept by the monitor, not by Ray's ``num_to_keep`` (which rewrites
  Ray's whole experiment state after every checkpoint); a kill -9 resume copes with Ray's older state
  (tests/search/test_sweep.py).
* The report of a sweep whose trials left no ``best.keras`` never imports Keras.

No timing thresholds here: speed is the benchmark's.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from search.rundir import TRIALS_FILE, TRIALS_JOURNAL_FILE, TrialLedger, TrialStatus, read_trial_entries

ROOT = Path(__file__).resolve().parents[2]


def _ledger(run_dir: Path) -> TrialLedger:
    ledger = TrialLedger.open(run_dir)
    ledger.SNAPSHOT_INTERVAL_S = 3600.0  # only the journal's size makes a whole write due in these tests
    return ledger


def test_epochs_are_journal_lines_and_trials_json_is_written_whole_only_when_due(tmp_path):
    ledger = _ledger(tmp_path)
    for i in range(200):
        trial_id = f"t{i:03d}"
        ledger.entry(trial_id, params={"lr": i}, status=TrialStatus.RUNNING)
        ledger.save_entry(trial_id)
        for epoch in range(1, 6):
            ledger.entries[trial_id]["epochs"] = epoch
            ledger.save_entry(trial_id, status_changed=False)
        ledger.entries[trial_id]["status"] = TrialStatus.COMPLETED
        ledger.save_entry(trial_id)
    events = 200 * 7
    assert ledger.snapshots == 1 and ledger.appends == events - 1  # the first write was whole, then lines
    assert read_trial_entries(tmp_path) == ledger.entries
    assert json.loads((tmp_path / TRIALS_FILE).read_text()) == {"t000": {"params": {"lr": 0}, "status": "running"}}

    ledger.JOURNAL_MIN_BYTES = 4096  # a journal larger than this and than trials.json is folded in
    for epoch in range(6, 60):
        ledger.entries["t000"]["epochs"] = epoch
        ledger.save_entry("t000", status_changed=False)
    assert 1 < ledger.snapshots < 10  # whole writes in proportion to the journal's growth, not one per event
    assert read_trial_entries(tmp_path) == ledger.entries

    ledger.flush(final=True)  # the end of a sweep: trials.json whole, no journal left
    assert json.loads((tmp_path / TRIALS_FILE).read_text()) == ledger.entries
    assert not (tmp_path / TRIALS_JOURNAL_FILE).exists()


def test_a_killed_driver_loses_no_recorded_change(tmp_path):
    """kill -9 right after the last record: trials.json and its journal hold every change."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from search.rundir import TrialLedger
        ledger = TrialLedger.open({str(tmp_path)!r})
        ledger.SNAPSHOT_INTERVAL_S = 3600.0
        for i in range(50):
            ledger.entry(f"t{{i}}", params={{}}, status="running")
            ledger.save_entry(f"t{{i}}")
            ledger.entries[f"t{{i}}"]["epochs"] = 1
            ledger.save_entry(f"t{{i}}", status_changed=False)
            if i % 2:
                ledger.entries[f"t{{i}}"]["status"] = "error"
                ledger.save_entry(f"t{{i}}")
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == -9, done.stderr
    entries = read_trial_entries(tmp_path)
    assert len(entries) == 50 and all(e["epochs"] == 1 for e in entries.values())
    assert [e["status"] for e in entries.values()] == ["running", "error"] * 25


def test_a_journal_left_from_an_older_trials_json_and_a_torn_line_are_ignored(tmp_path):
    ledger = _ledger(tmp_path)
    for trial_id in ("a", "b"):
        ledger.entry(trial_id, params={}, status=TrialStatus.RUNNING)
        ledger.save_entry(trial_id)
    ledger.entries["b"]["status"] = TrialStatus.COMPLETED
    ledger.save_entry("b")
    journal = tmp_path / TRIALS_JOURNAL_FILE
    with journal.open("ab") as handle:  # a crash in the middle of a line
        handle.write(b'{"trial_id": "a", "entry": {"status": "comp')
    assert read_trial_entries(tmp_path)["b"]["status"] == "completed"
    assert read_trial_entries(tmp_path)["a"]["status"] == "running"
    # A crash after trials.json was written whole and before the journal was removed: the journal
    # names the older trials.json, so its (older) lines must not be applied over the new file.
    newer = {"a": {"params": {}, "status": "stopped"}, "b": {"params": {}, "status": "completed"}}
    (tmp_path / TRIALS_FILE).write_text(json.dumps(newer, indent=1))
    assert read_trial_entries(tmp_path) == newer


def test_a_full_disk_in_the_journal_leaves_only_whole_lines(tmp_path, monkeypatch):
    import search.rundir as rundir

    ledger = _ledger(tmp_path)
    ledger.entry("a", params={}, status=TrialStatus.RUNNING)
    ledger.save_entry("a")
    ledger.entry("b", params={}, status=TrialStatus.RUNNING)
    ledger.save_entry("b")
    real_write = os.write

    def half_then_full(fd, data):
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rundir.os, "write", half_then_full)
    ledger.entries["b"]["status"] = TrialStatus.ERROR
    with pytest.raises(OSError):
        ledger.save_entry("b")
    monkeypatch.setattr(rundir.os, "write", real_write)
    assert (tmp_path / TRIALS_JOURNAL_FILE).read_bytes().endswith(b"\n")  # the half line was cut off
    assert read_trial_entries(tmp_path)["b"]["status"] == "running"  # the last whole record
    ledger.save_entry("b")  # space freed: the next write records it
    assert read_trial_entries(tmp_path)["b"]["status"] == "error"


def test_the_ledger_counts_statuses_as_they_are_saved(tmp_path):
    ledger = _ledger(tmp_path)
    ledger.add({"x1": {"params": {}, "status": TrialStatus.INFEASIBLE}})
    for trial_id in ("a", "b", "c"):
        ledger.entry(trial_id, params={}, status=TrialStatus.RUNNING)
        ledger.save_entry(trial_id)
    ledger.entries["b"]["status"] = TrialStatus.STOPPED
    ledger.save_entry("b")
    assert ledger.count(TrialStatus.RUNNING) == 2 and ledger.ids_with(TrialStatus.RUNNING) == ["a", "c"]
    assert ledger.count(TrialStatus.STOPPED) == 1 and ledger.count(TrialStatus.INFEASIBLE) == 1
    for entry in ledger.entries.values():  # what the end of a loop does: many at once, then a whole write
        if entry["status"] == TrialStatus.RUNNING:
            entry["status"] = TrialStatus.INTERRUPTED
    ledger.save()
    assert ledger.count(TrialStatus.RUNNING) == 0 and ledger.count(TrialStatus.INTERRUPTED) == 2


class _CountedTrial:
    """A Ray trial whose status reads are counted."""

    def __init__(self, trial_id: str, status: str):
        self.trial_id, self._status, self.reads = trial_id, status, 0
        self.config, self.path, self.error_file = {}, None, None

    @property
    def status(self) -> str:
        self.reads += 1
        return self._status

    def get_error(self):
        return None


def test_each_step_looks_only_at_the_trials_not_yet_ended(tmp_path):
    from search.monitor import SweepMonitor

    TrialLedger.open(tmp_path)
    monitor = SweepMonitor(tmp_path, metric="delta_e", mode="min", max_epochs=2, live=False)
    ended = [_CountedTrial(f"done{i}", "TERMINATED") for i in range(100)]
    running = _CountedTrial("run", "RUNNING")
    trials = [*ended, running]
    monitor.on_step_end(0, trials)
    for _ in range(10):
        monitor.on_step_end(0, trials)
    assert all(t.reads == 1 for t in ended)  # seen ended once, never looked at again
    assert running.reads == 11
    late = _CountedTrial("late", "ERROR")  # Ray's list grows; an error Ray never reported is recorded
    trials.append(late)
    monitor.on_step_end(0, trials)
    assert TrialLedger.for_run(tmp_path).status("late") == TrialStatus.ERROR


def test_the_monitor_keeps_one_checkpoint_folder_per_trial(tmp_path):
    from pyarrow.fs import LocalFileSystem

    from search.monitor import SweepMonitor
    from search.sweep.ray_session import _checkpoint_config

    assert _checkpoint_config().num_to_keep is None  # else Ray rewrites its whole state at every checkpoint
    TrialLedger.open(tmp_path)
    monitor = SweepMonitor(tmp_path, metric="delta_e", mode="min", max_epochs=5, live=False)
    trial_dir = tmp_path / "trial_a"
    # left by the run before a resume; the later name: Ray restarted the trial's numbering
    for name in ("checkpoint_000000", "checkpoint_000001", "checkpoint_000007"):
        (trial_dir / name).mkdir(parents=True)
    trial = SimpleNamespace(trial_id="a", config={}, path=str(trial_dir))
    for index in (2, 3, 4):
        folder = trial_dir / f"checkpoint_{index:06d}"
        folder.mkdir()
        monitor.on_checkpoint(0, [trial], trial, SimpleNamespace(path=str(folder), filesystem=LocalFileSystem()))
        assert sorted(p.name for p in trial_dir.iterdir()) == [folder.name]


def test_a_report_without_best_keras_files_never_imports_keras(tmp_path, monkeypatch):
    """The report says the top trials have no checkpointed model, and gets there without Keras (its
    import is seconds and hundreds of MiB in the driver)."""
    from search.report import write_report

    run_dir = tmp_path / "run"
    trials = {}
    for index, trial_id in enumerate(("a", "b")):
        folder = run_dir / f"trial_{trial_id}"
        (folder / "checkpoint_000000").mkdir(parents=True)
        (folder / "checkpoint_000000" / "state.json").write_text("{}")  # no best.keras
        row = {"epoch": 1, "delta_e": 10.0 + index, "gain_vs_gray": 0.2, "params": 1000, "train_time_s": 1.0}
        (folder / "result.json").write_text(json.dumps(row) + "\n")
        trials[trial_id] = {"params": {"learning_rate": 0.001}, "status": "completed", "max_epochs": 1,
                            "trial_dir": folder.name, "epochs": 1}
    (run_dir / TRIALS_FILE).write_text(json.dumps(trials))
    info = {"name": "run", "run_dir": str(run_dir), "space": {"name": "s", "params": {}}, "trials": 2,
            "max_epochs": 1, "metric": "delta_e", "mode": "min", "seed": 0,
            "data": {"source": "demo", "size": 16}}
    (run_dir / "sweep.json").write_text(json.dumps(info))
    monkeypatch.setitem(sys.modules, "keras", None)  # `import keras` raises ImportError from here on
    write_report(run_dir, formats="json", figures=False, tensorboard=False)
    notes = json.loads((run_dir / "report" / "trials.json").read_text())["notes"]
    assert any("no best.keras checkpoint for top trial(s) a, b" in note for note in notes), notes
    assert not any("ImportError" in note for note in notes), notes
