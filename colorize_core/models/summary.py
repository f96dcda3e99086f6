"""Model size without training: parameter counts by registry name."""

from __future__ import annotations

from typing import Any

from .registry import create_model

__all__ = ["count_params", "DEFAULT_PARAMS", "default_param_count"]

#: Parameters of every registered architecture with its default options: the same at every input
#: size (all are fully convolutional). Listing models reads this table, so ``colorsweep models``
#: needs no backend; ``tests/colorize_core/test_models.py`` builds every model and fails when an entry is stale.
DEFAULT_PARAMS: dict[str, int] = {
    "basic": 46_674,
    "classic": 820_386,
    "conv_sampling": 3_892_194,
    "large_kernel": 2_745_090,
    "richard_zhang": 10_460_354,
    "richard_zhang_cls": 10_527_174,
    "split_learning": 1_406_850,
    "unet": 1_929_282,
    "unet_cls": 1_782_950,
}


def default_param_count(name: str, input_size: int) -> int:
    """Parameters of ``name`` with its default options: :data:`DEFAULT_PARAMS` when listed there
    (no model is built), else :func:`count_params` (builds it; a model registered later)."""
    if name in DEFAULT_PARAMS:
        return DEFAULT_PARAMS[name]
    return count_params(name, input_size)


def count_params(name: str, input_size: int, **options: Any) -> int:
    """Total parameters (trainable and not, e.g. BN moving statistics) of ``create_model(name, input_size, **options)``.

    Builds the model symbolically (no forward pass) and drops it. The Keras session is not cleared,
    so models the caller holds stay valid.
    """
    return int(create_model(name, input_size, **options).count_params())
