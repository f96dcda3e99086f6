"""Models on the sweep's own data: test-split metrics, the pictures' predictions, parameter counts."""

from __future__ import annotations

import gc
import json
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from colorize_core import metrics as metric_defs
from colorize_core.train import BEST_MODEL
from search.records import TrialRecord, data_source, first_error_line, trial_path
from search.report.analysis import _front_rows
from search.report.rows import _Report
from search.sweep_info import SweepInfo
from search.trial_outputs import GRID_IMAGES, TrialOutputs, grid_indices, read_trial_outputs

_GRID_IMAGES = GRID_IMAGES
_grid_indices = grid_indices  # the name the report's callers and tests use
_GRID_MODELS = 3
_FRONT_PICTURES = 8  # front trials shown side by side (the best on the first objective first)


def _reload_data(info: SweepInfo, notes: list[str]):
    """The sweep's images again, from ``sweep.json``; None (with a note) when they cannot be loaded."""
    from colorize_core.data import load_dataset

    data = info.data
    source, size = data.source, data.size
    if not source or not size:
        notes.append("sweep.json records no data source: test metrics and the image grid are skipped.")
        return None
    parts = data_source(source)
    cache_dir = None
    if data.cache_path and Path(data.cache_path).parent.is_dir():
        cache_dir = Path(data.cache_path).parent
    try:
        dataset = load_dataset(parts, size=int(size), lab_mode=data.lab_mode, cache_dir=cache_dir,
                               pool_side=data.pool_side)  # as recorded (None: a run made before pools)
    except (OSError, ValueError) as exc:
        notes.append(
            f"could not reload the sweep's images from {source!r} ({exc}): test metrics and the image grid "
            "are skipped. Put the images back at that path and run `colorsweep report` again."
        )
        return None
    if data.fingerprint and dataset.fingerprint != data.fingerprint:
        message = (
            f"the images under {source!r} changed since the sweep ran (fingerprint {dataset.fingerprint[:12]} != "
            f"recorded {data.fingerprint[:12]}): test metrics and pictures use the images as they are now."
        )
        warnings.warn(message, stacklevel=3)
        notes.append(message)
    return dataset


def _best_model_path(run_dir: Path, record: TrialRecord) -> Path | None:
    """``best.keras`` of the trial's latest checkpoint folder, or None."""
    folder = trial_path(run_dir, record.trial_dir)
    if folder is None or not folder.is_dir():
        return None
    for checkpoint in sorted(folder.glob("checkpoint_*"), reverse=True):
        if (checkpoint / BEST_MODEL).is_file():
            return checkpoint / BEST_MODEL
    return None


def _saved_outputs(rep: _Report, record: TrialRecord, model_path: Path | None, grid_idx: list[int],
                   test_size: int) -> TrialOutputs | None:
    """What the trial saved when it finished (:mod:`search.trial_outputs`) beside the ``best.keras``
    the report would load, when it is from that model's epoch and computed as the report would now."""
    if model_path is None:
        return None
    outputs = read_trial_outputs(model_path.parent)
    best_epoch = record.history[-1].get("best_epoch") if record.history else None
    if outputs is None or outputs.epoch != best_epoch:
        return None
    if not outputs.matches(grid=grid_idx, max_pixels=_eval_max_pixels(), seed=int(rep.info.seed or 0),
                           test_size=test_size):
        return None
    return outputs


def _eval_max_pixels() -> int | None:
    try:
        from colorize_core.train import TrainConfig

        return TrainConfig.eval_max_pixels
    except Exception:  # pragma: no cover - older TrainConfig
        return metric_defs.DELTA_E_MAX_PIXELS


