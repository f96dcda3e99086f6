"""Training batches: the split's fixed crops shuffled (and augmented), or random crops of whole photos.

Each is a Keras ``PyDataset`` of ``(encoded L, target)`` or, with per-pixel rebalancing weights
(``TrainConfig.rebalance``), ``(encoded L, encoded ab, weights)``.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from colorize_core import color
from colorize_core.data import augment_batch

__all__ = ["shuffled_batches", "crop_batches", "pixel_weighting", "unit_weights"]


def shuffled_batches(x, y, *, batch_size, seed, augment, target=None, weights=None):
    """Shuffled mini-batches of (x, target(y)) as a Keras PyDataset, reshuffled every epoch.

    Every batch is full: an epoch is ``len(x) // batch_size`` batches of a new permutation, and the
    ``len(x) % batch_size`` images left over wait for a later epoch's draw. One batch shape means one
    compiled training step (a partial last batch would be a second program to compile, per trial).
    ``batch_size`` must be at most ``len(x)``.

    ``augment`` applies a random flip + crop to each batch (the same to x and y); ``target`` maps a
    batch of y to what the loss wants (classification: soft-encoded ab at the model's output size,
    computed per batch because for a whole split at 128 px it would take GBs). ``weights`` (regression
    only, y encoded ab) maps a batch of ab in Lab units to per-pixel loss weights ``(N, H, W)``, added
    as Keras sample weights (:func:`pixel_weighting`).
    """
    import keras

    class _Seq(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.order = self.rng.permutation(len(x))

        def __len__(self):
            return max(1, len(x) // batch_size)

        def __getitem__(self, index):
            idx = np.sort(self.order[index * batch_size:(index + 1) * batch_size])
            x_batch, y_batch = x[idx], y[idx]
            if augment:
                x_batch, y_batch = augment_batch(x_batch, y_batch, rng=self.rng)
            if weights is not None:
                return x_batch, y_batch, weights(color.decode_ab(y_batch))
            return x_batch, (target(y_batch) if target is not None else y_batch)

        def on_epoch_end(self):
            self.order = self.rng.permutation(len(x))

    return _Seq()


def crop_batches(pool, *, size, samples, batch_size, seed, lab_mode, first_epoch, target=None, weights=None,
                 min_scale=None):
    """``ceil(samples / batch_size)`` batches per epoch of random crops of ``pool``'s photos
    (:func:`colorize_core.sampling.sample_crops`, crop sides from ``min_scale`` of the short side, None:
    its default), as a Keras PyDataset of (encoded L, target).

    Every batch is full (the same shape every step: no retracing). Batch ``i`` of epoch ``e`` is
    drawn from ``default_rng([seed, e, i])``: the same samples whatever the loader's threads, and a
    resumed fit (``first_epoch``) continues the sequence it would have drawn. ``weights``: as in
    :func:`shuffled_batches`.
    """
    import keras

    from colorize_core.sampling import MIN_CROP_SCALE, sample_crops

    min_scale = MIN_CROP_SCALE if min_scale is None else min_scale

    class _Crops(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epoch = first_epoch

        def __len__(self):
            return math.ceil(samples / batch_size)

        def __getitem__(self, index):
            rng = np.random.default_rng([seed, self.epoch, index])
            lightness, ab = sample_crops(pool, batch_size, size, rng=rng, lab_mode=lab_mode, min_scale=min_scale)
            if weights is not None:
                return color.encode_l(lightness), color.encode_ab(ab), weights(ab)
            return color.encode_l(lightness), (target(ab) if target is not None else color.encode_ab(ab))

        def on_epoch_end(self):
            self.epoch += 1

    return _Crops()


def unit_weights(ab: np.ndarray) -> np.ndarray:
    """Per-pixel loss weights of 1 for a batch of ab ``(N, H, W, 2)``: ``(N, H, W)`` float32. A fit
    without rebalancing trains with these, so that its training step takes the same inputs (image,
    target, weights) as a rebalanced one and both use one compiled program (the loss is the same as
    unweighted: Keras averages weighted pixel losses over the pixels)."""
    return np.ones(ab.shape[:-1], dtype=np.float32)


def pixel_weighting(class_weights: np.ndarray, strength: float) -> Callable[[np.ndarray], np.ndarray]:
    """The per-pixel loss weights of ``TrainConfig.rebalance``: a function from a batch of ab
    ``(N, H, W, 2)`` in Lab units to ``(N, H, W)`` float32 weights ``w[nearest bin] ** strength``,
    normalised to mean 1 over the batch (so the loss keeps its scale and the learning rate its meaning)."""
    from colorize_core.classification import nearest_bin

    table = np.asarray(class_weights, dtype=np.float64) ** float(strength)

    def weigh(ab: np.ndarray) -> np.ndarray:
        pixel = table[nearest_bin(ab)]
        return (pixel / pixel.mean()).astype(np.float32)

    return weigh

