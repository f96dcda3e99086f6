"""Model size without training: parameter counts by registry name."""

from __future__ import annotations

from typing import Any

from .registry import create_model

__all__ = ["count_params"]


def count_params(name: str, input_size: int, **options: Any) -> int:
    """Total parameters (trainable and not, e.g. BN moving statistics) of ``create_model(name, input_size, **options)``.

    Builds the model symbolically (no forward pass) and drops it. The Keras session is not cleared,
    so models the caller holds stay valid.
    """
    return int(create_model(name, input_size, **options).count_params())
