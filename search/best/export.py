"""``colorsweep export``: copy a chosen trial's best weights to a folder and write its model card.

:func:`export_model` copies the K-th ranked trial's ``best.keras`` (the weights of its best epoch)
to ``OUT/model.keras`` and writes ``OUT/model_card.json`` and ``OUT/model_card.md``
(:mod:`search.best.card`).
"""

from __future__ import annotations

import os
from pathlib import Path

from search.best.card import CARD_FORMAT, _metrics_of, _now, _preprocessing, _versions, _write_card
from search.best.folder import MODEL_FILE, _copy_atomic, _prepare_out
from search.best.load import _check_serializable, _load_keras
from search.best.select import select_trial
from search.best.strength import colour_strength_of_model
from search.rundir import load_baselines

__all__ = ["export_model"]


def export_model(
    run_dir: str | os.PathLike,
    *,
    rank: int = 1,
    out: str | os.PathLike | None = None,
    metric: str | None = None,
    overwrite: bool = False,
    trial_id: str | None = None,
    pick: str | None = None,
) -> Path:
    """Export the ``rank``-th best trial of ``run_dir`` (by validation ``metric``, default the sweep's),
    or the trial ``trial_id``, or the one rule ``pick`` chooses (``"knee"``, ``"min delta_e where
    colorfulness_gap<=5"``; see :func:`select_trial`).

    Writes ``OUT/model.keras`` (the trial's ``best.keras``), ``OUT/model_card.json`` and
    ``OUT/model_card.md`` (which records the rule, and the colour strength ``colorsweep colorize``
    uses, fitted on the validation split: :mod:`search.best.strength`); ``out`` defaults to ``RUN_DIR/best/rank-K``, or
    ``RUN_DIR/best/trial-ID`` for a trial chosen by id or rule. Returns ``OUT``.
    """
    from colorize_core.predict import model_input_size

    trial = select_trial(run_dir, rank=rank, metric=metric, trial_id=trial_id, pick=pick)
    _check_serializable(trial.best_model)
    default_out = f"rank-{trial.rank}" if trial.picked_by is None else f"trial-{trial.record.trial_id}"
    out = _prepare_out(out if out is not None else Path(run_dir) / "best" / default_out, overwrite=overwrite)
    _copy_atomic(trial.best_model, out / MODEL_FILE)
    model = _load_keras(out / MODEL_FILE)  # proves the copy loads, and gives its input size
    size = model_input_size(model)
    params = int(model.count_params())
    info = trial.info
    history = trial.history
    best_epoch = trial.best_epoch
    best_row = next((r for r in history if r.get("epoch") == best_epoch), None)
    baselines = load_baselines(trial.run_dir)
    data = info.data.to_dict()
    card = {
        "format": CARD_FORMAT,
        "model_file": MODEL_FILE,
        "exported": _now(),
        "source": {
            "kind": "sweep-trial",
            "run_dir": str(trial.run_dir.resolve()),
            "sweep_name": info.name,
            "trial_id": trial.record.trial_id,
            "rank": trial.rank,
            "ranked_by": {"metric": trial.metric, "mode": trial.mode, "value": trial.record.best_value(trial.metric, trial.mode)},
            "picked_by": trial.picked_by,
            "status": trial.record.status_text(),
            "trial_dir": str(trial.trial_dir),
            "checkpoint": str(trial.checkpoint_dir),
        },
        "fine_tuned_from": None,
        "config": trial.config(),
        "hyperparameters": dict(trial.record.params),
        "input_size": size,
        "parameters": params,
        "epochs_trained": trial.epochs,
        "best_epoch": best_epoch,
        "validation": {
            "split": "val",
            "n_images": (data.get("split") or [None, None])[1],
            "metrics": _metrics_of(best_row),
            "best_epoch_record": best_row,
            "baselines": baselines,
        },
        "history": history,
        "data": {k: data.get(k) for k in ("source", "fingerprint", "size", "lab_mode", "split", "skipped")},
        "preprocessing": _preprocessing(size, data.get("lab_mode", "float")),
        "custom_objects": [],
        "versions": {"trained_with": info.versions or {}, "exported_with": _versions()},
    }
    config = card["config"]
    card["colour_strength"] = colour_strength_of_model(  # what `colorsweep colorize` uses unless --chroma
        model, info, temperature=config.get("temperature"), decode=config.get("decode", "annealed_mean"),
        max_pixels=config.get("eval_max_pixels"), seed=int(config.get("seed", 0)))
    if trial.metric != card["config"].get("monitor"):
        card["validation"]["note"] = (
            f"ranked by {trial.metric}, but the checkpoint holds the best epoch by the trial's monitored "
            f"metric {card['config'].get('monitor')}"
        )
    _write_card(out, card)
    return out
