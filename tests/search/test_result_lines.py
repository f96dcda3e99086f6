"""A trial's per-epoch lines survive a kill -9 of the driver: the monitor copies Ray's result.json into
the run directory at every checkpoint, and an epoch a resumed trial only reported again does not
replace the line it had."""

from __future__ import annotations

import json
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


def test_an_epoch_reported_again_keeps_its_first_line_unless_that_was_lost():
    first = {"epoch": 2, "delta_e": 9.0, "worker_pid": 1}
    again = {"epoch": 2, "delta_e": 9.0, "worker_pid": 2, REPORTED_AGAIN: True}
    rows = _epoch_rows([{"epoch": 1, "delta_e": 10.0}, first, again])
    assert [r["epoch"] for r in rows] == [1, 2] and rows[1]["worker_pid"] == 1
    rows = _epoch_rows([{"epoch": 1, "delta_e": 10.0}, again])  # the first line of epoch 2 was lost
    assert rows[1]["worker_pid"] == 2 and REPORTED_AGAIN not in rows[1]
    retrained = {"epoch": 2, "delta_e": 8.0, "worker_pid": 3}  # trained again from an older checkpoint
    assert _epoch_rows([first, retrained])[0]["delta_e"] == 8.0
