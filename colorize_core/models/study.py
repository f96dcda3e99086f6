"""The six architectures of the original study, built faithfully from its notebook's layer lists.

Source: ``shared/design/seed-architectures.md``. Every convolution uses 'same' padding, a 3×3
kernel and ReLU unless noted; layer order, widths, strides and dilations are the study's, and the
parameter counts at 128×128 equal its table (pinned in ``tests/colorize_core/test_models.py``).

The only change offered is the documented fix for the output activation, behind the common
``output_activation`` option: ``"original"`` (default) keeps the study's final activation (ReLU,
tanh or sigmoid), ``"sigmoid"`` matches the [0, 1] ab target, ``"linear"`` removes it. The
activation sits where the study put it: on the 2-filter output convolution (``ab_conv``), before
any final upsampling.

Sizes: the deepest of these networks downsamples by 8 and upsamples by exactly as much, so every
input size that is a multiple of 8 comes back at the same size; no resize layer is needed.
"""

from __future__ import annotations

from typing import Any

from colorize_core._lazy import keras

from ._common import ab_conv, check_non_negative_float, conv, l_input, resolve_output_activation
from .registry import register_model

__all__ = ["basic", "classic", "conv_sampling", "large_kernel", "richard_zhang", "richard_zhang_body", "split_learning"]

# The study used Keras 2's LeakyReLU default (alpha=0.3), which is also Keras 3's default.
_LEAKY_SLOPE = 0.3


def _upsample(x: Any, name: str, **kwargs: Any) -> Any:
    return keras.layers.UpSampling2D(2, name=name, **kwargs)(x)


def _bn(x: Any, name: str) -> Any:
    return keras.layers.BatchNormalization(name=name)(x)


@register_model(family="study", default_output_activation="relu")
def basic(input_size: int, *, output_activation: str = "original") -> keras.Model:
    """Six plain 3×3 ReLU convolutions at full resolution: the study's simplest reference (46.7 k params).

    conv16 → conv32 → conv64 → conv32 → conv16 → conv2 (ReLU in the original).
    """
    act = resolve_output_activation(output_activation, "relu")
    inputs = l_input(input_size)
    x = inputs
    for i, filters in enumerate((16, 32, 64, 32, 16), start=1):
        x = conv(x, filters, name=f"conv{i}")
    outputs = ab_conv(x, 3, act)
    return keras.Model(inputs, outputs, name="basic")


@register_model(family="study", default_output_activation="tanh")
def classic(input_size: int, *, output_activation: str = "original") -> keras.Model:
    """Encoder–decoder with LeakyReLU, BN, max-pooling and a fusion with the input L (820 k params).

    conv16+LReLU → conv32+LReLU+BN → maxpool2 → conv64+LReLU+BN → maxpool2 → conv128+LReLU+BN →
    conv256+LReLU+BN → upsample2 → conv128+LReLU+BN → upsample2 → conv64+LReLU → concat with the
    input L → conv64+LReLU+BN → conv32+LReLU → conv2 (tanh in the original). The convolutions
    themselves are linear; LeakyReLU (slope 0.3) follows as its own layer, then BN.
    """
    act = resolve_output_activation(output_activation, "tanh")
    inputs = l_input(input_size)

    def block(x: Any, filters: int, name: str, bn: bool) -> Any:
        x = conv(x, filters, activation=None, name=f"{name}_conv")
        x = keras.layers.LeakyReLU(negative_slope=_LEAKY_SLOPE, name=f"{name}_lrelu")(x)
        return _bn(x, f"{name}_bn") if bn else x

    x = block(inputs, 16, "enc1", bn=False)
    x = block(x, 32, "enc2", bn=True)
    x = keras.layers.MaxPooling2D(2, name="enc2_pool")(x)
    x = block(x, 64, "enc3", bn=True)
    x = keras.layers.MaxPooling2D(2, name="enc3_pool")(x)
    x = block(x, 128, "enc4", bn=True)
    x = block(x, 256, "enc5", bn=True)
    x = _upsample(x, "dec1_up")
    x = block(x, 128, "dec1", bn=True)
    x = _upsample(x, "dec2_up")
    x = block(x, 64, "dec2", bn=False)
    x = keras.layers.Concatenate(name="fusion_concat")([x, inputs])
    x = block(x, 64, "fusion", bn=True)
    x = block(x, 32, "dec3", bn=False)
    outputs = ab_conv(x, 3, act)
    return keras.Model(inputs, outputs, name="classic")


