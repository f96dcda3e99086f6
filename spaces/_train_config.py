"""What the training side accepts: ``TrainConfig``'s fields and their defaults (:func:`train_config_defaults`).

``TrainConfig`` is imported when first asked for (importing :mod:`spaces` stays light). Both
:mod:`spaces._space` (the default batch size) and :mod:`spaces._validate` (the keys a space may set)
read it here.
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["train_config_defaults"]


def _train_config_cls():
    """``colorize_core.train.TrainConfig``, imported on first use."""
    from colorize_core.train import TrainConfig

    return TrainConfig


def train_config_defaults() -> dict[str, Any]:
    """``TrainConfig``'s fields mapped to their defaults (imports ``colorize_core.train``)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(_train_config_cls()):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            out[f.name] = f.default_factory()  # type: ignore[misc]
        else:
            out[f.name] = None
    return out
