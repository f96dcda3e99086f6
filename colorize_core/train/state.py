"""Training state: how far a fit has come (:class:`TrainState`), kept as ``state.json`` in its workdir.

A fit with a ``workdir`` rewrites ``state.json`` after every epoch, next to ``last.keras`` (model and
optimizer state); the two together are what a resumed fit continues from. A caller that holds a model
in memory passes the state to ``fit(model=..., initial_state=...)`` instead (fine-tuning does).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from colorize_core.files import write_atomic
from colorize_core.train.config import TrainConfig

__all__ = ["STATE_FILE", "TrainState"]

#: The training state's file name in a workdir (see :meth:`TrainState.save`).
STATE_FILE = "state.json"


@dataclass
class TrainState:
    """What a fit has done so far, in the form it saves as ``state.json``.

    Attributes:
        epoch: epochs trained (0 before the first); the next epoch trained is ``epoch + 1``.
        history: one record per epoch trained (what ``report`` got: validation metrics in Lab units,
            losses, ``lr``, ``train_time_s``...), epoch 1 first.
        best_value: the monitored metric at the best epoch, or None when no epoch counts yet (any
            finite value then beats it).
        best_epoch: the epoch of ``best_value`` (0: the starting point, before any epoch).
        es_wait: epochs since the last improvement, counted by early stopping.
        lr_wait: epochs since the last improvement or LR reduction, counted by reduce-LR-on-plateau.
        stopped_early: early stopping ended the fit; a resumed fit trains no further.
        config: the :class:`~colorize_core.train.config.TrainConfig` of the fit as a plain dict (a
            resumed fit checks it against its own, epochs aside).
    """

    epoch: int = 0
    history: list[dict] = field(default_factory=list)
    best_value: float | None = None
    best_epoch: int = 0
    es_wait: int = 0
    lr_wait: int = 0
    stopped_early: bool = False
    config: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(cls, config: TrainConfig) -> "TrainState":
        """The state of a fit of ``config`` before its first epoch."""
        return cls(config=config.to_dict())

    @property
    def learning_rate(self) -> float | None:
        """The learning rate (per step) of the last epoch trained, from ``history``; None before any."""
        return float(self.history[-1]["lr"]) if self.history else None

    @property
    def train_time_s(self) -> float:
        """Seconds spent in optimisation steps over every epoch trained (evaluation excluded)."""
        return self.history[-1]["train_time_s"] if self.history else 0.0

    def same_configuration(self, config: TrainConfig) -> bool:
        """Whether this state is of a fit of ``config``, ``epochs`` aside (a resumed fit may train more).
        Fields this state's config lacks (saved before they existed) count as their defaults."""
        return _without_epochs(self.config) == _without_epochs(config.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict, in ``state.json``'s key order."""
        return {
            "epoch": self.epoch, "history": self.history, "best_value": self.best_value,
            "best_epoch": self.best_epoch, "es_wait": self.es_wait, "lr_wait": self.lr_wait,
            "stopped_early": self.stopped_early, "config": self.config,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "TrainState":
        """Build from a dict like :meth:`to_dict`'s; missing keys take their defaults, others are ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def save(self, path: str | os.PathLike) -> None:
        """Write to ``path`` (usually ``workdir / STATE_FILE``) atomically: a reader sees the old file
        or the new one, never half of one (:func:`colorize_core.files.write_atomic`)."""
        text = json.dumps(self.to_dict(), indent=1, default=float)
        write_atomic(path, lambda handle: handle.write(text))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TrainState":
        """Read a state written by :meth:`save` (or by an older colorsweep)."""
        return cls.from_dict(json.loads(Path(path).read_text()))


def _without_epochs(config: Mapping[str, Any]) -> dict:
    """``config`` without ``epochs``, with the defaults of fields it lacks (a checkpoint written before
    a field existed, e.g. ``samples_per_epoch``, still matches a configuration that leaves it default)."""
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.default is not dataclasses.MISSING}
    defaults["model_options"] = {}
    return {k: v for k, v in {**defaults, **config}.items() if k != "epochs"}
