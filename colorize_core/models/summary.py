"""Model size without training: parameter counts by registry name."""

from __future__ import annotations

from typing import Any

from .registry import create_model

__all__ = ["count_params"]


def count_params(name: str, input_size: int, **options: Any) -> int:
    """Total parameters (trainable and not, e.g. BN moving statistics) of ``create_model(name, input_size, **options)``.

    Builds the model symbolically (no forward pass) and drops it; the Keras session is left alone,
    so models the caller holds stay valid.
    """
    model = create_model(name, input_size, **options)
    try:
        return int(model.count_params())
    finally:
        del model
