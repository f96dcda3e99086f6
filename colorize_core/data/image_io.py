"""Read one image file: decode it to float sRGB in [0, 1], upright, alpha over white (:func:`read_image`).

Decoding uses OpenCV on the file's bytes (8- and 16-bit, grayscale, EXIF orientation, alpha); a file's
header is read first so that an image over :func:`max_image_pixels` is refused before decoding. OpenCV's
BGR order never leaves this module. It imports nothing else of colorsweep, so :mod:`colorize_core.demo`
reads its photos with it while :mod:`colorize_core.data.dataset` loads the demo.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

import cv2
import numpy as np

from colorize_core.errors import InvalidValueError

__all__ = [
    "MIN_IMAGE_SIDE",
    "DEFAULT_MAX_IMAGE_PIXELS",
    "MAX_PIXELS_ENV",
    "ImageError",
    "max_image_pixels",
    "header_size",
    "read_image",
]

#: Images with a side shorter than this many pixels are rejected by :func:`read_image`.
MIN_IMAGE_SIDE = 8

#: Images with more pixels than this are skipped, checked from the file header before decoding (a
#: 20000x20000 PNG of 1 MB would take 6 GB once decoded). Raise it with COLORSWEEP_MAX_IMAGE_PIXELS
#: (a number of pixels, e.g. 100e6) or ``--max-megapixels``.
DEFAULT_MAX_IMAGE_PIXELS = 50_000_000
MAX_PIXELS_ENV = "COLORSWEEP_MAX_IMAGE_PIXELS"


def max_image_pixels() -> int:
    """The largest image (width x height, pixels) decoded: COLORSWEEP_MAX_IMAGE_PIXELS or 50 MP."""
    value = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not value:
        return DEFAULT_MAX_IMAGE_PIXELS
    try:
        pixels = int(float(value))
    except ValueError:
        raise InvalidValueError(f"{MAX_PIXELS_ENV}={value!r} is not a number of pixels (e.g. 100e6)") from None
    if pixels <= 0:
        raise InvalidValueError(f"{MAX_PIXELS_ENV} must be a positive number of pixels, got {value!r}")
    return pixels


def header_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) in pixels read from an image file's header (nothing decoded), or None when the
    header cannot be read (the decoder then says what is wrong)."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return tuple(image.size)
    except Image.DecompressionBombError:
        return (2**31 - 1, 1)  # beyond Pillow's own guard (178 MP): over any sensible limit
    except Exception:  # noqa: BLE001 - not an image Pillow knows: let OpenCV try and explain
        return None


class ImageError(InvalidValueError):
    """A file that cannot be used as an image; ``str(error)`` is a human-readable reason."""


def _may_have_alpha(head: bytes) -> bool:
    """Cheap header sniffing: False when the format cannot carry alpha here (saves a second decode)."""
    if head[:3] == b"\xff\xd8\xff":  # JPEG
        return False
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        if len(head) > 25 and head[25] in (4, 6):  # grey+alpha, RGBA
            return True
        idat = head.find(b"IDAT")
        return b"tRNS" in (head[:idat] if idat >= 0 else head)  # palette / colour-key transparency
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        chunk = head[12:16]
        if chunk == b"VP8X":
            return len(head) > 20 and bool(head[20] & 0x10)
        if chunk == b"VP8L":
            return len(head) > 24 and bool((int.from_bytes(head[21:25], "little") >> 28) & 1)
        return False  # lossy "VP8 " has no alpha
    return True  # BMP, TIFF, ...: decode once more unchanged and look


# EXIF orientation (1-8) -> (quarter turns counter-clockwise for np.rot90, mirror left-right first)
# that displays the stored pixels upright, as OpenCV and Pillow apply it.
_EXIF_TRANSFORMS = {
    1: (0, False), 2: (0, True), 3: (2, False), 4: (2, True),
    5: (1, True), 6: (3, False), 7: (3, True), 8: (1, False),
}


def _apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """``image`` turned upright for EXIF ``orientation`` (1-8): mirrored, then rotated."""
    k, mirror = _EXIF_TRANSFORMS[orientation]
    return np.rot90(image[:, ::-1] if mirror else image, k)


def _exif_orientation(block: bytes) -> int | None:
    """The Orientation tag (0x0112) of an EXIF/TIFF block, or None if absent or malformed."""
    if block.startswith(b"Exif\x00\x00"):
        block = block[6:]
    if len(block) < 8 or block[:2] not in (b"II", b"MM"):
        return None
    endian = "<" if block[:2] == b"II" else ">"
    (ifd,) = struct.unpack(endian + "I", block[4:8])
    if ifd + 2 > len(block):
        return None
    (count,) = struct.unpack(endian + "H", block[ifd : ifd + 2])
    for i in range(count):
        offset = ifd + 2 + 12 * i
        if offset + 10 > len(block):
            return None
        tag, kind = struct.unpack(endian + "HH", block[offset : offset + 4])
        if tag == 0x0112 and kind == 3:  # SHORT
            (value,) = struct.unpack(endian + "H", block[offset + 8 : offset + 10])
            return value if value in _EXIF_TRANSFORMS else None
    return None


def _decode_with_alpha(buf: np.ndarray) -> tuple[np.ndarray | None, int | None]:
    """IMREAD_UNCHANGED decode (keeps alpha, ignores EXIF orientation) and the EXIF orientation."""
    if hasattr(cv2, "imdecodeWithMetadata"):  # OpenCV >= 4.12
        try:
            full, types, blocks = cv2.imdecodeWithMetadata(buf, cv2.IMREAD_UNCHANGED)
        except cv2.error:
            return None, None
        for kind, block in zip(types, blocks):
            if kind == cv2.IMAGE_METADATA_EXIF:
                orientation = _exif_orientation(np.asarray(block, np.uint8).tobytes())
                if orientation is not None:
                    return full, orientation
        return full, None
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED), None


def _unit_scale(image: np.ndarray) -> float:
    """Divisor that maps the decoded pixel type to [0, 1]."""
    if image.dtype == np.uint8:
        return 255.0
    if image.dtype == np.uint16:
        return 65535.0
    if image.dtype in (np.float32, np.float64):
        return 1.0
    raise ImageError(f"unsupported pixel type {image.dtype} (supported: 8-bit, 16-bit, float)")


@dataclass(frozen=True)
class _Decoded:
    """A decoded image before scaling to [0, 1]: pixels, their scale, channels in the file."""

    pixels: np.ndarray  # (H, W, C) RGB order, C in {1, 3}, native dtype (float32 after alpha compositing)
    scale: float  # divide by this to get [0, 1]
    file_channels: int  # colour channels in the file: 1 for grayscale files


def _decode(path: str | os.PathLike) -> _Decoded:
    """Decode the file at ``path`` (size limit, truncation, alpha and orientation handled); ImageError if unusable."""
    path = os.fspath(path)
    try:
        buf = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise ImageError(f"cannot read file: {exc.strerror or exc}") from exc
    if buf.size == 0:
        raise ImageError("empty file (0 bytes)")
    dims, limit = header_size(path), max_image_pixels()
    if dims is not None and dims[0] * dims[1] > limit:
        shown = f"{dims[0]}x{dims[1]} px" if dims[1] > 1 else "over 178 MP"
        raise ImageError(f"too large: {shown} is more than {limit / 1e6:g} MP; skipped before decoding "
                         f"(raise the limit with --max-megapixels or {MAX_PIXELS_ENV})")
    data = buf.tobytes()
    if data[:3] == b"\xff\xd8\xff":
        # Some OpenCV/libjpeg builds (OpenCV 4.x) decode a truncated file with a warning and grey rows;
        # OpenCV 5 returns nothing. Either way, say why. Scan data never contains FF D9 (0xFF is
        # byte-stuffed), so a complete file has an end-of-image marker after its last start-of-scan.
        if data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda"):
            raise ImageError("truncated JPEG: no end-of-image marker after the last scan")
    try:
        # ANYDEPTH keeps 16 bits, ANYCOLOR keeps grayscale files single-channel, and unlike
        # IMREAD_UNCHANGED these flags let OpenCV apply the EXIF orientation. They drop alpha.
        image = cv2.imdecode(buf, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    except cv2.error as exc:
        raise ImageError(f"cannot decode: corrupt or unsupported image ({exc.err})") from exc
    if image is None or image.size == 0:
        raise ImageError("cannot decode: not an image, or corrupt / truncated")
    if image.ndim == 2:
        image = image[:, :, None]
    height, width = image.shape[:2]
    if min(height, width) < MIN_IMAGE_SIDE:
        raise ImageError(
            f"too small: {width}x{height} px, need at least {MIN_IMAGE_SIDE} px on each side"
        )
    scale = _unit_scale(image)
    channels = image.shape[2]
    if channels == 4:  # some decoders return BGRA even without IMREAD_UNCHANGED
        image, channels = image[:, :, :3], 3
    if channels not in (1, 3):
        raise ImageError(f"unsupported channel count {channels} (supported: 1, 3, 4)")
    if _may_have_alpha(data):
        full, orientation = _decode_with_alpha(buf)
        if full is not None and full.ndim == 3 and full.shape[2] == 4:
            image = _composite_over_white(full, orientation, image)
            return _Decoded(image, 1.0, 3)
    if channels == 3:
        image = image[:, :, ::-1]  # BGR -> RGB
    return _Decoded(image, scale, channels)


def _composite_over_white(full: np.ndarray, orientation: int | None, oriented: np.ndarray) -> np.ndarray:
    """Composite a BGRA decode over white and orient it upright; float32 RGB in [0, 1].

    IMREAD_UNCHANGED (needed for alpha) ignores the EXIF orientation, so it is applied here from the
    EXIF block. Without a readable EXIF orientation (or an OpenCV without ``imdecodeWithMetadata``),
    the rotation/flip is the first of identity, then the other seven, that turns the colour channels
    into ``oriented``, the decode in which OpenCV applied the orientation itself.
    """
    scale = np.float32(_unit_scale(full))
    alpha = full[:, :, 3:4].astype(np.float32) / scale
    bgr = full[:, :, :3].astype(np.float32) / scale
    rgb = (bgr * alpha + (1.0 - alpha))[:, :, ::-1]
    target_shape = oriented.shape[:2]
    if orientation is not None:
        upright = _apply_orientation(rgb, orientation)
        if upright.shape[:2] == target_shape:
            return np.ascontiguousarray(upright, dtype=np.float32)
    target = oriented if oriented.shape[2] == 3 else np.repeat(oriented, 3, axis=2)
    colour = full[:, :, :3]
    if colour.dtype == target.dtype:
        for candidate_orientation in _EXIF_TRANSFORMS:
            candidate = _apply_orientation(colour, candidate_orientation)
            if candidate.shape == target.shape and np.array_equal(candidate, target):
                return np.ascontiguousarray(_apply_orientation(rgb, candidate_orientation), np.float32)
    # No exact match (a decoder that converts differently): keep the colours as stored.
    return np.ascontiguousarray(rgb, dtype=np.float32)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file to float32 sRGB in [0, 1], shape ``(H, W, 3)``, RGB order.

    Decoding uses OpenCV (``cv2.imdecode`` on the file's bytes, so any path works). Handles 8- and
    16-bit files (scaled by 1/255 or 1/65535; float TIFFs are clipped to [0, 1]), grayscale files
    (replicated to three equal channels), the EXIF orientation tag (applied, so the array is upright),
    and alpha: **transparent pixels are composited over white** (straight alpha), never dropped to
    whatever colour hides under them.

    Raises:
        ImageError: empty file, not decodable (not an image, corrupt, truncated JPEG), unsupported pixel
            type, or smaller than :data:`MIN_IMAGE_SIDE` pixels on a side.
    """
    decoded = _decode(path)
    rgb = decoded.pixels.astype(np.float32) / np.float32(decoded.scale)
    if rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    return np.clip(rgb, 0.0, 1.0, out=rgb)
