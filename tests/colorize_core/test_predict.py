"""colorize_core.predict: full-resolution colorization keeps the photo's own lightness."""

from __future__ import annotations

import cv2
import keras
import numpy as np
import pytest
from skimage import data

from colorize_core import color
from colorize_core.predict import colorize_rgb


def _saturated_model(size: int = 16) -> keras.Model:
    """A model that predicts the most extreme ab there is (encoded 1.0 → a = b = 127) everywhere:
    far outside sRGB for almost every lightness."""
    inputs = keras.Input((size, size, 1))
    outputs = keras.layers.Conv2D(2, 1, kernel_initializer="zeros", bias_initializer="ones")(inputs)
    return keras.Model(inputs, outputs)


def test_colorized_photo_keeps_its_lightness_when_the_model_predicts_unshowable_colours():
    rgb = cv2.resize(data.astronaut(), (120, 80), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    lightness_in = color.rgb_to_lab(rgb)[..., 0]

    result = colorize_rgb(_saturated_model(), rgb)

    assert result.shape == rgb.shape
    lab_out = color.rgb_to_lab(result)
    assert np.abs(lab_out[..., 0] - lightness_in).mean() < 1.0
    hue = np.degrees(np.arctan2(lab_out[..., 2], lab_out[..., 1]))[(lightness_in > 20) & (lightness_in < 90)]
    assert abs(np.median(hue) - 45.0) < 3.0  # the predicted hue (a = b) is kept; only chroma went down
    # what clipping the same prediction channel by channel would have shown: lightness lost
    clipped = color.lab_to_rgb(color.merge_lab(lightness_in, np.full(rgb.shape[:2] + (2,), 127.0, np.float32)))
    assert np.abs(color.rgb_to_lab(clipped)[..., 0] - lightness_in).mean() > 5.0


def test_written_jpegs_use_quality_90_and_keep_their_format(tmp_path):
    import cv2

    from colorize_core.predict import write_rgb

    rng = np.random.default_rng(0)
    rgb = cv2.GaussianBlur(rng.random((96, 128, 3)).astype(np.float32), (0, 0), 3)
    write_rgb(tmp_path / "a.JPG", rgb)
    ok, q95 = cv2.imencode(".jpg", cv2.cvtColor((rgb * 255).round().astype(np.uint8), cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, 95])
    written = (tmp_path / "a.JPG").read_bytes()
    assert written[:3] == b"\xff\xd8\xff" and len(written) < len(q95)
    write_rgb(tmp_path / "b.png", rgb)
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"


def _mild_model(a: float, b: float, size: int = 16) -> keras.Model:
    """A model that predicts one mild colour (a, b in Lab units) everywhere, well inside sRGB."""
    inputs = keras.Input((size, size, 1))
    encoded = color.encode_ab(np.array([a, b], np.float32))
    outputs = keras.layers.Conv2D(2, 1, kernel_initializer="zeros",
                                  bias_initializer=keras.initializers.Constant(encoded))(inputs)
    return keras.Model(inputs, outputs)


def test_chroma_scales_the_colours_strength_and_keeps_their_hue_and_lightness():

    rgb = np.full((24, 36, 3), 0.5, np.float32)  # mid grey: L about 53, where (±20, ±30) is showable
    model = _mild_model(-12.0, 18.0)
    own = color.rgb_to_lab(colorize_rgb(model, rgb))
    strong = color.rgb_to_lab(colorize_rgb(model, rgb, chroma=1.5))
    np.testing.assert_allclose(own[..., 1:].mean(axis=(0, 1)), [-12.0, 18.0], atol=0.6)
    np.testing.assert_allclose(strong[..., 1:].mean(axis=(0, 1)), [-18.0, 27.0], atol=0.6)
    np.testing.assert_allclose(strong[..., 0], own[..., 0], atol=0.5)  # lightness is the photo's
    huge = colorize_rgb(model, rgb, chroma=1e308)  # saturates: no overflow to inf or nan
    assert np.isfinite(huge).all()
    np.testing.assert_allclose(color.rgb_to_lab(huge)[..., 0], own[..., 0], atol=0.5)
    for bad in (0, -1.0, float("nan"), float("inf"), True, "2"):
        with pytest.raises(ValueError, match="chroma must be a number > 0"):
            colorize_rgb(model, rgb, chroma=bad)


def _textured_model(size: int = 32) -> keras.Model:
    """A model whose mild colours depend on the lightness pattern around each pixel (a 3×3
    convolution with fixed random weights), so that squeezing a photo changes what it predicts."""
    inputs = keras.Input((size, size, 1))
    kernel = np.random.default_rng(3).normal(0.0, 1.0, (3, 3, 1, 2)).astype(np.float32)
    outputs = keras.layers.Conv2D(2, 3, padding="same", activation="sigmoid",
                                  kernel_initializer=keras.initializers.Constant(kernel))(inputs)
    outputs = keras.layers.Rescaling(0.2, offset=0.4)(outputs)  # encoded ab in [0.4, 0.6]: ±25 Lab units
    return keras.Model(inputs, outputs)


def _ab_of(rgb: np.ndarray) -> np.ndarray:
    return color.rgb_to_lab(rgb)[..., 1:]


def test_a_photo_is_seen_whole_with_its_aspect_ratio_kept_not_squeezed_into_the_square_input():
    model = _textured_model(32)
    rgb = cv2.resize(data.astronaut(), (64, 32), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    lightness = color.rgb_to_lab(rgb)[..., :1]

    wide = keras.models.clone_model(model, input_tensors=keras.Input((32, 64, 1)))
    wide.set_weights(model.get_weights())
    seen_whole = color.decode_ab(np.asarray(wide.predict(color.encode_l(lightness[None]), verbose=0)[0]))
    squeezed_l = color.rgb_to_lab(cv2.resize(rgb, (32, 32), interpolation=cv2.INTER_AREA))[..., :1]
    squeezed = cv2.resize(color.decode_ab(np.asarray(model.predict(color.encode_l(squeezed_l[None]), verbose=0)[0])),
                          (64, 32), interpolation=cv2.INTER_CUBIC)

    ab = _ab_of(colorize_rgb(model, rgb))
    assert np.abs(ab - seen_whole).mean() < 0.5
    assert np.abs(squeezed - seen_whole).mean() > 1.5  # the test tells the two apart (2.3 here)


def test_odd_shapes_are_padded_for_the_network_and_scales_average_the_views():
    model = _textured_model(32)
    rgb = cv2.resize(data.astronaut(), (70, 45), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    one, two = (_ab_of(colorize_rgb(model, rgb, scales=(s,))) for s in (1, 2))
    both = _ab_of(colorize_rgb(model, rgb, scales=(1, 2)))
    assert one.shape == two.shape == both.shape == (45, 70, 2)
    assert np.abs(one - two).mean() > 1.0
    assert np.abs(both - (one + two) / 2).mean() < 0.5
    tall = colorize_rgb(model, np.ascontiguousarray(rgb.transpose(1, 0, 2)))  # portrait
    assert tall.shape == (70, 45, 3)


def test_a_fixed_size_architecture_sees_the_photo_squeezed_into_its_input():
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(16 * 16 * 2, activation="sigmoid", kernel_initializer="zeros",
                           bias_initializer=keras.initializers.Constant(0.55))(x)
    model = keras.Model(inputs, keras.layers.Reshape((16, 16, 2))(x))
    rgb = np.full((30, 50, 3), 0.5, np.float32)
    result = colorize_rgb(model, rgb, scales=(1, 2))
    assert result.shape == (30, 50, 3)
    assert _ab_of(result).mean() > 3.0  # its (constant, warm) prediction, not grey


def test_bad_scales_are_refused():

    model = _textured_model(32)
    rgb = np.full((32, 32, 3), 0.5, np.float32)
    for bad in ((), (0,), (-1,), (float("nan"),), (9,), (True,), ("2",), None):
        with pytest.raises(ValueError, match="scales must be one or more numbers in"):
            colorize_rgb(model, rgb, scales=bad)
    assert colorize_rgb(model, rgb, scales=1.5).shape == (32, 32, 3)  # one number is one view


def test_colour_reaches_full_size_guided_by_the_photos_lightness_unless_bicubic_is_asked():
    model = _textured_model(32)
    rgb = data.astronaut().astype(np.float32) / 255.0  # 512 x 512: 16 times the view
    guided, bicubic = (_ab_of(colorize_rgb(model, rgb, upsampling=way)) for way in ("guided", "bicubic"))
    assert guided.shape == bicubic.shape == (512, 512, 2)
    # the guided colour changes where the full-size lightness changes: its fine detail (what a blur of
    # 4 px removes) lies where L's does (correlation 0.82 here, against 0.40 for bicubic)
    lightness = color.rgb_to_lab(rgb)[..., 0]
    assert np.corrcoef(detail_map(guided), detail_map(lightness))[0, 1] > 0.7
    assert np.corrcoef(detail_map(bicubic), detail_map(lightness))[0, 1] < 0.5
    with pytest.raises(ValueError, match="upsampling must be one of guided, bicubic"):
        colorize_rgb(model, rgb, upsampling="nearest")


def detail_map(image: np.ndarray) -> np.ndarray:
    """Per-pixel magnitude of what a 4-pixel blur removes, flattened (summed over channels)."""
    residual = np.abs(image - cv2.GaussianBlur(image, (0, 0), 4))
    return (residual.sum(-1) if residual.ndim == 3 else residual).ravel()
