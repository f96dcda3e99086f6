"""Reuse what a sweep found: export a model with its model card, colorize photos, fine-tune.

* :func:`export_model` copies the K-th ranked trial's ``best.keras`` (the weights of its best epoch)
  to ``OUT/model.keras`` and writes ``OUT/model_card.json`` and ``OUT/model_card.md``: the training
  configuration, validation metrics beside the baselines, the data fingerprint, the preprocessing
  needed to use the model, package versions and where it came from.
* :func:`load_exported` loads an exported folder, a ``.keras`` file or a run directory's best model.
  The models use only built-in Keras layers, losses and optimizers, so a fresh process with
  colorsweep installed (Keras and its backend) loads them; :func:`unregistered_objects` is the check.
* :func:`colorize_paths` colorizes files and folders at full resolution with
  :func:`colorize_core.predict.colorize_rgb` (original L, predicted ab resized up).
* :func:`finetune` continues training a trial (or an exported / fine-tuned model) for more epochs
  with :func:`colorize_core.train.fit` given the model (with its optimizer state from ``last.keras``)
  and a :class:`colorize_core.train.TrainState` (epoch, history), so epochs continue from the
  checkpoint's. Without optimizer state (an exported folder) the model is compiled with a fresh
  optimizer of the same configuration.

Run directory layout read here (see :mod:`search.sweep` and :mod:`search.records`): ``sweep.json``,
``trials.json``, ``baselines.json`` and Ray trial folders holding ``checkpoint_NNNNNN/`` with
``best.keras``, ``last.keras`` and ``state.json``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from colorize_core.train import BEST_MODEL, LAST_MODEL, STATE_FILE
from search.rundir import load_baselines, newest_checkpoint, write_json_atomic, write_text_atomic
from search.tables import format_table
from search.records import (
    TrialRecord, data_source, load_records, load_sweep_info, rank_records, trial_path,
)

__all__ = [
    "MODEL_FILE",
    "CARD_JSON",
    "CARD_MD",
    "CARD_FORMAT",
    "TrialCheckpoint",
    "select_trial",
    "export_model",
    "load_exported",
    "unregistered_objects",
    "colorize_paths",
    "finetune",
]

MODEL_FILE = "model.keras"
CARD_JSON = "model_card.json"
CARD_MD = "model_card.md"
CARD_FORMAT = "colorsweep-model-card/1"
CHECKPOINTS_DIR = "checkpoints"  # inside a fine-tuned model folder: last.keras + state.json (resumable)
_BEST, _LAST, _STATE = BEST_MODEL, LAST_MODEL, STATE_FILE


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _metric_names() -> list[str]:
    from colorize_core.metrics import METRICS

    return list(METRICS)


def _versions() -> dict[str, str]:
    from search.sweep import package_versions

    return package_versions()


def _check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


# -- choosing a trial and its checkpoint ---------------------------------------------------------------
@dataclass
class TrialCheckpoint:
    """A ranked trial of a run directory and its newest checkpoint folder."""

    run_dir: Path
    info: dict
    record: TrialRecord
    rank: int
    metric: str
    mode: str
    trial_dir: Path
    checkpoint_dir: Path
    state: dict = field(default_factory=dict)
    picked_by: str | None = None  # the rule that chose it (--pick, --trial), or None for --rank

    @property
    def best_model(self) -> Path:
        return self.checkpoint_dir / _BEST

    @property
    def last_model(self) -> Path | None:
        path = self.checkpoint_dir / _LAST
        return path if path.exists() and (self.checkpoint_dir / _STATE).exists() else None

    @property
    def history(self) -> list[dict]:
        """Per-epoch validation metrics up to this checkpoint (``state.json``; else ``result.json``)."""
        return list(self.state.get("history") or self.record.history)

    @property
    def epochs(self) -> int:
        return int(self.state.get("epoch", len(self.history)))

    @property
    def best_epoch(self) -> int | None:
        """The epoch whose weights ``best.keras`` holds."""
        if self.state.get("best_epoch"):
            return int(self.state["best_epoch"])
        row = self.record.best(self.info.get("metric", self.metric), self.info.get("mode", self.mode))
        return int(row["epoch"]) if row else None

    def config(self) -> dict:
        """The trial's full :class:`~colorize_core.train.TrainConfig` as a dict."""
        from colorize_core.train import TrainConfig

        if self.state.get("config"):
            return TrainConfig.from_dict(self.state["config"]).to_dict()
        from spaces import space_from_dict

        space = space_from_dict(self.info["space"])
        values = space.trial_config(self.record.params, max_epochs=int(self.info.get("max_epochs", 1)),
                                    seed=int(self.info.get("seed", 0)), monitor=self.info.get("metric", "delta_e"))
        return TrainConfig.from_dict(values).to_dict()


