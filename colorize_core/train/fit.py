"""Train one configuration (:func:`fit`) and report its validation metrics every epoch.

``fit(config, data, report)`` is what one sweep trial runs, and what ``colorsweep train`` runs
without Ray. It knows nothing of Ray: the caller passes a plain ``report(epoch, metrics)`` callable.

Per epoch it computes :mod:`colorize_core.metrics` on the validation split, applies the study's
callbacks (early stopping with best weights restored, reduce-LR-on-plateau, both on the monitored
metric; see :mod:`colorize_core.train.callbacks`), and, when given a ``workdir``, keeps checkpoints
there (:mod:`colorize_core.train.checkpoint`). A ``workdir`` holding a checkpoint is resumed from its
last epoch, not restarted; a model held in memory continues from a
:class:`~colorize_core.train.state.TrainState` given as ``initial_state``.

Classification models (``model_info(arch).head == "classification"``, Zhang et al. 2016, see
:mod:`colorize_core.classification`) train on soft-encoded targets computed batch by batch, with the
``cls_rebalanced`` loss weighted from the training split.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import os
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from colorize_core.errors import InvalidValueError
from colorize_core import color
from colorize_core.data import LabDataset
from colorize_core.train.batches import crop_batches, pixel_weighting, shuffled_batches, unit_weights
from colorize_core.train.checkpoint import BEST_MODEL, LAST_MODEL, STATE_FILE, has_checkpoint, save_model_atomic
from colorize_core.train.compile import build_model, build_training_state
from colorize_core.train.config import FitResult, ReportFn, TrainConfig
from colorize_core.train.peak_memory import reset_peak_rss
from colorize_core.train.state import TrainState

__all__ = ["fit"]


def _isolated(fit_fn):
    """Run ``fit`` so that it leaves the process as it found it, for the next fit in the same process
    (a reused sweep worker): under its configuration's dtype policy (``precision``), restoring the
    previous one, and with TensorFlow's global gradient entries of its graphs released."""

    @functools.wraps(fit_fn)
    def wrapper(config, *args, **kwargs):
        import keras

        from colorize_core._backend import released_tensorflow_gradients

        cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
        previous = keras.mixed_precision.global_policy().name
        keras.mixed_precision.set_global_policy(cfg.precision or "float32")
        try:
            with released_tensorflow_gradients():  # else each fit leaks its graph (TensorFlow only)
                return fit_fn(cfg, *args, **kwargs)
        finally:
            keras.mixed_precision.set_global_policy(previous)

    return wrapper


def _check_data(cfg: TrainConfig, data: LabDataset) -> None:
    """Raise ValueError, saying what to do, when ``data`` cannot train ``cfg``."""
    if len(data.train) == 0 or len(data.val) == 0:
        raise InvalidValueError(
            f"the data set needs non-empty train and val splits, got {len(data.train)} train and "
            f"{len(data.val)} val images: add images or check `colorsweep data inspect`"
        )
    if cfg.samples_per_epoch is not None and data.pool is None:
        raise InvalidValueError(
            "samples_per_epoch draws random crops from the training photos kept whole, but this data set "
            "has no photo pool: load it with load_dataset(..., pool_side='auto') (the default), or set "
            "samples_per_epoch to None"
        )
    if cfg.samples_per_epoch is None and cfg.batch_size > len(data.train):
        raise InvalidValueError(
            f"batch_size must be at most the training split size ({len(data.train)}), got {cfg.batch_size}"
        )


def _class_weights(cfg: TrainConfig, data: LabDataset):
    """The rebalancing weights of ``data``'s training photos: of the pool when epochs draw random crops."""
    from colorize_core.classification import class_weights_for

    source = "pool" if cfg.samples_per_epoch is not None else "train"
    return class_weights_for(data, source=source)


def _start_from_model(model, state: TrainState, workdir: Path | None, checkpointer) -> None:
    """Make ``model`` (at ``state.epoch``) the fit's starting checkpoint: with a workdir, save
    ``last.keras``, ``state.json`` and, when ``state.best_epoch`` is ``state.epoch``, ``best.keras``
    (so the folder is resumable before the first epoch ends); without one, keep its weights as the
    best so far in that case."""
    is_best = state.best_epoch == state.epoch
    if workdir is None:
        if is_best:
            checkpointer.best_weights = model.get_weights()
        return
    save_model_atomic(model, workdir / LAST_MODEL)
    if is_best:
        save_model_atomic(model, workdir / BEST_MODEL)
    state.save(workdir / STATE_FILE)


