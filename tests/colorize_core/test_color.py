"""colorize_core.color: the Lab conventions every other module relies on."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from colorize_core import color


@pytest.fixture(scope="module")
def random_rgb() -> np.ndarray:
    """10 000 random colours as a (100, 100, 3) float32 image in [0, 1]."""
    return np.random.default_rng(0).random((100, 100, 3), dtype=np.float32)


def test_round_trip_float_within_one_level(random_rgb):
    lab = color.rgb_to_lab(random_rgb, lab_mode="float")
    back = color.lab_to_rgb(lab)
    assert lab.dtype == np.float32 and back.dtype == np.float32
    assert np.abs(back - random_rgb).max() <= 1.0 / 255.0


def test_lab_ranges_are_real_units(random_rgb):
    lab = color.rgb_to_lab(random_rgb)
    assert 0.0 <= lab[..., 0].min() and lab[..., 0].max() <= 100.0 + 1e-3
    assert -128.0 <= lab[..., 1:].min() and lab[..., 1:].max() <= 127.0


@pytest.mark.parametrize("lab_mode", color.LAB_MODES)
def test_known_values(lab_mode):
    rgb = np.array([[[1, 1, 1], [0, 0, 0], [1, 0, 0]]], dtype=np.float32)
    lab = color.rgb_to_lab(rgb, lab_mode=lab_mode)
    white, black, red = lab[0]
    assert white[0] == pytest.approx(100.0, abs=0.5)
    assert np.abs(white[1:]).max() <= 0.5
    assert black[0] == pytest.approx(0.0, abs=0.5)
    assert np.abs(black[1:]).max() <= 0.5
    assert red == pytest.approx([53.24, 80.09, 67.20], abs=0.6)


def test_seed_mode_is_opencv_8bit_path(random_rgb):
    rgb8 = np.clip(np.rint(random_rgb.astype(np.float64) * 255), 0, 255).astype(np.uint8)
    lab8 = cv2.cvtColor(rgb8, cv2.COLOR_RGB2Lab).astype(np.float32)
    expected = np.stack(
        [lab8[..., 0] * 100.0 / 255.0, lab8[..., 1] - 128.0, lab8[..., 2] - 128.0], axis=-1
    )
    seed = color.rgb_to_lab(random_rgb, lab_mode="seed")
    np.testing.assert_allclose(seed, expected, rtol=0, atol=1e-4)
    # After encoding it is the study's "uint8 Lab / 255" arrays.
    np.testing.assert_allclose(color.encode_l(seed[..., :1]), lab8[..., :1] / 255.0, atol=1e-6)
    np.testing.assert_allclose(color.encode_ab(seed[..., 1:]), lab8[..., 1:] / 255.0, atol=1e-6)


def test_seed_mode_close_to_float_but_quantised(random_rgb):
    seed = color.rgb_to_lab(random_rgb, lab_mode="seed")
    flt = color.rgb_to_lab(random_rgb, lab_mode="float")
    ab_diff = np.abs(seed[..., 1:] - flt[..., 1:])
    assert ab_diff.max() <= 3.0
    assert ab_diff.max() > 0.1  # it really is quantised
    assert np.abs(seed[..., 0] - flt[..., 0]).max() <= 1.0
    np.testing.assert_array_equal(seed[..., 1:], np.rint(seed[..., 1:]))  # integer a, b


def test_encode_decode_are_inverses():
    rng = np.random.default_rng(1)
    ab = rng.uniform(-128, 127, size=(4, 8, 8, 2)).astype(np.float32)
    lightness = rng.uniform(0, 100, size=(4, 8, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(color.decode_ab(color.encode_ab(ab)), ab, atol=1e-4)
    np.testing.assert_allclose(color.decode_l(color.encode_l(lightness)), lightness, atol=1e-5)
    encoded = color.encode_ab(ab)
    assert encoded.min() >= 0.0 and encoded.max() <= 1.0
    assert color.encode_ab(np.zeros(2)) == pytest.approx(color.AB_NEUTRAL_ENCODED)
    assert color.encode_l(np.array([0.0, 100.0])) == pytest.approx([0.0, 1.0])


def test_decode_ab_clips():
    decoded = color.decode_ab(np.array([-0.5, 0.0, 1.0, 1.5], dtype=np.float32))
    assert decoded.tolist() == pytest.approx([-128.0, -128.0, 127.0, 127.0])
    assert decoded.dtype == np.float32


@pytest.mark.parametrize("lab_mode", color.LAB_MODES)
def test_batch_equals_per_image(lab_mode):
    batch = np.random.default_rng(2).random((5, 6, 7, 3), dtype=np.float32)
    lab_batch = color.rgb_to_lab(batch, lab_mode=lab_mode)
    assert lab_batch.shape == batch.shape
    for i in range(len(batch)):
        np.testing.assert_array_equal(lab_batch[i], color.rgb_to_lab(batch[i], lab_mode=lab_mode))
    rgb_batch = color.lab_to_rgb(lab_batch)
    for i in range(len(batch)):
        np.testing.assert_array_equal(rgb_batch[i], color.lab_to_rgb(lab_batch[i]))


def test_merge_lab_and_gray_ab():
    lightness = np.full((2, 4, 4, 1), 50.0, np.float32)
    ab = color.gray_ab((2, 4, 4, 2))
    lab = color.merge_lab(lightness, ab)
    assert lab.shape == (2, 4, 4, 3)
    assert color.merge_lab(lightness[..., 0], ab).shape == (2, 4, 4, 3)
    rgb = color.lab_to_rgb(lab)
    assert np.abs(rgb - rgb[..., :1]).max() < 1e-3  # neutral grey


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="lab_mode"):
        color.rgb_to_lab(np.zeros((2, 2, 3), np.float32), lab_mode="uint8")
    with pytest.raises(ValueError, match="shape"):
        color.rgb_to_lab(np.zeros((2, 2, 4), np.float32))


# -- gamut fitting (pictures keep their lightness) -----------------------------------------------------------
def test_fit_to_gamut_leaves_displayable_colours_alone(random_rgb):
    lab = color.rgb_to_lab(random_rgb)  # every colour here came from sRGB: already displayable
    np.testing.assert_allclose(color.fit_to_gamut(lab), lab, atol=1e-4)
    np.testing.assert_array_equal(color.lab_to_rgb(lab, fit_gamut=True), color.lab_to_rgb(lab))


def test_fit_to_gamut_keeps_lightness_and_hue_and_lands_inside():
    rng = np.random.default_rng(1)
    lab = rng.uniform([5, -128, -128], [95, 127, 127], size=(60, 70, 3)).astype(np.float32)
    fitted = color.fit_to_gamut(lab)
    np.testing.assert_array_equal(fitted[..., 0], lab[..., 0])  # L untouched
    scale = np.hypot(fitted[..., 1], fitted[..., 2]) / np.hypot(lab[..., 1], lab[..., 2])
    assert np.all(scale <= 1.0 + 1e-6) and scale.min() < 0.5  # chroma only ever reduced, some a lot
    moved = scale < 0.999
    cross = lab[..., 1] * fitted[..., 2] - lab[..., 2] * fitted[..., 1]  # same hue: ab vectors parallel
    assert np.abs(cross[moved]).max() < 1e-2 * np.abs(lab[..., 1:]).max() ** 2
    # what is displayed has the requested lightness (OpenCV's clipping would have changed it)
    shown = color.rgb_to_lab(color.lab_to_rgb(lab, fit_gamut=True))
    clipped = color.rgb_to_lab(color.lab_to_rgb(lab))
    assert np.abs(shown[..., 0] - lab[..., 0]).max() < 1.0
    assert np.abs(clipped[..., 0] - lab[..., 0]).max() > 10.0
    # and it is nearly the most chroma that fits: a little more would leave the gamut
    out = color.lab_to_rgb(color.merge_lab(lab[..., 0], fitted[..., 1:] * 1.05), fit_gamut=False)
    more = color.rgb_to_lab(out)
    assert np.median(np.abs(more[moved][:, 0] - lab[moved][:, 0])) > 0.05


def test_fit_to_gamut_known_colour():
    # Lab (50, 100, 100) is far outside sRGB; its hue at L 50 fits up to a chroma of about 89
    fitted = color.fit_to_gamut(np.array([[[50.0, 100.0, 100.0]]], dtype=np.float32))[0, 0]
    assert fitted[0] == 50.0 and fitted[1] == pytest.approx(fitted[2])
    assert 60.0 < fitted[1] < 66.0