def select_trial(run_dir: str | os.PathLike, *, rank: int = 1, metric: str | None = None,
                 trial_id: str | None = None, pick: str | None = None) -> TrialCheckpoint:
    """A trial of a run directory with its newest checkpoint: the ``rank``-th best by validation
    ``metric`` (default the sweep's; trials that violate the sweep's constraints rank after all that
    meet them), or the trial ``trial_id`` (its id, or a unique prefix), or the one rule ``pick``
    chooses (:func:`spaces.objectives.parse_pick`: ``knee``, ``"min delta_e where
    colorfulness_gap<=5"``). ValueError when it does not exist or has no checkpoint."""
    from colorize_core.metrics import metric_mode
    from search.records import constraints_of

    run_dir = Path(run_dir)
    info = load_sweep_info(run_dir)
    rank = _check_positive_int("rank", rank)
    metric = metric or info.get("metric", "delta_e")
    mode = info.get("mode") if metric == info.get("metric") and info.get("mode") else metric_mode(metric)
    records = load_records(run_dir)
    ranked = [r for r in rank_records(records, metric=metric, mode=mode, constraints=constraints_of(info))
              if r.best_value(metric, mode) is not None]
    if not ranked:
        raise ValueError(
            f"no trial of {run_dir} has reported a validation {metric} yet ({len(records)} trial(s) recorded); "
            f"wait for the sweep to finish an epoch, or resume it with `colorsweep resume {run_dir}`"
        )
    picked_by = None
    if trial_id is not None or pick is not None:
        chosen = _chosen_trial(run_dir, info, records, trial_id=trial_id, pick=pick)
        position = next((i for i, r in enumerate(ranked) if r.trial_id == chosen), None)
        if position is None:
            raise ValueError(f"trial {chosen} has no validation {metric} value: it cannot be exported")
        rank, picked_by = position + 1, (f"trial {chosen}" if pick is None else pick)
    if rank > len(ranked):
        raise ValueError(
            f"rank {rank} does not exist: {run_dir} has {len(ranked)} ranked trial(s) by validation {metric} "
            f"(ranks 1..{len(ranked)}); see them with `colorsweep report {run_dir}`"
        )
    record = ranked[rank - 1]
    folder = trial_path(run_dir, record.trial_dir)
    checkpoint = newest_checkpoint(folder)
    if checkpoint is None:
        with_ckpt = [f"rank {i} ({r.trial_id})" for i, r in enumerate(ranked, start=1)
                     if newest_checkpoint(trial_path(run_dir, r.trial_dir)) is not None]
        raise ValueError(
            f"trial {record.trial_id} (rank {rank} by {metric}) has no checkpoint with {_BEST} in "
            f"{folder or '(no trial folder recorded)'}; trials with checkpoints: "
            f"{', '.join(with_ckpt) if with_ckpt else 'none'}. Pass --rank with one of those"
        )
    state = {}
    if (checkpoint / _STATE).exists():
        try:
            state = json.loads((checkpoint / _STATE).read_text())
        except json.JSONDecodeError:
            state = {}
    return TrialCheckpoint(run_dir=run_dir, info=info, record=record, rank=rank, metric=metric, mode=mode,
                           trial_dir=folder, checkpoint_dir=checkpoint, state=state, picked_by=picked_by)


