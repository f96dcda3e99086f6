"""Colorize images of any size at full resolution with a trained model.

The model sees the image resized (whole, not cropped; aspect ratio not kept) to its input size; the
predicted ab is resized back to the original size (bicubic) and merged with the original,
full-resolution L. The output has the input's exact dimensions and all of its luminance detail:
predicted colours that sRGB cannot show have their chroma reduced (:func:`colorize_core.color.fit_to_gamut`)
instead of being clipped channel by channel, so every output pixel keeps the input's lightness.

Classification models (Q ab-bin logits, usually at ¼ of the input size; see
:mod:`colorize_core.classification`) are recognised by their output and decoded first (annealed
mean at ``temperature``, or ``decode="mode"`` / ``"mean"``); their ab goes straight from the output
resolution to the original size.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from colorize_core.errors import InvalidValueError
from colorize_core import classification, color
from colorize_core.files import write_atomic
from colorize_core.data.image_io import read_image

__all__ = ["model_input_size", "predict_ab", "check_chroma", "colorize_rgb", "colorize_file", "write_rgb",
           "side_by_side"]


def model_input_size(model) -> int:
    """The square input size (pixels) a colorsweep model was built for."""
    shape = model.input_shape
    if isinstance(shape, list):
        shape = shape[0]
    height, width = shape[1], shape[2]
    if height is None or height != width:
        raise InvalidValueError(f"expected a model with a square input, got input shape {shape}")
    return int(height)


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
    encoded = model.predict(color.encode_l(lightness), batch_size=batch_size, verbose=0)
    return color.decode_ab(np.asarray(encoded))


def check_chroma(chroma) -> float:
    """``chroma``, the colour strength of a colorized photo, as a float: a finite number > 0
    (1 = the model's own colours); raises :class:`InvalidValueError` saying so otherwise."""
    if isinstance(chroma, bool) or not isinstance(chroma, (int, float, np.floating)) or not (
        np.isfinite(chroma) and chroma > 0
    ):
        raise InvalidValueError(
            f"chroma must be a number > 0 (1 = the model's own colours, 1.2 = 20 % stronger), got {chroma!r}"
        )
    return float(chroma)


def colorize_rgb(
    model, rgb: np.ndarray, *, lab_mode: str = "float", temperature: float | None = None,
    decode: str = "annealed_mean", chroma: float = 1.0,
) -> np.ndarray:
    """Colorize one image: float RGB in [0, 1] of shape (H, W, 3) (its colour is ignored; only its
    lightness is used) → float32 RGB in [0, 1] of the same shape.

    ``temperature`` (default 0.38) and ``decode`` apply to classification models only. ``chroma``
    (unitless, > 0) multiplies the predicted a and b (hue kept, colour strength scaled) before the
    gamut fitting: a regression model trained on a few hundred photos colours with the right hues at
    about two thirds of a photo's colourfulness, and 1.1–1.3 brings it closer at a measured cost in
    accuracy (BENCHMARKS.md, issue 14)."""
    chroma = check_chroma(chroma)
    rgb = np.asarray(rgb, dtype=np.float32)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise InvalidValueError(f"expected an RGB image of shape (H, W, 3), got {rgb.shape}")
    height, width = rgb.shape[:2]
    size = model_input_size(model)
    lab_full = color.rgb_to_lab(rgb, lab_mode=lab_mode)
    small = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
    lightness_small = color.rgb_to_lab(small, lab_mode=lab_mode)[..., :1]
    encoded = model.predict(color.encode_l(lightness_small[None]), verbose=0)[0]
    if classification.is_classification_model(model):
        t = classification.DEFAULT_TEMPERATURE if temperature is None else temperature
        ab_small = classification.decode_logits(np.asarray(encoded), temperature=t, decode=decode)
    else:
        ab_small = color.decode_ab(np.asarray(encoded))
    if chroma != 1.0:  # in float64, then clipped: a huge S saturates the colours, never gives nan
        with np.errstate(over="ignore"):
            scaled = ab_small.astype(np.float64) * chroma
        ab_small = np.clip(scaled, color.AB_MIN, color.AB_MAX).astype(np.float32)
    ab_full = cv2.resize(ab_small, (width, height), interpolation=cv2.INTER_CUBIC)
    ab_full = np.clip(ab_full, color.AB_MIN, color.AB_MAX)
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
    temperature: float | None = None, chroma: float = 1.0,
) -> tuple[int, int]:
    """Colorize the image at ``path`` and write it to ``out_path`` at full resolution.

    With ``compare``, the written image is the grayscale input beside the result. ``temperature``
    applies to classification models (default 0.38); ``chroma`` scales the colours' strength (see
    :func:`colorize_rgb`). Returns (height, width) of the colorized image.
    Raises :class:`colorize_core.data.ImageError` for unreadable files.
    """
    rgb = read_image(path)
    result = colorize_rgb(model, rgb, temperature=temperature, chroma=chroma)
    if compare:
        lightness = color.rgb_to_lab(rgb)[..., 0]
        gray = color.lab_to_rgb(color.merge_lab(lightness, color.gray_ab(lightness.shape + (2,))))
        write_rgb(out_path, side_by_side(gray, result))
    else:
        write_rgb(out_path, result)
    return result.shape[0], result.shape[1]
