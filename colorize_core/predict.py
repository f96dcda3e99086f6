"""Colorize images of any size at full resolution with a trained model.

The model sees the whole image (not cropped) with its aspect ratio kept, resized so that its short
side is the model's input size: the scale at which it was validated, where a square validation
photo's short side is the input size too. The image is reflect-padded to a shape the network can
take and the padding is cut from the prediction, so a 640×427 photo is seen at 96×64, not squeezed
into 64×64. With ``scales`` (e.g. ``(1, 2)``) it is also seen at those multiples of that size and the
predicted ab are averaged. The predicted ab is brought back to the original size guided by the
original's lightness, so colour edges follow the photo's outlines (:mod:`colorize_core.upsample`),
and merged with the original, full-resolution L. The output has the input's exact dimensions and all of
its luminance detail: predicted colours that sRGB cannot show have their chroma reduced
(:func:`colorize_core.color.fit_to_gamut`) instead of being clipped channel by channel, so every
output pixel keeps the input's lightness.

A model that cannot run at another input shape (an architecture with a fixed-size layer) sees the
image squeezed to its square input size instead, as before.

Classification models (Q ab-bin logits, usually at ¼ of the input size; see
:mod:`colorize_core.classification`) are recognised by their output and decoded first (annealed
mean at ``temperature``, or ``decode="mode"`` / ``"mean"``); their ab is resized to the view's
size first.
"""

from __future__ import annotations

import math
import numbers
import os
import weakref
from pathlib import Path

import cv2
import numpy as np

from colorize_core.errors import InvalidValueError
from colorize_core import classification, color
from colorize_core.files import write_atomic
from colorize_core.data.image_io import read_image
from colorize_core.upsample import ab_to_full_size, check_upsampling

__all__ = ["model_input_size", "predict_ab", "check_chroma", "check_scales", "padding_multiple", "colorize_rgb",
           "colorize_file", "write_rgb", "side_by_side"]

#: The model rebuilt for other input shapes (same weights), per model and (height, width); None
#: where the architecture cannot take that shape. Bounded: a folder of photos needs a few shapes.
_RESHAPED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_MAX_SHAPES_PER_MODEL = 16


def model_input_size(model) -> int:
    """The square input size (pixels) a colorsweep model was built for."""
    shape = model.input_shape
    if isinstance(shape, list):
        shape = shape[0]
    height, width = shape[1], shape[2]
    if height is None or height != width:
        raise InvalidValueError(f"expected a model with a square input, got input shape {shape}")
    return int(height)


def predict_in_full_batches(model, x: np.ndarray, *, batch_size: int) -> np.ndarray:
    """``model.predict(x)`` ``batch_size`` inputs at a time, the last batch padded with zeros to full
    size (and the padding's outputs dropped): every call has the same shape, so the backend compiles
    one prediction program, not a second one for a partial last batch."""
    x = np.asarray(x)
    n = len(x)
    batch_size = max(1, min(int(batch_size), n)) if n else max(1, int(batch_size))
    short = -n % batch_size
    if short:
        x = np.concatenate([x, np.zeros((short,) + x.shape[1:], dtype=x.dtype)])
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))[:n]


def predict_ab(
    model, lightness: np.ndarray, *, batch_size: int = 64, temperature: float | None = None,
    decode: str = "annealed_mean",
) -> np.ndarray:
    """Predict ab in Lab units (N, H, W, 2) from L in [0, 100] (N, H, W, 1) with a trained model.

    A classification model (recognised by its Q output channels) has its logits decoded with
    ``decode`` at ``temperature`` (default :data:`colorize_core.classification.DEFAULT_TEMPERATURE`)
    and upsampled to (H, W), chunk by chunk; both are ignored for a regression model.
    """
    if classification.is_classification_model(model):
        t = classification.DEFAULT_TEMPERATURE if temperature is None else temperature
        ab, _ = classification.predict_logits_ab(
            model, color.encode_l(lightness), temperature=t, decode=decode, batch_size=batch_size
        )
        return ab
    encoded = predict_in_full_batches(model, color.encode_l(lightness), batch_size=batch_size)
    return color.decode_ab(encoded)


def _is_positive_number(value) -> bool:
    """A finite real number > 0 (not a bool, not a string)."""
    return (not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
            and value > 0)


def check_chroma(chroma) -> float:
    """``chroma``, the colour strength of a colorized photo, as a float: a finite number > 0
    (1 = the model's own colours); raises :class:`InvalidValueError` saying so otherwise."""
    if not _is_positive_number(chroma):
        raise InvalidValueError(
            f"chroma must be a number > 0 (1 = the model's own colours, 1.2 = 20 % stronger), got {chroma!r}"
        )
    return float(chroma)


