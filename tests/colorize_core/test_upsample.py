"""ab brought from the model's view to a photo's full resolution (colorize_core.upsample)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from colorize_core.upsample import ab_to_full_size

BLUE, ORANGE = (-20.0, -40.0), (30.0, 50.0)


def _two_halves(size: int = 256, edge: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """L (dark | bright) and ab (blue | orange) of a photo split by a vertical edge at column ``edge``."""
    lightness = np.full((size, size), 30.0, np.float32)
    lightness[:, edge:] = 70.0
    ab = np.empty((size, size, 2), np.float32)
    ab[:, :edge] = BLUE
    ab[:, edge:] = ORANGE
    return lightness, ab


def _view(image: np.ndarray, side: int) -> np.ndarray:
    return cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)


def test_guided_colour_edges_follow_the_full_resolution_lightness_where_bicubic_bleeds():
    lightness, truth = _two_halves()
    low_l, low_ab = _view(lightness, 16), _view(truth, 16)  # the edge falls inside a view pixel
    guided = ab_to_full_size(low_ab, low_l, lightness)
    bicubic = ab_to_full_size(low_ab, low_l, lightness, method="bicubic")
    assert guided.shape == bicubic.shape == (256, 256, 2) and guided.dtype == np.float32
    error_guided = np.abs(guided - truth).mean()
    error_bicubic = np.abs(bicubic - truth).mean()
    assert error_guided < 0.5 * error_bicubic, (error_guided, error_bicubic)
    # the two full-size pixels either side of the edge keep their side's colour; bicubic mixes them
    for column, colour in ((99, BLUE), (100, ORANGE)):
        assert np.abs(guided[:, column].mean(0) - colour).max() < 7.0, column
        assert np.abs(bicubic[:, column].mean(0) - colour).max() > 25.0, column


def test_grain_of_a_flat_photo_does_not_become_colour_noise():
    rng = np.random.default_rng(0)
    lightness = (50.0 + rng.normal(0.0, 2.0, (256, 256))).astype(np.float32)  # film grain, 2 L units
    low_l = _view(lightness, 16)
    gradient = np.linspace(5.0, 15.0, 16, dtype=np.float32)
    low_ab = np.stack([np.tile(gradient, (16, 1)), np.full((16, 16), 20.0, np.float32)], -1)
    guided = ab_to_full_size(low_ab, low_l, lightness)
    bicubic = ab_to_full_size(low_ab, low_l, lightness, method="bicubic")
    assert np.abs(guided - bicubic).mean() < 0.5  # the smooth colour stays smooth
    assert guided[..., 1].std() < 0.5  # b was flat: no grain in it


def test_a_full_size_no_larger_than_the_view_keeps_the_prediction_and_bad_input_is_refused():
    rng = np.random.default_rng(1)
    low_l = rng.uniform(0, 100, (16, 24)).astype(np.float32)
    low_ab = rng.uniform(-50, 50, (16, 24, 2)).astype(np.float32)
    np.testing.assert_array_equal(ab_to_full_size(low_ab, low_l, low_l), low_ab)
    assert ab_to_full_size(low_ab, low_l, np.zeros((8, 12), np.float32)).shape == (8, 12, 2)
    with pytest.raises(ValueError, match="ab upsampling must be one of guided, bicubic, got 'nearest'"):
        ab_to_full_size(low_ab, low_l, low_l, method="nearest")
    with pytest.raises(ValueError, match=r"differ in shape"):
        ab_to_full_size(low_ab, low_l[:8], low_l)
