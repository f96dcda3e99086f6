"""Optimizers by name, with the settings colorsweep uses for each."""

from __future__ import annotations

import math
from typing import Callable

from colorize_core.errors import InvalidValueError
from colorize_core._lazy import keras

__all__ = ["OPTIMIZERS", "LR_SCHEDULES", "list_optimizers", "get_optimizer", "cosine_learning_rate"]

#: How the learning rate moves during a fit (``TrainConfig.lr_schedule``): ``"plateau"`` (reduce on
#: plateau, the study's) or ``"cosine"`` (:func:`cosine_learning_rate`).
LR_SCHEDULES = ("plateau", "cosine")

SGD_MOMENTUM = 0.9
ADAMW_WEIGHT_DECAY = 1e-4

OPTIMIZERS: dict[str, Callable[[float], keras.optimizers.Optimizer]] = {
    "adam": lambda lr: keras.optimizers.Adam(learning_rate=lr),
    "rmsprop": lambda lr: keras.optimizers.RMSprop(learning_rate=lr),
    "sgd": lambda lr: keras.optimizers.SGD(learning_rate=lr, momentum=SGD_MOMENTUM),
    "adamw": lambda lr: keras.optimizers.AdamW(learning_rate=lr, weight_decay=ADAMW_WEIGHT_DECAY),
}


def list_optimizers() -> list[str]:
    """Names accepted by :func:`get_optimizer`."""
    return sorted(OPTIMIZERS)


def get_optimizer(name: str, *, learning_rate: float) -> keras.optimizers.Optimizer:
    """A fresh optimizer ``name`` with the given start learning rate (> 0)."""
    try:
        factory = OPTIMIZERS[name]
    except KeyError:
        raise InvalidValueError(f"optimizer must be one of {list_optimizers()}, got {name!r}") from None
    if not (isinstance(learning_rate, (int, float)) and learning_rate > 0):
        raise InvalidValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
    return factory(float(learning_rate))


def cosine_learning_rate(epoch: int, epochs: int, learning_rate: float, min_lr: float) -> float:
    """The learning rate of ``lr_schedule="cosine"`` at the start of 0-based ``epoch`` of ``epochs``:
    ``min_lr + (learning_rate - min_lr) * (1 + cos(pi * epoch / epochs)) / 2`` (``epoch`` past the end
    stays at ``min_lr``, a negative one at ``learning_rate``)."""
    progress = min(max(epoch, 0) / max(epochs, 1), 1.0)
    return min_lr + (learning_rate - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