def check_scales(scales) -> tuple[float, ...]:
    """``scales`` as a tuple of finite numbers > 0 (at least one), or an error that says so."""
    if isinstance(scales, (numbers.Real, str)) or scales is None:
        scales = (scales,)
    values = tuple(scales)
    if not values or not all(_is_positive_number(s) and s <= 8 for s in values):
        raise InvalidValueError(
            f"scales must be one or more numbers in (0, 8] (multiples of the model's input size), got {scales!r}; "
            "e.g. 1, or 1 2 to average the model's view at its own size and twice it"
        )
    return tuple(float(s) for s in values)


def _model_at(model, height: int, width: int):
    """``model`` with the same weights and an input of (``height``, ``width``); None if it cannot take it."""
    import keras

    shapes = _RESHAPED.setdefault(model, {})
    if (height, width) not in shapes:
        if len(shapes) >= _MAX_SHAPES_PER_MODEL:
            shapes.pop(next(iter(shapes)))
        try:
            clone = keras.models.clone_model(model, input_tensors=keras.Input(shape=(height, width, 1)))
            clone.set_weights(model.get_weights())
        except Exception:  # an architecture with a fixed-size layer (Dense, Reshape): squeeze instead
            clone = None
        shapes[(height, width)] = clone
    return shapes[(height, width)]


def padding_multiple(size: int) -> int:
    """The largest power of two that divides the model's input size: any input shape that is a
    multiple of it passes the network's downsamplings and upsamplings as the built shape does."""
    return size & -size


def _predict_view(model, rgb: np.ndarray, lightness_full: np.ndarray, size: int, scale: float, *,
                  lab_mode: str, temperature: float | None, decode: str, upsampling: str) -> np.ndarray | None:
    """ab (Lab units) at the image's full (H, W), from one view: the image resized to short side
    ``size * scale`` with its aspect kept and reflect-padded; None if the model cannot take that shape.
    ``lightness_full``: the image's L (H, W), which guides the ab back to full size."""
    import keras

    height, width = rgb.shape[:2]
    short = max(1, int(round(size * scale)))
    factor = short / min(height, width)
    view_h, view_w = max(1, int(round(height * factor))), max(1, int(round(width * factor)))
    multiple = padding_multiple(size)
    pad_h, pad_w = -view_h % multiple, -view_w % multiple
    shape = (view_h + pad_h, view_w + pad_w)
    shaped = model if shape == (size, size) else _model_at(model, *shape)
    if shaped is None:
        return None
    view = cv2.resize(rgb, (view_w, view_h), interpolation=cv2.INTER_AREA)
    lightness = color.rgb_to_lab(view, lab_mode=lab_mode)[..., :1]
    padded = cv2.copyMakeBorder(lightness, 0, pad_h, 0, pad_w, cv2.BORDER_REFLECT_101)[..., None]
    # called directly, not through predict(): one image, and no compiled function traced per shape
    encoded = keras.ops.convert_to_numpy(shaped(color.encode_l(padded[None]), training=False))[0]
    ab = _decode(model, encoded, temperature, decode)
    ab = cv2.resize(ab, (view_w + pad_w, view_h + pad_h), interpolation=cv2.INTER_CUBIC)[:view_h, :view_w]
    return ab_to_full_size(ab, lightness[..., 0], lightness_full, method=upsampling)


def _decode(model, encoded, temperature: float | None, decode: str) -> np.ndarray:
    """A model's raw output for one image → ab in Lab units (H', W', 2)."""
    if classification.is_classification_model(model):
        t = classification.DEFAULT_TEMPERATURE if temperature is None else temperature
        return classification.decode_logits(np.asarray(encoded), temperature=t, decode=decode)
    return color.decode_ab(np.asarray(encoded))


