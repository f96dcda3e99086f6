"""What a fit takes and gives: the training configuration (:class:`TrainConfig`) and its result (:class:`FitResult`).

:class:`TrainConfig` checks every value when built (names of architectures, losses, optimizers and
metrics against their registries), so a bad trial fails before any training.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from colorize_core.errors import InvalidValueError
from colorize_core import metrics
from colorize_core.optimizers import LR_SCHEDULES
from colorize_core.sampling import MIN_CROP_SCALE

__all__ = ["TrainConfig", "FitResult", "ReportFn", "PRECISIONS"]

#: What :func:`colorize_core.train.fit` calls after every epoch: ``report(epoch, metrics)``, epoch from 1.
ReportFn = Callable[[int, dict], None]
#: Values of ``TrainConfig.precision`` (None and "float32" both mean full precision).
PRECISIONS = (None, "float32", "mixed_float16", "mixed_bfloat16")


@dataclass(frozen=True)
class TrainConfig:
    """One training configuration. Units: learning rates per step, sizes in pixels, epochs as counts.

    ``model_options`` are passed to :func:`colorize_core.models.create_model` (e.g. ``{"l1": 0.0}``
    for ``large_kernel``). ``monitor`` is the validation metric that early stopping,
    reduce-on-plateau and the best checkpoint follow (see :data:`colorize_core.metrics.METRICS`).
    ``eval_max_pixels`` caps the pixels CIEDE2000 is computed on each epoch (a fixed, seeded subset;
    None = all).

    ``loss`` must fit the architecture's head (``colorize_core.losses.loss_kind``): ``mse``, ``mae``,
    ``huber`` or ``ciede2000`` (the ranked ``delta_e`` itself) for regression models, ``cls_rebalanced`` for classification models; ``None`` (the
    default) picks ``mse`` or ``cls_rebalanced`` accordingly. ``temperature`` (> 0, unitless) and
    ``decode`` (``"annealed_mean"``, ``"mode"``, ``"mean"``) say how a classification model's logits
    become ab; ``output_activation`` applies to regression models only. Settings that do not apply
    to the architecture are accepted and ignored, so one search space can hold both kinds.

    ``samples_per_epoch``: None (the study's way: an epoch is one pass over the training split's fixed
    centre crops, randomly flipped and cropped when ``augment``), or a positive int: an epoch is that
    many random crops of the training photos kept whole (``LabDataset.pool``; see
    :mod:`colorize_core.sampling`), rounded up to whole batches, so an epoch is the same amount of
    training whatever the number of photos. ``augment`` then adds nothing and is ignored.
    ``min_crop_scale`` (in (0, 1], unitless): the smallest random crop's side as a fraction of the
    photo's short side (crops are uniform in [``min_crop_scale``, 1]; 1 = always the whole short side).
    Lower values zoom in further, away from what the validation and test centre crops show; ignored
    without ``samples_per_epoch``.

    ``lr_schedule``: ``"plateau"`` (the study's way: the learning rate is multiplied by
    ``reduce_lr_factor`` after ``reduce_lr_patience`` epochs without improvement, not below
    ``min_lr``) or ``"cosine"``: at the start of epoch ``e`` (0-based) of ``epochs`` it is
    ``min_lr + (learning_rate - min_lr) * (1 + cos(pi * e / epochs)) / 2``, from ``learning_rate`` down
    to about ``min_lr`` at the last epoch, whatever the validation metric does (``reduce_lr_patience``
    and ``reduce_lr_factor`` are then ignored). ``lr_schedule_start`` (epochs, default 0) is where the
    curve starts: epoch ``e`` uses ``(e - lr_schedule_start) / (epochs - lr_schedule_start)``. A
    resumed fit continues the same curve; ``colorsweep finetune`` sets it to the epochs already
    trained, so the added epochs run a curve of their own from ``learning_rate`` down to ``min_lr``.

    ``rebalance`` (in [0, 1], unitless): class rebalancing for regression losses, so that rare,
    saturated colours are not averaged away to grey. Each pixel's loss is weighted by ``w_q ** rebalance``,
    ``w`` Zhang et al.'s rebalancing weights (:func:`colorize_core.classification.class_weights_for`,
    λ = ½) of the bin of its true colour, normalised to mean 1 per batch. 0 (the default) trains
    unweighted; 1 uses the full weights. Ignored by classification models (their loss is always
    rebalanced).

    ``precision``: None or ``"float32"`` (full precision), ``"mixed_bfloat16"`` or ``"mixed_float16"``
    (Keras mixed precision: 16-bit activations and float32 weights; the ab output head stays float32;
    ``mixed_float16`` also scales the loss). :func:`fit` sets the global dtype policy for the fit only.
    """

    arch: str = "unet"
    optimizer: str = "adam"
    loss: str | None = None
    learning_rate: float = 1e-3
    batch_size: int = 16
    epochs: int = 10
    output_activation: str = "original"
    model_options: Mapping[str, Any] = field(default_factory=dict)
    early_stopping_patience: int | None = 5
    reduce_lr_patience: int | None = 2
    reduce_lr_factor: float = 0.1
    min_lr: float = 1e-7
    lr_schedule: str = "plateau"
    lr_schedule_start: int = 0
    monitor: str = "delta_e"
    augment: bool = False
    seed: int = 0
    eval_max_pixels: int | None = 200_000
    jit_compile: bool | str = "auto"
    temperature: float = 0.38
    decode: str = "annealed_mean"
    precision: str | None = None
    samples_per_epoch: int | None = None
    min_crop_scale: float = MIN_CROP_SCALE
    rebalance: float = 0.0

    def __post_init__(self) -> None:
        for name in ("batch_size", "epochs"):
            value = getattr(self, name)
            if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0):
                raise InvalidValueError(f"{name} must be a positive int, got {value!r}")
        if not (isinstance(self.learning_rate, (int, float)) and self.learning_rate > 0):
            raise InvalidValueError(f"learning_rate must be a positive number, got {self.learning_rate!r}")
        spe = self.samples_per_epoch
        if spe is not None and not (isinstance(spe, (int, np.integer)) and not isinstance(spe, bool) and spe > 0):
            raise InvalidValueError(f"samples_per_epoch must be a positive int or None, got {spe!r}")
        scale = self.min_crop_scale
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (math.isfinite(scale) and 0 < scale <= 1):
            raise InvalidValueError(
                f"min_crop_scale must be a number in (0, 1] (the smallest crop's side as a fraction of the "
                f"photo's short side; 1 = the whole short side), got {scale!r}"
            )
        rebalance = self.rebalance
        if isinstance(rebalance, bool) or not isinstance(rebalance, (int, float)) or not 0 <= rebalance <= 1:
            raise InvalidValueError(f"rebalance must be a number in [0, 1] (0: unweighted loss), got {rebalance!r}")
        for name in ("early_stopping_patience", "reduce_lr_patience"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and value >= 0):
                raise InvalidValueError(f"{name} must be a non-negative int or None, got {value!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise InvalidValueError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        start = self.lr_schedule_start
        if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or not 0 <= start < self.epochs:
            raise InvalidValueError(
                f"lr_schedule_start must be an int in [0, epochs) (the epoch the learning-rate curve starts at), "
                f"got {start!r} with epochs={self.epochs}"
            )
        if not 0 < self.reduce_lr_factor < 1:
            raise InvalidValueError(f"reduce_lr_factor must be in (0, 1), got {self.reduce_lr_factor!r}")
        metrics.metric_mode(self.monitor)  # raises with the list of known metrics
        from colorize_core.classification import DECODE_MODES
        from colorize_core.losses import LOSS_KINDS, list_losses, loss_kind
        from colorize_core.models import is_model, list_models, model_info
        from colorize_core.optimizers import list_optimizers
        from colorize_core.suggest import did_you_mean

        if not is_model(self.arch):
            raise InvalidValueError(f"arch must be one of {list_models()}, got {self.arch!r}{did_you_mean(self.arch, list_models())}")
        if self.optimizer not in list_optimizers():
            raise InvalidValueError(f"optimizer must be one of {list_optimizers()}, got {self.optimizer!r}")
        head = model_info(self.arch).head
        if self.loss is None:
            object.__setattr__(self, "loss", "cls_rebalanced" if head == "classification" else "mse")
        if self.loss not in list_losses():
            raise InvalidValueError(f"loss must be one of {list_losses()}, got {self.loss!r}")
        if loss_kind(self.loss) != head:
            fitting = sorted(name for name, kind in LOSS_KINDS.items() if kind == head)
            raise InvalidValueError(
                f"loss {self.loss!r} is a {loss_kind(self.loss)} loss but arch {self.arch!r} is a {head} model; "
                f"use loss {' or '.join(map(repr, fitting))} with it (or leave loss unset)"
            )
        temperature = self.temperature
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not (
            math.isfinite(temperature) and temperature > 0
        ):
            raise InvalidValueError(f"temperature must be a positive number, got {temperature!r}")
        if self.decode not in DECODE_MODES:
            raise InvalidValueError(f"decode must be one of {DECODE_MODES}, got {self.decode!r}")
        if self.precision not in PRECISIONS:
            raise InvalidValueError(f"precision must be one of {list(PRECISIONS)}, got {self.precision!r}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "TrainConfig":
        """Build from a plain dict (a trial's hyperparameters); unknown keys are rejected."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InvalidValueError(f"unknown training config key(s) {unknown}; allowed keys: {sorted(known)}")
        values = dict(values)
        for name in ("batch_size", "epochs", "samples_per_epoch"):
            if isinstance(values.get(name), (float, np.integer)) and float(values[name]).is_integer():
                values[name] = int(values[name])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every field."""
        out = dataclasses.asdict(self)
        out["model_options"] = dict(self.model_options)
        return out


@dataclass
class FitResult:
    """What one :func:`fit` produced. Metrics are validation-split values in real Lab units."""

    config: TrainConfig
    history: list[dict]
    best_epoch: int
    best_metrics: dict
    stopped_early: bool
    epochs_trained: int
    params: int
    train_time_s: float
    workdir: str | None
    model: Any = None

    def to_dict(self) -> dict:
        """JSON-able summary (without the model)."""
        return {
            "config": self.config.to_dict(),
            "history": self.history,
            "best_epoch": self.best_epoch,
            "best_metrics": self.best_metrics,
            "stopped_early": self.stopped_early,
            "epochs_trained": self.epochs_trained,
            "params": self.params,
            "train_time_s": self.train_time_s,
            "workdir": self.workdir,
        }
