"""Image data for colorization: discover, decode, validate, crop, resize, convert to Lab, split, cache.

One module per step, each re-exported here (:func:`load_dataset` runs them all):

* :mod:`~colorize_core.data.discover`: finding image files (:func:`discover_images`, :func:`ignored_files`);
* :mod:`~colorize_core.data.image_io`: reading one file (:func:`read_image`, EXIF, alpha, size limits);
* :mod:`~colorize_core.data.samples`: one image to one square Lab sample (:func:`prepare_rgb`);
* :mod:`~colorize_core.data.split`: train / val / test by a hash of each file's path;
* :mod:`~colorize_core.data.cache`: the ``.npz`` cache named by the data fingerprint;
* :mod:`~colorize_core.data.dataset`: :class:`LabDataset`, :class:`LabSplit`, :func:`load_dataset`;
* :mod:`~colorize_core.data.augment`: random flips and crops of training batches;
* :mod:`~colorize_core.data.inspect`: what ``colorsweep data inspect`` prints.

Units: arrays hold real CIELAB units (``L`` in [0, 100], ``a``/``b`` in about [-128, 127]); the model's
normalisation lives in :mod:`colorize_core.color` (``encode_l`` / ``encode_ab``). OpenCV's BGR order never
leaves :mod:`~colorize_core.data.image_io`: :func:`read_image` returns RGB.
"""

from colorize_core.data.augment import augment_batch
from colorize_core.data.cache import CONVERSION_VERSION, default_cache_dir
from colorize_core.data.dataset import LabDataset, LabSplit, SkippedFile, load_dataset
from colorize_core.data.discover import IMAGE_EXTENSIONS, discover_images, ignored_files
from colorize_core.data.image_io import (
    DEFAULT_MAX_IMAGE_PIXELS, MAX_PIXELS_ENV, MIN_IMAGE_SIDE, ImageError, header_size, max_image_pixels, read_image,
)
from colorize_core.data.inspect import inspect_data
from colorize_core.data.samples import prepare_rgb
from colorize_core.data.split import DEFAULT_SPLIT, _assign_splits

__all__ = [
    "CONVERSION_VERSION",
    "IMAGE_EXTENSIONS",
    "MIN_IMAGE_SIDE",
    "DEFAULT_SPLIT",
    "ImageError",
    "LabSplit",
    "SkippedFile",
    "LabDataset",
    "default_cache_dir",
    "discover_images",
    "read_image",
    "prepare_rgb",
    "load_dataset",
    "augment_batch",
    "inspect_data",
]
