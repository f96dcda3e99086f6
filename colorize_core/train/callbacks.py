"""What a fit does at the end of every epoch, one class per concern, run in order by :class:`EpochEnd`.

1. :class:`ValidationEvaluator`: the epoch's record, validation metrics in real Lab units (the same for
   every trial whatever its loss), losses, learning rate, timings, peak memory;
2. :class:`BestEpoch`: whether the monitored metric improved;
3. :class:`ReduceLROnPlateau` and :class:`EarlyStopping`: the study's callbacks, on the monitored metric;
4. :class:`Checkpointer`: with a workdir, ``last.keras`` and ``state.json`` after every epoch and
   ``best.keras`` at an improving one (a hard link to that ``last.keras``); without one, the best
   epoch's weights in memory;
5. the caller's ``report(epoch, record)``, last (a workdir's checkpoint is on disk when it runs).

The counters live in the fit's :class:`~colorize_core.train.state.TrainState`, so a resumed fit carries
on where it stopped. This module imports Keras (:class:`EpochEnd` is a Keras callback); ``fit`` imports
it when it runs.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import keras
import numpy as np

from colorize_core import color, metrics
from colorize_core.data import LabSplit
from colorize_core.train.checkpoint import BEST_MODEL, LAST_MODEL, STATE_FILE, link_model_atomic, save_model_atomic
from colorize_core.optimizers import cosine_learning_rate
from colorize_core.train.config import ReportFn, TrainConfig
from colorize_core.train.peak_memory import peak_rss_mb
from colorize_core.train.state import TrainState

__all__ = [
    "ValidationEvaluator", "BestEpoch", "ReduceLROnPlateau", "EarlyStopping", "Checkpointer", "EpochEnd",
    "regularization_penalty",
]


def regularization_penalty(model) -> float:
    """The model's regularisation losses (``model.losses``) summed, in loss units; 0 without any."""
    if not model.losses:
        return 0.0
    return float(sum(float(keras.ops.convert_to_numpy(v)) for v in model.losses))


class ValidationEvaluator:
    """Computes an epoch's record on the validation split ``val``.

    The record holds :func:`colorize_core.metrics.evaluate`'s metrics (Lab units, on at most
    ``cfg.eval_max_pixels`` seeded pixels), ``train_loss``, ``val_data_loss`` (the training loss on
    validation), ``penalty`` (regularisation), ``val_loss`` (their sum), ``lr`` (per step),
    ``epoch_train_s`` and ``train_time_s`` (seconds in optimisation steps, this epoch and all so far),
    ``params`` and ``peak_memory_mb`` (host RAM since the fit began, MiB).

    A classification model's logits are decoded to ab (``cfg.decode`` at ``cfg.temperature``) and
    upsampled before the metrics; its validation loss is on soft-encoded targets, chunk by chunk.
    """

    def __init__(self, cfg: TrainConfig, val: LabSplit, *, is_classifier: bool, params: int) -> None:
        self.cfg = cfg
        self.val = val
        self.is_classifier = is_classifier
        self.params = params
        # Predicted at the training batch size: a sweep sizes a trial's GPU share for its training step,
        # which a forward pass at the same batch never exceeds. At max(batch, 64) validation needed up
        # to 1.9x the training step's memory on an H200 (BENCHMARKS.md, GPU use of a sweep).
        self.batch_size = cfg.batch_size

    def _loss_program(self, loss_fn):
        """``loss_fn`` as one compiled program (:func:`colorize_core._backend.one_program`), made once per
        loss object: the validation loss is then one program per structure, not one per op."""
        kept = getattr(self, "_kept_loss", None)
        if kept is None or kept[0] is not loss_fn:
            from colorize_core._backend import one_program

            self._kept_loss = kept = (loss_fn, one_program(lambda y_true, y_pred: loss_fn(y_true, y_pred)))
        return kept[1]

    def record(self, model, *, epoch: int, logs: dict, epoch_train_s: float, train_time_before_s: float) -> dict:
        """The record of ``epoch`` (counted from 1); ``logs`` are Keras's epoch logs (``loss``)."""
        cfg, val = self.cfg, self.val
        loss_fn = model.loss
        if self.is_classifier:  # logits → ab (decode + upsample), loss on soft targets, chunk by chunk
            from colorize_core.classification import predict_logits_ab

            ab_pred, val_data_loss = predict_logits_ab(
                model, color.encode_l(val.lightness), temperature=cfg.temperature, decode=cfg.decode,
                batch_size=self.batch_size, targets_ab=val.ab, loss_fn=loss_fn,
            )
        else:
            from colorize_core.predict import predict_in_full_batches

            encoded = predict_in_full_batches(model, color.encode_l(val.lightness), batch_size=self.batch_size)
            ab_pred = color.decode_ab(encoded)
            val_data_loss = float(keras.ops.convert_to_numpy(self._loss_program(loss_fn)(color.encode_ab(val.ab), encoded)))
        values = metrics.evaluate(val.lightness, val.ab, ab_pred, max_pixels=cfg.eval_max_pixels, seed=cfg.seed)
        penalty = regularization_penalty(model)
        lr = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
        return {
            "epoch": epoch,
            **values,
            "train_loss": float(logs.get("loss", float("nan"))),
            "val_loss": val_data_loss + penalty,
            "val_data_loss": val_data_loss,
            "penalty": penalty,
            "lr": lr,
            "epoch_train_s": epoch_train_s,
            "train_time_s": train_time_before_s + epoch_train_s,
            "params": self.params,
            "peak_memory_mb": peak_rss_mb(),
        }


