"""End-to-end sweeps through Ray Tune + Optuna + ASHA on tiny real data (demo photos at 16 px)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from colorize_core import metrics
from search.records import load_records, load_sweep_info
from spaces import load_space, space_from_dict


@pytest.fixture(scope="module")
def ray_local():
    import ray

    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def smoke_sweep(tmp_path_factory, cache_dir, ray_local):
    from search.sweep import run_sweep

    storage = tmp_path_factory.mktemp("runs")
    return run_sweep("smoke", data="demo", size=16, trials=6, max_epochs=3, storage=storage, name="smoke",
                     live=False, num_cpus=2, cache_dir=cache_dir)


@pytest.mark.slow
def test_smoke_sweep_ranks_every_trial_on_the_metric(smoke_sweep):
    records = smoke_sweep.records
    assert len(records) == 6
    space = load_space("smoke")
    for record in records:
        params = {k: v for k, v in record.params.items() if k in space.params}
        assert space.contains(params), params
        assert record.status in ("completed", "stopped"), record.status_text()
        assert [row["epoch"] for row in record.history] == list(range(1, record.epochs + 1))
        for row in record.history:
            for name in metrics.METRICS:
                assert name in row
    values = [r.best_value("delta_e", "min") for r in records]
    assert values == sorted(values)


@pytest.mark.slow
def test_asha_stops_some_trials_before_max_epochs(smoke_sweep):
    stopped = [r for r in smoke_sweep.records if r.status == "stopped"]
    assert stopped, [r.status_text() for r in smoke_sweep.records]
    assert all(r.epochs < 3 for r in stopped)
    assert any(r.epochs == 3 for r in smoke_sweep.records)


@pytest.mark.slow
def test_cpu_trials_reuse_the_worker_processes_of_finished_trials(smoke_sweep):
    pids = [row["worker_pid"] for r in smoke_sweep.records for row in r.history[:1]]
    assert len(pids) == 6 and len(set(pids)) < 6, pids  # 6 trials, 2 at a time: fewer than 6 processes


@pytest.mark.slow
def test_tensorboard_on_the_run_directory_shows_one_run_per_trial(smoke_sweep):
    run_dir = smoke_sweep.run_dir
    runs = {f.parent for f in run_dir.rglob("events.out.tfevents*")}
    assert {p.parent for p in runs} == {run_dir / "report" / "tensorboard"}  # no Ray copy, none in checkpoints
    assert sorted(p.name for p in runs) == sorted(f"trial_{r.trial_id}" for r in smoke_sweep.records)


@pytest.mark.slow
def test_run_directory_records_the_sweep(smoke_sweep):
    info = load_sweep_info(smoke_sweep.run_dir)
    assert info.metric == "delta_e" and info.mode == "min"
    assert info.data.source == "demo" and len(info.data.fingerprint) >= 32
    assert space_from_dict(info.space).name == "smoke"
    assert "ray" in info.versions and "keras" in info.versions
    assert set(smoke_sweep.baselines) == {"gray", "train_mean"}
    assert smoke_sweep.baselines["gray"]["gain_vs_gray"] == pytest.approx(0.0)
    html = (smoke_sweep.run_dir / "report" / "report.html").read_text()
    assert "baseline" in html and all(r.trial_id in html for r in smoke_sweep.records)


def test_a_one_metric_sweep_writes_what_it_always_wrote(smoke_sweep):
    """Several objectives and constraints add keys, columns and report sections; a sweep with one
    metric and no constraint gets none of them (issue 16: its outputs are unchanged)."""
    from search.report import COLUMNS

    recorded = json.loads((smoke_sweep.run_dir / "sweep.json").read_text())  # the file itself
    assert "objectives" not in recorded and "constraints" not in recorded and "metric" not in recorded["scheduler"]
    assert load_sweep_info(smoke_sweep.run_dir).to_dict() == recorded
    rows = [row for r in smoke_sweep.records for row in r.history]
    assert rows and not any(k in row for row in rows for k in ("tradeoff", "at_best_delta_e", "constraint_excess"))
    report = smoke_sweep.run_dir / "report"
    assert (report / "trials.csv").read_text().splitlines()[0].split(",") == list(COLUMNS)
    payload = json.loads((report / "trials.json").read_text())
    assert not {"objectives", "front", "knee", "constraints"} & set(payload)
    assert "Pareto" not in (report / "report.md").read_text() and not (report / "pareto_front.png").exists()


def test_existing_run_name_is_refused(tmp_path, cache_dir):
    from search.sweep import run_sweep

    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "sweep.json").write_text("{}")
    with pytest.raises(FileExistsError, match="--overwrite"):
        run_sweep("smoke", data="demo", size=16, storage=tmp_path, name="taken", live=False, cache_dir=cache_dir)


def test_bad_space_fails_before_any_trial(tmp_path, cache_dir):
    from search.sweep import run_sweep
    from spaces import SpaceError

    bad = tmp_path / "bad.yaml"
    bad.write_text("params:\n  arch: {choice: [classic, transformer]}\n")
    with pytest.raises(SpaceError, match="transformer"):
        run_sweep(str(bad), data="demo", size=16, storage=tmp_path / "runs", live=False, cache_dir=cache_dir)
    assert not (tmp_path / "runs").exists()


def test_batch_size_larger_than_training_split_is_rejected(tmp_path, cache_dir):
    from search.sweep import run_sweep
    from spaces import SpaceError

    space = tmp_path / "big.yaml"
    space.write_text("params:\n  arch: {choice: [basic]}\n  batch_size: {choice: [8, 4096]}\n")
    with pytest.raises(SpaceError, match="batch_size"):
        run_sweep(str(space), data="demo", size=16, storage=tmp_path / "runs", live=False, cache_dir=cache_dir)
    assert not any((tmp_path / "runs").glob("*/trials.json"))


@pytest.mark.slow
def test_a_trial_that_raises_does_not_end_the_sweep(tmp_path, cache_dir, ray_local):
    from search.sweep import run_sweep

    space = space_from_dict({
        "name": "two", "grid": True, "defaults": {"max_epochs": 1, "size": 16},
        "params": {"arch": {"choice": ["basic"]}, "loss": {"choice": ["mse", "mae"]},
                   "batch_size": {"choice": [32]}},
    })
    result = run_sweep(space, data="demo", storage=tmp_path, name="fail", live=False, num_cpus=2,
                       cache_dir=cache_dir, fail_when=("loss", "mae"), report=False)
    by_loss = {r.params["loss"]: r for r in result.records}
    assert by_loss["mse"].status == "completed" and by_loss["mse"].epochs == 1
    assert by_loss["mae"].status == "error"
    error = by_loss["mae"].error
    assert 'File "' in error and "in colorize_trial" in error  # the traceback's frames are kept
    assert "RuntimeError: injected failure" in error and "\x1b[" not in error
    assert "injected failure" in by_loss["mae"].status_text()


def _trial_states(run_dir: Path) -> dict:
    path = run_dir / "trials.json"
    return json.loads(path.read_text()) if path.exists() else {}


def session_processes(sid: int) -> list[int]:
    """Living processes of session ``sid`` (a driver started with start_new_session and all it spawned)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            text = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2:].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            found.append(int(name))
    return found


