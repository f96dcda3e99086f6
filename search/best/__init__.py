"""Reuse what a sweep found: export a model with its model card, colorize photos, fine-tune.

One module per idea, each importing only those above it:

* :mod:`~search.best.folder` — an exported model folder: its file names (:data:`MODEL_FILE`,
  :data:`CARD_JSON`, :data:`CARD_MD`, :data:`CHECKPOINTS_DIR`), making it ready to be written;
* :mod:`~search.best.select` — choosing a trial and its checkpoint: :func:`select_trial` (by rank,
  ``--trial`` or ``--pick``) returns a :class:`TrialCheckpoint`;
* :mod:`~search.best.card` — the model card: its JSON fields (:data:`CARD_FORMAT`), its Markdown page,
  the preprocessing needed to use the model, package versions;
* :mod:`~search.best.load` — :func:`load_exported` loads an exported folder, a ``.keras`` file or a run
  directory's best model; :func:`unregistered_objects` checks that a fresh process can load one;
* :mod:`~search.best.export` — :func:`export_model` copies the K-th ranked (or picked) trial's
  ``best.keras`` to ``OUT/model.keras`` and writes ``OUT/model_card.json`` and ``OUT/model_card.md``;
* :mod:`~search.best.colorize` — :func:`colorize_paths` colorizes files and folders at full
  resolution with :func:`colorize_core.predict.colorize_rgb`, with a tqdm progress bar on stderr;
* :mod:`~search.best.finetune` — :func:`finetune` continues training a trial (or an exported /
  fine-tuned model) for more epochs, from its checkpoint's optimizer state when it has one.

Everything is re-exported here, so ``from search.best import X`` works for all of them.
"""

from __future__ import annotations

from search.best.card import (
    CARD_FORMAT,
    _card_markdown,
    _metric_names,
    _metrics_of,
    _now,
    _preprocessing,
    _versions,
    _write_card,
)
from search.best.colorize import _plan, _Progress, colorize_paths
from search.best.export import export_model
from search.best.finetune import _compile_fresh, _evaluate, finetune
from search.best.folder import CARD_JSON, CARD_MD, CHECKPOINTS_DIR, MODEL_FILE, _check_out, _copy_atomic, _prepare_out
from search.best.load import _check_serializable, _load_keras, _resolve, _Source, load_exported, unregistered_objects
from search.best.select import _BEST, _LAST, _STATE, TrialCheckpoint, _check_positive_int, _chosen_trial, select_trial

__all__ = [
    "MODEL_FILE",
    "CARD_JSON",
    "CARD_MD",
    "CARD_FORMAT",
    "CHECKPOINTS_DIR",
    "TrialCheckpoint",
    "select_trial",
    "export_model",
    "load_exported",
    "unregistered_objects",
    "colorize_paths",
    "finetune",
]
