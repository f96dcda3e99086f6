"""The run directory loses nothing: names stay inside storage, one writer, atomic JSON, rebuilt records,
trusted pickles, clear words for bad files (no sweep runs here: each test takes well under a second)."""

from __future__ import annotations

import copy
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from search.cli import main
from search.records import load_records, load_trial_entries
from search.rundir import (
    LOCK_FILE,
    RunLock,
    RunLockedError,
    check_trusted,
    run_dir_for,
    validate_run_name,
    write_json_atomic,
)


# -- names ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["..", ".", "../../x", "a/../b", "/etc", "a//b", "", "~/x"])
def test_run_names_that_leave_storage_are_rejected(name):
    with pytest.raises(ValueError, match="--name"):
        validate_run_name(name)


def test_plain_and_nested_names_stay_inside_storage(tmp_path):
    assert run_dir_for(tmp_path, "a") == tmp_path.resolve() / "a"
    assert run_dir_for(tmp_path, "team/a b") == tmp_path.resolve() / "team" / "a b"


def test_a_symlink_out_of_storage_is_rejected(tmp_path):
    (tmp_path / "storage").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "storage" / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="outside --storage"):
        run_dir_for(tmp_path / "storage", "link")


@pytest.mark.parametrize("name", ["..", ".", "../../x"])
def test_overwrite_with_a_bad_name_deletes_nothing(tmp_path, capsys, name):
    """The issue's first row: `--name .. --overwrite` used to delete the parent of the storage folder."""
    storage = tmp_path / "v" / "runs"
    storage.mkdir(parents=True)
    (tmp_path / "v" / "keep.txt").write_text("mine")
    (storage / "keep.txt").write_text("mine")
    code = main(["run", "smoke", "--data", str(tmp_path / "nonexistent"), "--storage", str(storage),
                 "--name", name, "--overwrite"])
    assert code == 2
    assert "--name" in capsys.readouterr().err
    assert (tmp_path / "v" / "keep.txt").read_text() == "mine"
    assert (storage / "keep.txt").read_text() == "mine"


def test_overwrite_refuses_a_folder_colorsweep_did_not_make(tmp_path, capsys):
    target = tmp_path / "photos"
    target.mkdir()
    (target / "holiday.jpg").write_bytes(b"precious")
    code = main(["run", "smoke", "--data", "demo", "--storage", str(tmp_path), "--name", "photos", "--overwrite"])
    assert code == 2
    assert "not a colorsweep run directory" in capsys.readouterr().err
    assert (target / "holiday.jpg").read_bytes() == b"precious"


def test_overwrite_keeps_the_old_run_when_the_new_data_is_bad(tmp_path, capsys):
    run = tmp_path / "old"
    run.mkdir()
    (run / "sweep.json").write_text("{}")
    (run / "trials.json").write_text('{"x": 1}')
    code = main(["run", "smoke", "--data", str(tmp_path / "missing"), "--storage", str(tmp_path), "--name", "old",
                 "--overwrite"])
    assert code == 2
    assert "not found" in capsys.readouterr().err
    assert (run / "trials.json").read_text() == '{"x": 1}'


def test_a_failed_start_leaves_no_empty_run_folder(tmp_path):
    assert main(["run", "smoke", "--data", str(tmp_path / "missing"), "--storage", str(tmp_path / "runs"),
                 "--name", "new"]) == 2
    assert not (tmp_path / "runs" / "new").exists()


# -- one writer -----------------------------------------------------------------------------------------
_HOLD = """
import sys, time
from search.rundir import RunLock
RunLock(sys.argv[1], command="colorsweep run smoke --name held").acquire()
print("locked", flush=True)
time.sleep(120)
"""


@pytest.fixture
def held_run(tmp_path):
    """A run directory locked by another live process (like a running `colorsweep run`)."""
    run = tmp_path / "held"
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(run)], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert proc.stdout.readline().strip() == "locked"
    yield run, proc
    proc.kill()
    proc.wait()


def test_a_second_run_of_the_same_name_exits_2_naming_the_holder(held_run, capsys):
    run, proc = held_run
    code = main(["run", "smoke", "--data", "demo", "--storage", str(run.parent), "--name", run.name])
    assert code == 2
    err = capsys.readouterr().err
    assert f"pid {proc.pid}" in err and socket.gethostname() in err and "in use" in err
    assert sorted(p.name for p in run.iterdir()) == [LOCK_FILE]  # nothing written by the second run


