"""Classification variants (Zhang et al. 2016): the same bodies, a head of Q ab-bin logits.

Each model here ends in a linear 1×1 convolution to Q = :func:`colorize_core.classification.num_bins`
logits per output pixel (layer :data:`AB_LOGITS`), at ¼ of the input size by default as in the
paper: the output is *not* upsampled inside the model. Train with the ``cls_rebalanced`` loss on
soft-encoded targets; decode with :func:`colorize_core.classification.decode_logits` (annealed
mean) and :func:`colorize_core.classification.upsample_ab` (``colorize_core.train.fit`` and
``predict_ab`` do both). Registered with ``family="classification"``, ``head="classification"``.

``output_activation`` is accepted (every caller passes it) and checked, but has no effect: the head
outputs logits; the softmax belongs to the loss and the decoder.
"""

from __future__ import annotations

from colorize_core.errors import InvalidValueError
from colorize_core._lazy import keras

from ._common import l_input, logits_conv, resolve_output_activation
from .registry import register_model
from .study import richard_zhang_body
from .unet import unet_body

__all__ = ["richard_zhang_cls", "unet_cls", "OUTPUT_STRIDES"]

#: Output strides ``unet_cls`` offers (input size / output size).
OUTPUT_STRIDES = (1, 2, 4)


@register_model(family="classification", default_output_activation="linear", head="classification")
def richard_zhang_cls(input_size: int, *, output_activation: str = "original") -> keras.Model:
    """``richard_zhang`` with its proper output: Q ab-bin logits at ¼ resolution (Zhang et al. 2016).

    The ``richard_zhang`` body (blocks 1–7, ending at ¼ of the input size with 256 channels), then a
    1×1 convolution to Q logits; no upsampling (the decoder upsamples the decoded ab).
    """
    resolve_output_activation(output_activation, "linear")
    inputs = l_input(input_size)
    outputs = logits_conv(richard_zhang_body(inputs))
    return keras.Model(inputs, outputs, name="richard_zhang_cls")


@register_model(family="classification", default_output_activation="linear", head="classification")
def unet_cls(
    input_size: int,
    *,
    output_activation: str = "original",
    base_filters: int = 32,
    depth: int = 3,
    upsampling: str = "transpose",
    output_stride: int = 4,
) -> keras.Model:
    """``unet`` with a classification head: Q ab-bin logits at 1/``output_stride`` resolution (default ¼).

    The ``unet`` encoder and bottleneck; the decoder stops at 1/``output_stride`` of the input size
    (``output_stride`` in 1, 2, 4 and at most ``2**depth``), then a 1×1 convolution to Q logits.
    """
    resolve_output_activation(output_activation, "linear")
    if output_stride not in OUTPUT_STRIDES or isinstance(output_stride, bool):
        raise InvalidValueError(f"output_stride must be one of {OUTPUT_STRIDES}, got {output_stride!r}")
    if isinstance(depth, int) and not isinstance(depth, bool) and depth > 0 and output_stride > 2**depth:
        raise InvalidValueError(f"output_stride={output_stride} must be at most 2**depth = {2**depth}")
    inputs = l_input(input_size)
    stop_level = {1: 0, 2: 1, 4: 2}[output_stride]
    x = unet_body(inputs, base_filters=base_filters, depth=depth, upsampling=upsampling, stop_level=stop_level)
    outputs = logits_conv(x)
    return keras.Model(inputs, outputs, name="unet_cls")
