"""A trial's per-epoch lines survive a kill -9 of the driver: the monitor copies Ray's result.json into
the run directory at every checkpoint, and an epoch a resumed trial only reported again does not
replace the line it had."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from search.monitor import _copy_result_lines
from search.records import REPORTED_AGAIN, _epoch_rows


def test_the_monitor_copies_rays_staged_trial_files_into_the_run_directory(tmp_path):
    staging, stored = tmp_path / "ray-staging" / "trial_a", tmp_path / "run" / "trial_a"
    staging.mkdir(parents=True)
    lines = [json.dumps({"epoch": e, "delta_e": 10.0 - e}) for e in (1, 2, 3)]
    (staging / "result.json").write_text("\n".join(lines) + "\n")
    (staging / "params.json").write_text("{}")
    _copy_result_lines(SimpleNamespace(local_path=str(staging), path=str(stored)))
    assert (stored / "result.json").read_text().splitlines() == lines
    assert (stored / "params.json").is_file()
    assert not list(stored.glob("*.colorsweep-tmp"))
    _copy_result_lines(SimpleNamespace(local_path=str(stored), path=str(stored)))  # one folder: nothing to do
    assert (stored / "result.json").read_text().splitlines() == lines


def test_a_copy_cut_short_by_a_full_disk_leaves_the_recorded_lines_and_no_partial_file(tmp_path, monkeypatch):
    import errno
    import shutil

    staging, stored = tmp_path / "ray-staging" / "trial_a", tmp_path / "run" / "trial_a"
    staging.mkdir(parents=True)
    stored.mkdir(parents=True)
    (staging / "result.json").write_text('{"epoch": 1}\n{"epoch": 2}\n')
    (stored / "result.json").write_text('{"epoch": 1}\n')

    def full_disk(source, target):
        Path(target).write_text('{"ep')
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copyfile", full_disk)
    _copy_result_lines(SimpleNamespace(local_path=str(staging), path=str(stored)))
    assert (stored / "result.json").read_text() == '{"epoch": 1}\n'
    assert sorted(p.name for p in stored.iterdir()) == ["result.json"]


def test_an_epoch_reported_again_keeps_its_first_line_unless_that_was_lost():
    first = {"epoch": 2, "delta_e": 9.0, "worker_pid": 1}
    again = {"epoch": 2, "delta_e": 9.0, "worker_pid": 2, REPORTED_AGAIN: True}
    rows = _epoch_rows([{"epoch": 1, "delta_e": 10.0}, first, again])
    assert [r["epoch"] for r in rows] == [1, 2] and rows[1]["worker_pid"] == 1
    rows = _epoch_rows([{"epoch": 1, "delta_e": 10.0}, again])  # the first line of epoch 2 was lost
    assert rows[1]["worker_pid"] == 2 and REPORTED_AGAIN not in rows[1]
    retrained = {"epoch": 2, "delta_e": 8.0, "worker_pid": 3}  # trained again from an older checkpoint
    assert _epoch_rows([first, retrained])[0]["delta_e"] == 8.0


def test_a_trial_ray_starts_again_without_a_checkpoint_keeps_its_recorded_lines(tmp_path):
    """Ray restores result.json and progress.csv only for a trial it restores from a checkpoint. When
    its saved state predates the trial's first checkpoint, the monitor carries the lines up to the
    epoch the trial continues from (its latest complete recorded checkpoint) into Ray's staging folder
    before Ray's loggers open them, so the copies back into the run directory do not replace them."""
    import io
    import zipfile

    from search.monitor import _carry_result_lines

    staging, stored = tmp_path / "ray-staging" / "trial_a", tmp_path / "run" / "trial_a"
    stored.mkdir(parents=True)
    lines = [json.dumps({"epoch": e, "delta_e": 10.0 - e}) for e in (1, 2, 3)]
    (stored / "result.json").write_text("\n".join(lines) + "\n")
    (stored / "progress.csv").write_text("epoch,delta_e\n1,9.0\n2,8.0\n3,7.0\n")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("model.weights.h5", b"w")
    for name, epoch, model in (("checkpoint_000001", 2, archive.getvalue()), ("checkpoint_000002", 3, b"cut")):
        (stored / name).mkdir()
        (stored / name / "state.json").write_text(json.dumps({"epoch": epoch}))
        (stored / name / "last.keras").write_bytes(model)  # epoch 3's is cut short: it continues after 2
    trial = SimpleNamespace(checkpoint=None, local_path=str(staging), path=str(stored))

    _carry_result_lines(trial)
    assert (staging / "result.json").read_text().splitlines() == lines[:2]
    assert (staging / "progress.csv").read_text().splitlines() == ["epoch,delta_e", "1,9.0", "2,8.0"]
    assert sorted(p.name for p in staging.iterdir()) == ["progress.csv", "result.json"]  # no temporary file
    (staging / "result.json").write_text(lines[0] + "\n")
    _carry_result_lines(trial)  # Ray's logger already holds the file: left alone
    assert (staging / "result.json").read_text().splitlines() == lines[:1]

    restored = tmp_path / "ray-staging" / "trial_b"
    _carry_result_lines(SimpleNamespace(checkpoint=object(), local_path=str(restored), path=str(stored)))
    assert not restored.exists()  # Ray restores a checkpointed trial's files itself
    for folder in stored.glob("checkpoint_*"):
        (folder / "last.keras").write_bytes(b"cut")
    fresh = tmp_path / "ray-staging" / "trial_c"
    _carry_result_lines(SimpleNamespace(checkpoint=None, local_path=str(fresh), path=str(stored)))
    assert not fresh.exists()  # no complete checkpoint: the trial starts again at epoch 1, without them