def _chosen_trial(run_dir: Path, info: dict, records: list[TrialRecord], *, trial_id: str | None,
                  pick: str | None) -> str:
    """The id of the trial ``--trial`` names (an id or a unique prefix) or ``--pick`` chooses."""
    if trial_id is not None and pick is not None:
        raise ValueError("give --trial or --pick, not both")
    if trial_id is not None:
        matches = [r.trial_id for r in records if r.trial_id == trial_id] or \
                  [r.trial_id for r in records if r.trial_id.startswith(str(trial_id))]
        if len(matches) != 1:
            known = ", ".join(sorted(r.trial_id for r in records)[:12])
            raise ValueError(f"{'no' if not matches else 'more than one'} trial of {run_dir} matches {trial_id!r}; "
                             f"trials: {known}{' ...' if len(records) > 12 else ''}")
        return matches[0]
    from search import pareto
    from search.records import constraints_of, objectives_of
    from spaces.objectives import choose, parse_pick

    rule = parse_pick(pick)
    objectives, constraints = objectives_of(info), constraints_of(info)
    standing = pareto.standings(records, objectives, constraints)
    rows = [{**s.values, "trial_id": s.trial_id, "pareto_rank": s.pareto_rank,
             "feasible": s.meets_constraints is not False} for s in standing.values() if s.values]
    return str(choose(rows, rule, objectives)["trial_id"])


# -- serialisation check ---------------------------------------------------------------------------------
def unregistered_objects(path: str | os.PathLike) -> list[str]:
    """Objects in a ``.keras`` file that a fresh process could not rebuild from Keras alone.

    Everything whose ``module`` is Keras's own is fine; objects registered with
    ``keras.saving.register_keras_serializable(package="colorsweep")`` (``registered_name`` starting
    with ``colorsweep>``) are fine because :func:`load_exported` imports colorsweep's model modules
    first. ``Lambda`` layers hold Python code that safe-mode loading refuses, so they are listed too.
    """
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "class_name" in node and "module" in node:
                module, name = node.get("module"), node.get("class_name")
                registered = node.get("registered_name") or ""
                if name == "Lambda":
                    found.add(f"{module}.{name}")
                elif module and not str(module).startswith("keras") and not registered.startswith("colorsweep>"):
                    found.add(f"{module}.{name}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    return sorted(found)


def _check_serializable(path: Path) -> None:
    bad = unregistered_objects(path)
    if bad:
        raise ValueError(
            f"{path} uses objects that a fresh process cannot load: {', '.join(bad)}; register each with "
            "@keras.saving.register_keras_serializable(package='colorsweep') in colorize_core (no Lambda layers)"
        )


# -- locating a model -------------------------------------------------------------------------------------
@dataclass
class _Source:
    """Where a model comes from: a run's trial, an exported folder, or a bare .keras file."""

    kind: str  # "trial" | "exported" | "file"
    path: Path  # what the user named
    model_path: Path  # best weights: best.keras / model.keras / the file
    card: dict | None = None
    trial: TrialCheckpoint | None = None

    @property
    def lab_mode(self) -> str:
        if self.trial is not None:
            return self.trial.info.get("data", {}).get("lab_mode", "float")
        if self.card is not None:
            return self.card.get("data", {}).get("lab_mode", "float")
        return "float"

    @property
    def temperature(self) -> float | None:
        """The annealed-mean temperature the model was trained with (classification models)."""
        if self.trial is not None:
            fixed = self.trial.info.get("space", {}).get("fixed", {})
            return self.trial.record.params.get("temperature", fixed.get("temperature"))
        if self.card is not None:
            return self.card.get("config", {}).get("temperature")
        return None

    def describe(self) -> str:
        if self.trial is not None:
            return f"trial {self.trial.record.trial_id} (rank {self.trial.rank}) of {self.trial.run_dir}"
        return str(self.path)


def _resolve(path: str | os.PathLike, *, rank: int = 1) -> _Source:
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: pass an exported model folder (with {MODEL_FILE}), a .keras file, "
            "or a run directory (with sweep.json)"
        )
    if path.is_file():
        if path.suffix != ".keras":
            raise ValueError(f"{path} is not a .keras model file; pass a .keras file, an exported folder or a run directory")
        card_file = path.parent / CARD_JSON
        card = json.loads(card_file.read_text()) if path.name == MODEL_FILE and card_file.exists() else None
        return _Source("exported" if card else "file", path, path, card=card)
    if (path / MODEL_FILE).is_file():
        card_file = path / CARD_JSON
        card = json.loads(card_file.read_text()) if card_file.exists() else None
        return _Source("exported", path, path / MODEL_FILE, card=card)
    if (path / "sweep.json").is_file():
        trial = select_trial(path, rank=rank)
        return _Source("trial", path, trial.best_model, trial=trial)
    raise FileNotFoundError(
        f"{path} is neither an exported model folder (no {MODEL_FILE}) nor a run directory (no sweep.json); "
        f"export one with `colorsweep export RUN_DIR --out DIR`"
    )