class BestEpoch:
    """Tracks the best epoch on ``monitor`` (lower or higher is better, as :func:`colorize_core.metrics.metric_mode`
    says). The first epoch always counts; later, only a finite value strictly better than the best."""

    def __init__(self, monitor: str) -> None:
        self.monitor = monitor
        mode = metrics.metric_mode(monitor)
        self._better = (lambda a, b: a < b) if mode == "min" else (lambda a, b: a > b)

    def update(self, state: TrainState, record: dict) -> bool:
        """Whether ``record``'s epoch improved on ``state``'s best; if so it becomes the best."""
        current = record[self.monitor]
        improved = state.best_value is None or (math.isfinite(current) and self._better(current, state.best_value))
        if improved:
            state.best_value, state.best_epoch = current, record["epoch"]
        return improved


class ReduceLROnPlateau:
    """Multiplies the learning rate by ``factor`` after ``patience`` epochs without improvement (None:
    never), not below ``min_lr``; then waits ``patience`` epochs again."""

    def __init__(self, patience: int | None, factor: float, min_lr: float) -> None:
        self.patience, self.factor, self.min_lr = patience, factor, min_lr

    def update(self, state: TrainState, improved: bool, model, lr: float) -> None:
        """Count this epoch in ``state.lr_wait``; lower ``model``'s learning rate (now ``lr``) when due."""
        if improved:
            state.lr_wait = 0
            return
        state.lr_wait += 1
        if self.patience is not None and state.lr_wait >= self.patience:
            new_lr = max(lr * self.factor, self.min_lr)
            if new_lr < lr:
                model.optimizer.learning_rate = new_lr
            state.lr_wait = 0


class EarlyStopping:
    """Stops training after ``patience`` epochs without improvement (None: never). The best model is
    what :class:`Checkpointer` kept, restored by ``fit`` at the end."""

    def __init__(self, patience: int | None) -> None:
        self.patience = patience

    def update(self, state: TrainState, improved: bool, model) -> None:
        """Count this epoch in ``state.es_wait``; set ``state.stopped_early`` and stop ``model`` when due."""
        if improved:
            state.es_wait = 0
            return
        state.es_wait += 1
        if self.patience is not None and state.es_wait >= self.patience:
            state.stopped_early = True
            model.stop_training = True


class Checkpointer:
    """Keeps the best model and, with a ``workdir``, a resumable checkpoint after every epoch.

    With a workdir: ``best.keras`` on each improvement, ``last.keras`` (with optimizer state) and
    ``state.json`` after every epoch. Without one: the best epoch's weights in :attr:`best_weights`.
    """

    def __init__(self, workdir: Path | None, *, weights_in_memory: bool = False) -> None:
        self.workdir = workdir
        self.weights_in_memory = weights_in_memory or workdir is None
        self.best_weights: list | None = None

    def keep_best(self, model) -> None:
        """``model`` is the best so far: keep its weights in memory, without a workdir or when asked
        (``weights_in_memory``). (With a workdir, the best epoch's ``best.keras`` is written by
        :meth:`save_last`, as a second name of ``last.keras``.)"""
        if self.weights_in_memory:
            self.best_weights = model.get_weights()

    def save_last(self, model, state: TrainState, *, is_best: bool = False) -> None:
        """With a workdir, save ``last.keras``, then (``is_best``) make ``best.keras`` the same file, then
        write ``state.json``; nothing without one.

        At an epoch that improved, the model and its optimizer are the same for both files (neither
        reduce-on-plateau nor early stopping acts on an improving epoch), so ``best.keras`` is a hard
        link to the ``last.keras`` just written rather than a second serialisation (0.4 s for ``unet``
        at 32 px on 2 cores); ``last.keras`` is replaced by a new file next epoch, the link keeps this one."""
        if self.workdir is None:
            return
        save_model_atomic(model, self.workdir / LAST_MODEL)
        if is_best:
            link_model_atomic(self.workdir / LAST_MODEL, self.workdir / BEST_MODEL)
        state.save(self.workdir / STATE_FILE)