def colorize_rgb(
    model, rgb: np.ndarray, *, lab_mode: str = "float", temperature: float | None = None,
    decode: str = "annealed_mean", chroma: float = 1.0, scales=(1.0,), upsampling: str = "guided",
) -> np.ndarray:
    """Colorize one image: float RGB in [0, 1] of shape (H, W, 3) (its colour is ignored; only its
    lightness is used) → float32 RGB in [0, 1] of the same shape.

    ``temperature`` (default 0.38) and ``decode`` apply to classification models only. ``chroma``
    (unitless, > 0) multiplies the predicted a and b (hue kept, colour strength scaled) before the
    gamut fitting: a regression model trained on a few hundred photos colours with the right hues at
    about two thirds of a photo's colourfulness, and 1.1–1.3 brings it closer at a measured cost in
    accuracy (BENCHMARKS.md, issue 14).

    ``scales`` (multiples of the model's input size, > 0): the views whose predictions are averaged
    (see the module docstring). ``(1,)`` is the scale the model was validated at; ``(1, 2)`` also
    looks twice as close, which the default sweep's models (trained on zoomed-in crops) colour more
    accurately on held-out photos (BENCHMARKS.md, "Colorizing a full-resolution photo: how the model sees it").

    ``upsampling``: how the predicted ab reaches full size: ``"guided"`` by the photo's own lightness,
    so colour edges follow its outlines, or ``"bicubic"`` (see :mod:`colorize_core.upsample`)."""
    chroma = check_chroma(chroma)
    scales = check_scales(scales)
    check_upsampling(upsampling)
    rgb = np.asarray(rgb, dtype=np.float32)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise InvalidValueError(f"expected an RGB image of shape (H, W, 3), got {rgb.shape}")
    height, width = rgb.shape[:2]
    size = model_input_size(model)
    lab_full = color.rgb_to_lab(rgb, lab_mode=lab_mode)
    views = [_predict_view(model, rgb, lab_full[..., 0], size, s, lab_mode=lab_mode, temperature=temperature,
                           decode=decode, upsampling=upsampling) for s in scales]
    if any(v is None for v in views):  # a fixed-size architecture: the whole image squeezed to its input
        small = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
        lightness_small = color.rgb_to_lab(small, lab_mode=lab_mode)[..., :1]
        ab_small = _decode(model, model.predict(color.encode_l(lightness_small[None]), verbose=0)[0],
                           temperature, decode)
        ab_small = cv2.resize(ab_small, (size, size), interpolation=cv2.INTER_CUBIC)
        views = [ab_to_full_size(ab_small, lightness_small[..., 0], lab_full[..., 0], method=upsampling)]
    ab_full = np.mean(views, axis=0) if len(views) > 1 else views[0]
    if chroma != 1.0:  # in float64, then clipped: a huge S saturates the colours, never gives nan
        with np.errstate(over="ignore"):
            ab_full = ab_full.astype(np.float64) * chroma
    ab_full = np.clip(ab_full, color.AB_MIN, color.AB_MAX).astype(np.float32)
    return color.lab_to_rgb(color.merge_lab(lab_full[..., 0], ab_full), fit_gamut=True)


#: Encoder settings by extension: JPEG and WebP at quality 90 (a colorized photo is no sharper than
#: its input; OpenCV's default JPEG 95 is about 40 % larger for nothing visible), PNG at zlib level 6.
ENCODE_PARAMS = {
    ".jpg": [cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_OPTIMIZE, 1],
    ".jpeg": [cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_OPTIMIZE, 1],
    ".webp": [cv2.IMWRITE_WEBP_QUALITY, 90],
    ".png": [cv2.IMWRITE_PNG_COMPRESSION, 6],
}


def write_rgb(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write float RGB in [0, 1] as an 8-bit image; the format follows the file extension, with
    :data:`ENCODE_PARAMS` (JPEG / WebP quality 90, PNG level 6). The file is whole or absent
    (:func:`colorize_core.files.write_atomic`): an interrupted write or a full disk never leaves a
    truncated image, and an existing file of that name is kept until the new one is complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    bgr8 = cv2.cvtColor(np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    suffix = path.suffix.lower() or ".png"
    ok, encoded = cv2.imencode(suffix, bgr8, ENCODE_PARAMS.get(suffix, []))
    if not ok:
        raise InvalidValueError(f"OpenCV cannot write images with extension {path.suffix!r}; use .png or .jpg")
    write_atomic(path, lambda handle: handle.write(encoded.tobytes()), binary=True)


def side_by_side(gray_rgb: np.ndarray, colour_rgb: np.ndarray) -> np.ndarray:
    """The grayscale input and the colorized output next to each other (H, 2W, 3)."""
    return np.concatenate([gray_rgb, colour_rgb], axis=1)


def colorize_file(
    model, path: str | os.PathLike, out_path: str | os.PathLike, *, compare: bool = False,
    temperature: float | None = None, chroma: float = 1.0, scales=(1.0,),
) -> tuple[int, int]:
    """Colorize the image at ``path`` and write it to ``out_path`` at full resolution.

    With ``compare``, the written image is the grayscale input beside the result. ``temperature``
    applies to classification models (default 0.38); ``chroma`` scales the colours' strength and
    ``scales`` sets the views averaged (see :func:`colorize_rgb`). Returns (height, width) of the colorized image.
    Raises :class:`colorize_core.data.ImageError` for unreadable files.
    """
    rgb = read_image(path)
    result = colorize_rgb(model, rgb, temperature=temperature, chroma=chroma, scales=scales)
    if compare:
        lightness = color.rgb_to_lab(rgb)[..., 0]
        gray = color.lab_to_rgb(color.merge_lab(lightness, color.gray_ab(lightness.shape + (2,))))
        write_rgb(out_path, side_by_side(gray, result))
    else:
        write_rgb(out_path, result)
    return result.shape[0], result.shape[1]
