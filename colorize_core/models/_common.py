"""Building blocks shared by the architectures: the output head and option checks."""

from __future__ import annotations

import math
import numbers
from typing import Any

from colorize_core.errors import InvalidValueError
from colorize_core._lazy import keras

OUTPUT_ACTIVATIONS = ("original", "sigmoid", "linear")

#: Name of the convolution that produces the two ab channels in every registered regression model.
#: Its activation is the model's output activation; tests and tools find the output head by this name.
AB_CONV = "ab_conv"
#: Name of the 1×1 convolution that produces the Q ab-bin logits of every classification model.
AB_LOGITS = "ab_logits"


def resolve_output_activation(output_activation: Any, original: str) -> str:
    """Map the ``output_activation`` option to a Keras activation name.

    ``"original"`` is the architecture's own (``original``), ``"sigmoid"`` matches the [0, 1] ab
    target (neutral grey at 0.502), ``"linear"`` leaves the output unbounded.
    """
    if output_activation not in OUTPUT_ACTIVATIONS:
        raise InvalidValueError(f"output_activation must be one of {OUTPUT_ACTIVATIONS}, got {output_activation!r}")
    return original if output_activation == "original" else output_activation


def check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise InvalidValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def check_non_negative_float(name: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value < 0
    ):
        raise InvalidValueError(f"{name} must be a finite float >= 0, got {value!r}")
    return float(value)


def conv(
    x: Any,
    filters: int,
    kernel_size: int = 3,
    *,
    name: str,
    strides: int = 1,
    dilation_rate: int = 1,
    activation: str | None = "relu",
    **kwargs: Any,
) -> Any:
    """Conv2D with 'same' padding (the study's convention for every convolution)."""
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        dilation_rate=dilation_rate,
        padding="same",
        activation=activation,
        name=name,
        **kwargs,
    )(x)


def ab_conv(x: Any, kernel_size: int, activation: str, *, start_neutral: bool = False) -> Any:
    """The output head: a 2-filter convolution named :data:`AB_CONV`.

    It computes in float32 whatever the global dtype policy, so that a mixed-precision run still
    produces full-precision ab (a bfloat16 sigmoid would quantise ab to about one Lab unit).
    ``start_neutral`` zero-initialises the kernel and sets the bias so that the untrained model
    predicts exactly neutral grey (the grey baseline) and training moves away from it only where
    the gradient says so; the study architectures keep Keras's default initialisation.
    """
    extra: dict[str, Any] = {}
    if start_neutral:
        extra["kernel_initializer"] = "zeros"
        extra["bias_initializer"] = keras.initializers.Constant(_neutral_bias(activation))
    return conv(x, 2, kernel_size, activation=activation, name=AB_CONV, dtype="float32", **extra)


def _neutral_bias(activation: str) -> float:
    """The pre-activation value whose output is the encoded neutral grey 128/255."""
    import math

    from colorize_core.color import AB_NEUTRAL_ENCODED

    if activation == "sigmoid":
        return math.log(AB_NEUTRAL_ENCODED / (1.0 - AB_NEUTRAL_ENCODED))
    if activation in ("linear", None, "relu"):
        return AB_NEUTRAL_ENCODED
    if activation == "tanh":
        return math.atanh(AB_NEUTRAL_ENCODED)
    raise InvalidValueError(f"no neutral start for output activation {activation!r}")


def logits_conv(x: Any) -> Any:
    """The classification head: a 1×1 convolution to Q ab-bin logits named :data:`AB_LOGITS`,
    linear, in float32 whatever the global dtype policy (see :mod:`colorize_core.classification`)."""
    from colorize_core.classification import num_bins

    return conv(x, num_bins(), 1, activation=None, name=AB_LOGITS, dtype="float32")


def l_input(input_size: int) -> Any:
    """The model input: encoded L, shape ``(input_size, input_size, 1)``."""
    return keras.Input(shape=(input_size, input_size, 1), name="l_input")