def _best_model_for(model, checkpointer: "Checkpointer"):
    """``model`` holding its best epoch's weights (the caller puts its own back), or a model loaded
    from ``best.keras``; None when neither is at hand."""
    if checkpointer.best_weights is not None:
        model.set_weights(checkpointer.best_weights)
        return model
    if checkpointer.workdir is not None and (checkpointer.workdir / BEST_MODEL).is_file():
        from colorize_core.losses import register_custom_objects

        register_custom_objects()
        return keras.saving.load_model(checkpointer.workdir / BEST_MODEL, compile=False)
    return None


class EpochEnd(keras.callbacks.Callback):
    """The Keras callback a fit trains with: times each epoch, then runs the concerns above in order
    and calls ``report(epoch, record)`` (if given) with the record, ``early_stopped`` and ``best_epoch``
    added, and ``elapsed_s`` (the fit's wall-clock seconds so far, from ``wall_start``, plus
    ``wall_before_s``) and, with a ``meter``, its compilation work so far (``compile_s``,
    ``compiled_programs``, ``cached_programs``). The record also goes into Keras's epoch ``logs``, so callbacks after it (TensorBoard) see
    the validation metrics."""

    def __init__(self, cfg: TrainConfig, state: TrainState, *, evaluator: ValidationEvaluator,
                 checkpointer: Checkpointer, report: ReportFn | None = None, on_finish=None, meter=None,
                 wall_start: float | None = None, wall_before_s: float = 0.0) -> None:
        super().__init__()
        self.meter = meter  # colorize_core.compilation.CompileMeter: the record's compile_s and programs
        self.wall_start = time.perf_counter() if wall_start is None else wall_start
        self.wall_before_s = wall_before_s
        self.epochs = cfg.epochs
        self.on_finish = on_finish
        self.state = state
        self.evaluator = evaluator
        self.best = BestEpoch(cfg.monitor)
        self.cosine = (cfg.learning_rate, cfg.min_lr) if cfg.lr_schedule == "cosine" else None
        self.schedule_start = cfg.lr_schedule_start
        self.reduce_lr = ReduceLROnPlateau(None if self.cosine else cfg.reduce_lr_patience, cfg.reduce_lr_factor,
                                           cfg.min_lr)
        self.early_stopping = EarlyStopping(cfg.early_stopping_patience)
        self.checkpointer = checkpointer
        self.report = report

    def on_epoch_begin(self, epoch, logs=None):
        if self.cosine is not None:
            self.model.optimizer.learning_rate = cosine_learning_rate(
                epoch - self.schedule_start, self.epochs - self.schedule_start, *self.cosine)
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        epoch_train_s = time.perf_counter() - self.t0
        logs = logs if logs is not None else {}
        state = self.state
        record = self.evaluator.record(self.model, epoch=epoch + 1, logs=logs, epoch_train_s=epoch_train_s,
                                       train_time_before_s=state.train_time_s)
        record["elapsed_s"] = round(self.wall_before_s + time.perf_counter() - self.wall_start, 4)
        if self.meter is not None:
            record.update(self.meter.so_far().as_record())
        logs.update(record)  # later callbacks (TensorBoard) see the validation metrics
        state.history.append(record)
        state.epoch = epoch + 1
        improved = self.best.update(state, record)
        if improved:
            self.checkpointer.keep_best(self.model)
        self.reduce_lr.update(state, improved, self.model, record["lr"])
        self.early_stopping.update(state, improved, self.model)
        record["early_stopped"] = bool(state.stopped_early)
        record["best_epoch"] = state.best_epoch
        self.checkpointer.save_last(self.model, state, is_best=improved)
        if self.on_finish is not None and (state.stopped_early or state.epoch >= self.epochs):
            self._finish(improved)
        if self.report is not None:
            self.report(epoch + 1, dict(record))

    def _finish(self, improved: bool) -> None:
        """The fit's last epoch: call ``on_finish(best_model, best_epoch)`` before its report."""
        state = self.state
        if improved or state.best_epoch == state.epoch:
            self.on_finish(self.model, state.best_epoch)
            return
        current = self.model.get_weights()
        best = _best_model_for(self.model, self.checkpointer)
        try:
            if best is not None:
                self.on_finish(best, state.best_epoch)
        finally:
            if best is self.model:
                self.model.set_weights(current)
