"""Build, compile and train one configuration; report validation metrics every epoch.

``fit(config, data, report)`` is what one sweep trial runs, and what ``colorsweep train`` runs
without Ray. It knows nothing of Ray: the caller passes a plain ``report(epoch, metrics)`` callable.

Per epoch it computes :mod:`colorize_core.metrics` on the validation split (real Lab units, the same
for every trial whatever its loss), applies the study's callbacks (early stopping with best weights
restored, reduce-LR-on-plateau, both on the monitored metric), and, when given a ``workdir``, keeps
checkpoints there: ``best.keras`` (weights of the best epoch), ``last.keras`` (with optimizer state),
``state.json`` (epoch, history, callback state). A ``workdir`` holding a ``state.json`` is resumed
from its last epoch, not restarted.

Classification models (``model_info(arch).head == "classification"``, Zhang et al. 2016, see
:mod:`colorize_core.classification`) train on soft-encoded targets computed batch by batch, with the
``cls_rebalanced`` loss weighted from the training split; their validation logits are decoded to ab
(``decode``, ``temperature``) and upsampled to the input size before the same metrics as every
regression model.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from colorize_core import color, metrics
from colorize_core.data import LabDataset, LabSplit, augment_batch

__all__ = ["TrainConfig", "FitResult", "fit", "predict_ab", "ReportFn"]

ReportFn = Callable[[int, dict], None]
STATE_FILE = "state.json"
BEST_MODEL = "best.keras"
LAST_MODEL = "last.keras"
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

    ``loss`` must fit the architecture's head (``colorize_core.losses.loss_kind``): ``mse``, ``mae`` or
    ``huber`` for regression models, ``cls_rebalanced`` for classification models; ``None`` (the
    default) picks ``mse`` or ``cls_rebalanced`` accordingly. ``temperature`` (> 0, unitless) and
    ``decode`` (``"annealed_mean"``, ``"mode"``, ``"mean"``) say how a classification model's logits
    become ab; ``output_activation`` applies to regression models only. Settings that do not apply
    to the architecture are accepted and ignored, so one search space can hold both kinds.

    ``samples_per_epoch``: None (the study's way: an epoch is one pass over the training split's fixed
    centre crops, randomly flipped and cropped when ``augment``), or a positive int: an epoch is that
    many random crops of the training photos kept whole (``LabDataset.pool``; see
    :mod:`colorize_core.sampling`), rounded up to whole batches, so an epoch is the same amount of
    training whatever the number of photos. ``augment`` then adds nothing and is ignored.

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
    monitor: str = "delta_e"
    augment: bool = False
    seed: int = 0
    eval_max_pixels: int | None = 200_000
    jit_compile: bool | str = "auto"
    temperature: float = 0.38
    decode: str = "annealed_mean"
    precision: str | None = None
    samples_per_epoch: int | None = None
    rebalance: float = 0.0

    def __post_init__(self) -> None:
        for name in ("batch_size", "epochs"):
            value = getattr(self, name)
            if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0):
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not (isinstance(self.learning_rate, (int, float)) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a positive number, got {self.learning_rate!r}")
        spe = self.samples_per_epoch
        if spe is not None and not (isinstance(spe, (int, np.integer)) and not isinstance(spe, bool) and spe > 0):
            raise ValueError(f"samples_per_epoch must be a positive int or None, got {spe!r}")
        rebalance = self.rebalance
        if isinstance(rebalance, bool) or not isinstance(rebalance, (int, float)) or not 0 <= rebalance <= 1:
            raise ValueError(f"rebalance must be a number in [0, 1] (0: unweighted loss), got {rebalance!r}")
        for name in ("early_stopping_patience", "reduce_lr_patience"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and value >= 0):
                raise ValueError(f"{name} must be a non-negative int or None, got {value!r}")
        if not 0 < self.reduce_lr_factor < 1:
            raise ValueError(f"reduce_lr_factor must be in (0, 1), got {self.reduce_lr_factor!r}")
        metrics.metric_mode(self.monitor)  # raises with the list of known metrics
        from colorize_core.classification import DECODE_MODES
        from colorize_core.losses import LOSS_KINDS, list_losses, loss_kind
        from colorize_core.models import is_model, list_models, model_info
        from colorize_core.optimizers import list_optimizers
        from colorize_core.suggest import did_you_mean

        if not is_model(self.arch):
            raise ValueError(f"arch must be one of {list_models()}, got {self.arch!r}{did_you_mean(self.arch, list_models())}")
        if self.optimizer not in list_optimizers():
            raise ValueError(f"optimizer must be one of {list_optimizers()}, got {self.optimizer!r}")
        head = model_info(self.arch).head
        if self.loss is None:
            object.__setattr__(self, "loss", "cls_rebalanced" if head == "classification" else "mse")
        if self.loss not in list_losses():
            raise ValueError(f"loss must be one of {list_losses()}, got {self.loss!r}")
        if loss_kind(self.loss) != head:
            fitting = sorted(name for name, kind in LOSS_KINDS.items() if kind == head)
            raise ValueError(
                f"loss {self.loss!r} is a {loss_kind(self.loss)} loss but arch {self.arch!r} is a {head} model; "
                f"use loss {' or '.join(map(repr, fitting))} with it (or leave loss unset)"
            )
        temperature = self.temperature
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not (
            math.isfinite(temperature) and temperature > 0
        ):
            raise ValueError(f"temperature must be a positive number, got {temperature!r}")
        if self.decode not in DECODE_MODES:
            raise ValueError(f"decode must be one of {DECODE_MODES}, got {self.decode!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {self.precision!r}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "TrainConfig":
        """Build from a plain dict (a trial's hyperparameters); unknown keys are rejected."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown training config key(s) {unknown}; allowed keys: {sorted(known)}")
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


def predict_ab(
    model, lightness: np.ndarray, *, batch_size: int = 64, temperature: float | None = None,
    decode: str = "annealed_mean",
) -> np.ndarray:
    """Predict ab in Lab units (N, H, W, 2) from L in [0, 100] (N, H, W, 1) with a trained model.

    A classification model (recognised by its Q output channels) has its logits decoded with
    ``decode`` at ``temperature`` (default :data:`colorize_core.classification.DEFAULT_TEMPERATURE`)
    and upsampled to (H, W), chunk by chunk; both are ignored for a regression model.
    """
    from colorize_core import classification

    if classification.is_classification_model(model):
        t = classification.DEFAULT_TEMPERATURE if temperature is None else temperature
        ab, _ = classification.predict_logits_ab(
            model, color.encode_l(lightness), temperature=t, decode=decode, batch_size=batch_size
        )
        return ab
    encoded = model.predict(color.encode_l(lightness), batch_size=batch_size, verbose=0)
    return color.decode_ab(np.asarray(encoded))


def _reset_peak_rss() -> None:
    """Start this process's peak-resident-memory count afresh (Linux: ``/proc/self/clear_refs``), so
    that a fit in a process that ran earlier fits (a reused sweep worker) reports its own peak."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:  # not Linux, or not permitted: _peak_rss_mb falls back to the lifetime peak
        pass


def _peak_rss_mb() -> float | None:
    """Peak resident memory of this process, MiB (host RAM; GPU memory is not measured here): since
    the last :func:`_reset_peak_rss` on Linux (``VmHWM``), else over the process's lifetime."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def _without_epochs(config: dict) -> dict:
    """``config`` without ``epochs``, with the defaults of fields it lacks (a checkpoint written before
    a field existed, e.g. ``samples_per_epoch``, still matches a configuration that leaves it default)."""
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.default is not dataclasses.MISSING}
    defaults["model_options"] = {}
    return {k: v for k, v in {**defaults, **config}.items() if k != "epochs"}


