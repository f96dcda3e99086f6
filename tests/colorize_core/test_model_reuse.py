"""A fit that reuses the previous fit's compiled model (colorize_core.train.reuse) trains exactly what a
fresh build would: same seed, same metrics and weights; and it really is the same model object."""

from __future__ import annotations

import numpy as np
import pytest

from colorize_core.train import TrainConfig, fit
from colorize_core.train import reuse


def _config(**overrides) -> dict:
    values = dict(arch="unet", learning_rate=1e-3, seed=0, epochs=2, batch_size=8, early_stopping_patience=None,
                  reduce_lr_patience=1, eval_max_pixels=None)
    values.update(overrides)
    return values


@pytest.fixture(autouse=True)
def _nothing_kept():
    reuse.drop()
    yield
    reuse.drop()


def _kept_model():
    return reuse._KEPT.model if reuse._KEPT is not None else None


def _assert_same_training(a, b) -> None:
    assert len(a.history) == len(b.history) == 2
    for left, right in zip(a.history, b.history):
        for key in ("delta_e", "ab_mse", "train_loss", "val_loss", "lr"):
            assert left[key] == pytest.approx(right[key], rel=1e-5, abs=1e-7), key


@pytest.mark.parametrize("variant", [
    {},                                           # Keras shuffles the fixed crops
    {"samples_per_epoch": 24, "rebalance": 0.5},  # random crops of the photos, weighted loss
    {"arch": "unet_cls"},                         # classification head, rebalanced loss
])
def test_a_reused_model_trains_what_a_fresh_build_trains(demo16, variant):
    fresh = fit(_config(**variant), demo16, keep_model=True)  # builds its own model, keeps nothing
    assert _kept_model() is None
    fit(_config(**variant, learning_rate=3e-3, seed=7, batch_size=4), demo16, reuse_model=True)  # leaves its model
    first = _kept_model()
    assert first is not None
    again = fit(_config(**variant), demo16, reuse_model=True, keep_model=False)
    assert _kept_model() is first, "the second fit must have trained the kept model, not built one"
    _assert_same_training(fresh, again)
    # the weights it ended with are those of the fresh build
    for left, right in zip(fresh.model.get_weights(), first.get_weights()):
        np.testing.assert_allclose(left, right, rtol=1e-5, atol=1e-6)


def test_a_fit_stopped_by_its_report_leaves_its_model_for_the_next(demo16):
    """A scheduler stops a trial by raising in its report: the next trial still reuses the model."""

    class Stop(Exception):
        pass

    def stop_after_first(epoch, metrics):
        raise Stop

    fresh = fit(_config(), demo16, keep_model=True)
    with pytest.raises(Stop):
        fit(_config(learning_rate=5e-3, seed=3), demo16, stop_after_first, reuse_model=True)
    stopped = _kept_model()
    assert stopped is not None
    again = fit(_config(), demo16, reuse_model=True)
    assert _kept_model() is stopped
    _assert_same_training(fresh, again)


def test_another_structure_builds_a_new_model_and_drops_the_kept_one(demo16):
    fit(_config(), demo16, reuse_model=True)
    first = _kept_model()
    fit(_config(optimizer="sgd"), demo16, reuse_model=True)  # another optimizer: another compiled step
    assert _kept_model() is not None and _kept_model() is not first
    second = _kept_model()
    fit(_config(arch="unet_cls"), demo16, reuse_model=True)
    assert _kept_model() is not second
    assert reuse.structure_key(TrainConfig(**_config()), 16) != reuse.structure_key(TrainConfig(**_config(loss="mae")), 16)
    assert reuse.structure_key(TrainConfig(**_config()), 16) == reuse.structure_key(
        TrainConfig(**_config(learning_rate=0.1, batch_size=2, seed=5, augment=True, epochs=9)), 16)


def test_fits_that_do_not_ask_keep_nothing(demo16, monkeypatch):
    fit(_config(), demo16, reuse_model=True)
    assert _kept_model() is not None
    fit(_config(), demo16)  # colorsweep train: its own model, and the kept one is dropped
    assert _kept_model() is None
    monkeypatch.setenv(reuse.REUSE_MODELS_ENV, "off")
    fit(_config(), demo16, reuse_model=True)
    assert _kept_model() is None
