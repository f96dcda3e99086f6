"""Reused trial workers (Ray Tune ``reuse_actors``) on CPU sweeps, and what happens when Ray cannot
hand a finished trial's worker to the next trial: that trial is recorded as failed and the sweep
ends instead of waiting for it forever."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
RAY_REUSE_ERROR = "Trainable runner reuse requires reset_config() to be implemented and return True."


def test_workers_are_reused_on_cpus_and_gpus_unless_switched_off(monkeypatch):
    from search.sweep import REUSE_WORKERS_ENV, reuse_workers

    monkeypatch.delenv(REUSE_WORKERS_ENV, raising=False)
    assert reuse_workers(0.0) is True
    assert reuse_workers(0.25) is True  # Ray hands a worker only to trials asking for its GPU share
    monkeypatch.setenv(REUSE_WORKERS_ENV, "off")
    assert reuse_workers(0.0) is False and reuse_workers(0.25) is False


def test_a_gpu_worker_refuses_a_trial_with_another_share(monkeypatch):
    """The safety net under Ray's resource-keyed reuse: a process capped to one share never trains
    a trial that asked for another."""
    import search.trainable as trainable

    monkeypatch.setattr(trainable, "_PROCESS_SHARE", 0.25)
    monkeypatch.setattr(trainable, "_TRIALS_IN_PROCESS", 1)
    with pytest.raises(RuntimeError, match="held to GPU share 0.25 but the trial asks for 0.5"):
        trainable.colorize_trial({"_memory": {"gpu_share": 0.5}}, data=None, settings={"cpus_per_trial": 1})


@pytest.mark.slow
def test_gpu_trials_of_one_share_run_in_one_reused_worker_on_its_compiled_model(tmp_path, cache_dir):
    """Three trials of one architecture on a logical GPU, one at a time: one worker process runs them
    all (no process start, no backend start, no model build after the first), each at the share its
    estimate asked for."""
    import math

    import ray

    from search import memory as mem
    from search.sweep import _init_ray, run_sweep
    from spaces import space_from_dict

    if ray.is_initialized():
        ray.shutdown()
    _init_ray(None, num_cpus=2, num_gpus=1)
    try:
        space = space_from_dict({"name": "gpu-reuse", "grid": True, "defaults": {"max_epochs": 1, "size": 16},
                                 "params": {"arch": {"choice": ["basic"]},
                                            "learning_rate": {"choice": [1e-3, 2e-3, 5e-3]}},
                                 "fixed": {"batch_size": 8}})
        estimate = mem.estimate_memory("basic", size=16, batch_size=8).total
        gpu = math.ceil(estimate / mem.POOL_FRACTION / 0.45)  # each trial: just under half a GPU
        result = run_sweep(space, data="demo", storage=tmp_path, name="gpu-reuse", live=False, cache_dir=cache_dir,
                           gpus_per_trial=1.0, gpu_memory=gpu, concurrency=1, report=False)
    finally:
        ray.shutdown()
    assert [r.status for r in result.records] == ["completed"] * 3
    rows = []
    for record in result.records:
        lines = (result.run_dir / record.trial_dir / "result.json").read_text().splitlines()
        rows.append([json.loads(line) for line in lines if line][-1])
    assert len({row["gpu_share"] for row in rows}) == 1 and 0 < rows[0]["gpu_share"] < 1
    assert len({row["worker_pid"] for row in rows}) == 1  # one process ran all three


def _trial(trial_id: str, status: str, path: Path):
    return SimpleNamespace(trial_id=trial_id, status=status, config={"arch": "basic"}, path=str(path),
                           error_file=None, get_error=lambda: RuntimeError(RAY_REUSE_ERROR))


def test_monitor_records_a_trial_that_ray_ended_without_reporting_its_error(tmp_path):
    """Ray 2.60 sets such a trial to ERROR without calling on_trial_error; the step's end catches it."""
    from search.monitor import SweepMonitor

    monitor = SweepMonitor(tmp_path, metric="delta_e", mode="min", max_epochs=2, live=False)
    trials = [_trial("a", "RUNNING", tmp_path / "trial_a"), _trial("b", "ERROR", tmp_path / "trial_b")]
    monitor.on_trial_start(0, trials, trials[0])
    monitor.on_step_end(1, trials)
    from search.rundir import read_trial_entries

    entries = read_trial_entries(tmp_path)  # trials.json and its journal: the status change is on disk at once
    assert entries["a"]["status"] == "running"
    assert entries["b"]["status"] == "error"
    assert RAY_REUSE_ERROR in entries["b"]["error"] and "--retry-errored" in entries["b"]["error"]


def test_searcher_counts_a_failed_trial_that_ray_never_reported_as_ended(tmp_path):
    from ray.tune.search import Searcher

    from search import memory as mem
    from search.packing import GridSearcher, MemorySearcher

    space = {"name": "g", "grid": True, "defaults": {"size": 16},
             "params": {"arch": {"choice": ["basic"]}, "batch_size": {"choice": [8]}}}
    planner = mem.TrialPlanner(space=space, size=16, budget=None, run_dir=str(tmp_path))
    told = []

    class Inner(GridSearcher):
        def on_trial_complete(self, trial_id, result=None, error=False):
            told.append((trial_id, error))

    searcher = MemorySearcher(Inner([{"arch": "basic", "batch_size": 8}]), planner=planner, run_dir=tmp_path,
                              live=False)
    assert searcher.suggest("t1")["arch"] == "basic"
    assert searcher.suggest("t2") is None  # t1 is running: wait for it
    from search.rundir import TrialLedger

    TrialLedger.for_run(tmp_path).entry("t1", params={})["status"] = "error"  # the monitor, at the step's end
    assert searcher.suggest("t2") == Searcher.FINISHED  # it was not waited for any longer
    assert told == [("t1-1", True)]
    searcher.on_trial_complete("t1", error=True)  # Ray telling it late changes nothing
    assert told == [("t1-1", True)] and not searcher.errored


@pytest.mark.slow
def test_a_sweep_whose_worker_handover_fails_still_finishes(tmp_path, cache_dir):
    """Reused workers with Ray's reset timeout at 0 s: every handover fails. Before, the sweep waited
    forever for the trial that never started; now that trial is an error and the others finish."""
    space = tmp_path / "four.yaml"
    space.write_text("name: four\ngrid: true\ndefaults: {max_epochs: 1, size: 16}\n"
                     "params:\n  arch: {choice: [basic]}\n  loss: {choice: [mse, mae]}\n"
                     "  learning_rate: {choice: [0.001, 0.003]}\nfixed: {batch_size: 32}\n")
    env = {**os.environ, "COLORSWEEP_CACHE": str(cache_dir), "TUNE_FUNCTION_THREAD_TIMEOUT_S": "0"}
    env.pop("COLORSWEEP_REUSE_WORKERS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "search.cli", "run", str(space), "--data", "demo", "--num-cpus", "2",
         "--storage", str(tmp_path / "runs"), "--name", "handover", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    from search.records import load_records

    records = load_records(tmp_path / "runs" / "handover")
    statuses = sorted(r.status for r in records)
    failed = [r for r in records if r.status == "error"]
    assert len(records) == 4 and failed, statuses
    assert all(RAY_REUSE_ERROR in r.error for r in failed), [r.error[-300:] for r in failed]
    assert all(r.status == "completed" for r in records if r not in failed), statuses
