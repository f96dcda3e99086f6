"""Class rebalancing for regression losses (TrainConfig.rebalance): rare colours weigh more in the
loss, so a regression model is not pulled to grey by the common ones."""

from __future__ import annotations

import numpy as np
import pytest


def _weights_table():
    from colorize_core.classification import ab_bins, nearest_bin

    bins = ab_bins()
    grey = int(nearest_bin(np.zeros((1, 2), np.float32))[0])
    table = np.ones(len(bins))
    table[grey] = 0.25  # grey is common: low weight
    red = int(nearest_bin(np.array([[60.0, 40.0]], np.float32))[0])
    table[red] = 4.0  # red is rare: high weight
    return table


def test_pixel_weights_follow_the_rarity_of_the_true_colour_and_average_one():
    from colorize_core.train import _pixel_weighting

    ab = np.zeros((2, 4, 4, 2), np.float32)
    ab[0, :2] = (60.0, 40.0)  # a quarter of the pixels red, the rest grey
    weights = _pixel_weighting(_weights_table(), 1.0)(ab)
    assert weights.shape == (2, 4, 4) and weights.dtype == np.float32
    assert weights.mean() == pytest.approx(1.0)
    assert weights[0, 0, 0] / weights[1, 0, 0] == pytest.approx(16.0)  # 4 / 0.25
    half = _pixel_weighting(_weights_table(), 0.5)(ab)
    assert half[0, 0, 0] / half[1, 0, 0] == pytest.approx(4.0)  # the strength is an exponent
    np.testing.assert_allclose(_pixel_weighting(_weights_table(), 0.0)(ab), 1.0)


def test_rebalance_is_checked():
    from colorize_core.train import TrainConfig

    for bad in (-0.1, 1.5, True, "0.5"):
        with pytest.raises(ValueError, match=r"rebalance must be a number in \[0, 1\]"):
            TrainConfig(rebalance=bad)
    assert TrainConfig(rebalance=0.5).to_dict()["rebalance"] == 0.5


def test_fit_with_rebalance_trains_on_weighted_pixels(demo16):
    """The same configuration with and without rebalancing: the first epoch's training loss
    differs (the pixels are weighted) while the validation metrics stay comparable numbers."""
    from colorize_core.train import fit

    base = {"arch": "basic", "epochs": 1, "batch_size": 8, "loss": "mae", "samples_per_epoch": 64,
            "early_stopping_patience": None}
    plain = fit(base, demo16)
    weighted = fit({**base, "rebalance": 1.0}, demo16)
    assert np.isfinite(weighted.history[0]["train_loss"]) and np.isfinite(weighted.best_metrics["delta_e"])
    assert weighted.history[0]["train_loss"] != pytest.approx(plain.history[0]["train_loss"], rel=1e-4)
    assert weighted.config.rebalance == 1.0


def test_centre_crop_batches_carry_pixel_weights_too(demo16):
    """Without random crops (samples_per_epoch None), the shuffled batches of the fixed crops carry the
    weights as Keras sample weights, computed from the (augmented) targets."""
    from colorize_core import color
    from colorize_core.train import _pixel_weighting, _shuffled_batches

    weigh = _pixel_weighting(_weights_table(), 1.0)
    batches = _shuffled_batches(color.encode_l(demo16.train.lightness), color.encode_ab(demo16.train.ab),
                                batch_size=4, seed=0, augment=True, weights=weigh)
    x, y, w = batches[0]
    assert w.shape == y.shape[:3] and w.mean() == pytest.approx(1.0)
    np.testing.assert_allclose(w, weigh(color.decode_ab(y)))


def test_a_space_may_search_rebalance_in_the_unit_interval():
    from spaces import SpaceError, space_from_dict

    space = space_from_dict({"name": "t", "params": {"rebalance": {"uniform": [0.0, 1.0]}}, "fixed": {"arch": "unet"}})
    assert "rebalance" in space.params
    with pytest.raises(SpaceError, match=r"rebalance.*must be a number in \[0, 1\]"):
        space_from_dict({"name": "t", "fixed": {"arch": "unet", "rebalance": 2}})


def test_train_command_rejects_a_rebalance_outside_the_unit_interval(capsys):
    from search.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--rebalance", "2"])
    assert exit_info.value.code == 2
    assert "--rebalance: must be in [0, 1], got 2" in capsys.readouterr().err