def wait_for_no_processes(sid: int, timeout_s: float = 20.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while (left := session_processes(sid)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


@pytest.mark.slow
def test_killed_sweep_resumes_where_it_was(tmp_path, cache_dir):
    """SIGKILL the driver alone after one trial finished and while another is mid-training: Ray's
    processes go with it, no record stays "running", and resume finishes exactly the 4 trials."""
    run_dir = tmp_path / "killed"
    command = [sys.executable, "-m", "search.cli", "run", "smoke", "--data", "demo", "--size", "16",
               "--trials", "4", "--max-epochs", "6", "--grace-period", "6", "--num-cpus", "2",
               "--storage", str(tmp_path), "--name", "killed"]
    env = {**os.environ, "COLORSWEEP_CACHE": str(cache_dir)}
    proc = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    killed_mid = None
    deadline = time.monotonic() + 400
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            states = _trial_states(run_dir)
            done = [k for k, v in states.items() if v["status"] == "completed"]
            # at least three of its 6 epochs left: the workers outlive the driver by a moment, and a trial
            # one epoch from the end has been seen to finish in it (a full suite on a loaded machine); a
            # window of 3 epochs is wide enough for this loop to see (2 of 4 was missed once)
            mid = [k for k, v in states.items() if v["status"] == "running" and 1 <= v.get("epochs", 0) <= 3]
            if done and mid:
                killed_mid = mid[0]
                os.kill(proc.pid, signal.SIGKILL)  # the driver only, as `kill -9 PID` does
                break
            time.sleep(0.5)
    finally:
        if killed_mid is None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert killed_mid is not None, "the sweep never had a finished and a running trial at once"
    assert wait_for_no_processes(proc.pid) == [], "Ray processes outlived the killed driver"
    before = {r.trial_id: r for r in load_records(run_dir)}
    assert "running" not in {r.status for r in before.values()}
    killed = before[killed_mid]
    # interrupted, or (rarely) it finished all its epochs before Ray's workers noticed the driver was gone
    assert killed.status == "interrupted" or (killed.status == "completed" and killed.epochs == 6), killed.status
    finished_before = {k: r.history for k, r in before.items() if r.status == "completed"}
    epochs_at_kill = before[killed_mid].epochs
    # what a kill -9 in the middle of an atomic write leaves: hidden temporary files of a process that is
    # gone (here in the run directory and in the interrupted trial's folder), beside one that still runs
    from colorize_core.files import _HOST

    gone = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout)
    leftovers = [run_dir / f".sweep.json.k1ll3d00.{_HOST}-{gone}.tmp",
                 run_dir / before[killed_mid].trial_dir / f".state.json.k1ll3d00.{_HOST}-{gone}.tmp"]
    running = run_dir / f".trials.json.l1v3l1v3.{_HOST}-{os.getpid()}.tmp"
    for path in (*leftovers, running):
        path.write_text("half")

    out = subprocess.run([sys.executable, "-m", "search.cli", "resume", str(run_dir), "--num-cpus", "2"],
                         env=env, capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "removed 2 unfinished temporary file(s) that the killed run left in" in out.stderr
    assert not any(path.exists() for path in leftovers) and running.read_text() == "half"
    after = {r.trial_id: r for r in load_records(run_dir)}
    ended = {k: r for k, r in after.items() if r.status in ("completed", "stopped")}
    assert len(ended) == 4, {k: (r.status, r.epochs, r.error and r.error[-800:]) for k, r in after.items()}
    assert set(after) - set(ended) <= {k for k, r in after.items() if r.status == "abandoned"}
    for trial_id, history in finished_before.items():
        assert after[trial_id].history == history  # finished trials were not run again
    # the interrupted trial continued: its raw result lines never go back to epoch 1
    trial_dir = run_dir / after[killed_mid].trial_dir
    epochs = [json.loads(line)["epoch"] for line in (trial_dir / "result.json").read_text().splitlines() if line]
    assert epochs[:epochs_at_kill] == list(range(1, epochs_at_kill + 1))
    assert epochs == sorted(epochs) and epochs[-1] == 6, epochs


def test_seed_space_runs_the_studys_24_configurations_once_each():
    from search.packing import GridSearcher
    from search.sweep import _resolve

    space = load_space("seed")
    trials, max_epochs, size = _resolve(space, trials=None, max_epochs=None, size=None)
    assert (trials, max_epochs, size) == (24, 30, 128)
    searcher = GridSearcher(space.grid(), metric="delta_e", mode="min")
    proposals = []
    while (config := searcher.suggest(f"t{len(proposals)}")) != GridSearcher.FINISHED:
        proposals.append(config)
    combos = {(c["arch"], c["optimizer"], c["loss"]) for c in proposals}
    assert len(proposals) == 24 and len(combos) == 24
    assert {c["optimizer"] for c in proposals} == {"adam", "rmsprop"}
    assert {c["loss"] for c in proposals} == {"mse", "mae"}
    config = space.trial_config(dict(proposals[0]), max_epochs=max_epochs, seed=0, monitor="delta_e")
    assert config["learning_rate"] == 0.01 and config["batch_size"] == 8 and config["epochs"] == 30
    with pytest.raises(ValueError, match="runs each of its 24 configurations exactly once"):
        _resolve(space, trials=5, max_epochs=None, size=None)


def test_recorded_data_source_is_turned_back_into_what_load_dataset_takes():
    from search.records import data_source

    assert data_source("demo") == "demo"
    assert data_source("/photos") == "/photos"
    assert data_source(os.pathsep.join(["/a", "/b"])) == ["/a", "/b"]
    assert data_source(["/only"]) == "/only"


def test_resume_repairs_a_checkpoint_that_a_newer_one_replaced_before_ray_saved_its_state(tmp_path):
    """Ray's newest experiment state names checkpoint_000002, but the sweep died after
    checkpoint_000003 had replaced it: the newer complete folder takes the expected name, unless its
    epoch never reached the records (then the latest recorded one does); trials.json's epochs count
    when the trial's result.json is gone."""
    from search.sweep import repair_replaced_checkpoints

    def trial_entry(trial_id, named):
        return [json.dumps({"trial_id": trial_id}), json.dumps({"last_result": {"checkpoint_dir_name": named}})]

    def checkpoint(trial, name, epoch, complete=True, folder_name=None):
        folder = tmp_path / (folder_name or f"trial_{trial}") / name
        folder.mkdir(parents=True)
        (folder / "state.json").write_text(json.dumps({"epoch": epoch}))
        if complete:
            (folder / "last.keras").write_bytes(_zip_bytes())

    def recorded(trial, last_epoch, folder_name=None):
        lines = [json.dumps({"epoch": e, "delta_e": 10.0}) for e in range(1, last_epoch + 1)]
        (tmp_path / (folder_name or f"trial_{trial}") / "result.json").write_text("\n".join(lines) + "\n")

    checkpoint("a", "checkpoint_000003", 4)                   # replaced the named 000002
    recorded("a", 4)
    checkpoint("b", "checkpoint_000001", 2)                   # the named one is there: untouched
    checkpoint("b", "checkpoint_000002", 3)
    recorded("b", 3)
    checkpoint("c", "checkpoint_000005", 6, complete=False)   # newer but incomplete: not used
    recorded("c", 6)
    checkpoint("e", "checkpoint_000001", 2, folder_name="older_naming_e")  # its folder is named in trials.json
    recorded("e", 2, folder_name="older_naming_e")
    checkpoint("f", "checkpoint_000002", 3)                   # the latest epoch the records hold
    checkpoint("f", "checkpoint_000003", 4)                   # its result line never reached the records
    recorded("f", 3)
    checkpoint("g", "checkpoint_000002", 2)                   # its result.json was deleted: trials.json says 2
    (tmp_path / "trials.json").write_text(json.dumps({"e": {"trial_dir": "older_naming_e"}, "g": {"epochs": 2}}))
    older = {"trial_data": [trial_entry("a", "checkpoint_000000")]}
    newest = {"trial_data": [trial_entry("a", "checkpoint_000002"), trial_entry("b", "checkpoint_000001"),
                             trial_entry("c", "checkpoint_000004"), trial_entry("d", None),
                             trial_entry("e", "checkpoint_000000"), trial_entry("f", "checkpoint_000001"),
                             trial_entry("g", "checkpoint_000001")]}
    (tmp_path / "experiment_state-2026-01-01_10-00-00.json").write_text(json.dumps(older))
    (tmp_path / "experiment_state-2026-01-01_10-05-00.json").write_text(json.dumps(newest))

    notes = repair_replaced_checkpoints(tmp_path)

    assert len(notes) == 4 and "trial a" in notes[0] and "checkpoint_000003" in notes[0]
    assert (tmp_path / "older_naming_e" / "checkpoint_000000" / "last.keras").exists()
    assert json.loads((tmp_path / "trial_a" / "checkpoint_000002" / "state.json").read_text()) == {"epoch": 4}
    assert not (tmp_path / "trial_a" / "checkpoint_000003").exists()
    assert sorted(p.name for p in (tmp_path / "trial_b").iterdir()) == ["checkpoint_000001", "checkpoint_000002",
                                                                        "result.json"]
    assert not (tmp_path / "trial_c" / "checkpoint_000004").exists()
    assert json.loads((tmp_path / "trial_f" / "checkpoint_000001" / "state.json").read_text()) == {"epoch": 3}
    assert "trial f" in notes[2] and "checkpoint_000002" in notes[2]
    assert json.loads((tmp_path / "trial_g" / "checkpoint_000001" / "state.json").read_text()) == {"epoch": 2}
    assert repair_replaced_checkpoints(tmp_path) == []  # nothing left to repair


def _zip_bytes() -> bytes:
    """A small valid zip archive: what a whole ``last.keras`` is, to the repair's completeness check."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model.weights.h5", b"weights")
    return buffer.getvalue()


def test_a_trial_ray_restarts_without_a_checkpoint_continues_from_the_one_it_left(tmp_path):
    """Ray saves its state every few seconds: a state saved before a trial's first checkpoint restarts
    the trial with none. The trainable then continues from the folder of the latest epoch the records
    hold, not from a newer unrecorded one, nor from an incomplete one; a new trial has none."""
    from search.trainable import _checkpoint_left_in_run_dir

    trial_dir = tmp_path / "trial_abc"
    for name, epoch, complete in (("checkpoint_000000", 1, True), ("checkpoint_000001", 2, True),
                                  ("checkpoint_000002", 3, True), ("checkpoint_000004", 2, False)):
        (trial_dir / name).mkdir(parents=True)
        (trial_dir / name / "state.json").write_text(json.dumps({"epoch": epoch}))
        (trial_dir / name / "last.keras").write_bytes(_zip_bytes() if complete else b"PK\x03\x04 cut short")
    settings = {"run_dir": str(tmp_path)}
    assert _checkpoint_left_in_run_dir(settings, "abc") is None  # no epoch recorded yet
    (trial_dir / "result.json").write_text('{"epoch": 1}\n{"epoch": 2}\n{"epo')  # a torn last line
    assert _checkpoint_left_in_run_dir(settings, "abc") == trial_dir / "checkpoint_000001"
    (trial_dir / "result.json").write_text('{"epoch": 1}\n{"epoch": 2}\n{"epoch": 3}\n')
    assert _checkpoint_left_in_run_dir(settings, "abc") == trial_dir / "checkpoint_000002"
    assert _checkpoint_left_in_run_dir(settings, "new") is None
    assert _checkpoint_left_in_run_dir({}, "abc") is None


def test_recorded_scheduler_is_rebuilt_asha_or_none():
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    from search.sweep import _scheduler_from

    from search.sweep_info import SchedulerInfo

    asha = _scheduler_from(SchedulerInfo(name="asha", grace_period=3, reduction_factor=2, max_t=9))
    assert isinstance(asha, ASHAScheduler) and asha._max_t == 9 and asha._reduction_factor == 2
    assert [rung[0] for rung in asha._brackets[0]._rungs] == [6, 3]  # milestones from grace_period 3
    fifo = _scheduler_from(SchedulerInfo(name="none", grace_period=3, reduction_factor=2, max_t=9))
    assert isinstance(fifo, FIFOScheduler) and not isinstance(fifo, ASHAScheduler)


def test_random_search_knows_only_the_ranges_and_tpe_starts_from_the_known_good_configurations():
    from search.sweep import _optuna_searcher
    from spaces.objectives import parse_objectives

    auto = load_space("auto")
    tpe = _optuna_searcher(auto, objectives=parse_objectives("delta_e"), seed=0)
    random = _optuna_searcher(auto, objectives=parse_objectives("delta_e"), seed=0, sampler_name="random")
    assert len(tpe._points_to_evaluate) == len(auto.start_with) >= 1
    assert not random._points_to_evaluate
    assert type(random._sampler).__name__ == "RandomSampler" and type(tpe._sampler).__name__ == "BoundedHistoryTPESampler"


@pytest.mark.parametrize("option, value, message", [
    ("searcher", "grid", "searcher must be one of tpe, random"),
    ("scheduler", "hyperband", "scheduler must be one of asha, none"),
    ("samples_per_epoch", -1, "samples_per_epoch must be an int >= 0"),
])
def test_bad_search_options_fail_before_anything_is_written(tmp_path, option, value, message):
    from search.sweep import run_sweep

    with pytest.raises(ValueError, match=message):
        run_sweep("smoke", data="demo", storage=tmp_path, name="x", live=False, **{option: value})
    assert not (tmp_path / "x").exists()


def test_a_run_recorded_before_photo_pools_reloads_its_data_with_the_same_fingerprint(cache_dir):
    """Runs of the previous version recorded no pool_side and a fingerprint without one: resuming them
    must not say the images changed."""
    from colorize_core.data import load_dataset
    from search.sweep import _reload_data
    from search.sweep_info import SweepInfo

    old = load_dataset("demo", size=16, cache_dir=cache_dir, pool_side=None)  # what the old version made
    info = SweepInfo.from_dict({"data": {"source": "demo", "fingerprint": old.fingerprint, "size": 16, "lab_mode": "float"}})
    assert _reload_data(info, cache_dir=cache_dir).fingerprint == old.fingerprint
    new = load_dataset("demo", size=16, cache_dir=cache_dir)
    info = SweepInfo.from_dict({"data": {"source": "demo", "fingerprint": new.fingerprint, "size": 16,
                                         "lab_mode": "float", "pool_side": new.pool.side}})
    reloaded = _reload_data(info, cache_dir=cache_dir)
    assert reloaded.fingerprint == new.fingerprint and reloaded.pool is not None


def test_repair_follows_the_checkpoint_rays_manager_will_restore_not_the_last_result(tmp_path):
    """Ray saved its state between registering checkpoint_000001 and the result naming checkpoint_000002:
    it restores from its checkpoint manager's newest (000001, gone), so the repair must name that one
    (seen in test_killed_sweep_resumes_where_it_was: "Could not recover from checkpoint")."""
    from search.sweep import repair_replaced_checkpoints

    folder = tmp_path / "trial_a" / "checkpoint_000002"
    folder.mkdir(parents=True)
    (folder / "state.json").write_text(json.dumps({"epoch": 3}))
    (folder / "last.keras").write_bytes(_zip_bytes())
    (tmp_path / "trial_a" / "result.json").write_text("".join(json.dumps({"epoch": e}) + "\n" for e in (1, 2, 3)))
    manager = {"_type": "CLOUDPICKLE_FALLBACK",  # how Ray 2.60 saves it: a pickle, as hex, naming its paths
               "value": b"\x80\x05...trial_a/checkpoint_000000...trial_a/checkpoint_000001...".hex()}
    metadata = {"last_result": {"checkpoint_dir_name": "checkpoint_000002"}, "checkpoint_manager": manager}
    state = {"trial_data": [[json.dumps({"trial_id": "a"}), json.dumps(metadata)]]}
    (tmp_path / "experiment_state-2026-01-01_10-00-00.json").write_text(json.dumps(state))

    notes = repair_replaced_checkpoints(tmp_path)

    assert len(notes) == 1 and "checkpoint_000001" in notes[0]
    assert json.loads((tmp_path / "trial_a" / "checkpoint_000001" / "state.json").read_text()) == {"epoch": 3}