def _load_keras(model_path: Path, *, compile: bool = False):
    import keras

    import colorize_core.models  # noqa: F401  (registers any colorsweep serializable objects)

    model_path = Path(model_path)
    if not model_path.is_file():
        raise FileNotFoundError(f"model file not found: {model_path}")
    if not zipfile.is_zipfile(model_path):
        raise ValueError(f"{model_path} is not a Keras model file (not a .keras zip archive: truncated, or another "
                         f"kind of file); export it again with `colorsweep export RUN_DIR --out DIR`")
    try:
        from colorize_core.losses import register_custom_objects

        register_custom_objects()
        return keras.saving.load_model(model_path, compile=compile)
    except (zipfile.BadZipFile, KeyError, EOFError, OSError) as exc:
        raise ValueError(f"{model_path} is not a Keras model file ({type(exc).__name__}: {exc}); export it again "
                         f"with `colorsweep export RUN_DIR --out DIR`") from None


def load_exported(path: str | os.PathLike, *, rank: int = 1, compile: bool = False):
    """Load a model: an exported folder (``model.keras``), a ``.keras`` file, or a run directory
    (its ``rank``-th best trial's ``best.keras``). Returns the Keras model (uncompiled by default:
    enough for prediction)."""
    source = _resolve(path, rank=rank)
    return _load_keras(source.model_path, compile=compile)


# -- export -------------------------------------------------------------------------------------------------
def _preprocessing(size: int, lab_mode: str) -> dict:
    return {
        "color_space": "CIELAB, D65 white point, from sRGB in [0, 1] (OpenCV cvtColor RGB2Lab on float32)",
        "lab_mode": lab_mode,
        "input": {
            "shape": [None, size, size, 1],
            "encoding": "L / 100 of CIELAB (D65), float32 in [0, 1]",
            "function": "colorize_core.color.encode_l",
        },
        "output": {
            "shape": [None, size, size, 2],
            "encoding": "(ab + 128) / 255, float in [0, 1] (neutral grey = 128/255); "
                        "ab = output * 255 - 128, clipped to [-128, 127]",
            "function": "colorize_core.color.decode_ab",
        },
        "full_resolution": [
            "read the image as float sRGB in [0, 1], (H, W, 3) (colorize_core.data.read_image)",
            "L of the full-size image: colorize_core.color.rgb_to_lab(rgb)[..., 0]",
            f"resize the whole image (not cropped, aspect ratio not kept) to {size}x{size} with cv2.INTER_AREA, "
            "take its L, encode_l, predict",
            "decode_ab the prediction, resize ab to W x H with cv2.INTER_CUBIC, clip to [-128, 127]",
            "merge with the original full-resolution L (colorize_core.color.merge_lab) and convert to sRGB "
            "(colorize_core.color.lab_to_rgb)",
        ],
        "function": "colorize_core.predict.colorize_rgb(model, rgb) / colorize_file(model, path, out_path)",
        "training_images": f"centre-cropped to a square, resized to {size}x{size} with cv2.INTER_AREA",
        "command": "colorsweep colorize MODEL_DIR INPUT... --out DIR",
    }


def _metrics_of(row: dict | None) -> dict:
    names = _metric_names()
    return {k: row.get(k) for k in names if row and k in row}


