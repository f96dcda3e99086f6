"""What one sample of a model costs in memory: a layer-by-layer walk of the symbolically built model."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from colorize_core.errors import InvalidValueError
from colorize_core.train import PRECISIONS
from search.memory.anchors import F32_ACTIVATION_FACTOR

__all__ = ["PRECISIONS", "ModelProfile", "model_profile"]

#: Precisions a configuration may train in (``TrainConfig.precision``); None and "float32" are the same.


_NEEDS_OUTPUT_ACTIVATIONS = {"relu", "sigmoid", "tanh", "elu", "selu", "softmax", "gelu", "swish", "silu",
                             "softplus", "relu6", "leaky_relu", "hard_sigmoid", "mish"}
_NEEDS_INPUT_LAYERS = {"Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "Conv3DTranspose", "DepthwiseConv2D",
                       "SeparableConv2D", "Dense", "EinsumDense", "BatchNormalization", "LayerNormalization",
                       "GroupNormalization", "MaxPooling2D", "MaxPooling1D", "MaxPooling3D", "Multiply"}
_NEEDS_OUTPUT_LAYERS = {"ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax", "MaxPooling2D", "MaxPooling1D",
                        "MaxPooling3D"}


@dataclass(frozen=True)
class ModelProfile:
    """What one sample costs in a model, in bytes, and its parameter count.

    ``kept``: layer outputs kept for the backward pass; ``working``: the largest ``dY + dX`` of one
    layer; ``all_outputs``: every layer output (the workspace margin's unit); ``batch``: the input and
    the target (shaped like the output: ab, or class probabilities for a classification model), float32.
    Activation bytes follow each layer's compute dtype and already include
    :data:`F32_ACTIVATION_FACTOR` for float32 ones (``all_outputs`` and ``batch`` do not).
    """

    arch: str
    size: int
    precision: str | None
    params: int
    kept: int
    working: int
    all_outputs: int
    batch: int
    layers: tuple = ()


_PROFILES: dict[tuple, ModelProfile] = {}


def _normalise_precision(precision: str | None) -> str | None:
    if precision in (None, "float32"):
        return None
    if precision not in PRECISIONS:
        raise InvalidValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    return precision


def _elements(tensor) -> int:
    return int(math.prod(int(d) for d in tensor.shape[1:]))


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _dtype_bytes(dtype: str) -> int:
    return 2 if dtype in ("float16", "bfloat16") else 8 if dtype == "float64" else 4


def model_profile(arch: str, size: int, *, precision: str | None = None,
                  model_options: Mapping[str, Any] | None = None) -> ModelProfile:
    """Build ``arch`` symbolically at ``size`` (under ``precision``'s dtype policy) and walk its layers.

    Cached per (arch, size, precision, options). Imports Keras; never runs a forward pass.
    """
    precision = _normalise_precision(precision)
    key = (arch, int(size), precision, tuple(sorted((model_options or {}).items())))
    if key in _PROFILES:
        return _PROFILES[key]
    import keras

    from colorize_core.models import create_model

    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy(precision or "float32")
    try:
        model = create_model(arch, int(size), **dict(model_options or {}))
    finally:
        keras.mixed_precision.set_global_policy(previous)

    bytes_of: dict[int, int] = {}   # tensor id -> bytes per sample as it is kept
    raw_of: dict[int, int] = {}     # tensor id -> plain bytes per sample
    kept: set[int] = set()
    working = 0
    rows = []
    for layer in model.layers:
        kind = type(layer).__name__
        outputs = _as_list(layer.output)
        dtype = str(getattr(layer, "compute_dtype", "float32"))
        for out in outputs:
            raw = _elements(out) * _dtype_bytes(dtype)
            raw_of[id(out)] = raw
            bytes_of[id(out)] = int(raw * (F32_ACTIVATION_FACTOR if _dtype_bytes(dtype) >= 4 else 1))
        if kind == "InputLayer":
            continue
        inputs = _as_list(layer.input)
        activation = getattr(getattr(layer, "activation", None), "__name__", None)
        needs_input = kind in _NEEDS_INPUT_LAYERS
        needs_output = kind in _NEEDS_OUTPUT_LAYERS or activation in _NEEDS_OUTPUT_ACTIVATIONS or (
            kind == "Activation" and activation in _NEEDS_OUTPUT_ACTIVATIONS)
        if needs_input:
            kept.update(id(t) for t in inputs)
        if needs_output:
            kept.update(id(t) for t in outputs)
        step = sum(bytes_of.get(id(t), 0) for t in inputs) + sum(bytes_of[id(t)] for t in outputs)
        working = max(working, step)
        rows.append((layer.name, kind, dtype, sum(_elements(t) for t in outputs), needs_input, needs_output))
    for out in _as_list(model.output):  # the loss needs the prediction
        kept.add(id(out))
    profile = ModelProfile(
        arch=arch, size=int(size), precision=precision, params=int(model.count_params()),
        kept=sum(bytes_of[t] for t in kept if t in bytes_of), working=working,
        all_outputs=sum(raw_of.values()), layers=tuple(rows),
        batch=4 * sum(_elements(t) for t in _as_list(model.input) + _as_list(model.output)),
    )
    del model
    _PROFILES[key] = profile
    return profile