@register_model(family="study", default_output_activation="relu")
def conv_sampling(input_size: int, *, output_activation: str = "original") -> keras.Model:
    """Strided-convolution encoder, upsampling decoder, output at half size upsampled ×2 (3.89 M params).

    conv64 → conv64 s2 → conv128 → conv128 s2 → conv256 → conv256 s2 → conv512 → conv256 →
    conv128 → upsample2 → conv64 → upsample2 → conv32 → conv2 (ReLU in the original; the study
    changed its source's tanh to ReLU) → upsample2.
    """
    act = resolve_output_activation(output_activation, "relu")
    inputs = l_input(input_size)
    x = inputs
    for i, (filters, strides) in enumerate(
        ((64, 1), (64, 2), (128, 1), (128, 2), (256, 1), (256, 2)), start=1
    ):
        x = conv(x, filters, strides=strides, name=f"enc{i}_conv" + ("_s2" if strides == 2 else ""))
    for i, filters in enumerate((512, 256, 128), start=1):
        x = conv(x, filters, name=f"mid{i}_conv")
    x = _upsample(x, "dec1_up")
    x = conv(x, 64, name="dec1_conv")
    x = _upsample(x, "dec2_up")
    x = conv(x, 32, name="dec2_conv")
    x = ab_conv(x, 3, act)
    outputs = _upsample(x, "ab_up", dtype="float32")
    return keras.Model(inputs, outputs, name="conv_sampling")


@register_model(family="study", default_output_activation="relu")
def large_kernel(input_size: int, *, output_activation: str = "original", l1: float = 0.01) -> keras.Model:
    """Large kernels (11×11, 7×7, 5×5) with L1 kernel regularisers on two layers (2.75 M params).

    conv64 k11 L1 → conv128 k7 s2 → BN → conv256 k5 L1 → conv512 k3 s2 → BN → upsample2 →
    conv64+BN → upsample2 → conv64+BN → conv2 (ReLU in the original, as the notebook's layer list
    has it; the report's prose says sigmoid).

    ``l1`` is the factor of the L1 kernel regulariser on ``enc1_conv`` and ``enc3_conv``; the default
    0.01 is the study's (Keras's ``"l1"``), ``0`` removes both regularisers. The penalty is not in
    the model's output: Keras lists it in ``model.losses`` (one term per regularised layer) and adds
    it to the optimised and reported ``loss``, so report the data loss through a metric (e.g. MSE)
    and the penalty as ``loss`` minus that, or as ``sum(model.losses)``.
    """
    act = resolve_output_activation(output_activation, "relu")
    factor = check_non_negative_float("l1", l1)
    reg = (lambda: keras.regularizers.L1(factor)) if factor > 0 else (lambda: None)
    inputs = l_input(input_size)
    x = conv(inputs, 64, 11, kernel_regularizer=reg(), name="enc1_conv")
    x = conv(x, 128, 7, strides=2, name="enc2_conv_s2")
    x = _bn(x, "enc2_bn")
    x = conv(x, 256, 5, kernel_regularizer=reg(), name="enc3_conv")
    x = conv(x, 512, 3, strides=2, name="enc4_conv_s2")
    x = _bn(x, "enc4_bn")
    x = _upsample(x, "dec1_up")
    x = conv(x, 64, name="dec1_conv")
    x = _bn(x, "dec1_bn")
    x = _upsample(x, "dec2_up")
    x = conv(x, 64, name="dec2_conv")
    x = _bn(x, "dec2_bn")
    outputs = ab_conv(x, 3, act)
    return keras.Model(inputs, outputs, name="large_kernel")


