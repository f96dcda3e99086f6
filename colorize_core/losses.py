"""Training losses by name.

Losses act on the model's encoded target, ``(ab + 128) / 255`` in [0, 1] (see :mod:`colorize_core.color`).
They are what a trial *optimises*; trials are *ranked* on :mod:`colorize_core.metrics`, never on their
own loss, because an MSE and an MAE value cannot be compared.
"""

from __future__ import annotations

from typing import Callable

import keras

__all__ = ["LOSSES", "list_losses", "get_loss", "HUBER_DELTA"]

# Huber's transition point in encoded units: 10 ab units. Keras's default (1.0) would make it plain
# MSE / 2 on targets that live in [0, 1].
HUBER_DELTA = 10.0 / 255.0

LOSSES: dict[str, Callable[[], keras.losses.Loss]] = {
    "mse": lambda: keras.losses.MeanSquaredError(name="mse"),
    "mae": lambda: keras.losses.MeanAbsoluteError(name="mae"),
    "huber": lambda: keras.losses.Huber(delta=HUBER_DELTA, name="huber"),
}


def list_losses() -> list[str]:
    """Names accepted by :func:`get_loss`."""
    return sorted(LOSSES)


def get_loss(name: str) -> keras.losses.Loss:
    """A fresh Keras loss object for ``name`` (one of :func:`list_losses`)."""
    try:
        factory = LOSSES[name]
    except KeyError:
        raise ValueError(f"loss must be one of {list_losses()}, got {name!r}") from None
    return factory()
