"""``colorsweep finetune``: train a trial or an exported model more epochs into a new model folder.

:func:`finetune` continues training with :func:`colorize_core.train.fit` given the model (with its
optimizer state from ``last.keras``) and a :class:`colorize_core.train.TrainState` (epoch,
history), so epochs continue from the checkpoint's. Without optimizer state (an exported folder)
the model is compiled with a fresh optimizer of the same configuration.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Sequence

from colorize_core.errors import InvalidValueError, MissingFileError
from colorize_core.train import BEST_MODEL, LAST_MODEL, STATE_FILE
from search.best.card import CARD_FORMAT, _now, _preprocessing, _versions, _write_card
from search.best.folder import CARD_JSON, CHECKPOINTS_DIR, MODEL_FILE, _check_out, _copy_atomic, _prepare_out
from search.best.load import _load_keras, _resolve, unregistered_objects
from search.best.select import _check_positive_int
from search.records import data_source

__all__ = ["finetune"]

_BEST, _LAST, _STATE = BEST_MODEL, LAST_MODEL, STATE_FILE


def _evaluate(model, split, cfg) -> dict:
    from colorize_core import metrics
    from colorize_core.train import predict_ab

    pred = predict_ab(model, split.lightness, batch_size=max(cfg.batch_size, 64),
                      temperature=cfg.temperature, decode=cfg.decode)
    return metrics.evaluate(split.lightness, split.ab, pred, max_pixels=cfg.eval_max_pixels, seed=cfg.seed)


def _colour_strength(model, val, cfg) -> dict:
    """The fine-tuned model's colour strength, fitted again on ``val`` (:mod:`search.best.strength`)."""
    from colorize_core import classification
    from colorize_core.predict import predict_ab
    from search.best.strength import fit_colour_strength

    if classification.is_classification_model(model):
        return {"chroma": 1.0, "note": "a classification model: its colour strength is its decoding temperature"}
    if len(val) == 0:
        return {"chroma": 1.0, "note": "not fitted: no validation photos"}
    ab_pred = predict_ab(model, val.lightness, temperature=cfg.temperature, decode=cfg.decode)
    return fit_colour_strength(val.lightness, val.ab, ab_pred, max_pixels=cfg.eval_max_pixels, seed=cfg.seed)


def _compile_fresh(model, cfg, dataset) -> None:
    """Compile ``model`` with a fresh optimizer and the loss of ``cfg`` (optimizer variables built)."""
    from colorize_core.train import compile_model

    class_weights = None
    if cfg.loss == "cls_rebalanced":
        from colorize_core.classification import class_weights_for

        class_weights = class_weights_for(dataset)
    compile_model(model, cfg, class_weights)
    model.optimizer.build(model.trainable_variables)


