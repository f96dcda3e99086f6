"""A fit's workdir on disk: ``best.keras``, ``last.keras`` and ``state.json``, each written whole or not at all.

* ``best.keras``: the model at the best epoch on the monitored metric (what ``keep_model`` returns);
* ``last.keras``: the model after the last epoch, with its optimizer state;
* ``state.json``: the :class:`~colorize_core.train.state.TrainState` after the last epoch.

``last.keras`` and ``state.json`` together are a checkpoint a fit resumes from.
"""

from __future__ import annotations

import os
from pathlib import Path

from colorize_core.train.state import STATE_FILE

__all__ = ["BEST_MODEL", "LAST_MODEL", "STATE_FILE", "save_model_atomic", "link_model_atomic", "has_checkpoint"]

BEST_MODEL = "best.keras"
LAST_MODEL = "last.keras"


def save_model_atomic(model, path: Path) -> None:
    """Save a Keras model to ``path`` through a temporary ``.tmp.keras`` file renamed over it, so a
    reader never sees half a model file."""
    tmp = path.with_name(path.stem + ".tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)


def link_model_atomic(source: Path, path: Path) -> None:
    """Make ``path`` the same model file as ``source``: a hard link (no copy) through a temporary name
    renamed over ``path``, or a copy where the file system has no hard links. ``source`` being
    replaced later (by :func:`save_model_atomic`) leaves ``path`` as it is."""
    import shutil

    tmp = path.with_name(path.stem + ".tmp.keras")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:  # no hard links here (some network or FAT file systems): copy
        shutil.copyfile(source, tmp)
    os.replace(tmp, path)


def has_checkpoint(workdir: Path) -> bool:
    """Whether ``workdir`` holds a checkpoint to resume: ``state.json`` and ``last.keras``."""
    return (workdir / STATE_FILE).exists() and (workdir / LAST_MODEL).exists()
