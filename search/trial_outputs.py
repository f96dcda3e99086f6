"""What a finished trial leaves for the report: its best model's test-split metrics and picture colorizations.

A trial that trains to its end (all its epochs, or stopped by its own early stopping) writes
``best_outputs.npz`` into its last checkpoint, computed in the trial's worker with the model it
already holds: the test-split metrics of its best epoch's model (:func:`colorize_core.metrics.evaluate`
with the report's pixel cap and seed) and that model's colorization of the picture grid's validation
images (:func:`grid_indices`). The end-of-sweep report reads them instead of loading ``best.keras``
into the driver (which would import Keras and its backend there: seconds, hundreds of MiB). A trial
without the file (stopped by ASHA, made by an older version, written with other settings) is
evaluated from its ``best.keras`` as before.

The values are exactly what the report would compute from ``best.keras``: the same prediction
function (:func:`colorize_core.predict.predict_ab`) on the same images, up to the rounding of another
batch size (the trial predicts at its training batch size, the report at 64).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = ["OUTPUTS_FILE", "GRID_IMAGES", "grid_indices", "write_trial_outputs", "read_trial_outputs", "TrialOutputs"]

OUTPUTS_FILE = "best_outputs.npz"
GRID_IMAGES = 6  # validation images in the report's picture grid
FORMAT = 1


def grid_indices(names: Sequence[str], count: int = GRID_IMAGES) -> list[int]:
    """A deterministic choice of ``count`` validation images for the picture grid: one per source
    photo (demo tiles of one photo share a stem), spread evenly over the sorted names so that every
    part of the data set shows (its folders sort together), in name order."""
    order = sorted(range(len(names)), key=lambda i: names[i])
    first_of_stem: dict[str, int] = {}
    for i in order:
        first_of_stem.setdefault(names[i].split("#", 1)[0], i)
    stems = list(first_of_stem.values())
    if len(stems) >= count:
        positions = np.unique(np.linspace(0, len(stems) - 1, count).round().astype(int))
        chosen = [stems[p] for p in positions]
    else:
        chosen = list(stems)
    rest = [i for i in order if i not in chosen]
    return sorted(chosen + rest[: max(0, count - len(chosen))], key=lambda i: names[i])


class TrialOutputs:
    """One trial's saved outputs: ``epoch`` (of the model they come from), ``grid`` (validation
    indices), ``grid_ab`` (their predicted ab, Lab units, float32), ``test_metrics`` (None when the
    test split was empty or the model predicted non-finite values), and the ``max_pixels``/``seed``
    the test metrics were computed with."""

    def __init__(self, *, epoch: int, grid: list[int], grid_ab: np.ndarray, test_metrics: dict | None,
                 max_pixels: int | None, seed: int, test_size: int) -> None:
        self.epoch, self.grid, self.grid_ab = epoch, grid, grid_ab
        self.test_metrics, self.max_pixels, self.seed, self.test_size = test_metrics, max_pixels, seed, test_size

    def matches(self, *, grid: Sequence[int], max_pixels: int | None, seed: int, test_size: int) -> bool:
        """Whether these are the outputs the report would compute now (same grid images, same test
        split size, same pixel cap and seed)."""
        return (list(grid) == self.grid and max_pixels == self.max_pixels and int(seed) == self.seed
                and int(test_size) == self.test_size)


def write_trial_outputs(model, dataset, folder: str | os.PathLike, *, epoch: int, seed: int,
                        max_pixels: int | None, batch_size: int = 64) -> Path:
    """Predict the test split and the grid images of ``dataset`` with ``model`` (the trial's best
    epoch's, ``epoch``), ``batch_size`` images at a time (a trial passes its training batch size, which
    its GPU share was sized for), and write :data:`OUTPUTS_FILE` into ``folder`` (through a temporary
    name: whole or not at all). Returns its path."""
    from colorize_core import metrics as metric_defs
    from colorize_core.predict import predict_ab

    grid = grid_indices(dataset.val.names) if len(dataset.val) else []
    test = dataset.test
    parts = ([test.lightness] if len(test) else []) + ([dataset.val.lightness[grid]] if grid else [])
    predicted = predict_ab(model, np.concatenate(parts), batch_size=batch_size) if parts else np.zeros((0, 1, 1, 2), np.float32)
    test_metrics = None
    if len(test):
        try:
            values = metric_defs.evaluate(test.lightness, test.ab, predicted[: len(test)],
                                          max_pixels=max_pixels, seed=seed)
            test_metrics = {name: float(value) for name, value in values.items()}
        except ValueError:  # a diverged model predicting NaN: the report says so from best.keras
            test_metrics = None
    header = {"format": FORMAT, "epoch": int(epoch), "grid": [int(i) for i in grid], "max_pixels": max_pixels,
              "seed": int(seed), "test_size": int(len(test)), "test_metrics": test_metrics}
    buffer = io.BytesIO()
    np.savez(buffer, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
             grid_ab=np.asarray(predicted[len(predicted) - len(grid):] if grid else predicted[:0], np.float32))
    path = Path(folder) / OUTPUTS_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)
    return path


def read_trial_outputs(folder: str | os.PathLike) -> TrialOutputs | None:
    """The outputs in ``folder`` (a checkpoint folder), or None when there are none or they cannot be
    read (torn, another format)."""
    path = Path(folder) / OUTPUTS_FILE
    if not path.is_file():
        return None
    try:
        with np.load(path) as data:
            header: dict[str, Any] = json.loads(bytes(data["header"]).decode())
            grid_ab = np.asarray(data["grid_ab"], dtype=np.float32)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    if header.get("format") != FORMAT:
        return None
    return TrialOutputs(epoch=int(header["epoch"]), grid=list(header["grid"]), grid_ab=grid_ab,
                        test_metrics=header.get("test_metrics"), max_pixels=header.get("max_pixels"),
                        seed=int(header["seed"]), test_size=int(header["test_size"]))