def finetune(
    model_or_run_dir: str | os.PathLike,
    *,
    epochs: int,
    data: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    size: int | None = None,
    out: str | os.PathLike,
    learning_rate: float | None = None,
    rank: int = 1,
    overwrite: bool = False,
    verbose: bool = True,
    cache_dir: str | os.PathLike | None = None,
) -> dict:
    """Train a model ``epochs`` more epochs and save it as a new exportable model folder ``out``.

    ``model_or_run_dir``: a run directory (its ``rank``-th trial: training continues from the trial
    checkpoint's ``last.keras`` with its optimizer state, epochs numbered after the checkpoint's), a
    fine-tuned model folder (continues from its ``checkpoints/`` the same way), or an exported model
    folder (its best-epoch weights, with a fresh optimizer of the recorded configuration; epochs
    numbered after the exported epoch). ``data``: default the data the model was trained on (from
    ``sweep.json`` / the model card), else ``"demo"`` or image folder(s). ``size``: default the
    model's input size; another size works for fully convolutional architectures (weights copied
    into a model built at that size, fresh optimizer). ``learning_rate`` replaces the configured /
    current one. A model trained with ``lr_schedule="cosine"`` runs a new cosine over the added epochs,
    from that learning rate down to ``min_lr`` (``TrainConfig.lr_schedule_start`` = the epochs trained).

    Validation metrics of the starting model and of the result are computed on the validation split
    of ``data``. The saved model is the best checkpoint by the configuration's monitored metric on
    that split, the starting model included (``improved`` says whether fine-tuning beat it).
    ``out`` gets ``model.keras``, ``model_card.json``/``.md`` (marked as fine-tuned) and
    ``checkpoints/`` (resumable: fine-tune it again). Returns a JSON-able summary.
    """
    from colorize_core import metrics
    from colorize_core.data import load_dataset
    from colorize_core.predict import model_input_size
    from colorize_core.train import TrainConfig, TrainState, fit

    epochs = _check_positive_int("epochs", epochs)
    if learning_rate is not None and not (isinstance(learning_rate, (int, float)) and learning_rate > 0):
        raise InvalidValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
    say = (lambda text: print(text, file=sys.stderr)) if verbose else (lambda text: None)
    _check_out(out, overwrite=overwrite)
    source = _resolve(model_or_run_dir, rank=rank)
    if Path(out).expanduser().resolve() in (source.model_path.parent.resolve(), source.path.resolve()):
        raise InvalidValueError(f"--out {out} is the model being fine-tuned; choose a new folder")

    # what we start from: config, history, the checkpoint with optimizer state (if any), data record
    resume_dir: Path | None = None
    if source.kind == "trial":
        trial = source.trial
        config = trial.config()
        history = trial.history
        resume_dir = trial.checkpoint_dir if trial.last_model is not None else None
        start_epoch = trial.epochs if resume_dir is not None else (trial.best_epoch or 0)
        history = history[:start_epoch]
        data_record = trial.info.data.to_dict()
        trained_with = trial.info.versions or {}
        origin = {"kind": "sweep-trial", "run_dir": str(trial.run_dir.resolve()), "trial_id": trial.record.trial_id,
                  "rank": trial.rank, "checkpoint": str(trial.checkpoint_dir)}
    elif source.kind == "exported":
        card = source.card or {}
        if not card.get("config"):
            raise InvalidValueError(
                f"{source.path} has no {CARD_JSON} with the training configuration; fine-tune the run directory "
                "it came from, or re-export it with `colorsweep export`"
            )
        config = TrainConfig.from_dict(card["config"]).to_dict()
        folder = source.model_path.parent
        ckpt = folder / CHECKPOINTS_DIR
        if (ckpt / _LAST).exists() and (ckpt / _STATE).exists():
            resume_dir = ckpt
            state = TrainState.load(ckpt / _STATE)
            start_epoch, history = int(state.epoch), list(state.history)
        else:
            start_epoch = int(card.get("best_epoch") or 0)
            history = list(card.get("history") or [])[:start_epoch]
            if len(history) != start_epoch:
                start_epoch, history = 0, []
        data_record = dict(card.get("data", {}))
        trained_with = card.get("versions", {}).get("trained_with", {})
        origin = {"kind": "exported-model", "path": str(folder.resolve()), "trial_id": card.get("source", {}).get("trial_id")}
    else:
        raise InvalidValueError(
            f"{source.path} is a bare .keras file without its training configuration; pass the exported folder "
            f"(with {CARD_JSON}) or the run directory"
        )

    start_path = resume_dir / _LAST if resume_dir is not None else source.model_path
    model = _load_keras(start_path, compile=resume_dir is not None)
    model_size = model_input_size(model)
    size = model_size if size is None else int(size)
    same_data = data is None
    data_arg = data_source(data_record.get("source") if same_data else data)
    if data_arg is None:
        raise InvalidValueError(f"the data {source.describe()} was trained on is not recorded; pass --data PATH or demo")
    lab_mode = data_record.get("lab_mode", "float")
    try:
        dataset = load_dataset(data_arg, size=size, lab_mode=lab_mode, cache_dir=cache_dir)
    except FileNotFoundError as exc:
        raise MissingFileError(f"{exc}; the model was trained on {data_record.get('source')!r}: pass --data PATH") from exc
    if same_data and size == data_record.get("size") and data_record.get("fingerprint") not in (None, dataset.fingerprint):
        say(f"warning: the data changed since training (fingerprint {str(data_record['fingerprint'])[:12]}... is now "
            f"{dataset.fingerprint[:12]}...); metrics are on the current files")

    cfg = TrainConfig.from_dict({**config, "epochs": start_epoch + epochs, "lr_schedule_start": start_epoch,
                                 **({"learning_rate": float(learning_rate)} if learning_rate else {})})
    if cfg.batch_size > len(dataset.train):
        cfg = TrainConfig.from_dict({**cfg.to_dict(), "batch_size": len(dataset.train)})
        say(f"note: batch_size lowered to {cfg.batch_size}, the size of the training split")

    if size != model_size:  # rebuild at the new size; works when no weight depends on the size
        from colorize_core.models import create_model

        resized = create_model(cfg.arch, size, output_activation=cfg.output_activation, **dict(cfg.model_options))
        try:
            resized.set_weights(model.get_weights())
        except ValueError:
            raise InvalidValueError(
                f"architecture {cfg.arch!r} has weights that depend on the input size: fine-tune it at its "
                f"input size {model_size} (omit --size)"
            ) from None
        model, resume_dir = resized, None
    optimizer_state = "kept" if resume_dir is not None else "fresh"
    if resume_dir is None:
        _compile_fresh(model, cfg, dataset)
    elif learning_rate:
        model.optimizer.learning_rate = float(learning_rate)

    before = _evaluate(model, dataset.val, cfg)
    say(f"before fine-tuning ({start_epoch} epoch(s) trained): validation " +
        ", ".join(f"{k} {v:.4g}" for k, v in before.items()))

    out = _prepare_out(out, overwrite=overwrite)
    workdir = out / CHECKPOINTS_DIR
    workdir.mkdir()
    # the starting model is the best so far, at its validation value (a NaN start: any epoch beats it)
    start = TrainState(epoch=start_epoch, history=history, best_epoch=start_epoch, config=cfg.to_dict(),
                       best_value=before[cfg.monitor] if math.isfinite(float(before[cfg.monitor])) else None)

    def report(epoch: int, values: dict) -> None:
        say(f"epoch {epoch}/{cfg.epochs}: train_loss {values['train_loss']:.5f}  {cfg.monitor} "
            f"{values[cfg.monitor]:.4f}  ({values['epoch_train_s']:.1f}s)")

    result = fit(cfg, dataset, report, workdir=workdir, keep_model=True, model=model, initial_state=start)
    del model
    after = _evaluate(result.model, dataset.val, cfg)
    improved = result.best_epoch > start_epoch
    _copy_atomic(workdir / _BEST, out / MODEL_FILE)
    strength = _colour_strength(result.model, dataset.val, cfg)
    del result.model
    baselines = metrics.baseline_metrics(dataset.val.lightness, dataset.val.ab, ab_train=dataset.train.ab)
    say(f"after fine-tuning ({result.epochs_trained} epoch(s)): validation " +
        ", ".join(f"{k} {v:.4g}" for k, v in after.items()))
    if not improved:
        say(f"no fine-tuning epoch beat the starting model on validation {cfg.monitor}: "
            f"{out / MODEL_FILE} holds the starting weights")

    card = {
        "format": CARD_FORMAT,
        "model_file": MODEL_FILE,
        "exported": _now(),
        "source": {"kind": "fine-tuned", "path": str(out.resolve()), "trial_id": origin.get("trial_id"),
                   "checkpoints": CHECKPOINTS_DIR},
        "fine_tuned_from": {
            **origin, "source": source.describe(), "epochs_before": start_epoch, "epochs_added": epochs,
            "optimizer_state": optimizer_state, "learning_rate": cfg.learning_rate,
            "metrics_before": before, "metrics_after": after, "improved": improved,
            "same_data": same_data, "size": size,
        },
        "config": cfg.to_dict(),
        "input_size": size,
        "parameters": result.params,
        "epochs_trained": result.epochs_trained,
        "best_epoch": result.best_epoch,
        "validation": {
            "split": "val", "n_images": len(dataset.val), "metrics": after, "baselines": baselines,
            "note": f"metrics of epochs 1..{start_epoch} in history are on the data (or size) the model was "
                    f"first trained on" if not same_data or size != data_record.get("size") else None,
        },
        "history": result.history,
        "data": {"source": dataset.source, "fingerprint": dataset.fingerprint, "size": size, "lab_mode": dataset.lab_mode,
                 "split": [len(dataset.train), len(dataset.val), len(dataset.test)], "skipped": len(dataset.skipped)},
        "preprocessing": _preprocessing(size, dataset.lab_mode),
        "colour_strength": strength,
        "custom_objects": unregistered_objects(out / MODEL_FILE),
        "versions": {"trained_with": trained_with, "fine_tuned_with": _versions()},
    }
    _write_card(out, card)
    return {
        "out": str(out), "model_path": str(out / MODEL_FILE), "source": source.describe(),
        "optimizer_state": optimizer_state, "epochs_before": start_epoch, "epochs_after": result.epochs_trained,
        "stopped_early": result.stopped_early, "best_epoch": result.best_epoch, "improved": improved,
        "metrics_before": before, "metrics_after": after, "baselines": baselines,
        "history_epochs": [int(r["epoch"]) for r in result.history], "history": result.history,
        "data": card["data"], "config": cfg.to_dict(),
    }