def _card_markdown(card: dict) -> str:

    src = card.get("source", {})
    data = card.get("data", {})
    val = card.get("validation", {})
    names = [m for m in _metric_names() if m in val.get("metrics", {})]
    rows = [{"prediction": "this model", **val.get("metrics", {})}]
    if card.get("fine_tuned_from"):
        rows.insert(0, {"prediction": "before fine-tuning", **card["fine_tuned_from"].get("metrics_before", {})})
    for name, values in (val.get("baselines") or {}).items():
        rows.append({"prediction": f"baseline: {name}", **values})
    cfg = card.get("config", {})
    pre = card.get("preprocessing", {})
    lines = [f"# colorsweep model: {cfg.get('arch', '?')}", ""]
    if card.get("fine_tuned_from"):
        ft = card["fine_tuned_from"]
        lines += [f"Fine-tuned from {ft.get('source')} for {ft.get('epochs_added')} more epoch(s) "
                  f"(epochs {ft.get('epochs_before', 0) + 1}..{ft.get('epochs_before', 0) + ft.get('epochs_added', 0)}; "
                  f"optimizer state {ft.get('optimizer_state')}).", ""]
    lines += [
        f"- exported: {card.get('exported')}",
        f"- model file: `{card.get('model_file')}` (input {card.get('input_size')}x{card.get('input_size')}, "
        f"{card.get('parameters')} parameters)",
        f"- source: run `{src.get('run_dir')}`, trial `{src.get('trial_id')}`, rank {src.get('rank')} by "
        f"{src.get('ranked_by', {}).get('metric')}" + (f", picked by `{src['picked_by']}`" if src.get("picked_by") else "")
        if src.get("trial_id") else f"- source: {src.get('path')}",
        f"- epochs trained: {card.get('epochs_trained')}, weights of epoch {card.get('best_epoch')} "
        f"(best validation {cfg.get('monitor')})",
        "", "## Validation metrics (best epoch) beside the baselines", "",
        f"Split: {val.get('split')} ({val.get('n_images')} images). "
        "Lower is better for ab_mse, delta_e, colorfulness_gap; higher for the others.", "",
        "```", format_table(rows, ["prediction", *names]), "```", "",
        "## Configuration", "", "```json", json.dumps(cfg, indent=1), "```", "",
        "## Data", "",
        f"- source: `{data.get('source')}`",
        f"- fingerprint: `{data.get('fingerprint')}`",
        f"- size: {data.get('size')} px, lab_mode: {data.get('lab_mode')}, split (train/val/test): {data.get('split')}",
        "", "## Preprocessing (to use the model)", "",
        f"- colour space: {pre.get('color_space')}",
        f"- input: {pre.get('input', {}).get('encoding')} — `{pre.get('input', {}).get('function')}`, "
        f"shape {pre.get('input', {}).get('shape')}",
        f"- output: {pre.get('output', {}).get('encoding')} — `{pre.get('output', {}).get('function')}`, "
        f"shape {pre.get('output', {}).get('shape')}",
        "- full resolution:",
        *[f"  {i}. {step}" for i, step in enumerate(pre.get("full_resolution", []), start=1)],
        f"- all of this: `{pre.get('function')}`; command line: `{pre.get('command')}`",
        "", "## Loading", "",
        "```python", "from search.best import load_exported", "model = load_exported(\"THIS_FOLDER\")",
        "# or, with only Keras: keras.saving.load_model(\"THIS_FOLDER/model.keras\", compile=False)", "```", "",
        "## Versions", "", "```json", json.dumps(card.get("versions", {}), indent=1), "```", "",
    ]
    return "\n".join(lines)


def _write_card(out: Path, card: dict) -> None:
    write_json_atomic(out / CARD_JSON, card)
    write_text_atomic(out / CARD_MD, _card_markdown(card))


def _check_out(out: str | os.PathLike, *, overwrite: bool) -> Path:
    """Fail early (before any work) when ``out`` cannot be written."""
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {out} is a file; pass a folder")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"{out} is not empty; choose another --out or pass --overwrite to replace what is there"
            )
        ours = {MODEL_FILE, CARD_JSON, CARD_MD, CHECKPOINTS_DIR}
        others = sorted(p.name for p in out.iterdir() if p.name not in ours)
        if others:
            raise FileExistsError(
                f"refusing to overwrite {out}: it holds more than an exported model ({', '.join(others[:5])}); "
                "choose a new or empty --out"
            )
    return out


def _prepare_out(out: str | os.PathLike, *, overwrite: bool) -> Path:
    out = _check_out(out, overwrite=overwrite)
    for name in (MODEL_FILE, CARD_JSON, CARD_MD, CHECKPOINTS_DIR):  # overwrite: only what we wrote before
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out