def _train_epochs(model, cfg: TrainConfig, data: LabDataset, state: TrainState, callbacks: list, *,
                  is_classifier: bool, x_train, y_train, verbose: int) -> None:
    """Train ``model`` from epoch ``state.epoch`` to ``cfg.epochs`` on batches as ``cfg`` says: random crops of
    the photo pool (``samples_per_epoch``) or the shuffled fixed crops (augmented, soft-encoded or
    weighted as ``cfg`` says). Every batch is full: one batch shape, one compiled training step."""
    target = weights = None
    if not is_classifier:  # always weighted (by 1 without rebalancing): one training program for both
        weights = pixel_weighting(_class_weights(cfg, data), cfg.rebalance) if cfg.rebalance > 0 else unit_weights
    if is_classifier:
        from colorize_core.classification import soft_encode

        factor = data.size // int(model.output_shape[1])
        target = functools.partial(soft_encode, factor=factor)
    if cfg.samples_per_epoch is not None:
        batches = crop_batches(data.pool, size=data.size, samples=cfg.samples_per_epoch,
                               batch_size=cfg.batch_size, seed=cfg.seed, lab_mode=data.lab_mode,
                               first_epoch=state.epoch, target=target, weights=weights,
                               min_scale=cfg.min_crop_scale)
        model.fit(batches, epochs=cfg.epochs, initial_epoch=state.epoch, verbose=verbose, callbacks=callbacks)
    else:  # full batches only (shuffled_batches): one training program per structure
        batches = shuffled_batches(x_train, y_train, batch_size=cfg.batch_size, seed=cfg.seed,
                                   augment=cfg.augment, target=target, weights=weights)
        model.fit(batches, epochs=cfg.epochs, initial_epoch=state.epoch, verbose=verbose, callbacks=callbacks)


