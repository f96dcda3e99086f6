"""Where a trial continues after its sweep was stopped: the checkpoint folder of the latest epoch its
records hold. One rule for the three places that need it (``resume``'s repair, the trainable of a
trial Ray restarts without a checkpoint, and the monitor carrying such a trial's result lines), with no
Ray import, so that each can use it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from colorize_core.train import LAST_MODEL, STATE_FILE

__all__ = ["checkpoint_complete", "checkpoint_epoch", "recorded_epoch", "resumable_checkpoint"]


def checkpoint_complete(folder: Path) -> bool:
    """Whether a ``checkpoint_*`` folder holds a readable ``state.json`` and a whole ``last.keras``
    (a zip archive with its central directory: a copy cut short by a full disk is not one)."""
    import zipfile

    try:
        json.loads((folder / STATE_FILE).read_text())
    except (OSError, ValueError):
        return False
    return zipfile.is_zipfile(folder / LAST_MODEL)


def recorded_epoch(trial_dir: Path) -> int:
    """The last epoch of the trial that the run directory's copy of its ``result.json`` records (0 when
    none): the monitor copies those lines at each checkpoint, after Ray's logger wrote them. A torn or
    unreadable line is skipped."""
    try:
        text = (trial_dir / "result.json").read_text()
    except OSError:
        return 0
    last = 0
    for line in text.splitlines():
        try:
            epoch = json.loads(line).get("epoch")
        except (ValueError, AttributeError):
            continue
        if isinstance(epoch, int) and epoch > last:
            last = epoch
    return last


def checkpoint_epoch(folder: Path) -> int | None:
    """The epoch a ``checkpoint_*`` folder's ``state.json`` says it holds (None when unreadable)."""
    try:
        epoch = json.loads((Path(folder) / STATE_FILE).read_text()).get("epoch")
    except (OSError, ValueError, AttributeError):
        return None
    return epoch if isinstance(epoch, int) else None


def resumable_checkpoint(trial_dir: str | os.PathLike, *, recorded_elsewhere: int = 0) -> Path | None:
    """The ``checkpoint_*`` folder a trial continues from when Ray's saved state cannot say: the one of
    the latest epoch the run's records hold, complete (``state.json`` and a whole ``last.keras``).

    A newer folder than the records' last epoch is not used: its epoch's result line never reached the
    records (the driver died between the trial saving it and the driver taking its result), and
    continuing after it would leave that epoch out of the trial's history; training it again records
    it. None when no complete folder is recorded (the trial starts again).

    ``recorded_elsewhere``: the epochs another record of the trial holds (``trials.json``'s
    ``epochs``), used only when the trial's ``result.json`` is gone (deleted by hand): while it exists
    it is the rule, because ``trials.json`` counts an epoch a moment before its line is copied.
    """
    trial_dir = Path(trial_dir)
    if not trial_dir.is_dir():
        return None
    if (trial_dir / "result.json").exists():
        recorded = recorded_epoch(trial_dir)
    else:
        recorded = int(recorded_elsewhere or 0)
    best: tuple[int, Path] | None = None
    for folder in trial_dir.glob("checkpoint_*"):
        epoch = checkpoint_epoch(folder)
        if epoch is None or epoch > recorded or not checkpoint_complete(folder):
            continue
        if best is None or (epoch, folder.name) > (best[0], best[1].name):
            best = (epoch, folder)
    return best[1] if best else None