def _regularization_penalty(model) -> float:
    import keras

    if not model.losses:
        return 0.0
    return float(sum(float(keras.ops.convert_to_numpy(v)) for v in model.losses))


def _save_json_atomic(path: Path, payload: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=float))
    os.replace(tmp, path)


def _save_model_atomic(model, path: Path) -> None:
    tmp = path.with_name(path.stem + ".tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)


def _shuffled_batches(x, y, *, batch_size, seed, augment, target=None, weights=None):
    """Shuffled mini-batches of (x, target(y)) as a Keras PyDataset, reshuffled every epoch.

    ``augment`` applies a random flip + crop to each batch (the same to x and y); ``target`` maps a
    batch of y to what the loss wants (classification: soft-encoded ab at the model's output size,
    computed per batch because for a whole split at 128 px it would take GBs). ``weights`` (regression
    only, y encoded ab) maps a batch of ab in Lab units to per-pixel loss weights ``(N, H, W)``, added
    as Keras sample weights (:func:`_pixel_weighting`).
    """
    import keras

    class _Seq(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.order = self.rng.permutation(len(x))

        def __len__(self):
            return math.ceil(len(x) / batch_size)

        def __getitem__(self, index):
            idx = np.sort(self.order[index * batch_size:(index + 1) * batch_size])
            x_batch, y_batch = x[idx], y[idx]
            if augment:
                x_batch, y_batch = augment_batch(x_batch, y_batch, rng=self.rng)
            if weights is not None:
                return x_batch, y_batch, weights(color.decode_ab(y_batch))
            return x_batch, (target(y_batch) if target is not None else y_batch)

        def on_epoch_end(self):
            self.order = self.rng.permutation(len(x))

    return _Seq()


def _crop_batches(pool, *, size, samples, batch_size, seed, lab_mode, first_epoch, target=None, weights=None):
    """``ceil(samples / batch_size)`` batches per epoch of random crops of ``pool``'s photos
    (:func:`colorize_core.sampling.sample_crops`), as a Keras PyDataset of (encoded L, target).

    Every batch is full (the same shape every step: no retracing). Batch ``i`` of epoch ``e`` is
    drawn from ``default_rng([seed, e, i])``: the same samples whatever the loader's threads, and a
    resumed fit (``first_epoch``) continues the sequence it would have drawn. ``weights``: as in
    :func:`_shuffled_batches`.
    """
    import keras

    from colorize_core.sampling import sample_crops

    class _Crops(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epoch = first_epoch

        def __len__(self):
            return math.ceil(samples / batch_size)

        def __getitem__(self, index):
            rng = np.random.default_rng([seed, self.epoch, index])
            lightness, ab = sample_crops(pool, batch_size, size, rng=rng, lab_mode=lab_mode)
            if weights is not None:
                return color.encode_l(lightness), color.encode_ab(ab), weights(ab)
            return color.encode_l(lightness), (target(ab) if target is not None else color.encode_ab(ab))

        def on_epoch_end(self):
            self.epoch += 1

    return _Crops()


def _pixel_weighting(class_weights: np.ndarray, strength: float) -> Callable[[np.ndarray], np.ndarray]:
    """The per-pixel loss weights of ``TrainConfig.rebalance``: a function from a batch of ab
    ``(N, H, W, 2)`` in Lab units to ``(N, H, W)`` float32 weights ``w[nearest bin] ** strength``,
    normalised to mean 1 over the batch (so the loss keeps its scale and the learning rate its meaning)."""
    from colorize_core.classification import nearest_bin

    table = np.asarray(class_weights, dtype=np.float64) ** float(strength)

    def weigh(ab: np.ndarray) -> np.ndarray:
        pixel = table[nearest_bin(ab)]
        return (pixel / pixel.mean()).astype(np.float32)

    return weigh


def _build_model(cfg: TrainConfig, size: int, class_weights=None):
    from colorize_core.losses import get_loss
    from colorize_core.models import create_model
    from colorize_core.optimizers import get_optimizer

    model = create_model(cfg.arch, size, output_activation=cfg.output_activation, **dict(cfg.model_options))
    model.compile(
        optimizer=get_optimizer(cfg.optimizer, learning_rate=cfg.learning_rate),
        loss=get_loss(cfg.loss, class_weights=class_weights),
        jit_compile=_resolve_jit(cfg.jit_compile),
    )
    return model


def _resolve_jit(jit_compile: bool | str) -> bool | str:
    """XLA compilation: ``"auto"`` turns it off for TensorFlow on CPU, where compiling these models
    costs 10-40 s per trial (measured at 32 px on 2 cores) and the compiled steps are not faster."""
    if jit_compile != "auto":
        return bool(jit_compile)
    import keras

    if keras.backend.backend() == "tensorflow":
        from colorize_core._backend import tensorflow_has_gpu

        return "auto" if tensorflow_has_gpu() else False
    return "auto"


def _isolated(fit_fn):
    """Run ``fit`` so that it leaves the process as it found it, for the next fit in the same process
    (a reused sweep worker): under its configuration's dtype policy (``precision``), restoring the
    previous one, and with TensorFlow's global gradient entries of its graphs released."""

    @functools.wraps(fit_fn)
    def wrapper(config, *args, **kwargs):
        import keras

        from colorize_core._backend import released_tensorflow_gradients

        cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
        previous = keras.mixed_precision.global_policy().name
        keras.mixed_precision.set_global_policy(cfg.precision or "float32")
        try:
            with released_tensorflow_gradients():  # else each fit leaks its graph (TensorFlow only)
                return fit_fn(cfg, *args, **kwargs)
        finally:
            keras.mixed_precision.set_global_policy(previous)

    return wrapper


@_isolated
def fit(
    config: TrainConfig | Mapping[str, Any],
    data: LabDataset,
    report: ReportFn | None = None,
    *,
    workdir: str | os.PathLike | None = None,
    keep_model: bool = False,
    verbose: int = 0,
    tensorboard: bool = True,
) -> FitResult:
    """Train one configuration on ``data`` and return its history and best validation metrics.

    ``report(epoch, metrics)`` is called after every epoch (epoch counted from 1) with the validation
    metrics of :mod:`colorize_core.metrics` under their bare names (``delta_e``, ``ab_mse``...), plus
    ``train_loss``, ``val_loss`` (the training loss on validation, penalty included), ``penalty``
    (regularisation), ``val_data_loss``, ``lr``, ``epoch_train_s`` and ``train_time_s`` (cumulative
    seconds spent in optimisation steps, evaluation excluded). If ``report`` raises, training stops
    and the exception propagates (that is how a scheduler stops a trial).

    With ``workdir``, checkpoints are kept there and an existing ``state.json`` is resumed (and, with
    ``tensorboard``, per-epoch scalars are written to ``workdir/tensorboard``; a sweep turns that off:
    its report writes one TensorBoard run per trial). With
    ``keep_model``, the trained model (best weights restored) is returned in ``FitResult.model``;
    otherwise the Keras session is cleared so many fits can run in one process.
    """
    import keras

    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    if len(data.train) == 0 or len(data.val) == 0:
        raise ValueError(
            f"the data set needs non-empty train and val splits, got {len(data.train)} train and "
            f"{len(data.val)} val images: add images or check `colorsweep data inspect`"
        )
    if cfg.samples_per_epoch is not None and data.pool is None:
        raise ValueError(
            "samples_per_epoch draws random crops from the training photos kept whole, but this data set "
            "has no photo pool: load it with load_dataset(..., pool_side='auto') (the default), or set "
            "samples_per_epoch to None"
        )
    if cfg.samples_per_epoch is None and cfg.batch_size > len(data.train):
        raise ValueError(
            f"batch_size must be at most the training split size ({len(data.train)}), got {cfg.batch_size}"
        )
    mode = metrics.metric_mode(cfg.monitor)
    better = (lambda a, b: a < b) if mode == "min" else (lambda a, b: a > b)
    workdir_path = Path(workdir) if workdir is not None else None
    if workdir_path is not None:
        workdir_path.mkdir(parents=True, exist_ok=True)

    keras.utils.set_random_seed(cfg.seed)
    _reset_peak_rss()
    from colorize_core.models import model_info

    is_classifier = model_info(cfg.arch).head == "classification"
    x_train = color.encode_l(data.train.lightness)
    # classification targets are soft-encoded per batch (_shuffled_batches), from ab in Lab units
    y_train = data.train.ab if is_classifier else color.encode_ab(data.train.ab)
    val: LabSplit = data.val
    eval_batch = max(cfg.batch_size, 64)

    state: dict[str, Any] = {
        "epoch": 0, "history": [], "best_value": None, "best_epoch": 0,
        "es_wait": 0, "lr_wait": 0, "stopped_early": False, "config": cfg.to_dict(),
    }
    model = None
    if workdir_path is not None and (workdir_path / STATE_FILE).exists() and (workdir_path / LAST_MODEL).exists():
        saved = json.loads((workdir_path / STATE_FILE).read_text())
        if _without_epochs(saved.get("config", {})) != _without_epochs(cfg.to_dict()):
            raise ValueError(
                f"{workdir_path} holds checkpoints of a different configuration; use an empty workdir"
            )
        state = saved
        state["config"] = cfg.to_dict()  # more epochs than before may be asked for
        from colorize_core.losses import register_custom_objects

        register_custom_objects()
        model = keras.saving.load_model(workdir_path / LAST_MODEL, compile=True)
    if model is None:
        if is_classifier:
            from colorize_core.classification import class_weights_for

            source = "pool" if cfg.samples_per_epoch is not None else "train"
            model = _build_model(cfg, data.size, class_weights_for(data, source=source))
        else:
            model = _build_model(cfg, data.size)
    params = int(model.count_params())

    class _EpochEnd(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_train_s = time.perf_counter() - self.t0
            logs = logs if logs is not None else {}
            loss_fn = self.model.loss
            if is_classifier:  # logits → ab (decode + upsample), loss on soft targets, chunk by chunk
                from colorize_core.classification import predict_logits_ab

                ab_pred, val_data_loss = predict_logits_ab(
                    self.model, color.encode_l(val.lightness), temperature=cfg.temperature, decode=cfg.decode,
                    batch_size=eval_batch, targets_ab=val.ab, loss_fn=loss_fn,
                )
            else:
                encoded = np.asarray(self.model.predict(color.encode_l(val.lightness), batch_size=eval_batch, verbose=0))
                ab_pred = color.decode_ab(encoded)
                val_data_loss = float(keras.ops.convert_to_numpy(loss_fn(color.encode_ab(val.ab), encoded)))
            values = metrics.evaluate(val.lightness, val.ab, ab_pred, max_pixels=cfg.eval_max_pixels, seed=cfg.seed)
            penalty = _regularization_penalty(self.model)
            lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            train_time = (state["history"][-1]["train_time_s"] if state["history"] else 0.0) + epoch_train_s
            record = {
                "epoch": epoch + 1,
                **values,
                "train_loss": float(logs.get("loss", float("nan"))),
                "val_loss": val_data_loss + penalty,
                "val_data_loss": val_data_loss,
                "penalty": penalty,
                "lr": lr,
                "epoch_train_s": epoch_train_s,
                "train_time_s": train_time,
                "params": params,
                "peak_memory_mb": _peak_rss_mb(),
            }
            logs.update(record)  # later callbacks (TensorBoard) see the validation metrics
            state["history"].append(record)
            state["epoch"] = epoch + 1
            current = values[cfg.monitor]
            improved = state["best_value"] is None or (math.isfinite(current) and better(current, state["best_value"]))
            if improved:
                state["best_value"], state["best_epoch"] = current, epoch + 1
                state["es_wait"] = state["lr_wait"] = 0
                if workdir_path is not None:
                    _save_model_atomic(self.model, workdir_path / BEST_MODEL)
                else:
                    self.best_weights = self.model.get_weights()
            else:
                state["es_wait"] += 1
                state["lr_wait"] += 1
                if cfg.reduce_lr_patience is not None and state["lr_wait"] >= cfg.reduce_lr_patience:
                    new_lr = max(lr * cfg.reduce_lr_factor, cfg.min_lr)
                    if new_lr < lr:
                        self.model.optimizer.learning_rate = new_lr
                    state["lr_wait"] = 0
                if cfg.early_stopping_patience is not None and state["es_wait"] >= cfg.early_stopping_patience:
                    state["stopped_early"] = True
                    self.model.stop_training = True
            record["early_stopped"] = bool(state["stopped_early"])
            record["best_epoch"] = state["best_epoch"]
            if workdir_path is not None:
                _save_model_atomic(self.model, workdir_path / LAST_MODEL)
                _save_json_atomic(workdir_path / STATE_FILE, state)
            if report is not None:
                report(epoch + 1, dict(record))

    epoch_end = _EpochEnd()
    epoch_end.best_weights = None
    callbacks = [epoch_end]
    if workdir_path is not None and tensorboard:
        from colorize_core._backend import epoch_logger

        tb = epoch_logger(workdir_path / "tensorboard")
        if tb is not None:
            callbacks.append(tb)

    if state["epoch"] < cfg.epochs and not state["stopped_early"]:
        target = weights = None
        if cfg.rebalance > 0 and not is_classifier:
            from colorize_core.classification import class_weights_for

            source = "pool" if cfg.samples_per_epoch is not None else "train"
            weights = _pixel_weighting(class_weights_for(data, source=source), cfg.rebalance)
        if is_classifier:
            from colorize_core.classification import soft_encode

            factor = data.size // int(model.output_shape[1])
            target = functools.partial(soft_encode, factor=factor)
        if cfg.samples_per_epoch is not None:
            batches = _crop_batches(data.pool, size=data.size, samples=cfg.samples_per_epoch,
                                    batch_size=cfg.batch_size, seed=cfg.seed, lab_mode=data.lab_mode,
                                    first_epoch=state["epoch"], target=target, weights=weights)
            model.fit(batches, epochs=cfg.epochs, initial_epoch=state["epoch"], verbose=verbose, callbacks=callbacks)
        elif is_classifier or cfg.augment or weights is not None:
            batches = _shuffled_batches(x_train, y_train, batch_size=cfg.batch_size, seed=cfg.seed,
                                        augment=cfg.augment, target=target, weights=weights)
            model.fit(batches, epochs=cfg.epochs, initial_epoch=state["epoch"], verbose=verbose, callbacks=callbacks)
        else:
            model.fit(
                x_train, y_train, batch_size=cfg.batch_size, epochs=cfg.epochs, initial_epoch=state["epoch"],
                shuffle=True, verbose=verbose, callbacks=callbacks,
            )

    history = state["history"]
    best_epoch = state["best_epoch"]
    best_metrics = dict(history[best_epoch - 1]) if best_epoch else {}
    result = FitResult(
        config=cfg,
        history=history,
        best_epoch=best_epoch,
        best_metrics=best_metrics,
        stopped_early=bool(state["stopped_early"]),
        epochs_trained=state["epoch"],
        params=params,
        train_time_s=history[-1]["train_time_s"] if history else 0.0,
        workdir=str(workdir_path) if workdir_path is not None else None,
    )
    if keep_model:
        if workdir_path is not None and (workdir_path / BEST_MODEL).exists():
            model = keras.saving.load_model(workdir_path / BEST_MODEL, compile=True)
        elif epoch_end.best_weights is not None:
            model.set_weights(epoch_end.best_weights)
        result.model = model
    else:
        del model, epoch_end
        keras.backend.clear_session()
        gc.collect()
    return result