def _evaluate_models(rep: _Report, dataset, grid_idx: list[int], progress) -> list[tuple[dict, np.ndarray]]:
    """Test metrics of the top trials (into their rows) and the top-3 models' grid predictions.

    Keras (and its backend: seconds to import, hundreds of MiB) is imported only when one of those
    trials has a ``best.keras``: a sweep whose checkpoints hold none gets its report without it."""
    seed = int(rep.info.seed or 0)
    max_pixels = _eval_max_pixels()
    test = dataset.test
    if len(test) == 0:
        rep.notes.append("the test split is empty: no test-split metrics.")
    else:
        rep.test_baselines = metric_defs.baseline_metrics(
            test.lightness, test.ab, ab_train=dataset.train.ab, max_pixels=max_pixels, seed=seed
        )
    by_id = {r.trial_id: r for r in rep.records}
    ranked = [row for row in rep.rows if row[rep.metric] is not None]
    grid = []
    candidates = [(position, row, _best_model_path(rep.run_dir, by_id[row["trial_id"]]))
                  for position, row in enumerate(ranked[: max(rep.top, _GRID_MODELS)])]
    missing = [row["trial_id"] for _, row, path in candidates if path is None]
    saved = {row["trial_id"]: _saved_outputs(rep, by_id[row["trial_id"]], path, grid_idx, len(test))
             for _, row, path in candidates}
    if any(path is not None and saved[row["trial_id"]] is None for _, row, path in candidates):
        import keras

        import colorize_core.models  # noqa: F401  (registers the custom layers models are saved with)
        from colorize_core.train import predict_ab
    for position, row, path in candidates:
        if path is None:
            continue
        outputs = saved[row["trial_id"]]
        if outputs is not None:  # what the trial computed with this model when it finished: no loading
            if position < rep.top and len(test) > 0:
                if outputs.test_metrics is None:
                    rep.notes.append(f"trial {row['trial_id']}: no test metrics (its model predicted non-finite values).")
                else:
                    for name, value in outputs.test_metrics.items():
                        row[f"test_{name}"] = value
                    rep.tested.append(row["trial_id"])
            if len(grid) < _GRID_MODELS and grid_idx:
                grid.append((row, outputs.grid_ab))
            continue
        try:
            from colorize_core.losses import register_custom_objects

            register_custom_objects()
            model = keras.saving.load_model(path, compile=False)
        except Exception as exc:  # a checkpoint being written, a model from another version, ...
            rep.notes.append(f"trial {row['trial_id']}: could not load {path.name} ({first_error_line(str(exc))}).")
            continue
        if tuple(model.input_shape[1:3]) != (dataset.size, dataset.size):
            rep.notes.append(f"trial {row['trial_id']}: model input {model.input_shape[1:3]} != data size {dataset.size}.")
            continue
        if row["params"] is None:
            row["params"] = int(model.count_params())
        want_test, want_grid = position < rep.top and len(test) > 0, len(grid) < _GRID_MODELS and bool(grid_idx)
        parts = ([test.lightness] if want_test else []) + ([dataset.val.lightness[grid_idx]] if want_grid else [])
        if not parts:
            continue
        if progress:
            progress(f"predicting with trial {row['trial_id']} (rank {row['rank']})")
        predicted = predict_ab(model, np.concatenate(parts))  # one call: each predict traces the model
        del model
        gc.collect()
        if want_grid:
            grid.append((row, predicted[len(predicted) - len(grid_idx):]))
        if want_test:
            try:
                values = metric_defs.evaluate(test.lightness, test.ab, predicted[: len(test)],
                                              max_pixels=max_pixels, seed=seed)
            except ValueError as exc:  # a diverged model predicting NaN
                rep.notes.append(f"trial {row['trial_id']}: no test metrics ({exc}).")
            else:
                for name, value in values.items():
                    row[f"test_{name}"] = value
                rep.tested.append(row["trial_id"])
    if missing:
        rep.notes.append(
            "no best.keras checkpoint for top trial(s) " + ", ".join(missing)
            + ": they have no test metrics or pictures (still running, or checkpoints were deleted)."
        )
    return grid


def _fill_param_counts(rep: _Report) -> None:
    """Parameter counts for trials that did not report one (built symbolically, one per config)."""
    from colorize_core.models.summary import count_params

    size = int(rep.info.data.size or 0)
    if not size:
        return
    cache: dict[str, int | None] = {}
    for row in rep.rows:
        if row["params"] is not None or not row["arch"]:
            continue
        config = json.loads(row["config"])
        options = {k.split(".", 1)[1]: v for k, v in {**(rep.info.space or {}).get("fixed", {}), **config}.items()
                   if k.startswith("model_options.")}
        if row.get("output_activation"):
            options["output_activation"] = row["output_activation"]
        key = json.dumps([row["arch"], options], sort_keys=True, default=str)
        if key not in cache:
            try:
                cache[key] = count_params(row["arch"], size, **options)
            except Exception:
                cache[key] = None
        row["params"] = cache[key]


def _predict_front(rep: _Report, dataset, grid_idx: list[int], progress) -> list[tuple[dict, np.ndarray]]:
    """The front's trials' colorizations of the picture-grid images (their best.keras), at most
    :data:`_FRONT_PICTURES` of them. Keras is imported only when one of them has a ``best.keras``."""
    by_id = {r.trial_id: r for r in rep.records}
    out = []
    front = [(row, _best_model_path(rep.run_dir, by_id[row["trial_id"]])) for row in _front_rows(rep)[:_FRONT_PICTURES]]
    test_size = len(dataset.test)
    saved = {row["trial_id"]: _saved_outputs(rep, by_id[row["trial_id"]], path, grid_idx, test_size)
             for row, path in front}
    if any(path is not None and saved[row["trial_id"]] is None for row, path in front):
        import keras

        import colorize_core.models  # noqa: F401  (registers the custom layers models are saved with)
        from colorize_core.losses import register_custom_objects
        from colorize_core.train import predict_ab

        register_custom_objects()
    for row, path in front:
        if path is None:
            rep.notes.append(f"front trial {row['trial_id']}: no best.keras, so no pictures.")
            continue
        if saved[row["trial_id"]] is not None:
            out.append((row, saved[row["trial_id"]].grid_ab))
            continue
        if progress:
            progress(f"predicting with front trial {row['trial_id']}")
        try:
            model = keras.saving.load_model(path, compile=False)
        except Exception as exc:  # noqa: BLE001 - a checkpoint being written, another version, ...
            rep.notes.append(f"front trial {row['trial_id']}: could not load {path.name} ({first_error_line(str(exc))}).")
            continue
        out.append((row, predict_ab(model, dataset.val.lightness[grid_idx])))
        del model
        gc.collect()
    return out
