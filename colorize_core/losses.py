"""Training losses by name.

Regression losses (``mse``, ``mae``, ``huber``) act on the model's encoded target,
``(ab + 128) / 255`` in [0, 1] (see :mod:`colorize_core.color`). The classification loss
``cls_rebalanced`` acts on Q logits per output pixel against soft-encoded targets
(:mod:`colorize_core.classification`). A loss only fits models of its own kind
(:func:`loss_kind` against ``colorize_core.models.model_info(arch).head``).

Losses are what a trial *optimises*; trials are *ranked* on :mod:`colorize_core.metrics`, never on
their own loss, because an MSE and an MAE value cannot be compared.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from colorize_core.errors import InvalidValueError
from colorize_core._lazy import keras

__all__ = [
    "LOSSES",
    "LOSS_KINDS",
    "list_losses",
    "get_loss",
    "loss_kind",
    "HUBER_DELTA",
    "ClsRebalanced",
    "register_custom_objects",
]

# Huber's transition point in encoded units: 10 ab units. Keras's default (1.0) would make it plain
# MSE / 2 on targets that live in [0, 1].
HUBER_DELTA = 10.0 / 255.0


@functools.lru_cache(maxsize=1)
def _cls_rebalanced_class() -> type:
    """Define (once) and register with Keras the :class:`ClsRebalanced` loss class. Defined on first
    use, not at import, so that naming losses (search spaces, ``colorsweep spaces``) does not import
    the Keras backend."""

    @keras.saving.register_keras_serializable(package="colorsweep")
    class ClsRebalanced(keras.losses.Loss):
        """Zhang et al.'s class-rebalanced cross-entropy over ab bins.

        ``y_true``: soft-encoded targets ``(N, h, w, Q)``, each pixel summing to 1
        (:func:`colorize_core.classification.soft_encode`); ``y_pred``: logits ``(N, h, w, Q)``. Per pixel,
        ``−w[argmax y_true] · Σ_q y_true_q · log softmax(y_pred)_q``, averaged over pixels (Keras's
        ``sum_over_batch_size`` reduction). ``class_weights`` (``Q`` floats, expectation 1 under the smoothed
        bin distribution, :func:`colorize_core.classification.class_weights_for`) is part of the loss's
        config, so a saved model reloads with it; ``None`` means all ones (plain soft cross-entropy).
        """

        def __init__(
            self, class_weights: Sequence[float] | None = None, name: str = "cls_rebalanced", **kwargs: Any
        ):
            super().__init__(name=name, **kwargs)
            if class_weights is None:
                from colorize_core.classification import num_bins

                class_weights = np.ones(num_bins(), dtype=np.float32)
            values = np.asarray(class_weights, dtype=np.float32).reshape(-1)
            if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values <= 0):
                raise InvalidValueError(f"class_weights must be positive finite numbers, got {class_weights!r}")
            self.class_weights = values

        def call(self, y_true, y_pred):
            y_true = keras.ops.cast(y_true, "float32")
            log_probs = keras.ops.log_softmax(keras.ops.cast(y_pred, "float32"), axis=-1)
            cross_entropy = -keras.ops.sum(y_true * log_probs, axis=-1)
            pixel_weight = keras.ops.take(keras.ops.convert_to_tensor(self.class_weights), keras.ops.argmax(y_true, axis=-1))
            return cross_entropy * pixel_weight

        def get_config(self) -> dict:
            config = super().get_config()
            config["class_weights"] = [float(w) for w in self.class_weights]
            return config

    return ClsRebalanced


def ciede2000_ab(ab_true, ab_pred, *, eps: float = 1e-6):
    """CIEDE2000 (Sharma, Wu & Dalal 2005) per pixel between two colours that share their L, in
    ``keras.ops`` (differentiable, any backend): ``ab_true``, ``ab_pred`` are ``(..., 2)`` in Lab units,
    the result ``(...)`` in ΔE00 units. With equal L the lightness term vanishes and nothing else
    depends on L, so this is the metric :func:`colorize_core.metrics.evaluate` ranks trials on
    (``delta_e``), short of its round trip through 8-bit RGB: within 0.02 of scikit-image's
    ``deltaE_ciede2000`` in float32 (the ΔH' identity below loses digits for near-equal colours).

    Its gradient is bounded everywhere: ΔH' comes from the identity ΔH'² = 2(C1'C2' − a1'a2' − b1b2)
    (no angle difference, so no jump where hues wrap around), the hue angles only enter the weights
    and pass no gradient, and ``eps`` keeps the square roots finite at grey (C = 0) and at a perfect
    match."""
    ops = keras.ops
    tiny = 1e-12  # inside the chroma square roots: a grey colour's chroma is 1e-6, not 0
    a1, b1 = ab_true[..., 0], ab_true[..., 1]
    a2, b2 = ab_pred[..., 0], ab_pred[..., 1]
    pow25_7 = 25.0 ** 7
    c_bar = 0.5 * (ops.sqrt(a1 * a1 + b1 * b1 + tiny) + ops.sqrt(a2 * a2 + b2 * b2 + tiny))
    g = 0.5 * (1.0 - _sqrt_c7_ratio(c_bar, pow25_7))
    a1p, a2p = (1.0 + g) * a1, (1.0 + g) * a2
    c1p = ops.sqrt(a1p * a1p + b1 * b1 + tiny)
    c2p = ops.sqrt(a2p * a2p + b2 * b2 + tiny)
    d_cp = c2p - c1p
    cross = a1p * b2 - b1 * a2p  # C1'C2' sin(h2' - h1'): the sign of ΔH'
    d_hp_sq = 2.0 * (c1p * c2p - a1p * a2p - b1 * b2)
    d_hp = ops.where(cross >= 0, 1.0, -1.0) * ops.sqrt(ops.maximum(d_hp_sq, 0.0) + eps)
    two_pi = 2.0 * np.pi
    # The hue angles only weight the terms (S_H, R_T); no gradient flows through them, since an angle's
    # gradient grows as 1/C near grey and would swamp the optimizer's statistics.
    h1p = ops.stop_gradient(ops.arctan2(b1, a1p + tiny) % two_pi)  # radians in [0, 2π)
    h2p = ops.stop_gradient(ops.arctan2(b2, a2p + tiny) % two_pi)
    c_bar_p = 0.5 * (c1p + c2p)
    h_sum = h1p + h2p
    h_bar = ops.where(ops.abs(h1p - h2p) > np.pi,
                      ops.where(h_sum < two_pi, (h_sum + two_pi) / 2.0, (h_sum - two_pi) / 2.0), h_sum / 2.0)
    deg = np.pi / 180.0
    t = (1.0 - 0.17 * ops.cos(h_bar - 30.0 * deg) + 0.24 * ops.cos(2.0 * h_bar)
         + 0.32 * ops.cos(3.0 * h_bar + 6.0 * deg) - 0.20 * ops.cos(4.0 * h_bar - 63.0 * deg))
    d_theta = 30.0 * deg * ops.exp(-(((h_bar / deg) - 275.0) / 25.0) ** 2)
    r_t = -ops.sin(2.0 * d_theta) * 2.0 * _sqrt_c7_ratio(c_bar_p, pow25_7)
    dc = d_cp / (1.0 + 0.045 * c_bar_p)
    dh = d_hp / (1.0 + 0.015 * c_bar_p * t)
    return ops.sqrt(ops.maximum(dc * dc + dh * dh + r_t * dc * dh, 0.0) + eps)


def _sqrt_c7_ratio(c, pow25_7: float):
    """``sqrt(c**7 / (c**7 + 25**7))`` for chroma ``c > 0``, written as ``c**3.5 / sqrt(c**7 + 25**7)``
    so that its gradient stays finite at grey: there ``c**7`` underflows float32 to 0 and the plain
    form's ``sqrt`` passes an infinite gradient times 0, NaN (Keras on JAX then trained every weight to
    NaN on a batch holding a grey pixel predicted grey)."""
    return c ** 3.5 / keras.ops.sqrt(c ** 7 + pow25_7)


@functools.lru_cache(maxsize=1)
def _ciede2000_class() -> type:
    """Define (once) and register with Keras the :class:`CIEDE2000` loss (see :func:`_cls_rebalanced_class`
    for why not at import)."""

    @keras.saving.register_keras_serializable(package="colorsweep")
    class CIEDE2000(keras.losses.Loss):
        """The ranked metric as the loss: per pixel, CIEDE2000 between the true and the predicted ab
        (both decoded from the model's encoding, :mod:`colorize_core.color`) at the pixel's own L, in
        ΔE00 units (:func:`ciede2000_ab`); averaged over pixels, weighted by rebalancing weights when
        given (``sample_weight``)."""

        def __init__(self, name: str = "ciede2000", **kwargs: Any):
            super().__init__(name=name, **kwargs)

        def call(self, y_true, y_pred):
            from colorize_core.color import AB_OFFSET, AB_SCALE

            ab_true = keras.ops.cast(y_true, "float32") * AB_SCALE - AB_OFFSET
            ab_pred = keras.ops.cast(y_pred, "float32") * AB_SCALE - AB_OFFSET
            return ciede2000_ab(ab_true, ab_pred)

    return CIEDE2000


def register_custom_objects() -> None:
    """Register colorsweep's Keras objects (the ``cls_rebalanced`` loss), so that
    ``keras.saving.load_model(..., compile=True)`` can load a compiled classification model. Called
    by every colorsweep path that loads a model; importing :mod:`colorize_core.models` calls it when
    Keras is already imported."""
    _cls_rebalanced_class()
    _ciede2000_class()


def __getattr__(name: str) -> Any:  # ``from colorize_core.losses import ClsRebalanced`` (PEP 562)
    if name == "ClsRebalanced":
        return _cls_rebalanced_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


LOSSES: dict[str, Callable[..., keras.losses.Loss]] = {
    "mse": lambda: keras.losses.MeanSquaredError(name="mse"),
    "mae": lambda: keras.losses.MeanAbsoluteError(name="mae"),
    "huber": lambda: keras.losses.Huber(delta=HUBER_DELTA, name="huber"),
    "ciede2000": lambda: _ciede2000_class()(),
    "cls_rebalanced": lambda class_weights=None: _cls_rebalanced_class()(class_weights),
}

#: The kind of model each loss fits: ``"regression"`` (2 ab channels) or ``"classification"``
#: (Q bin logits); compare with ``colorize_core.models.model_info(arch).head``.
LOSS_KINDS: dict[str, str] = {
    "mse": "regression",
    "mae": "regression",
    "huber": "regression",
    "ciede2000": "regression",
    "cls_rebalanced": "classification",
}


def list_losses() -> list[str]:
    """Names accepted by :func:`get_loss`."""
    return sorted(LOSSES)


def loss_kind(name: str) -> str:
    """``"regression"`` or ``"classification"``: the kind of model loss ``name`` fits."""
    try:
        return LOSS_KINDS[name]
    except KeyError:
        raise InvalidValueError(f"loss must be one of {list_losses()}, got {name!r}") from None


def get_loss(name: str, *, class_weights: Sequence[float] | None = None) -> keras.losses.Loss:
    """A fresh Keras loss object for ``name`` (one of :func:`list_losses`).

    ``class_weights`` (``Q`` floats) are the rebalancing weights of ``cls_rebalanced`` (default: all
    ones); regression losses take none.
    """
    try:
        factory = LOSSES[name]
    except KeyError:
        raise InvalidValueError(f"loss must be one of {list_losses()}, got {name!r}") from None
    if loss_kind(name) == "classification":
        return factory(class_weights)
    if class_weights is not None:
        raise InvalidValueError(f"class_weights only apply to classification losses, not to {name!r}")
    return factory()
