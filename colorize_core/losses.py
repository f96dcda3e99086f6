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


def register_custom_objects() -> None:
    """Register colorsweep's Keras objects (the ``cls_rebalanced`` loss), so that
    ``keras.saving.load_model(..., compile=True)`` can load a compiled classification model. Called
    by every colorsweep path that loads a model; importing :mod:`colorize_core.models` calls it when
    Keras is already imported."""
    _cls_rebalanced_class()


def __getattr__(name: str) -> Any:  # ``from colorize_core.losses import ClsRebalanced`` (PEP 562)
    if name == "ClsRebalanced":
        return _cls_rebalanced_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


LOSSES: dict[str, Callable[..., keras.losses.Loss]] = {
    "mse": lambda: keras.losses.MeanSquaredError(name="mse"),
    "mae": lambda: keras.losses.MeanAbsoluteError(name="mae"),
    "huber": lambda: keras.losses.Huber(delta=HUBER_DELTA, name="huber"),
    "cls_rebalanced": lambda class_weights=None: _cls_rebalanced_class()(class_weights),
}

#: The kind of model each loss fits: ``"regression"`` (2 ab channels) or ``"classification"``
#: (Q bin logits); compare with ``colorize_core.models.model_info(arch).head``.
LOSS_KINDS: dict[str, str] = {
    "mse": "regression",
    "mae": "regression",
    "huber": "regression",
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
