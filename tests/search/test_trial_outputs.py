"""A finished trial leaves its best model's test metrics and picture colorizations in its checkpoint
(search.trial_outputs); the report uses them instead of loading the model, with the same values."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from search.trial_outputs import OUTPUTS_FILE, grid_indices, read_trial_outputs, write_trial_outputs

ROOT = Path(__file__).resolve().parents[2]


def test_outputs_are_what_the_model_predicts_and_read_back_whole(demo16, tmp_path):
    from colorize_core import metrics
    from colorize_core.predict import predict_ab
    from colorize_core.train import fit

    model = fit(dict(arch="basic", epochs=1, batch_size=8), demo16, keep_model=True).model
    batches = []
    original = type(model).predict

    def spy(x, *args, batch_size=None, **kwargs):  # the trial's batch size: its GPU share was sized for it
        batches.append(batch_size)
        return original(model, x, *args, batch_size=batch_size, **kwargs)

    model.predict = spy
    write_trial_outputs(model, demo16, tmp_path, epoch=1, seed=3, max_pixels=5000, batch_size=8)
    del model.predict
    assert batches == [8]
    outputs = read_trial_outputs(tmp_path)
    grid = grid_indices(demo16.val.names)
    assert outputs.epoch == 1 and outputs.grid == grid and outputs.seed == 3
    np.testing.assert_allclose(outputs.grid_ab, predict_ab(model, demo16.val.lightness[grid]), rtol=1e-5, atol=1e-4)
    expected = metrics.evaluate(demo16.test.lightness, demo16.test.ab, predict_ab(model, demo16.test.lightness),
                                max_pixels=5000, seed=3)
    assert outputs.test_metrics == pytest.approx(expected, rel=1e-5)
    assert outputs.matches(grid=grid, max_pixels=5000, seed=3, test_size=len(demo16.test))
    assert not outputs.matches(grid=grid, max_pixels=None, seed=3, test_size=len(demo16.test))
    (tmp_path / OUTPUTS_FILE).write_bytes((tmp_path / OUTPUTS_FILE).read_bytes()[:100])  # torn
    assert read_trial_outputs(tmp_path) is None


@pytest.mark.slow
def test_the_report_takes_the_trials_outputs_and_they_equal_a_model_reload(tmp_path, cache_dir):
    from search.report import write_report
    from search.sweep import run_sweep
    from spaces import space_from_dict

    space = space_from_dict({"name": "outputs", "grid": True, "defaults": {"max_epochs": 2, "size": 16},
                             "params": {"arch": {"choice": ["basic"]}, "learning_rate": {"choice": [1e-3, 3e-3]}},
                             "fixed": {"batch_size": 8, "early_stopping_patience": None}})
    result = run_sweep(space, data="demo", storage=tmp_path, name="outputs", live=False, cache_dir=cache_dir,
                       scheduler="none", report=False, num_cpus=2)
    run_dir = result.run_dir
    saved = sorted(run_dir.glob(f"trial_*/checkpoint_*/{OUTPUTS_FILE}"))
    assert len(saved) == 2  # both trials trained to their end
    for path in saved:
        record = next(r for r in result.records if (run_dir / r.trial_dir) == path.parent.parent)
        assert read_trial_outputs(path.parent).epoch == record.history[-1]["best_epoch"]

    # the report in a fresh process: no Keras imported, since every top trial left its outputs
    code = ("import sys; from search.report import write_report; write_report(sys.argv[1], tensorboard=False); "
            "print('KERAS', 'keras' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code, str(run_dir)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "KERAS False" in proc.stdout
    from_outputs = json.loads((run_dir / "report" / "trials.json").read_text())

    for path in saved:  # as an older run: the report loads best.keras
        path.unlink()
    write_report(run_dir, tensorboard=False)
    from_models = json.loads((run_dir / "report" / "trials.json").read_text())
    rows_a = {row["trial_id"]: row for row in from_outputs["trials"]}
    rows_b = {row["trial_id"]: row for row in from_models["trials"]}
    tested = [key for key in rows_b[next(iter(rows_b))] if key.startswith("test_")]
    assert tested
    for trial_id, row in rows_b.items():
        for key in tested:
            assert rows_a[trial_id][key] == pytest.approx(row[key], rel=1e-4), key
