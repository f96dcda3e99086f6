"""One compiled model kept between fits in one process, so that trials sharing structure share compiled steps.

A sweep worker runs one trial after another (``search.sweep.reuse_workers``). Building a model,
compiling it and tracing (TensorFlow) or jit-compiling (JAX) its training and prediction steps costs
a trial several seconds before its first batch (a trial's first epoch takes 5x its later ones at
32 px on 2 cores, BENCHMARKS.md). Two trials whose models have the same *structure* — architecture
and its options, input size, output activation, optimizer, loss (and the class weights inside it),
precision and XLA setting — can train the same Keras model object: its compiled functions stay
valid, and only values change between them.

:func:`take` hands ``fit`` the kept model when the structure matches, *reset as if new*: every model
variable (weights, also the layers' random-seed states) is assigned from a model built fresh under
the trial's seed, so it starts exactly where a new build would; every optimizer variable (step
count, moments, loss scale) is assigned the value it had before the first step; and the learning
rate is the trial's (it is a variable of the optimizer, not a constant of the compiled step). What a
reused model trains to is therefore what a fresh build trains to with the same seed
(``tests/colorize_core/test_model_reuse.py`` checks metrics and weights). Batch size, learning rate,
epochs, augmentation, sampling, rebalancing and the callbacks' settings may differ: a different batch
shape or sample-weight structure makes the backend trace again, automatically and correctly.

At most one model is kept (:data:`_KEPT`), with its optimizer's initial values; a fit whose
structure differs drops it and clears the Keras session first. ``COLORSWEEP_REUSE_MODELS=off``
switches keeping off (every fit builds its own model, as before).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from typing import Any

import numpy as np

from colorize_core.train.config import TrainConfig

__all__ = ["REUSE_MODELS_ENV", "structure_key", "take", "prepare", "keep", "drop", "reuse_enabled"]

REUSE_MODELS_ENV = "COLORSWEEP_REUSE_MODELS"


@dataclasses.dataclass
class _Kept:
    key: tuple
    model: Any
    optimizer_start: list[np.ndarray]  # every optimizer variable's value before the first step


_KEPT: _Kept | None = None


def reuse_enabled() -> bool:
    """Whether fits may keep their model for the next one (``COLORSWEEP_REUSE_MODELS`` is not ``off``)."""
    return os.environ.get(REUSE_MODELS_ENV, "on").strip().lower() not in ("off", "0", "false", "no")


def structure_key(cfg: TrainConfig, size: int, class_weights=None) -> tuple:
    """What must be equal for two fits to train the same compiled model: the backend, architecture and
    its options, input ``size`` (pixels), output activation, optimizer, loss, the loss's class weights
    (their bytes' digest; None for regression), precision and the resolved XLA setting."""
    import keras

    from colorize_core.train.compile import resolve_jit

    weights = None
    if class_weights is not None:
        array = np.ascontiguousarray(np.asarray(class_weights, dtype=np.float64))
        weights = hashlib.sha256(array.tobytes()).hexdigest()
    options = tuple(sorted((str(k), repr(v)) for k, v in dict(cfg.model_options).items()))
    return (keras.backend.backend(), cfg.arch, int(size), options, cfg.output_activation, cfg.optimizer,
            cfg.loss, weights, cfg.precision or "float32", repr(resolve_jit(cfg.jit_compile)))


def take(cfg: TrainConfig, size: int, class_weights=None):
    """The kept model, reset to the state a fresh build of ``cfg`` at ``size`` would have (weights from
    ``cfg.seed``, optimizer before its first step, learning rate ``cfg.learning_rate``), or None when
    none is kept or its structure differs (it is then dropped, and the Keras session cleared).

    Call it after ``keras.utils.set_random_seed(cfg.seed)``: the fresh weights are drawn from there, as
    :func:`~colorize_core.train.compile.build_model` would draw them. The model is no longer kept
    while the caller trains it; :func:`keep` gives it back."""
    global _KEPT
    if _KEPT is None:
        return None
    if _KEPT.key != structure_key(cfg, size, class_weights):
        drop()
        return None
    kept, _KEPT = _KEPT, None
    _reset(kept, cfg, size)
    return kept.model


def keep(model, cfg: TrainConfig, size: int, class_weights=None) -> None:
    """Keep ``model`` (compiled for ``cfg`` at ``size``, prepared by :func:`prepare`) for the next fit."""
    global _KEPT
    _KEPT = _Kept(structure_key(cfg, size, class_weights), model, model._colorsweep_optimizer_start)


def drop() -> None:
    """Forget the kept model and clear the Keras session (its graphs and compiled functions go with it)."""
    global _KEPT
    if _KEPT is None:
        return
    _KEPT = None
    import gc

    import keras

    keras.backend.clear_session()
    gc.collect()


def prepare(model) -> None:
    """Make a newly built ``model`` keepable: build its optimizer for its trainable variables (as its
    first step would) and record each optimizer variable's value then, what :func:`take` resets them to."""
    from colorize_core.train.compile import build_training_state

    build_training_state(model)
    optimizer = model.optimizer
    model._colorsweep_optimizer_start = [np.array(variable) for variable in optimizer.variables]


def _reset(kept: _Kept, cfg: TrainConfig, size: int) -> None:
    """Give ``kept.model`` a fresh build's variables under the current seed, its optimizer's start
    values, and ``cfg.learning_rate``."""
    from colorize_core.models import create_model

    model = kept.model
    fresh = create_model(cfg.arch, size, output_activation=cfg.output_activation, **dict(cfg.model_options))
    targets, sources = model.variables, fresh.variables
    if len(targets) != len(sources) or any(tuple(t.shape) != tuple(s.shape) for t, s in zip(targets, sources)):
        raise RuntimeError(f"a fresh {cfg.arch!r} model does not match the kept one variable for variable; "
                           f"set {REUSE_MODELS_ENV}=off and report this")
    for target, source in zip(targets, sources):
        target.assign(source.value)
    del fresh
    optimizer = model.optimizer
    for variable, value in zip(optimizer.variables, kept.optimizer_start):
        variable.assign(value)
    optimizer.learning_rate = float(cfg.learning_rate)
    model.stop_training = False
