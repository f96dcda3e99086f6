"""colorize_core.losses: the ``ciede2000`` loss is the ranked metric, differentiable and saved with a model."""

from __future__ import annotations

import numpy as np
import pytest

from colorize_core import color


def _pairs(n: int = 6000, seed: int = 0):
    """Lab colours sharing their L: random pairs, near-equal pairs, grey predictions, grey truths."""
    rng = np.random.default_rng(seed)
    lightness = rng.uniform(5, 95, n)
    ab_true = rng.uniform(-90, 90, (n, 2))
    ab_pred = rng.uniform(-90, 90, (n, 2))
    ab_pred[:1000] = ab_true[:1000] + rng.normal(0, 2, (1000, 2))
    ab_pred[1000:1500] = 0.0
    ab_true[1500:2000] = 0.0
    return lightness, ab_true, ab_pred


def test_ciede2000_loss_is_the_delta_e_the_trials_are_ranked_on():
    import keras
    from skimage.color import deltaE_ciede2000

    from colorize_core.losses import ciede2000_ab, get_loss, loss_kind

    lightness, ab_true, ab_pred = _pairs()
    expected = deltaE_ciede2000(np.c_[lightness, ab_true], np.c_[lightness, ab_pred])
    got = keras.ops.convert_to_numpy(ciede2000_ab(keras.ops.convert_to_tensor(ab_true.astype(np.float32)),
                                                  keras.ops.convert_to_tensor(ab_pred.astype(np.float32))))
    np.testing.assert_allclose(got, expected, atol=0.03)
    # hue wrap-around (the blue region where R_T matters, and pairs either side of h = 0) is covered
    assert np.abs(got - expected)[(expected > 20)].max() < 0.03

    # the loss decodes the model's encoding and averages over pixels
    assert loss_kind("ciede2000") == "regression"
    loss = get_loss("ciede2000")
    y_true = color.encode_ab(ab_true.reshape(60, 10, 10, 2))
    y_pred = color.encode_ab(ab_pred.reshape(60, 10, 10, 2))
    assert float(loss(y_true, y_pred)) == pytest.approx(float(expected.mean()), abs=0.01)


def test_ciede2000_gradient_is_finite_at_grey_and_at_a_perfect_match():
    import tensorflow as tf

    from colorize_core.losses import get_loss

    rng = np.random.default_rng(1)
    y_true = rng.uniform(0, 1, (4, 8, 8, 2)).astype(np.float32)
    y_true[0] = color.AB_NEUTRAL_ENCODED  # a grey photo
    y_pred = rng.uniform(0, 1, (4, 8, 8, 2)).astype(np.float32)
    y_pred[1] = y_true[1]  # a perfect prediction
    y_pred[2] = color.AB_NEUTRAL_ENCODED  # a grey prediction
    variable = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        value = get_loss("ciede2000")(y_true, variable)
    gradient = tape.gradient(value, variable).numpy()
    assert np.isfinite(float(value)) and np.isfinite(gradient).all()
    assert np.abs(gradient[1]).max() < 1.0  # at the optimum the gradient vanishes (up to eps)
    # bounded at a grey prediction too: with the gradient through the hue angles it was 1e10 there
    assert np.abs(gradient).max() < 1e5
    assert np.abs(gradient[0]).max() > 0 and np.abs(gradient[3]).max() > 0


def test_a_model_trained_on_ciede2000_saves_and_reloads_with_its_loss(demo16, tmp_path):
    import keras

    from colorize_core.losses import register_custom_objects
    from colorize_core.train import fit

    result = fit({"arch": "basic", "epochs": 1, "batch_size": 8, "loss": "ciede2000"}, demo16, keep_model=True)
    assert np.isfinite(result.best_metrics["delta_e"])
    path = tmp_path / "model.keras"
    result.model.save(path)
    register_custom_objects()
    reloaded = keras.saving.load_model(path, compile=True)
    assert reloaded.loss.name == "ciede2000"
    x = color.encode_l(demo16.val.lightness[:2])
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), result.model.predict(x, verbose=0), atol=1e-6)