@_isolated
def fit(
    config: TrainConfig | Mapping[str, Any],
    data: LabDataset,
    report: ReportFn | None = None,
    *,
    workdir: str | os.PathLike | None = None,
    keep_model: bool = False,
    verbose: int = 0,
    tensorboard: bool = True,
    model=None,
    initial_state: TrainState | None = None,
    reuse_model: bool = False,
    on_finish: Callable[[Any, int], None] | None = None,
) -> FitResult:
    """Train one configuration on ``data`` and return its history and best validation metrics.

    ``report(epoch, metrics)`` is called after every epoch (epoch counted from 1) with the validation
    metrics of :mod:`colorize_core.metrics` under their bare names (``delta_e``, ``ab_mse``...), plus
    ``train_loss``, ``val_loss`` (the training loss on validation, penalty included), ``penalty``
    (regularisation), ``val_data_loss``, ``lr``, ``epoch_train_s`` and ``train_time_s`` (cumulative
    seconds spent in optimisation steps, evaluation excluded), ``elapsed_s`` (wall-clock seconds of the
    fit so far: building, compiling, training, evaluating, checkpointing) and its compilation work so
    far (:mod:`colorize_core.compilation`): ``compile_s``, ``compiled_programs``, ``cached_programs``;
    these four count on from the last epoch of a resumed or continued fit. If ``report`` raises, training stops
    and the exception propagates (that is how a scheduler stops a trial).

    With ``workdir``, checkpoints are kept there and an existing ``state.json`` is resumed (and, with
    ``tensorboard``, per-epoch scalars are written to ``workdir/tensorboard``; a sweep turns that off:
    its report writes one TensorBoard run per trial). With
    ``keep_model``, the trained model (best weights restored) is returned in ``FitResult.model``;
    otherwise the Keras session is cleared so many fits can run in one process.

    ``model``: a compiled Keras model to train instead of a new one of ``config.arch`` (e.g. one
    loaded with its optimizer state); ``initial_state``: where it stands (a
    :class:`~colorize_core.train.state.TrainState`: epochs trained, history, best value, plateau
    counters), so epochs continue from ``initial_state.epoch + 1`` up to ``config.epochs``. Without
    ``initial_state`` the model starts at epoch 0. When ``initial_state.best_epoch`` is its ``epoch``,
    the given model is the best so far: a later epoch must beat ``initial_state.best_value`` to replace
    it. The state is copied, with ``config`` as its configuration; a ``workdir`` must not already hold a
    checkpoint, and gets the starting one before the first epoch.

    ``reuse_model``: train the model the previous fit of this process left (its compiled steps
    included) when its structure matches, reset to what a new build with ``config.seed`` would be, and
    leave this one for the next fit (:mod:`colorize_core.train.reuse`; what a sweep worker does between
    its trials). Results are those of a fresh build. Ignored with ``model=``, ``keep_model`` or a
    workdir to resume; off when ``COLORSWEEP_REUSE_MODELS=off``.

    ``on_finish(model, best_epoch)``: called once, at the epoch that ends the fit (its last, or the
    one early stopping stops at), before that epoch's ``report``, with the model holding the best
    epoch's weights (what a sweep trial leaves for its report: :mod:`search.trial_outputs`). Not
    called when training is stopped from outside (``report`` raising).
    """
    import keras

    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    _check_data(cfg, data)
    if initial_state is not None and model is None:
        raise InvalidValueError("initial_state describes a model that has trained: pass that model as model= too")
    if model is not None and getattr(model, "optimizer", None) is None:
        raise InvalidValueError("model must be compiled (colorize_core.train.compile_model compiles it for a configuration)")
    workdir_path = Path(workdir) if workdir is not None else None
    if workdir_path is not None:
        workdir_path.mkdir(parents=True, exist_ok=True)
        if model is not None and has_checkpoint(workdir_path):
            raise InvalidValueError(
                f"{workdir_path} holds a checkpoint to resume: use an empty workdir with model=, or resume "
                "the checkpoint without model= and initial_state="
            )

    from colorize_core.train import reuse

    resuming = model is None and workdir_path is not None and has_checkpoint(workdir_path)
    reuse_model = reuse_model and model is None and not keep_model and not resuming and reuse.reuse_enabled()
    from colorize_core.compilation import CompileMeter, CompileStats

    if not reuse_model:
        reuse.drop()  # one model alive at a time: a kept one is not this fit's
    keras.utils.set_random_seed(cfg.seed)  # imports TensorFlow where installed, also under JAX (once per process)
    meter = CompileMeter()  # before anything is built or traced: this fit's compilation work
    wall_start = time.perf_counter()  # elapsed_s: from here (the process's imports are not the fit's)
    reset_peak_rss()
    from colorize_core.models import model_info

    is_classifier = model_info(cfg.arch).head == "classification"
    x_train = color.encode_l(data.train.lightness)
    # classification targets are soft-encoded per batch (shuffled_batches), from ab in Lab units
    y_train = data.train.ab if is_classifier else color.encode_ab(data.train.ab)

    from colorize_core.train.callbacks import Checkpointer, EpochEnd, ValidationEvaluator

    checkpointer = Checkpointer(workdir_path, weights_in_memory=on_finish is not None)
    if model is not None:
        state = TrainState.start(cfg) if initial_state is None else dataclasses.replace(
            initial_state, history=[dict(record) for record in initial_state.history], config=cfg.to_dict())
        _start_from_model(model, state, workdir_path, checkpointer)
    elif resuming:
        state = TrainState.load(workdir_path / STATE_FILE)
        if not state.same_configuration(cfg):
            raise InvalidValueError(
                f"{workdir_path} holds checkpoints of a different configuration; use an empty workdir"
            )
        state.config = cfg.to_dict()  # more epochs than before may be asked for
        from colorize_core.losses import register_custom_objects

        register_custom_objects()
        model = keras.saving.load_model(workdir_path / LAST_MODEL, compile=True)
    else:
        state = TrainState.start(cfg)
        loss_weights = _class_weights(cfg, data) if is_classifier else None
        model = reuse.take(cfg, data.size, loss_weights) if reuse_model else None
        if model is None:
            model = build_model(cfg, data.size, loss_weights)
            if reuse_model:
                reuse.prepare(model)
    build_training_state(model)  # else Keras reads a batch to build it: the same batches, new or reused
    last = state.history[-1] if state.history else None  # a resumed or continued trial counts on
    meter.before = CompileStats.from_record(last)
    wall_before_s = float((last or {}).get("elapsed_s") or 0.0)
    params = int(model.count_params())

    evaluator = ValidationEvaluator(cfg, data.val, is_classifier=is_classifier, params=params)
    epoch_end = EpochEnd(cfg, state, evaluator=evaluator, checkpointer=checkpointer, report=report,
                         on_finish=on_finish, meter=meter, wall_start=wall_start, wall_before_s=wall_before_s)
    callbacks = [epoch_end]
    if workdir_path is not None and tensorboard:
        from colorize_core._backend import epoch_logger

        tb = epoch_logger(workdir_path / "tensorboard")
        if tb is not None:
            callbacks.append(tb)

    if state.epoch < cfg.epochs and not state.stopped_early:
        try:
            _train_epochs(model, cfg, data, state, callbacks, is_classifier=is_classifier, x_train=x_train,
                          y_train=y_train, verbose=verbose)
        except BaseException:  # a scheduler stopping the trial raises here: the next trial may still reuse it
            if reuse_model:
                reuse.keep(model, cfg, data.size, loss_weights)
            raise

    history = state.history
    best_epoch = state.best_epoch
    best_metrics = dict(history[best_epoch - 1]) if best_epoch else {}
    result = FitResult(
        config=cfg,
        history=history,
        best_epoch=best_epoch,
        best_metrics=best_metrics,
        stopped_early=bool(state.stopped_early),
        epochs_trained=state.epoch,
        params=params,
        train_time_s=state.train_time_s,
        workdir=str(workdir_path) if workdir_path is not None else None,
    )
    if keep_model:
        if workdir_path is not None and (workdir_path / BEST_MODEL).exists():
            model = keras.saving.load_model(workdir_path / BEST_MODEL, compile=True)
        elif checkpointer.best_weights is not None:
            model.set_weights(checkpointer.best_weights)
        result.model = model
    elif reuse_model:
        del epoch_end, callbacks
        reuse.keep(model, cfg, data.size, loss_weights)
    else:
        del model, epoch_end
        keras.backend.clear_session()
        gc.collect()
    return result
