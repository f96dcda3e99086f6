"""Locating and loading a model: an exported folder, a ``.keras`` file, or a run directory's best trial.

The models use only built-in Keras layers, losses and optimizers, so a fresh process with
colorsweep installed (Keras and its backend) loads them; :func:`unregistered_objects` is the check.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colorize_core.errors import InvalidValueError, MissingFileError
from search.best.folder import CARD_JSON, MODEL_FILE
from search.best.select import TrialCheckpoint, select_trial

__all__ = ["load_exported", "unregistered_objects"]


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
        raise InvalidValueError(
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
            return self.trial.info.data.lab_mode
        if self.card is not None:
            return self.card.get("data", {}).get("lab_mode", "float")
        return "float"

    @property
    def temperature(self) -> float | None:
        """The annealed-mean temperature the model was trained with (classification models)."""
        if self.trial is not None:
            fixed = (self.trial.info.space or {}).get("fixed", {})
            return self.trial.record.params.get("temperature", fixed.get("temperature"))
        if self.card is not None:
            return self.card.get("config", {}).get("temperature")
        return None

    def colour_strength(self, model) -> dict:
        """The colour strength to colorize with (:mod:`search.best.strength`): an export's, from its
        card; a run's trial's, fitted now on the sweep's validation photos; 1 for a bare .keras file
        and for exports made before colour strengths existed."""
        if self.card is not None:
            return self.card.get("colour_strength") or {"chroma": 1.0, "note": "not fitted (an older export)"}
        if self.trial is not None:
            from search.best.strength import colour_strength_of_model

            config = self.trial.config()
            return colour_strength_of_model(model, self.trial.info, temperature=self.temperature,
                                            decode=config.get("decode", "annealed_mean"),
                                            max_pixels=config.get("eval_max_pixels"), seed=int(config.get("seed", 0)))
        return {"chroma": 1.0, "note": "a bare model file"}

    def describe(self) -> str:
        if self.trial is not None:
            return f"trial {self.trial.record.trial_id} (rank {self.trial.rank}) of {self.trial.run_dir}"
        return str(self.path)


def _resolve(path: str | os.PathLike, *, rank: int = 1) -> _Source:
    path = Path(path).expanduser()
    if not path.exists():
        raise MissingFileError(
            f"{path} not found: pass an exported model folder (with {MODEL_FILE}), a .keras file, "
            "or a run directory (with sweep.json)"
        )
    if path.is_file():
        if path.suffix != ".keras":
            raise InvalidValueError(f"{path} is not a .keras model file; pass a .keras file, an exported folder or a run directory")
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
    raise MissingFileError(
        f"{path} is neither an exported model folder (no {MODEL_FILE}) nor a run directory (no sweep.json); "
        f"export one with `colorsweep export RUN_DIR --out DIR`"
    )


def _load_keras(model_path: Path, *, compile: bool = False):
    import keras

    import colorize_core.models  # noqa: F401  (registers any colorsweep serializable objects)

    model_path = Path(model_path)
    if not model_path.is_file():
        raise MissingFileError(f"model file not found: {model_path}")
    if not zipfile.is_zipfile(model_path):
        raise InvalidValueError(f"{model_path} is not a Keras model file (not a .keras zip archive: truncated, or another "
                                f"kind of file); export it again with `colorsweep export RUN_DIR --out DIR`")
    try:
        from colorize_core.losses import register_custom_objects

        register_custom_objects()
        return keras.saving.load_model(model_path, compile=compile)
    except (zipfile.BadZipFile, KeyError, EOFError, OSError) as exc:
        raise InvalidValueError(f"{model_path} is not a Keras model file ({type(exc).__name__}: {exc}); export it again "
                                f"with `colorsweep export RUN_DIR --out DIR`") from None


def load_exported(path: str | os.PathLike, *, rank: int = 1, compile: bool = False):
    """Load a model: an exported folder (``model.keras``), a ``.keras`` file, or a run directory
    (its ``rank``-th best trial's ``best.keras``). Returns the Keras model (uncompiled by default:
    enough for prediction)."""
    source = _resolve(path, rank=rank)
    return _load_keras(source.model_path, compile=compile)