@register_model(family="study", default_output_activation="sigmoid")
def richard_zhang(input_size: int, *, output_activation: str = "original") -> keras.Model:
    """The study's reduced regression variant of Zhang et al. 2016, dilated, ¼-resolution output (10.5 M params).

    block1: conv64 → conv64 s2 → BN; block2: conv128 → conv128 s2 → BN; block3: conv256 ×2 →
    conv256 s2 → BN; block4: conv256 d2 ×2 → conv512 d2 → BN; block5: conv256 d2 ×3 → BN;
    block6: conv256 ×3 → BN; block7: ConvTranspose256 k4 s2 → conv256 ×2; then conv2 k1 (sigmoid
    in the original) → bilinear upsample ×4.

    Sizes: three stride-2 convolutions ('same' padding) divide a multiple of 8 exactly by 8, the
    transposed convolution doubles it and the final upsampling multiplies by 4, so the output is
    exactly the input size for every multiple of 8 and no resize is needed. Bilinear upsampling
    is a convex combination, so a sigmoid output stays in [0, 1].
    """
    act = resolve_output_activation(output_activation, "sigmoid")
    inputs = l_input(input_size)
    x = richard_zhang_body(inputs)
    x = ab_conv(x, 1, act)
    outputs = keras.layers.UpSampling2D(4, interpolation="bilinear", name="ab_up", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="richard_zhang")


def richard_zhang_body(inputs: Any) -> Any:
    """``richard_zhang`` from its input up to ``block7_conv2`` (256 channels at ¼ of the input size):
    shared by the regression model and its classification variant ``richard_zhang_cls``."""
    # (block, [(filters, strides, dilation), ...]) each block ends with BN, except block7.
    blocks = (
        ("block1", ((64, 1, 1), (64, 2, 1))),
        ("block2", ((128, 1, 1), (128, 2, 1))),
        ("block3", ((256, 1, 1), (256, 1, 1), (256, 2, 1))),
        ("block4", ((256, 1, 2), (256, 1, 2), (512, 1, 2))),
        ("block5", ((256, 1, 2), (256, 1, 2), (256, 1, 2))),
        ("block6", ((256, 1, 1), (256, 1, 1), (256, 1, 1))),
    )
    x = inputs
    for block, layers in blocks:
        for i, (filters, strides, dilation) in enumerate(layers, start=1):
            suffix = "_s2" if strides == 2 else ("_d2" if dilation == 2 else "")
            x = conv(x, filters, strides=strides, dilation_rate=dilation, name=f"{block}_conv{i}{suffix}")
        x = _bn(x, f"{block}_bn")
    x = keras.layers.Conv2DTranspose(
        256, 4, strides=2, padding="same", activation="relu", name="block7_upconv"
    )(x)
    x = conv(x, 256, name="block7_conv1")
    return conv(x, 256, name="block7_conv2")


@register_model(family="study", default_output_activation="relu")
def split_learning(input_size: int, *, output_activation: str = "original") -> keras.Model:
    """A shared strided encoder with one upsampling head for a and one for b (1.41 M params).

    shared: conv128 → conv128 s2 → BN → conv256 → conv256 s2 → BN; heads a and b, each: conv64 →
    upsample2 → conv64 → upsample2; concat heads → conv2 k3 (ReLU in the original).
    """
    act = resolve_output_activation(output_activation, "relu")
    inputs = l_input(input_size)
    x = conv(inputs, 128, name="shared1_conv")
    x = conv(x, 128, strides=2, name="shared2_conv_s2")
    x = _bn(x, "shared2_bn")
    x = conv(x, 256, name="shared3_conv")
    x = conv(x, 256, strides=2, name="shared4_conv_s2")
    shared = _bn(x, "shared4_bn")
    heads = []
    for channel in ("a", "b"):
        h = conv(shared, 64, name=f"{channel}_conv1")
        h = _upsample(h, f"{channel}_up1")
        h = conv(h, 64, name=f"{channel}_conv2")
        heads.append(_upsample(h, f"{channel}_up2"))
    x = keras.layers.Concatenate(name="heads_concat")(heads)
    outputs = ab_conv(x, 3, act)
    return keras.Model(inputs, outputs, name="split_learning")
