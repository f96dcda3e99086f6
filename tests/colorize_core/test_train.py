"""colorize_core.train.fit: one configuration trained, reported, checkpointed, resumed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from colorize_core import metrics
from colorize_core.train import TrainConfig, fit


def test_fit_reports_every_epoch_with_all_metrics(demo16):
    seen = []
    result = fit({"arch": "basic", "epochs": 2, "batch_size": 16, "learning_rate": 1e-3}, demo16,
                 lambda epoch, values: seen.append((epoch, values)))
    assert [epoch for epoch, _ in seen] == [1, 2]
    for _, values in seen:
        for name in metrics.METRICS:
            assert np.isfinite(values[name]), name
        assert values["train_time_s"] > 0
    assert result.epochs_trained == 2
    assert result.best_metrics["epoch"] == result.best_epoch
    best = min(v["delta_e"] for _, v in seen)
    assert result.best_metrics["delta_e"] == pytest.approx(best)


def test_validation_predicts_at_the_training_batch_size_so_a_fit_never_needs_more_memory_than_its_step(
        demo16, monkeypatch):
    """A sweep sizes each trial's GPU share for its training step; validation predicting at
    max(batch, 64) needed up to 1.9x that on an H200. Every prediction inside a fit uses its batch."""
    import keras

    batches = []
    original = keras.Model.predict

    def spy(self, x, *args, batch_size=None, **kwargs):
        batches.append(batch_size)
        return original(self, x, *args, batch_size=batch_size, **kwargs)

    monkeypatch.setattr(keras.Model, "predict", spy)
    fit({"arch": "basic", "epochs": 2, "batch_size": 4}, demo16)
    assert batches == [4, 4], batches  # one validation prediction per epoch, each at the training batch


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_peak_memory_is_the_fits_own_not_the_processs_earlier_peak(demo16):
    """A reused sweep worker runs fits one after another: each reports its own peak resident memory."""
    import resource

    big = np.ones(1 << 28, dtype=np.uint8)  # 256 MiB, touched: this process's peak so far
    del big
    lifetime_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    seen = []
    fit({"arch": "basic", "epochs": 1, "batch_size": 16}, demo16, lambda epoch, values: seen.append(values))
    assert 0 < seen[0]["peak_memory_mb"] < lifetime_peak_mb - 128, (seen[0]["peak_memory_mb"], lifetime_peak_mb)


def test_a_finished_fit_leaves_no_tensorflow_graph_behind(demo16):
    """Keras's TensorFlow optimizer registers a global gradient function per traced step that holds
    the whole graph; a worker running trial after trial grew ~80 MiB a fit until fit released them."""
    import gc

    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow only")
    from tensorflow.python.framework.func_graph import FuncGraph

    def graphs_alive() -> int:
        gc.collect()
        return sum(isinstance(o, FuncGraph) for o in gc.get_objects())

    config = {"arch": "basic", "epochs": 1, "batch_size": 16}
    fit(config, demo16)  # the first fit in a process also builds what every later one shares
    before = graphs_alive()
    fit(config, demo16)
    fit({**config, "arch": "classic"}, demo16)
    assert graphs_alive() == before


def test_unknown_config_key_is_rejected():
    with pytest.raises(ValueError, match="unknown training config key.*'bogus'"):
        TrainConfig.from_dict({"arch": "basic", "bogus": 1})


@pytest.mark.parametrize(
    "values, message",
    [
        ({"arch": "nope"}, "arch must be one of"),
        ({"optimizer": "adagrad"}, "optimizer must be one of .*adam"),
        ({"loss": "l3"}, "loss must be one of .*huber"),
        ({"batch_size": 0}, "batch_size must be a positive int"),
        ({"learning_rate": -1.0}, "learning_rate must be a positive number"),
        ({"monitor": "accuracy"}, "delta_e"),
    ],
)
def test_bad_config_values_name_the_problem(values, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_dict(values)


def test_batch_larger_than_train_split_is_rejected(demo16):
    with pytest.raises(ValueError, match="batch_size must be at most the training split"):
        fit({"arch": "basic", "epochs": 1, "batch_size": len(demo16.train) + 1}, demo16)


def test_early_stopping_stops_and_restores_best(demo16):
    # learning rate 0 is not allowed; a tiny one makes no progress -> patience 0 stops at epoch 2
    seen = []
    result = fit({"arch": "basic", "epochs": 6, "batch_size": 32, "learning_rate": 1e-12,
                  "early_stopping_patience": 1, "reduce_lr_patience": None}, demo16,
                 lambda e, v: seen.append(v))
    assert result.stopped_early
    assert result.epochs_trained < 6
    assert seen[-1]["early_stopped"] is True


def test_reduce_lr_on_plateau_lowers_the_learning_rate(demo16):
    seen = []
    fit({"arch": "basic", "epochs": 3, "batch_size": 32, "learning_rate": 1e-9, "reduce_lr_patience": 1,
         "reduce_lr_factor": 0.5, "min_lr": 1e-12, "early_stopping_patience": None}, demo16, lambda e, v: seen.append(v))
    lrs = [v["lr"] for v in seen]
    assert lrs[0] == pytest.approx(1e-9)
    assert lrs[-1] < lrs[0]


def test_cosine_schedule_lowers_the_learning_rate_along_the_curve_and_a_resume_continues_it(demo16, tmp_path):
    from colorize_core.optimizers import cosine_learning_rate

    assert cosine_learning_rate(0, 4, 1e-3, 1e-6) == pytest.approx(1e-3)
    assert cosine_learning_rate(2, 4, 1e-3, 1e-6) == pytest.approx((1e-3 + 1e-6) / 2)
    assert cosine_learning_rate(4, 4, 1e-3, 1e-6) == cosine_learning_rate(9, 4, 1e-3, 1e-6) == pytest.approx(1e-6)
    config = {"arch": "basic", "epochs": 4, "batch_size": 32, "learning_rate": 1e-3, "min_lr": 1e-6,
              "lr_schedule": "cosine", "reduce_lr_patience": 0, "reduce_lr_factor": 0.1, "early_stopping_patience": None}
    seen = []
    fit({**config, "epochs": 2}, demo16, lambda e, v: seen.append(v["lr"]), workdir=tmp_path / "a")
    fit(config, demo16, lambda e, v: seen.append(v["lr"]), workdir=tmp_path / "a")  # resumed: epochs 3 and 4
    # the curve of 4 epochs from the resume on (the first 2 were fitted with epochs=2, their own curve);
    # reduce_lr_patience 0 would have cut the rate at every epoch under "plateau"
    assert seen[2:] == pytest.approx([cosine_learning_rate(e, 4, 1e-3, 1e-6) for e in (2, 3)], rel=1e-5)
    assert seen[:2] == pytest.approx([cosine_learning_rate(e, 2, 1e-3, 1e-6) for e in (0, 1)], rel=1e-5)
    # training further with lr_schedule_start = the epochs trained (what `colorsweep finetune` sets):
    # the added epochs run a curve of their own, from learning_rate again
    # (epochs before the start stay at learning_rate)
    more = []
    fit({**config, "epochs": 6, "lr_schedule_start": 4}, demo16, lambda e, v: more.append(v["lr"]))
    assert more == pytest.approx([1e-3] * 4 + [cosine_learning_rate(e, 2, 1e-3, 1e-6) for e in (0, 1)], rel=1e-5)
    with pytest.raises(ValueError, match="lr_schedule must be one of plateau, cosine"):
        fit({**config, "lr_schedule": "linear"}, demo16)
    with pytest.raises(ValueError, match=r"lr_schedule_start must be an int in \[0, epochs\)"):
        fit({**config, "lr_schedule_start": 4}, demo16)


def test_lr_schedule_is_checked_in_spaces_and_the_cli(capsys):
    from search.cli import main
    from spaces import SpaceError, space_from_dict

    with pytest.raises(SpaceError, match="lr_schedule must be one of plateau, cosine, got 'linear'"):
        space_from_dict({"name": "t", "params": {"lr_schedule": {"choice": ["cosine", "linear"]}},
                         "fixed": {"arch": "basic"}})
    with pytest.raises(SpaceError, match="lr_schedule"):
        space_from_dict({"name": "t", "params": {"lr_schedule": {"uniform": [0, 1]}}, "fixed": {"arch": "basic"}})
    space = space_from_dict({"name": "t", "params": {"lr_schedule": {"choice": ["plateau", "cosine"]}},
                             "fixed": {"arch": "basic"}})
    assert "lr_schedule" in space.params
    with pytest.raises(SystemExit) as stopped:
        main(["train", "--lr-schedule", "linear"])
    assert stopped.value.code == 2 and "invalid choice: 'linear'" in capsys.readouterr().err


def test_workdir_checkpoints_and_resume_continue_epochs(demo16, tmp_path):
    config = {"arch": "basic", "epochs": 2, "batch_size": 32}
    fit(config, demo16, workdir=tmp_path)
    assert (tmp_path / "best.keras").exists() and (tmp_path / "last.keras").exists()
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["epoch"] == 2
    # ask for 3 epochs in the same workdir: only epoch 3 runs
    seen = []
    config3 = {**config, "epochs": 3}
    result = fit(config3, demo16, lambda e, v: seen.append(e), workdir=tmp_path)
    assert seen == [3]
    assert result.epochs_trained == 3
    assert [h["epoch"] for h in result.history] == [1, 2, 3]


def test_regularisation_penalty_is_reported_apart(demo16):
    seen = []
    fit({"arch": "large_kernel", "epochs": 1, "batch_size": 32, "model_options": {"l1": 0.01}}, demo16,
        lambda e, v: seen.append(v))
    values = seen[0]
    assert values["penalty"] > 0
    assert values["val_loss"] == pytest.approx(values["val_data_loss"] + values["penalty"])


def test_shuffled_batches_cover_the_split_and_apply_target_and_augmentation():
    from colorize_core.train import _shuffled_batches

    x = np.arange(10 * 8 * 8, dtype=np.float32).reshape(10, 8, 8, 1)
    y = np.concatenate([x, -x], axis=-1)
    plain = _shuffled_batches(x, y, batch_size=4, seed=0, augment=False, target=lambda b: b * 2)
    assert len(plain) == 2  # full batches only: one batch shape, one compiled training step
    xs, ys = zip(*(plain[i] for i in range(len(plain))))
    assert all(len(batch) == 4 for batch in xs)
    seen = np.concatenate(xs)[:, 0, 0, 0].tolist()
    assert len(set(seen)) == 8 and set(seen) <= set(x[:, 0, 0, 0].tolist())  # 8 different images, none twice
    np.testing.assert_array_equal(np.concatenate(ys)[:, ..., :1], 2 * np.concatenate(xs))
    plain.on_epoch_end()  # a new permutation: over epochs, the images left over are drawn too
    later = set()
    for _ in range(20):
        later |= {float(v) for i in range(len(plain)) for v in plain[i][0][:, 0, 0, 0]}
        plain.on_epoch_end()
    assert later == set(x[:, 0, 0, 0].tolist())
    augmented = _shuffled_batches(x, y, batch_size=10, seed=0, augment=True)
    xa, ya = augmented[0]
    assert xa.shape == x.shape and ya.shape == y.shape
    np.testing.assert_allclose(ya[..., :1], xa)  # the same transform on inputs and targets
    unchanged = sum(any(np.array_equal(image, original) for original in x) for image in xa)
    assert unchanged < len(x)  # flips and crops changed some images


def test_fit_with_augmentation_trains(demo16):
    seen = []
    fit({"arch": "basic", "epochs": 1, "batch_size": 32, "augment": True}, demo16, lambda e, v: seen.append(v))
    assert len(seen) == 1 and np.isfinite(seen[0]["delta_e"])


def test_a_checkpoint_written_before_a_config_field_existed_still_resumes(demo16, tmp_path):
    """An older colorsweep's state.json lacks newer TrainConfig fields (samples_per_epoch); a fit that
    leaves them at their defaults resumes it instead of calling it another configuration."""
    config = {"arch": "basic", "epochs": 1, "batch_size": 32}
    fit(config, demo16, workdir=tmp_path)
    state = json.loads((tmp_path / "state.json").read_text())
    del state["config"]["samples_per_epoch"]
    (tmp_path / "state.json").write_text(json.dumps(state))
    seen = []
    fit({**config, "epochs": 2}, demo16, lambda e, v: seen.append(e), workdir=tmp_path)
    assert seen == [2]
    with pytest.raises(ValueError, match="different configuration"):
        fit({**config, "epochs": 3, "samples_per_epoch": 64}, demo16, workdir=tmp_path)


def test_train_state_round_trips_through_its_file(tmp_path):
    from colorize_core.train import STATE_FILE, TrainState

    state = TrainState(epoch=3, history=[{"epoch": e, "delta_e": 10.0 - e, "lr": 1e-3} for e in (1, 2, 3)],
                       best_value=7.0, best_epoch=3, es_wait=1, lr_wait=2, stopped_early=True,
                       config=TrainConfig(arch="basic", epochs=3).to_dict())
    state.save(tmp_path / STATE_FILE)
    assert TrainState.load(tmp_path / STATE_FILE) == state
    assert list(json.loads((tmp_path / STATE_FILE).read_text())) == [
        "epoch", "history", "best_value", "best_epoch", "es_wait", "lr_wait", "stopped_early", "config"]
    assert [p.name for p in tmp_path.iterdir()] == [STATE_FILE]  # written through a temporary file, renamed
    assert state.learning_rate == 1e-3 and TrainState().learning_rate is None
    assert TrainState.from_dict({"epoch": 2, "unknown": 1}) == TrainState(epoch=2)


def test_fit_continues_a_model_in_memory_from_its_state(demo16, tmp_path):
    from colorize_core.train import BEST_MODEL, STATE_FILE, TrainState

    config = {"arch": "basic", "epochs": 1, "batch_size": 32}
    first = fit(config, demo16, workdir=tmp_path / "first", keep_model=True)
    start = TrainState.load(tmp_path / "first" / STATE_FILE)
    start_weights = first.model.get_weights()
    # no later epoch can beat a best value of 0 delta_e: the given model stays the best
    start.best_value = 0.0
    seen = []
    result = fit({**config, "epochs": 2}, demo16, lambda e, v: seen.append(e), workdir=tmp_path / "more",
                 keep_model=True, model=first.model, initial_state=start)
    assert seen == [2]
    assert result.epochs_trained == 2 and [h["epoch"] for h in result.history] == [1, 2]
    assert result.best_epoch == 1
    for kept, original in zip(result.model.get_weights(), start_weights):
        np.testing.assert_array_equal(kept, original)
    assert (tmp_path / "more" / BEST_MODEL).exists()
    assert TrainState.load(tmp_path / "more" / STATE_FILE).epoch == 2
    assert start.epoch == 1 and len(start.history) == 1  # the caller's state is not changed

    in_memory = fit({**config, "epochs": 2}, demo16, keep_model=True, model=result.model, initial_state=start)
    assert in_memory.epochs_trained == 2 and in_memory.best_epoch == 1  # without a workdir too
    for kept, original in zip(in_memory.model.get_weights(), start_weights):
        np.testing.assert_array_equal(kept, original)

    with pytest.raises(ValueError, match="holds a checkpoint"):
        fit({**config, "epochs": 3}, demo16, workdir=tmp_path / "more", model=result.model, initial_state=start)
    with pytest.raises(ValueError, match="pass that model"):
        fit(config, demo16, initial_state=start)


def test_every_epoch_record_says_what_the_fit_compiled_and_a_reused_model_compiles_nothing(demo16):
    """compile_s / compiled_programs / cached_programs / elapsed_s (colorize_core.compilation) under this
    backend: a first fit traces its steps, the counts grow from epoch to epoch, and a second fit of the
    same structure in the same process, on the kept model, traces fewer."""
    from colorize_core.train import reuse

    config = {"arch": "basic", "epochs": 2, "batch_size": 16, "eval_max_pixels": 2000}
    first, second = [], []
    fit(config, demo16, lambda e, m: first.append(m), reuse_model=True)
    fit({**config, "learning_rate": 3e-4}, demo16, lambda e, m: second.append(m), reuse_model=True)
    reuse.drop()
    assert first[0]["compiled_programs"] > 0 and first[0]["compile_s"] > 0
    assert first[1]["compiled_programs"] >= first[0]["compiled_programs"]  # counted on (TensorFlow traces 3 more in epoch 2: not yet explained)
    assert first[1]["elapsed_s"] > first[0]["elapsed_s"] > 0
    # TensorFlow traces again on the kept model (7 of 9 graphs at 16 px): not yet explained, issue 31
    assert second[-1]["compiled_programs"] < first[-1]["compiled_programs"], second[-1]
