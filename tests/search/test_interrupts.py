"""Ctrl-C, SIGTERM and a full disk stop a sweep cleanly: exit status, words, nothing lost, resumable
(end-to-end on the demo photos at 16 px; `kill -9` is in test_sweep.py)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from search.records import load_records, load_sweep_info, read_result_lines
from tests.search.test_sweep import wait_for_no_processes

pytestmark = pytest.mark.slow


def _trials(run_dir: Path) -> dict:
    """The trial records as a reader sees them while the sweep runs (trials.json and its journal)."""
    from search.rundir import read_trial_entries

    try:
        return read_trial_entries(run_dir)
    except (OSError, ValueError):
        return {}


def _run_until_an_epoch_then(sig: int, tmp_path: Path, cache_dir: Path, *, trials: int, epochs: int):
    """Start `colorsweep run`, send ``sig`` once a trial reported an epoch; returns (process result, run dir)."""
    run_dir = tmp_path / "sig"
    command = [sys.executable, "-m", "search.cli", "run", "smoke", "--data", "demo", "--size", "16", "--trials",
               str(trials), "--max-epochs", str(epochs), "--grace-period", str(epochs), "--num-cpus", "2",
               "--storage", str(tmp_path), "--name", "sig"]
    env = {**os.environ, "COLORSWEEP_CACHE": str(cache_dir)}
    proc = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    sent = False
    while time.monotonic() < deadline and proc.poll() is None:
        if any(v.get("epochs", 0) >= 1 and v["status"] == "running" for v in _trials(run_dir).values()):
            proc.send_signal(sig)
            sent = True
            break
        time.sleep(0.3)
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert sent, "no trial reported an epoch while the sweep ran"
    return proc, out, err, run_dir


def test_sigterm_stops_within_seconds_exits_143_and_resume_adds_trials(tmp_path, cache_dir):
    proc, out, err, run_dir = _run_until_an_epoch_then(signal.SIGTERM, tmp_path, cache_dir, trials=3, epochs=3)
    assert proc.returncode == 143, err[-3000:]
    assert "interrupted: " in out and " of 3 trials finished" in out, out
    assert "colorsweep resume" in out
    assert "SIGTERM received" not in err  # no C++ dump
    assert wait_for_no_processes(proc.pid) == [], "Ray processes outlived the stopped driver"
    statuses = [r.status for r in load_records(run_dir)]
    assert "running" not in statuses and "interrupted" in statuses, statuses
    info = load_sweep_info(run_dir)
    assert info.finished is None and info.interrupted["why"] == "SIGTERM"
    assert (run_dir / "report" / "report.html").exists()

    # An interrupted sweep can be extended: the unfinished trials finish first, then one more runs.
    env = {**os.environ, "COLORSWEEP_CACHE": str(cache_dir)}
    done = subprocess.run([sys.executable, "-m", "search.cli", "resume", str(run_dir), "--trials", "+1",
                           "--num-cpus", "2"], env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    records = load_records(run_dir)
    ended = [r for r in records if r.status in ("completed", "stopped")]
    assert len(ended) == 4, [(r.trial_id, r.status) for r in records]
    assert all(r.status in ("completed", "stopped", "abandoned") for r in records)
    assert load_sweep_info(run_dir).trials == 4
    assert "4 trials ranked" in done.stdout


def test_a_killed_trial_worker_is_an_error_with_a_hint_and_ctrl_c_exits_130(tmp_path, cache_dir):
    """kill -9 of one trial's worker process: that trial is recorded as failed (with how to rerun it),
    the sweep goes on; then Ctrl-C: exit 130, 'interrupted', no record left 'running'."""
    run_dir = tmp_path / "sig"
    command = [sys.executable, "-m", "search.cli", "run", "smoke", "--data", "demo", "--size", "16", "--trials", "3",
               "--max-epochs", "4", "--grace-period", "4", "--num-cpus", "2", "--storage", str(tmp_path), "--name", "sig"]
    env = {**os.environ, "COLORSWEEP_CACHE": str(cache_dir)}
    proc = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    victim = None
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            entries = _trials(run_dir)
            if victim is None:
                for trial_id, entry in entries.items():
                    result = run_dir / str(entry.get("trial_dir", "")) / "result.json"
                    rows = read_result_lines(result)  # Ray may not have written the line yet: poll again
                    if entry["status"] == "running" and entry.get("epochs", 0) >= 1 and rows:
                        pid = rows[0]["worker_pid"]
                        os.kill(pid, signal.SIGKILL)
                        victim = trial_id
                        break
            elif entries.get(victim, {}).get("status") == "error":
                proc.send_signal(signal.SIGINT)
                break
            time.sleep(0.3)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert victim is not None, "no trial reported an epoch"
    assert proc.returncode == 130, err[-3000:]
    assert "interrupted: " in out and "of 3 trials finished" in out, out
    records = {r.trial_id: r for r in load_records(run_dir)}
    assert records[victim].status == "error" and "--retry-errored" in records[victim].error
    assert "running" not in {r.status for r in records.values()}


def test_a_full_disk_stops_the_sweep_in_one_line_and_resume_finishes_it(tmp_path, cache_dir, capsys, monkeypatch):
    """ENOSPC injected into the driver's record writes once a trial has reported (as on a full disk):
    exit 1, one line naming the folder and the free space, the records on disk intact; once space is
    back, resume ends with exactly the requested trials."""
    import ray

    from search.cli import main
    from search.rundir import TrialLedger, read_trial_entries  # the one writer of trials.json

    real_save, real_save_entry = TrialLedger.save, TrialLedger.save_entry
    state = {"writes": 0}

    def full(ledger) -> bool:
        if any(e.get("epochs", 0) >= 1 for e in ledger.entries.values()):
            state["writes"] += 1
            return True
        return False

    def save_until_full(ledger):  # trials.json written whole
        if full(ledger):
            raise OSError(errno.ENOSPC, "No space left on device", str(ledger.run_dir / "trials.json"))
        real_save(ledger)

    def save_entry_until_full(ledger, trial_id, **kwargs):  # one record, into the journal
        if full(ledger):
            raise OSError(errno.ENOSPC, "No space left on device", str(ledger.run_dir / "trials.journal.jsonl"))
        real_save_entry(ledger, trial_id, **kwargs)

    monkeypatch.setattr(TrialLedger, "save", save_until_full)
    monkeypatch.setattr(TrialLedger, "save_entry", save_entry_until_full)
    storage = tmp_path / "runs"
    try:
        code = main(["run", "smoke", "--data", "demo", "--size", "16", "--trials", "3", "--max-epochs", "2",
                     "--grace-period", "2", "--num-cpus", "2", "--storage", str(storage), "--name", "full"])
        captured = capsys.readouterr()
        assert code == 1, captured.err[-3000:]
        assert state["writes"] >= 1
        errors = [line for line in captured.err.splitlines() if line.startswith("colorsweep: error")]
        assert len(errors) == 1 and "is full" in errors[0] and "MiB free" in errors[0], captured.err[-2000:]
        assert str(storage / "full") in errors[0] and "colorsweep resume" in errors[0]
        assert "Traceback" not in captured.err
        before = read_trial_entries(storage / "full")  # the last good writes, whole
        assert before and all(e["status"] in ("running", "interrupted") for e in before.values())

        monkeypatch.setattr(TrialLedger, "save", real_save)  # space freed
        monkeypatch.setattr(TrialLedger, "save_entry", real_save_entry)
        assert main(["resume", str(storage / "full"), "--num-cpus", "2"]) == 0
        records = load_records(storage / "full")
        assert sum(r.status in ("completed", "stopped") for r in records) == 3, [(r.trial_id, r.status) for r in records]
        assert all(r.status in ("completed", "stopped", "abandoned") for r in records)
    finally:
        ray.shutdown()