def _copy_atomic(src: Path, dst: Path) -> None:
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


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
    ``OUT/model_card.md`` (which records the rule); ``out`` defaults to ``RUN_DIR/best/rank-K``, or
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
    data = dict(info.get("data", {}))
    card = {
        "format": CARD_FORMAT,
        "model_file": MODEL_FILE,
        "exported": _now(),
        "source": {
            "kind": "sweep-trial",
            "run_dir": str(trial.run_dir.resolve()),
            "sweep_name": info.get("name"),
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
        "versions": {"trained_with": info.get("versions", {}), "exported_with": _versions()},
    }
    if trial.metric != card["config"].get("monitor"):
        card["validation"]["note"] = (
            f"ranked by {trial.metric}, but the checkpoint holds the best epoch by the trial's monitored "
            f"metric {card['config'].get('monitor')}"
        )
    _write_card(out, card)
    return out


# -- colorize -----------------------------------------------------------------------------------------------
class _Progress:
    """A plain-text progress bar on a stream: redrawn in place on a terminal, a line per 10% otherwise."""

    def __init__(self, total: int, *, enabled: bool, label: str = "colorizing", stream=None, width: int = 30):
        self.total, self.label, self.width = total, label, width
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and total > 1
        self.tty = self.enabled and bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = max(1, total // 10)
        self.drawn = 0

    def _bar(self, done: int) -> str:
        filled = int(self.width * done / max(1, self.total))
        return f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{self.total}"

    def update(self, done: int, name: str = "") -> None:
        if not self.enabled:
            return
        if self.tty:
            line = f"{self._bar(done)} {name[-40:]}"
            self.stream.write("\r" + line.ljust(self.drawn))
            self.drawn = len(line)
        elif done % self.every == 0 or done == self.total:
            self.stream.write(self._bar(done) + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        if self.tty and self.drawn:
            self.stream.write("\r" + " " * self.drawn + "\r")
            self.drawn = 0
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def _plan(inputs: Sequence[Path], out_dir: Path) -> tuple[list[tuple[Path, Path]], list[dict]]:
    """(input file, output file) pairs, and inputs skipped before decoding (missing, no images)."""
    from colorize_core.data import discover_images

    jobs: list[tuple[Path, Path]] = []
    skipped: list[dict] = []
    out_resolved = out_dir.resolve()
    several = len(inputs) > 1
    for given in inputs:
        if not given.exists():
            skipped.append({"path": str(given), "reason": "not found"})
            continue
        if given.is_file():
            jobs.append((given, out_dir / given.name))
            continue
        try:
            files = discover_images(given)
        except (ValueError, FileNotFoundError) as exc:
            skipped.append({"path": str(given), "reason": str(exc)})
            continue
        root = given.resolve()
        prefix = Path(given.resolve().name) if several else Path()
        for f in files:
            if out_resolved == f.parent or out_resolved in f.parents:
                continue  # earlier outputs inside an input folder are not inputs
            jobs.append((f, out_dir / prefix / f.relative_to(root)))
    return jobs, skipped


def colorize_paths(
    model_or_run_dir: Any,
    inputs: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    out_dir: str | os.PathLike,
    compare: bool = False,
    progress: bool = True,
    rank: int = 1,
    lab_mode: str | None = None,
) -> dict:
    """Colorize image files and folders (searched recursively) at full resolution into ``out_dir``.

    ``model_or_run_dir``: a Keras model, an exported folder, a ``.keras`` file or a run directory.
    Each output has its input's file name, extension and pixel size (folders keep their relative
    sub-paths; with several inputs, each folder's outputs go under a subfolder of its name). With
    ``compare`` the output is the grey input beside the colorized result (twice as wide). Files
    that cannot be read or written are skipped with their reason, never raised. ``progress`` shows a
    text progress bar and the skip messages on stderr.

    Returns ``{"written": n, "skipped": n, "outputs": [...], "skipped_files": [{"path", "reason"}],
    "out_dir": str, "model": str}``. Raises ValueError when nothing at all was found to colorize.
    """
    import cv2

    from colorize_core import color
    from colorize_core.data import ImageError, read_image
    from colorize_core.predict import colorize_rgb, side_by_side, write_rgb

    if hasattr(model_or_run_dir, "predict"):
        model, model_name, mode = model_or_run_dir, getattr(model_or_run_dir, "name", "model"), "float"
        temperature = None
    else:
        source = _resolve(model_or_run_dir, rank=rank)
        model, model_name, mode = _load_keras(source.model_path), source.describe(), source.lab_mode
        temperature = source.temperature
    mode = lab_mode or mode
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    inputs = [Path(p).expanduser() for p in inputs]
    if not inputs:
        raise ValueError("inputs must name at least one image file or folder")
    out_dir = Path(out_dir).expanduser()
    jobs, skipped = _plan(inputs, out_dir)
    if not jobs:
        reasons = "; ".join(f"{s['path']}: {s['reason']}" for s in skipped)
        raise ValueError(f"nothing to colorize: {reasons}")

    bar = _Progress(len(jobs), enabled=progress)
    for entry in skipped:
        if progress:
            bar.message(f"skipped {entry['path']}: {entry['reason']}")
    outputs: list[dict] = []
    claimed: dict[Path, Path] = {}
    for done, (src, dst) in enumerate(jobs, start=1):
        reason = None
        key = dst.resolve()
        if key == src.resolve():
            reason = "the output would overwrite the input; choose another --out"
        elif key in claimed:
            reason = f"same output name as {claimed[key]}; colorize it separately with another --out"
        if reason is None:
            try:
                rgb = read_image(src)
                result = colorize_rgb(model, rgb, lab_mode=mode, temperature=temperature)
                image = result
                if compare:
                    lightness = color.rgb_to_lab(rgb, lab_mode=mode)[..., 0]
                    gray = color.lab_to_rgb(color.merge_lab(lightness, color.gray_ab(lightness.shape + (2,))))
                    image = side_by_side(gray, result)
                write_rgb(dst, image)
                claimed[key] = src
                outputs.append({"input": str(src), "output": str(dst), "width": int(result.shape[1]),
                                "height": int(result.shape[0])})
            except ImageError as exc:
                reason = f"unreadable image: {exc}"
            except (OSError, ValueError, cv2.error, MemoryError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
        if reason is not None:
            skipped.append({"path": str(src), "reason": reason})
            if progress:
                bar.message(f"skipped {src}: {reason}")
        bar.update(done, src.name)
    bar.close()
    return {"written": len(outputs), "skipped": len(skipped), "outputs": outputs, "skipped_files": skipped,
            "out_dir": str(out_dir), "model": model_name, "compare": bool(compare)}


# -- fine-tune ------------------------------------------------------------------------------------------------
def _evaluate(model, split, cfg) -> dict:
    from colorize_core import metrics
    from colorize_core.train import predict_ab

    pred = predict_ab(model, split.lightness, batch_size=max(cfg.batch_size, 64),
                      temperature=cfg.temperature, decode=cfg.decode)
    return metrics.evaluate(split.lightness, split.ab, pred, max_pixels=cfg.eval_max_pixels, seed=cfg.seed)


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
    current one.

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
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
    say = (lambda text: print(text, file=sys.stderr)) if verbose else (lambda text: None)
    _check_out(out, overwrite=overwrite)
    source = _resolve(model_or_run_dir, rank=rank)
    if Path(out).expanduser().resolve() in (source.model_path.parent.resolve(), source.path.resolve()):
        raise ValueError(f"--out {out} is the model being fine-tuned; choose a new folder")

    # what we start from: config, history, the checkpoint with optimizer state (if any), data record
    resume_dir: Path | None = None
    if source.kind == "trial":
        trial = source.trial
        config = trial.config()
        history = trial.history
        resume_dir = trial.checkpoint_dir if trial.last_model is not None else None
        start_epoch = trial.epochs if resume_dir is not None else (trial.best_epoch or 0)
        history = history[:start_epoch]
        data_record = dict(trial.info.get("data", {}))
        trained_with = trial.info.get("versions", {})
        origin = {"kind": "sweep-trial", "run_dir": str(trial.run_dir.resolve()), "trial_id": trial.record.trial_id,
                  "rank": trial.rank, "checkpoint": str(trial.checkpoint_dir)}
    elif source.kind == "exported":
        card = source.card or {}
        if not card.get("config"):
            raise ValueError(
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
        raise ValueError(
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
        raise ValueError(f"the data {source.describe()} was trained on is not recorded; pass --data PATH or demo")
    lab_mode = data_record.get("lab_mode", "float")
    try:
        dataset = load_dataset(data_arg, size=size, lab_mode=lab_mode, cache_dir=cache_dir)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{exc}; the model was trained on {data_record.get('source')!r}: pass --data PATH") from exc
    if same_data and size == data_record.get("size") and data_record.get("fingerprint") not in (None, dataset.fingerprint):
        say(f"warning: the data changed since training (fingerprint {str(data_record['fingerprint'])[:12]}... is now "
            f"{dataset.fingerprint[:12]}...); metrics are on the current files")

    cfg = TrainConfig.from_dict({**config, "epochs": start_epoch + epochs,
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
            raise ValueError(
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
