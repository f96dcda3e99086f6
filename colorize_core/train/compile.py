"""Build a configuration's Keras model and compile it: optimizer, loss and XLA setting by name.

Nothing here trains; :func:`colorize_core.train.fit` builds its model with :func:`build_model`, and a
caller that brings its own model (fine-tuning at another size) compiles it with :func:`compile_model`.
"""

from __future__ import annotations

from colorize_core.train.config import TrainConfig

__all__ = ["build_model", "compile_model", "resolve_jit", "build_training_state"]


def build_model(cfg: TrainConfig, size: int, class_weights=None):
    """A new model of ``cfg.arch`` for ``size`` × ``size`` pixel inputs, compiled by :func:`compile_model`.

    ``class_weights``: the ``(Q,)`` rebalancing weights of a classification model's loss
    (:func:`colorize_core.classification.class_weights_for`); None for regression models."""
    from colorize_core.models import create_model

    model = create_model(cfg.arch, size, output_activation=cfg.output_activation, **dict(cfg.model_options))
    compile_model(model, cfg, class_weights)
    return model


def compile_model(model, cfg: TrainConfig, class_weights=None) -> None:
    """Compile ``model`` with a fresh optimizer of ``cfg`` (at ``cfg.learning_rate``, per step), the loss
    ``cfg.loss`` (weighted by ``class_weights`` for ``cls_rebalanced``) and XLA as :func:`resolve_jit` says."""
    from colorize_core.losses import get_loss
    from colorize_core.optimizers import get_optimizer

    model.compile(
        optimizer=get_optimizer(cfg.optimizer, learning_rate=cfg.learning_rate),
        loss=get_loss(cfg.loss, class_weights=class_weights),
        jit_compile=resolve_jit(cfg.jit_compile),
    )


def resolve_jit(jit_compile: bool | str) -> bool | str:
    """Keras's ``jit_compile`` for ``TrainConfig.jit_compile``: ``"auto"`` turns XLA off for TensorFlow
    on CPU, where compiling these models costs 10-40 s per trial (measured at 32 px on 2 cores) and the
    compiled steps are not faster; otherwise ``"auto"`` is left to Keras and a bool is passed through."""
    if jit_compile != "auto":
        return bool(jit_compile)
    import keras

    if keras.backend.backend() == "tensorflow":
        from colorize_core._backend import tensorflow_has_gpu

        return "auto" if tensorflow_has_gpu() else False
    return "auto"


def build_training_state(model) -> None:
    """Create what Keras would otherwise create from the first batch of a ``model.fit``: the optimizer's
    variables and the compiled loss (built on a zero batch of the model's output shape).

    Without this, Keras's ``fit`` reads one batch of the training data to build them before its first
    epoch (``Trainer._symbolic_build``), which under JAX advances the data's epoch counter or shuffle:
    a new model would then train on other batches than a reused or resumed one with the same seed.
    Does nothing that is already built; changes no weights."""
    import numpy as np

    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    loss = getattr(model, "_compile_loss", None)  # Keras's own attribute; absent: fit builds it as before
    if loss is not None and not loss.built:
        zeros = np.zeros((1,) + tuple(model.output_shape[1:]), dtype="float32")
        model.compute_loss(x=None, y=zeros, y_pred=zeros)