def test_a_second_resume_exits_2(held_run, capsys):
    run, proc = held_run
    (run / "sweep.json").write_text(json.dumps({"space": {}, "metric": "delta_e", "mode": "min", "max_epochs": 1}))
    with pytest.raises(RunLockedError, match=f"pid {proc.pid}"):
        RunLock(run).acquire()


def test_a_lock_left_by_a_killed_process_does_not_block(held_run):
    run, proc = held_run
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    lock = RunLock(run).acquire()  # the kernel dropped the dead holder's lock
    try:
        assert json.loads((run / LOCK_FILE).read_text())["pid"] == os.getpid()  # and this process holds it now
    finally:
        lock.release()


def test_records_of_a_dead_driver_are_interrupted_not_running(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "sweep.json").write_text(json.dumps({"max_epochs": 3}))
    (run / "trials.json").write_text(json.dumps({"t1": {"params": {}, "status": "running"}}))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (run / LOCK_FILE).write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname()}))
    assert [r.status for r in load_records(run)] == ["interrupted"]
    (run / LOCK_FILE).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    assert [r.status for r in load_records(run)] == ["running"]  # a live driver: still running


# -- atomic writes --------------------------------------------------------------------------------------
def test_a_full_disk_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "trials.json"
    write_json_atomic(path, {"a": 1})

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError):
        write_json_atomic(path, {"a": 2, "b": "x" * 1000})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["trials.json"]


