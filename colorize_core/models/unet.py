"""A U-Net: the standard modern encoder–decoder regression baseline, with skip connections."""

from __future__ import annotations

from typing import Any

from colorize_core.errors import InvalidValueError
from colorize_core._lazy import keras

from ._common import ab_conv, check_positive_int, conv, l_input, resolve_output_activation
from .registry import register_model

__all__ = ["unet", "unet_body", "UPSAMPLING_MODES"]

UPSAMPLING_MODES = ("transpose", "bilinear")
# Moving-statistics momentum of the BN layers. Keras's 0.99 needs hundreds of steps before the
# inference statistics mean anything; a sweep trial on a few hundred photos may take only tens
# (measured: unet at 64 px on gcompris, 5 epochs x 9 steps, validation gain_vs_gray -8 with 0.99).
BN_MOMENTUM = 0.9


def _double_conv(x: Any, filters: int, name: str) -> Any:
    """(3×3 conv without bias → BN → ReLU) twice."""
    for i in (1, 2):
        x = conv(x, filters, activation=None, use_bias=False, name=f"{name}_conv{i}")
        x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn{i}")(x)
        x = keras.layers.ReLU(name=f"{name}_relu{i}")(x)
    return x


@register_model(family="modern", default_output_activation="sigmoid")
def unet(
    input_size: int,
    *,
    output_activation: str = "original",
    base_filters: int = 32,
    depth: int = 3,
    upsampling: str = "transpose",
) -> keras.Model:
    """U-Net: BN+ReLU double convolutions, ``depth`` max-pool downsamplings, concatenated skips, sigmoid output.

    Encoder level ``i`` (0-based) has ``base_filters * 2**i`` filters, the bottleneck
    ``base_filters * 2**depth``. Each decoder level upsamples ×2, either with a 2×2 stride-2
    transposed convolution (``upsampling="transpose"``) or bilinearly followed by a 1×1 convolution
    (``"bilinear"``), concatenates the matching encoder output and applies a double convolution.
    A 1×1 convolution makes the two ab channels, initialised to predict neutral grey;
    ``output_activation="original"`` is sigmoid, which matches the [0, 1] target. ``input_size`` must be divisible by ``2**depth``.
    """
    act = resolve_output_activation(output_activation, "sigmoid")
    inputs = l_input(input_size)
    x = unet_body(inputs, base_filters=base_filters, depth=depth, upsampling=upsampling)
    outputs = ab_conv(x, 1, act, start_neutral=True)
    return keras.Model(inputs, outputs, name="unet")


def unet_body(inputs: Any, *, base_filters: int, depth: int, upsampling: str, stop_level: int = 0) -> Any:
    """The U-Net from its input to the last decoder double convolution, without an output head.

    ``stop_level`` > 0 ends the decoder early, at ``1 / 2**stop_level`` of the input size (the
    classification variant ``unet_cls`` predicts at ¼ size with ``stop_level=2``); 0 decodes to the
    full size like ``unet``. Checks the options and the input size.
    """
    base_filters = check_positive_int("base_filters", base_filters)
    depth = check_positive_int("depth", depth)
    if upsampling not in UPSAMPLING_MODES:
        raise InvalidValueError(f"upsampling must be one of {UPSAMPLING_MODES}, got {upsampling!r}")
    input_size = int(inputs.shape[1])
    if input_size % 2**depth:
        raise InvalidValueError(
            f"depth={depth} needs input_size divisible by 2**depth = {2**depth}, got input_size={input_size}"
        )
    x = inputs
    skips = []
    for level in range(depth):
        x = _double_conv(x, base_filters * 2**level, f"enc{level + 1}")
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"enc{level + 1}_pool")(x)
    x = _double_conv(x, base_filters * 2**depth, "bottleneck")
    for level in reversed(range(stop_level, depth)):
        filters = base_filters * 2**level
        name = f"dec{level + 1}"
        if upsampling == "transpose":
            x = keras.layers.Conv2DTranspose(filters, 2, strides=2, padding="same", name=f"{name}_upconv")(x)
        else:
            x = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_up")(x)
            x = conv(x, filters, 1, activation=None, name=f"{name}_upconv")
        x = keras.layers.Concatenate(name=f"{name}_concat")([x, skips[level]])
        x = _double_conv(x, filters, name)
    return x