def test_full_disk_on_a_real_small_filesystem(tmp_path):
    """A 64 KiB tmpfs (root only; skipped elsewhere): the write fails, the old file is intact."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root and mount to create a small tmpfs")
    try:
        write_json_atomic(mount / "trials.json", {"ok": True})
        with pytest.raises(OSError) as info:
            write_json_atomic(mount / "trials.json", {"big": "x" * 200_000})
        assert info.value.errno == errno.ENOSPC
        assert json.loads((mount / "trials.json").read_text()) == {"ok": True}
        assert sorted(p.name for p in mount.iterdir()) == ["trials.json"]
    finally:
        subprocess.run(["umount", str(mount)], check=False)


# -- records rebuilt --------------------------------------------------------------------------------------
def _fake_run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    (run / "sweep.json").write_text(json.dumps({"max_epochs": 2, "metric": "delta_e", "mode": "min"}))
    rows = [{"epoch": e, "delta_e": 10.0 - e, "train_time_s": e} for e in (1, 2)]
    for trial_id, n, extra in (("aaa", 2, None), ("bbb", 1, None), ("ccc", 1, "Traceback\nValueError: boom")):
        folder = run / f"trial_{trial_id}"
        folder.mkdir()
        (folder / "params.json").write_text(json.dumps({"arch": "unet", "batch_size": 8, "_memory": {"batch_size": 8}}))
        (folder / "result.json").write_text("".join(json.dumps(r) + "\n" for r in rows[:n]))
        if extra:
            (folder / "error.txt").write_text(extra)
    state = {"trial_data": [[json.dumps({"trial_id": "bbb", "status": "TERMINATED"}), "{}"]]}
    (run / "experiment_state-2026-01-01_00-00-00.json").write_text(json.dumps(state))
    return run


def test_a_truncated_trials_json_is_rebuilt_from_the_trial_folders(tmp_path):
    run = _fake_run(tmp_path)
    (run / "trials.json").write_text('{"aaa": {"params": {"arch": "un')
    notes: list[str] = []
    records = {r.trial_id: r for r in load_records(run, notes=notes)}
    assert {k: r.status for k, r in records.items()} == {"aaa": "completed", "bbb": "stopped", "ccc": "error"}
    assert records["aaa"].params == {"arch": "unet", "batch_size": 8}
    assert records["aaa"].best_value("delta_e", "min") == 8.0
    assert "ValueError: boom" in records["ccc"].error
    assert len(notes) == 1 and "trials.json" in notes[0] and "rebuilt 3" in notes[0]


def test_a_missing_trials_json_is_rebuilt_too(tmp_path):
    run = _fake_run(tmp_path)
    assert set(load_trial_entries(run)) == {"aaa", "bbb", "ccc"}


def test_a_damaged_sweep_json_is_named(tmp_path, capsys):
    run = _fake_run(tmp_path)
    (run / "sweep.json").write_text('{"max_epochs": 2, "met')
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert str(run / "sweep.json") in err and "damaged" in err


# -- untrusted run folders ---------------------------------------------------------------------------------
def test_resume_refuses_pickles_others_can_write(tmp_path, capsys):
    run = _fake_run(tmp_path)
    pickle_file = run / "tuner.pkl"
    pickle_file.write_bytes(b"\x80\x04N.")
    pickle_file.chmod(0o666)
    with pytest.raises(PermissionError, match="chmod go-w"):
        check_trusted(run)
    assert main(["resume", str(run)]) == 2
    assert "writable by other users" in capsys.readouterr().err
    pickle_file.chmod(0o644)
    check_trusted(run)


def test_resume_refuses_a_group_writable_run_folder(tmp_path):
    run = _fake_run(tmp_path)
    (run / "tuner.pkl").write_bytes(b"\x80\x04N.")
    run.chmod(0o775)
    with pytest.raises(PermissionError, match=str(run)):
        check_trusted(run)


# -- bad files, clear words -----------------------------------------------------------------------------------
def _png(path: Path, width: int, height: int) -> None:
    import cv2

    image = np.zeros((height, width, 3), np.uint8)
    image[..., 2] = 200
    image[: height // 2, :, 0] = 150
    cv2.imwrite(str(path), image)


def test_images_over_the_pixel_limit_are_skipped_before_decoding(tmp_path, monkeypatch):
    import cv2

    from colorize_core import data

    for i in range(6):
        _png(tmp_path / f"ok{i}.png", 40, 40)
    _png(tmp_path / "huge.png", 300, 200)
    monkeypatch.setenv(data.MAX_PIXELS_ENV, "50000")
    decoded = []
    real = cv2.imdecode
    monkeypatch.setattr(cv2, "imdecode", lambda buf, flags: decoded.append(len(buf)) or real(buf, flags))
    summary = data.inspect_data(tmp_path, size=16, use_cache=False)
    reasons = {Path(s["path"]).name: s["reason"] for s in summary["skipped"]}
    assert "too large: 300x200 px" in reasons["huge.png"] and "--max-megapixels" in reasons["huge.png"]
    assert summary["loaded"] == 6
    huge_bytes = (tmp_path / "huge.png").stat().st_size
    assert huge_bytes not in decoded  # the header said no: never decoded


def test_inspect_counts_every_ignored_file(tmp_path, capsys):
    for i in range(6):
        _png(tmp_path / f"ok{i}.png", 40, 40)
    for name in ("a.gif", "b.GIF", "c.gif", "notes.txt", "README"):
        (tmp_path / name).write_bytes(b"x")
    assert main(["data", "inspect", str(tmp_path), "--size", "16"]) == 0
    out = capsys.readouterr().out
    assert "ignored (not image files searched): 3 .gif, 1 (none), 1 .txt" in out


def test_a_truncated_or_fake_model_file_says_what_it_is(tmp_path):
    from search.best import load_exported

    fake = tmp_path / "model.keras"
    fake.write_bytes(os.urandom(2000))
    with pytest.raises(ValueError, match="not a Keras model file"):
        load_exported(fake)
    cut = tmp_path / "cut.keras"
    import zipfile

    with zipfile.ZipFile(cut, "w") as archive:
        archive.writestr("config.json", "{}" * 5000)
    cut.write_bytes(cut.read_bytes()[:-40])
    with pytest.raises(ValueError, match="not a Keras model file"):
        load_exported(cut)


def test_an_absurd_trial_count_in_a_space_is_rejected(tmp_path):
    from spaces import SpaceError, load_space

    path = tmp_path / "big.yaml"
    path.write_text("name: big\ndefaults: {trials: 1000000000000}\nparams:\n  arch: {choice: [unet]}\n")
    with pytest.raises(SpaceError, match="defaults.trials"):
        load_space(path)


def test_markdown_escapes_html_like_the_html_report():
    from search.report import _md_code, _md_escape

    hostile = '<img src=x onerror="alert(1)">'
    assert "<img" not in _md_escape(hostile) and "&lt;img" in _md_escape(hostile)
    assert _md_code("a`b") == "`` a`b ``"


# -- what a full disk leaves behind ------------------------------------------------------------------------
def test_resume_repairs_a_checkpoint_cut_short_and_empty_error_files(tmp_path):
    """A full disk cut `last.keras` of checkpoint_000001 short and left 0-byte error files: the broken
    folder is kept aside, the complete older checkpoint takes its name, the empty files go."""
    import zipfile

    from search.sweep import _trials_with_unwritten_errors, repair_broken_writes

    trial = tmp_path / "trial_abc"
    for name, epoch in (("checkpoint_000000", 1), ("checkpoint_000001", 2)):
        folder = trial / name
        folder.mkdir(parents=True)
        (folder / "state.json").write_text(json.dumps({"epoch": epoch}))
        with zipfile.ZipFile(folder / "last.keras", "w") as archive:
            archive.writestr("model.weights.h5", os.urandom(5000))
    cut = trial / "checkpoint_000001" / "last.keras"
    cut.write_bytes(cut.read_bytes()[:3000])
    (trial / "error.txt").write_text("")
    (trial / "error.pkl").write_bytes(b"")
    assert _trials_with_unwritten_errors(tmp_path) == ["abc"]

    notes = repair_broken_writes(tmp_path)

    assert len(notes) == 1 and "checkpoint_000001 was cut short" in notes[0] and "checkpoint_000000" in notes[0]
    assert json.loads((trial / "checkpoint_000001" / "state.json").read_text()) == {"epoch": 1}
    assert (trial / "broken_checkpoint_000001" / "last.keras").stat().st_size == 3000  # kept, not deleted
    assert not (trial / "checkpoint_000000").exists()
    assert not (trial / "error.txt").exists() and not (trial / "error.pkl").exists()
    assert repair_broken_writes(tmp_path) == []


def test_ray_notices_about_our_own_stops_are_left_to_our_table():
    import logging

    from search.sweep import _say_stops_in_our_words

    _say_stops_in_our_words()
    _say_stops_in_our_words()  # once is enough: no second filter
    tune_logger = logging.getLogger("ray.tune.tune")
    assert len(tune_logger.filters) == 1
    dropped = logging.LogRecord("ray.tune.tune", logging.WARNING, __file__, 1,
                                "Stop signal received (e.g. via SIGINT/Ctrl+C), ending Ray Tune run.", None, None)
    kept = logging.LogRecord("ray.tune.tune", logging.WARNING, __file__, 1, "something else went wrong", None, None)
    assert not tune_logger.filter(dropped) and tune_logger.filter(kept)


# -- the run directory's typed API: statuses, baselines, checkpoints, the ranking metric --------------------
def test_statuses_are_strings_in_files_and_members_in_code(tmp_path):
    from search.rundir import FAILED_STATUSES, FINAL_STATUSES, LIVE_STATUSES, TrialStatus

    assert TrialStatus.OOM == "oom" and TrialStatus("stopped") is TrialStatus.STOPPED
    write_json_atomic(tmp_path / "t.json", {"a": {"status": TrialStatus.OOM}})
    assert json.loads((tmp_path / "t.json").read_text()) == {"a": {"status": "oom"}}
    assert FAILED_STATUSES <= FINAL_STATUSES and not (LIVE_STATUSES & FINAL_STATUSES)
    assert TrialStatus.INTERRUPTED not in FINAL_STATUSES | LIVE_STATUSES  # resume runs it again
    with pytest.raises(ValueError):
        TrialStatus("exploded")


def test_records_keep_a_status_this_version_does_not_know(tmp_path):
    from search.rundir import SWEEP_FILE, TRIALS_FILE, TrialStatus

    write_json_atomic(tmp_path / SWEEP_FILE, {"metric": "delta_e", "mode": "min", "max_epochs": 2})
    write_json_atomic(tmp_path / TRIALS_FILE, {"a": {"params": {}, "status": "oom"},
                                               "b": {"params": {}, "status": "from-the-future"}})
    statuses = {r.trial_id: r.status for r in load_records(tmp_path)}
    assert statuses == {"a": TrialStatus.OOM, "b": "from-the-future"}
    assert isinstance(statuses["a"], TrialStatus)


def test_load_baselines_is_empty_without_the_file(tmp_path):
    from search.rundir import BASELINES_FILE, load_baselines

    assert load_baselines(tmp_path) == {}
    write_json_atomic(tmp_path / BASELINES_FILE, {"gray": {"delta_e": 11.8}})
    assert load_baselines(tmp_path) == {"gray": {"delta_e": 11.8}}


def test_newest_checkpoint_is_the_newest_with_a_model(tmp_path):
    from search.rundir import newest_checkpoint

    assert newest_checkpoint(None) is None and newest_checkpoint(tmp_path / "missing") is None
    for name, with_model in (("checkpoint_000001", True), ("checkpoint_000002", True), ("checkpoint_000003", False)):
        (tmp_path / name).mkdir()
        if with_model:
            (tmp_path / name / "best.keras").write_bytes(b"x")
    assert newest_checkpoint(tmp_path) == tmp_path / "checkpoint_000002"  # 3 has no model (cut short)


def test_resolve_metric_keeps_the_sweeps_mode_and_names_unknown_metrics():
    from search.rundir import resolve_metric
    from search.sweep_info import SweepInfo

    info = SweepInfo(metric="delta_e", mode="min")
    assert resolve_metric(info, None) == ("delta_e", "min")
    assert resolve_metric(info, "gain_vs_gray") == ("gain_vs_gray", "max")
    assert resolve_metric(SweepInfo.from_dict({}), None) == ("delta_e", "min")
    with pytest.raises(ValueError, match="delta_e"):
        resolve_metric(info, "accuracy")


def test_the_ledger_is_shared_by_run_directory_and_is_the_one_writer(tmp_path):
    from search.rundir import TRIALS_FILE, TrialLedger, TrialStatus

    ledger = TrialLedger.open(tmp_path / "run")
    (tmp_path / "run").mkdir()
    assert TrialLedger.for_run(tmp_path / "run" / ".." / "run") is ledger  # found by the resolved path
    ledger.entry("a", params={"lr": 0.1}, status=TrialStatus.PENDING)["status"] = TrialStatus.RUNNING
    assert ledger.status("a") == "running" and ledger.status("missing") is None
    assert not (tmp_path / "run" / TRIALS_FILE).exists()  # nothing written until save
    ledger.add({"b": {"params": {}, "status": TrialStatus.INFEASIBLE}})
    on_disk = json.loads((tmp_path / "run" / TRIALS_FILE).read_text())
    assert on_disk == {"a": {"params": {"lr": 0.1}, "status": "running"}, "b": {"params": {}, "status": "infeasible"}}
    reopened = TrialLedger.open(tmp_path / "run", {"c": {"status": "pending"}})  # a resume starts anew
    assert TrialLedger.for_run(tmp_path / "run") is reopened and list(reopened.entries) == ["c"]


def test_a_ledger_not_opened_in_this_process_is_read_from_trials_json(tmp_path):
    from search.rundir import TRIALS_FILE, TrialLedger

    (tmp_path / TRIALS_FILE).write_text(json.dumps({"x": {"status": "oom"}}))
    assert TrialLedger.for_run(tmp_path).status("x") == "oom"
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / TRIALS_FILE).write_text("{cut sho")
    assert TrialLedger.for_run(tmp_path / "bad").entries == {}  # a torn file is not fatal here


def test_the_monitor_and_the_memory_searcher_share_one_ledger(tmp_path):
    """The searcher reads how a failed trial ended from memory, at its next proposal: an unrecorded
    failure is a plain error at once (no waiting on a file), an ``oom`` is retried at half the batch."""
    from types import SimpleNamespace

    from search import memory as mem
    from search.monitor import SweepMonitor
    from search.packing import GridSearcher, MemorySearcher
    from search.rundir import TrialLedger

    TrialLedger.open(tmp_path)
    grid = [{"arch": "basic", "batch_size": 16}, {"arch": "basic", "batch_size": 8}]
    planner = mem.TrialPlanner(space={"name": "g", "grid": True, "params": {"arch": {"choice": ["basic"]},
                                                                            "batch_size": {"choice": [8, 16]}}},
                               size=16, run_dir=str(tmp_path))
    searcher = MemorySearcher(GridSearcher(grid), planner=planner, run_dir=tmp_path, live=False)
    monitor = SweepMonitor(tmp_path, metric="delta_e", mode="min", max_epochs=2, live=False)
    first = searcher.suggest("t1")
    second = searcher.suggest("t2")
    folder = tmp_path / "t1"
    folder.mkdir()
    (folder / "error.txt").write_text("RESOURCE_EXHAUSTED: Out of memory while trying to allocate")
    trial = SimpleNamespace(trial_id="t1", status="ERROR", config=first, path=str(folder), error_file=None,
                            get_error=lambda: None)
    searcher.on_trial_complete("t1", error=True)  # Ray's order: the searcher first, then the callbacks
    monitor.on_trial_error(0, [trial], trial)
    retry = searcher.suggest("t3")
    assert retry["_memory"]["retry_of"] == "t1" and retry["batch_size"] == first["batch_size"] // 2
    searcher.on_trial_complete("t2", error=True)  # no callback ever recorded it
    searcher.on_trial_complete("t3", result={"delta_e": 10.0})
    assert searcher.suggest("t4") == "FINISHED"  # t2 counted as a plain error at once
    assert json.loads((tmp_path / "trials.json").read_text())["t1"]["status"] == "oom"
    assert second["batch_size"] == 8 and second["_memory"].get("retry_of") is None  # the grid's second point


# -- sweep.json: SweepInfo -------------------------------------------------------------------------------

# A sweep.json as `colorsweep run smoke --data demo --size 16 --trials 2 --max-epochs 1` wrote it before
# sweep.json had a format (one metric, finished): every key it has, in its order.
TODAYS_SWEEP_JSON = {
    "name": "a",
    "run_dir": "/tmp/si/a",
    "space": {"name": "smoke",
              "description": "Tiny sweep for tests and the demo: 3 small architectures at 32 px, 3 epochs, 6 trials",
              "grid": False,
              "defaults": {"max_epochs": 3, "size": 32, "trials": 6},
              "params": {"arch": {"choice": ["basic", "classic", "unet"]},
                         "optimizer": {"choice": ["adam", "rmsprop"]},
                         "loss": {"choice": ["mse", "mae"]},
                         "learning_rate": {"loguniform": [0.001, 0.01]},
                         "batch_size": {"choice": [8, 16]},
                         "output_activation": {"choice": ["original", "sigmoid"]}},
              "fixed": {"early_stopping_patience": 5}},
    "data": {"source": "demo",
             "fingerprint": "a387e105123b72f307ef13a082e6eb1c76a5cb9acefc85c38e80e7ef488434ce",
             "size": 16,
             "pool_side": 64,
             "lab_mode": "float",
             "split": [141, 28, 23],
             "skipped": 0,
             "cache_path": "/root/.cache/colorsweep/colorsweep-lab-a387e105123b72f307ef13a082e6eb1c76a5cb9acefc85c38e80e7ef488434ce.npz"},
    "trials": 2,
    "time_budget_s": None,
    "max_epochs": 1,
    "metric": "delta_e",
    "mode": "min",
    "seed": 0,
    "scheduler": {"name": "asha", "time_attr": "epoch", "grace_period": 1, "reduction_factor": 2, "max_t": 1},
    "searcher": "optuna-tpe",
    "resources": {"cpus_per_trial": 1.0, "gpus_per_trial": 0.0, "concurrency": None},
    "memory": {"budget_bytes": None, "budget_source": None, "gpu_memory_bytes": None, "fit_batch": False},
    "address": None,
    "versions": {"python": "3.11.7", "colorsweep": "0.1.0", "keras": "3.15.1", "tensorflow": "2.21.0", "jax": "0.10.2",
                 "ray": "2.60.0", "optuna": "5.0.0", "numpy": "2.4.6", "opencv-python-headless": "5.0.0.93",
                 "scikit-image": "0.26.0", "keras_backend": "tensorflow"},
    "command_line": "colorsweep run smoke --data demo --size 16 --trials 2 --max-epochs 1 --storage /tmp/si --name a",
    "created": "2026-11-29T08:59:50+0000",
    "finished": "2026-11-29T09:00:15+0000",
    "wall_time_s": 28.118060986002092,
}


def _several_objectives_sweep_json() -> dict:
    """The same run with two --metric and a --constraint, as that version wrote it (keys in its order)."""
    recorded = copy.deepcopy(TODAYS_SWEEP_JSON)
    recorded["scheduler"]["metric"] = "tradeoff"
    tail = {k: recorded.pop(k) for k in ("finished", "wall_time_s")}
    recorded["objectives"] = [{"metric": "delta_e", "mode": "min"}, {"metric": "colorfulness_gap", "mode": "min"}]
    recorded["constraints"] = [{"name": "params", "op": "<=", "bound": 2000000.0, "text": "params<=2e6"}]
    return {**recorded, **tail}


@pytest.mark.parametrize("recorded", [TODAYS_SWEEP_JSON, _several_objectives_sweep_json()], ids=["one", "several"])
def test_a_sweep_json_of_today_reads_and_writes_back_the_same_keys_in_order_plus_its_format(tmp_path, recorded):
    from search.sweep_info import FORMAT, SweepInfo

    (tmp_path / "sweep.json").write_text(json.dumps(recorded, indent=1))
    info = SweepInfo.load(tmp_path)
    assert info.data.size == 16 and info.data.pool_side == 64 and info.scheduler.grace_period == 1
    assert info.resources.cpus_per_trial == 1.0 and info.metric == "delta_e" and info.extra == {}
    written = info.to_dict()
    assert written == {"format": FORMAT, **recorded}
    assert list(written) == ["format", *recorded]
    assert list(written["data"]) == list(recorded["data"]) and list(written["scheduler"]) == list(recorded["scheduler"])
    info.save(tmp_path)
    assert json.loads((tmp_path / "sweep.json").read_text()) == {"format": 1, **recorded}
    assert SweepInfo.load(tmp_path) == info  # and a file with a format reads back the same


def test_objectives_constraints_and_the_ranking_metric_are_read_from_sweep_info(tmp_path):
    """A several-objective sweep.json: its objectives, constraints and the metric that ranks trials."""
    from search.records import constraints_of, load_sweep_info, objectives_of
    from search.rundir import resolve_metric

    (tmp_path / "sweep.json").write_text(json.dumps(_several_objectives_sweep_json()))
    info = load_sweep_info(tmp_path)
    assert [o.metric for o in objectives_of(info)] == ["delta_e", "colorfulness_gap"]
    assert [c.text for c in constraints_of(info)] == ["params<=2e6"]
    assert resolve_metric(info, None) == ("delta_e", "min")


def test_a_resumed_and_extended_sweep_json_keeps_every_value():
    """`resume --trials +1` on a finished run: the keys it added, in the order that version left them."""
    from search.sweep_info import SweepInfo

    recorded = copy.deepcopy(TODAYS_SWEEP_JSON)
    recorded["trials"] = 3
    del recorded["finished"]
    recorded["extensions"] = [{"extra_trials": 1, "warm_start": 1, "at": "2026-11-29T09:05:43+0000"}]
    recorded["finished"] = "2026-11-29T09:05:53+0000"
    recorded["resumed"] = 1
    info = SweepInfo.from_dict(recorded)
    assert info.resumed == 1 and info.extensions[0]["warm_start"] == 1 and info.trials == 3
    assert info.to_dict() == {"format": 1, **recorded}  # the same content; keys in SweepInfo's order


def test_an_old_sweep_json_without_format_objectives_or_pool_side_gets_the_defaults_its_readers_assumed(tmp_path):
    from search.records import constraints_of, objectives_of
    from search.sweep_info import SweepInfo

    old = copy.deepcopy(TODAYS_SWEEP_JSON)
    for key in ("pool_side", "lab_mode"):
        del old["data"][key]
    del old["scheduler"]["name"], old["time_budget_s"], old["memory"]
    (tmp_path / "sweep.json").write_text(json.dumps(old))
    info = SweepInfo.load(tmp_path)
    assert info.data.pool_side is None and info.data.lab_mode == "float"  # reloaded without a photo pool, as float
    assert info.scheduler.name == "asha" and info.time_budget_s is None and info.memory == {}
    assert info.objectives is None and [o.to_dict() for o in objectives_of(info)] == [{"metric": "delta_e", "mode": "min"}]
    assert constraints_of(info) == []
    written = info.to_dict()
    assert "objectives" not in written and "constraints" not in written and "metric" not in written["scheduler"]
    assert written["data"]["pool_side"] is None and written["data"]["lab_mode"] == "float"
    assert written["finished"] == old["finished"] and written["format"] == 1
    # a file that records next to nothing (a hand-made or much older one) still reads
    minimal = SweepInfo.from_dict({"max_epochs": 3})
    assert minimal.max_epochs == 3 and minimal.metric is None and minimal.data.size is None and minimal.seed == 0
    assert minimal.scheduler.reduction_factor == 2 and minimal.resources.gpus_per_trial == 0.0


def test_keys_this_version_does_not_know_are_kept_on_rewrite(tmp_path):
    from search.sweep_info import SweepInfo

    recorded = copy.deepcopy(TODAYS_SWEEP_JSON)
    recorded["notes_from_a_plugin"] = {"kept": True}
    recorded["data"]["colour_profile"] = "sRGB"
    recorded["scheduler"]["brackets"] = 1
    recorded["resources"]["accelerator_type"] = "H100"
    info = SweepInfo.from_dict(recorded)
    assert info.extra == {"notes_from_a_plugin": {"kept": True}} and info.data.extra == {"colour_profile": "sRGB"}
    info.finished = None  # a rewrite, as `resume --trials +N` does
    info.save(tmp_path)
    written = json.loads((tmp_path / "sweep.json").read_text())
    assert written["notes_from_a_plugin"] == {"kept": True} and written["data"]["colour_profile"] == "sRGB"
    assert written["scheduler"]["brackets"] == 1 and written["resources"]["accelerator_type"] == "H100"
    assert "finished" not in written


def test_a_sweep_json_of_a_newer_format_is_refused_with_words_that_say_upgrade(tmp_path):
    from search.records import load_sweep_info
    from search.sweep_info import FORMAT, SweepInfo

    (tmp_path / "sweep.json").write_text(json.dumps({**TODAYS_SWEEP_JSON, "format": FORMAT + 1}))
    with pytest.raises(ValueError, match="newer colorsweep.*upgrade") as caught:
        load_sweep_info(tmp_path)
    assert str(tmp_path / "sweep.json") in str(caught.value)
    with pytest.raises(ValueError, match="format"):
        SweepInfo.from_dict({**TODAYS_SWEEP_JSON, "format": "one"})
    with pytest.raises(ValueError, match="JSON object"):
        SweepInfo.from_dict([1, 2])
    assert SweepInfo.from_dict({**TODAYS_SWEEP_JSON, "format": FORMAT}).to_dict()["format"] == FORMAT


def test_a_missing_sweep_json_says_what_a_run_directory_is(tmp_path):
    from search.records import load_sweep_info

    with pytest.raises(FileNotFoundError, match="not a colorsweep run directory.*colorsweep run"):
        load_sweep_info(tmp_path)


def test_only_sweep_info_writes_sweep_json():
    """One writer: no module but search.sweep_info names the file next to a write."""
    import re

    root = Path(__file__).resolve().parents[2]
    writers = []
    for path in [*root.glob("search/**/*.py"), *root.glob("bench/*.py")]:
        text = path.read_text()
        if re.search(r"write\w*\([^)\n]*SWEEP_FILE|write\w*\([^)\n]*sweep\.json", text):
            writers.append(str(path.relative_to(root)))
    assert writers == []


def test_only_the_ledger_writes_trials_json():
    """One writer: only search.rundir (TrialLedger.save) names the run's trials.json next to a write (the
    report's own report/trials.json is another file, written by search/report/write.py)."""
    import re

    root = Path(__file__).resolve().parents[2]
    writers = []
    for path in [*root.glob("search/**/*.py"), *root.glob("bench/*.py")]:
        if path.relative_to(root).as_posix() == "search/rundir.py":
            continue
        text = path.read_text()
        if re.search(r"write\w*\([^)\n]*TRIALS_FILE|write\w*\([^)\n]*[\"']trials\.json", text):
            writers.append(str(path.relative_to(root)))
    assert writers == []
    rundir_text = (root / "search" / "rundir.py").read_text()
    assert len(re.findall(r"write\w*\([^)\n]*TRIALS_FILE", rundir_text)) == 1  # TrialLedger.save
