"""Validation: :func:`space_from_dict` (schema + names + values) and :func:`validate_for_data`.

The registries of architectures, optimizers and losses, and ``TrainConfig`` itself, are imported
lazily inside the functions here (they import Keras); importing :mod:`spaces` stays light.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Mapping
from typing import Any

from ._errors import SpaceError
from ._param import CATEGORICAL_KINDS, KINDS, Param, is_scalar, parse_param
from ._space import DEFAULT_KEYS, MODEL_OPTIONS_PREFIX, SearchSpace
from ._train_config import _train_config_cls, train_config_defaults
from colorize_core.models import INPUT_MULTIPLE, OUTPUT_ACTIVATIONS
from colorize_core.optimizers import LR_SCHEDULES
from colorize_core.suggest import did_you_mean

__all__ = [
    "space_from_dict",
    "validate_for_data",
    "train_config_defaults",
    "allowed_keys",
    "TOP_LEVEL_KEYS",
    "SWEEP_KEYS",
    "OUTPUT_ACTIVATIONS",
    "SIZE_MULTIPLE",
]

#: Keys a space (file or dict) may have at its top level.
TOP_LEVEL_KEYS = ("name", "description", "grid", "defaults", "params", "fixed", "start_with")
#: TrainConfig fields a space may not set: the sweep sets them (``epochs`` from ``max_epochs``).
SWEEP_KEYS = {
    "epochs": "it is set from defaults.max_epochs (or --max-epochs)",
    "seed": "the sweep sets it",
    "monitor": "the sweep sets it (its --metric)",
    "model_options": "set one option at a time as model_options.<option>",
}
#: Values of ``output_activation`` (see ``colorize_core.models``).
#: Training image sizes must be a positive multiple of this (every model's downsampling).
SIZE_MULTIPLE = INPUT_MULTIPLE  # the models' input multiple (colorize_core.models), named for spaces
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

_FLOAT_KINDS = ("uniform", "loguniform")
_INT_KINDS = ("int", "pow2")


# --- what the training side accepts -------------------------------------------------------------
def allowed_keys() -> list[str]:
    """Keys ``params`` and ``fixed`` accept: TrainConfig fields the sweep does not set, plus
    ``model_options.<option>``."""
    return [k for k in train_config_defaults() if k not in SWEEP_KEYS] + [MODEL_OPTIONS_PREFIX + "<option>"]


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _one_of(names: Callable[[], list[str]], what: str, plural: str) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        known = list(names())
        if isinstance(v, str) and v in known:
            return None
        return f"unknown {what} {v!r}{did_you_mean(v, known)}; known {plural}: {', '.join(known)}"

    return check


def _models() -> list[str]:
    from colorize_core.models import list_models

    return list_models()


def _optimizers() -> list[str]:
    from colorize_core.optimizers import list_optimizers

    return list_optimizers()


def _losses() -> list[str]:
    from colorize_core.losses import list_losses

    return list_losses()


def _decode_modes() -> list[str]:
    from colorize_core.classification import DECODE_MODES

    return list(DECODE_MODES)


def _rule(kinds: tuple[str, ...], check: Callable[[Any], bool], allowed: str):
    def run(v: Any) -> str | None:
        return None if check(v) else f"must be {allowed}, got {v!r}"

    return kinds, run


# key -> (kinds it may use, check(value) -> error text or None)
_RULES: dict[str, tuple[tuple[str, ...], Callable[[Any], str | None]]] = {
    "arch": (CATEGORICAL_KINDS, _one_of(_models, "architecture", "architectures")),
    "optimizer": (CATEGORICAL_KINDS, _one_of(_optimizers, "optimizer", "optimizers")),
    "loss": (CATEGORICAL_KINDS, _one_of(_losses, "loss", "losses")),
    "output_activation": (
        CATEGORICAL_KINDS,
        lambda v: None if v in OUTPUT_ACTIVATIONS and isinstance(v, str)
        else f"must be one of {', '.join(OUTPUT_ACTIVATIONS)}, got {v!r}",
    ),
    "learning_rate": _rule(CATEGORICAL_KINDS + _FLOAT_KINDS, lambda v: _is_real(v) and v > 0, "a number > 0"),
    "batch_size": _rule(CATEGORICAL_KINDS + _INT_KINDS, lambda v: _is_int(v) and v > 0, "a positive int"),
    "early_stopping_patience": _rule(
        CATEGORICAL_KINDS + _INT_KINDS, lambda v: v is None or (_is_int(v) and v >= 0), "an int >= 0 or null"
    ),
    "reduce_lr_patience": _rule(
        CATEGORICAL_KINDS + _INT_KINDS, lambda v: v is None or (_is_int(v) and v >= 0), "an int >= 0 or null"
    ),
    "reduce_lr_factor": _rule(
        CATEGORICAL_KINDS + _FLOAT_KINDS, lambda v: _is_real(v) and 0 < v < 1, "a number in (0, 1)"
    ),
    "min_lr": _rule(CATEGORICAL_KINDS + _FLOAT_KINDS, lambda v: _is_real(v) and v >= 0, "a number >= 0"),
    "lr_schedule": (
        CATEGORICAL_KINDS,
        lambda v: None if v in LR_SCHEDULES and isinstance(v, str)
        else f"must be one of {', '.join(LR_SCHEDULES)}, got {v!r}",
    ),
    "augment": _rule(CATEGORICAL_KINDS, lambda v: isinstance(v, bool), "true or false"),
    "samples_per_epoch": _rule(
        CATEGORICAL_KINDS + _INT_KINDS, lambda v: v is None or (_is_int(v) and v > 0), "a positive int or null"
    ),
    "min_crop_scale": _rule(
        CATEGORICAL_KINDS + _FLOAT_KINDS, lambda v: _is_real(v) and 0 < v <= 1, "a number in (0, 1]"
    ),
    "rebalance": _rule(CATEGORICAL_KINDS + _FLOAT_KINDS, lambda v: _is_real(v) and 0 <= v <= 1, "a number in [0, 1]"),
    "eval_max_pixels": _rule(
        CATEGORICAL_KINDS + _INT_KINDS, lambda v: v is None or (_is_int(v) and v > 0), "a positive int or null"
    ),
    "temperature": _rule(CATEGORICAL_KINDS + _FLOAT_KINDS, lambda v: _is_real(v) and v > 0, "a number > 0"),
    "decode": (CATEGORICAL_KINDS, _one_of(_decode_modes, "decode mode", "decode modes")),
}


def _objective_default(key: str, value: Any) -> list:
    """``defaults.metrics`` (a metric name or a list of them) or ``defaults.constraints`` (a list of
    texts like ``"params<=2e6"``), checked with :mod:`spaces.objectives`; the list to keep."""
    from .objectives import ObjectiveError, parse_constraints, parse_objectives

    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        example = "[delta_e, colorfulness_gap]" if key == "metrics" else '["peak_memory_mb<=3500"]'
        raise SpaceError(f"defaults.{key} must be a non-empty list, e.g. {example}; got {value!r}")
    try:
        if key == "metrics":
            return [o.metric for o in parse_objectives(list(items))]
        return [c.text for c in parse_constraints(items)]
    except ObjectiveError as exc:
        raise SpaceError(f"defaults.{key}: {exc}") from None


def _check_key(key: Any, *, section: str, fields: list[str]) -> None:
    allowed = ", ".join(k for k in fields if k not in SWEEP_KEYS) + f", {MODEL_OPTIONS_PREFIX}<option>"
    if not isinstance(key, str):
        raise SpaceError(f"{section}: keys must be strings, got {key!r}; allowed keys: {allowed}")
    label = f"{section}.{key}"
    if key.startswith(MODEL_OPTIONS_PREFIX):
        option = key[len(MODEL_OPTIONS_PREFIX):]
        if not option.isidentifier():
            raise SpaceError(f"{label}: {option!r} is not a valid option name; write {MODEL_OPTIONS_PREFIX}<option>")
        if option == "output_activation":
            raise SpaceError(f"{label}: set the output activation with the output_activation key, not as a model option")
        return
    if key in SWEEP_KEYS:
        raise SpaceError(f"{label}: a space may not set {key!r}: {SWEEP_KEYS[key]}; allowed keys: {allowed}")
    if key not in fields:
        raise SpaceError(f"{label}: unknown key {key!r}{did_you_mean(key, fields)}; allowed keys: {allowed}")


def _check_values(label: str, key: str, values: list[Any]) -> None:
    """Check each candidate value of ``key`` (choices, bounds, a fixed value)."""
    if key.startswith(MODEL_OPTIONS_PREFIX) or key not in _RULES:
        for v in values:
            if not is_scalar(v):
                raise SpaceError(f"{label}: {key} must be a scalar (str, number, bool or null), got {v!r}")
        return
    _, check = _RULES[key]
    for v in values:
        problem = check(v)
        if problem is not None:
            raise SpaceError(f"{label}: {problem if problem.startswith('unknown') else key + ' ' + problem}")


def _param_values(p: Param) -> list[Any]:
    return list(p.values) if p.kind in CATEGORICAL_KINDS else [p.low, p.high]


def _check_param(label: str, p: Param) -> None:
    if not p.name.startswith(MODEL_OPTIONS_PREFIX) and p.name in _RULES:
        kinds = _RULES[p.name][0]
        if p.kind not in kinds:
            raise SpaceError(f"{label}: {p.name} takes the kind(s) {', '.join(kinds)}, got {p.kind}")
    _check_values(label, p.name, _param_values(p))


_DURATION_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}


def parse_duration(value: Any, *, label: str = "time budget") -> float:
    """Seconds of a duration written ``"90s"``, ``"20m"`` / ``"20min"``, ``"1.5h"``, or a plain number
    of minutes; SpaceError (what was given, what is accepted) otherwise. At most 30 days."""
    text = str(value).strip().lower()
    match = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)\s*(s|sec|m|min|h)?", text) if not isinstance(value, bool) else None
    if not match:
        raise SpaceError(f"{label} must be a duration such as 90s, 20m or 1.5h (a plain number means minutes), "
                         f"got {value!r}")
    seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2) or "min"]
    if not 0 < seconds <= 30 * 86400:
        raise SpaceError(f"{label} must be more than 0 and at most 30 days, got {value!r}")
    return seconds


#: Largest accepted ``defaults`` (and ``--trials`` / ``--max-epochs`` / ``--size``): beyond these a
#: value is a typo, and Ray would allocate a trial table of that length.
DEFAULT_UPPER_BOUNDS = {"trials": 100_000, "max_epochs": 100_000, "size": 4096}


def _check_start_with(value: Any, params: Mapping[str, Param], *, grid: bool) -> list[dict]:
    """``start_with``: a list of configurations, each naming only searched params with values inside them."""
    if value is None:
        return []
    if grid:
        raise SpaceError("start_with: a grid space runs every combination anyway; remove start_with")
    if not isinstance(value, (list, tuple)):
        raise SpaceError(f"start_with must be a list of configurations ({{param: value}}), got {value!r}")
    out = []
    for i, config in enumerate(value):
        if not isinstance(config, Mapping) or not config:
            raise SpaceError(f"start_with[{i}] must be a non-empty mapping of param: value, got {config!r}")
        for name, v in config.items():
            if name not in params:
                raise SpaceError(f"start_with[{i}].{name}: not a searched param; searched: {', '.join(params)}")
            if params[name].kind != "value" and not params[name].contains(v):
                raise SpaceError(f"start_with[{i}].{name}: {v!r} is outside the param ({params[name].describe()})")
        out.append(dict(config))
    return out


def _positive_int(label: str, v: Any, *, multiple: int = 1) -> int:
    if not _is_int(v) or v <= 0 or v % multiple:
        what = "a positive int" if multiple == 1 else f"a positive multiple of {multiple}"
        raise SpaceError(f"{label} must be {what}, got {v!r}")
    return int(v)


def _mapping(label: str, value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SpaceError(f"{label} must be a mapping, got {value!r}")
    return dict(value)


def _check_model_options(space_params: dict[str, Param], fixed: dict[str, Any]) -> None:
    """Every arch the space can pick must accept each model option the space sets."""
    keys = [(f"params.{k}", k) for k in space_params if k.startswith(MODEL_OPTIONS_PREFIX)]
    keys += [(f"fixed.{k}", k) for k in fixed if k.startswith(MODEL_OPTIONS_PREFIX)]
    if not keys:
        return
    from colorize_core.models import model_info

    archs = list(space_params["arch"].values) if "arch" in space_params else [fixed["arch"]]
    for label, key in keys:
        option = key[len(MODEL_OPTIONS_PREFIX):]
        refusing = [a for a in archs if option not in model_info(a).options]
        if refusing:
            accepted = "; ".join(
                f"{a}: {', '.join(k for k in model_info(a).options if k != 'output_activation') or 'none'}"
                for a in refusing
            )
            raise SpaceError(
                f"{label}: model option {option!r} is not accepted by arch {', '.join(refusing)} "
                f"(their options: {accepted}); a model option applies to every arch of the space, "
                f"so use it only when every arch choice accepts it"
            )
        values = _param_values(space_params[key]) if key in space_params else [fixed[key]]
        for arch in archs:
            default = model_info(arch).options[option]
            if default is None:
                continue
            for v in values:
                if isinstance(default, bool):
                    ok = isinstance(v, bool)
                elif isinstance(default, numbers.Real):
                    ok = _is_real(v) and (not _is_int(default) or _is_int(v))
                else:
                    ok = isinstance(v, type(default))
                if not ok:
                    raise SpaceError(
                        f"{label}: model option {option!r} of {arch} takes a {type(default).__name__} "
                        f"(default {default!r}), got {v!r}"
                    )


def _check_loss_pairing(space_params: dict[str, Param], fixed: dict[str, Any]) -> None:
    """No regression architecture may be paired with a classification loss (the other way round
    is resolved per trial: classification archs always get ``cls_rebalanced``, see
    :func:`spaces.resolve_loss`)."""
    if "loss" in space_params:
        label, losses = "params.loss", list(space_params["loss"].values)
    elif "loss" in fixed:
        label, losses = "fixed.loss", [fixed["loss"]]
    else:
        return
    from colorize_core.losses import LOSS_KINDS
    from colorize_core.models import model_info

    archs = list(space_params["arch"].values) if "arch" in space_params else [fixed["arch"]]
    regression = [a for a in archs if model_info(a).head == "regression"]
    classification = [a for a in archs if model_info(a).head == "classification"]
    cls_losses = [v for v in losses if LOSS_KINDS.get(v) == "classification"]
    if regression and cls_losses:
        implied = f" ({', '.join(classification)})" if classification else ""
        raise SpaceError(
            f"{label}: {', '.join(map(repr, cls_losses))} is a classification loss, but the space can pick the "
            f"regression architecture(s) {', '.join(regression)}, which cannot train with it; list only regression "
            f"losses (mse, mae, huber): classification architectures{implied} always train with their own loss"
        )


def _representative(space: SearchSpace, pick: int) -> dict[str, Any]:
    out = {}
    for name, p in space.params.items():
        out[name] = p.values[pick] if p.kind in CATEGORICAL_KINDS else (p.low if pick == 0 else p.high)
    return out


def space_from_dict(d: Mapping[str, Any], *, name: str | None = None) -> SearchSpace:
    """Validate a space written as plain data (a parsed YAML file) and build its :class:`SearchSpace`.

    ``name`` is used when ``d`` has no ``name`` key (files pass their stem). Raises
    :class:`SpaceError` naming the key, the value and what is allowed, e.g.
    ``params.learning_rate: loguniform bounds must satisfy 0 < low < high, got [0.1, 0.001]``.
    Imports the model / optimizer / loss registries and ``TrainConfig`` (so Keras) to check names.
    """
    if not isinstance(d, Mapping):
        raise SpaceError(f"a space must be a mapping with the keys {', '.join(TOP_LEVEL_KEYS)}, got {d!r}")
    unknown = [k for k in d if k not in TOP_LEVEL_KEYS]
    if unknown:
        raise SpaceError(f"unknown top-level key(s) {unknown}{did_you_mean(unknown[0], TOP_LEVEL_KEYS)}; "
                         f"allowed: {', '.join(TOP_LEVEL_KEYS)}")

    space_name = d.get("name", name)
    if not isinstance(space_name, str) or not _NAME_RE.match(space_name):
        raise SpaceError(
            f"name must be a non-empty str of letters, digits, '.', '_' or '-' (starting with a letter "
            f"or digit), got {space_name!r}"
        )
    description = d.get("description", "")
    if description is None:
        description = ""
    if not isinstance(description, str):
        raise SpaceError(f"description must be a str, got {description!r}")
    grid = d.get("grid", False)
    if not isinstance(grid, bool):
        raise SpaceError(f"grid must be true or false, got {grid!r}")

    fields = list(train_config_defaults())

    raw_params = _mapping("params", d.get("params"))
    params: dict[str, Param] = {}
    for key, spec in raw_params.items():
        _check_key(key, section="params", fields=fields)
        label = f"params.{key}"
        p = parse_param(key, spec, label=label)
        _check_param(label, p)
        if grid and not p.is_categorical:
            raise SpaceError(
                f"{label}: a grid space takes only categorical params ({', '.join(CATEGORICAL_KINDS)}), "
                f"got {p.kind}; list the values with choice, or set grid: false"
            )
        params[key] = p

    fixed = _mapping("fixed", d.get("fixed"))
    for key, value in fixed.items():
        _check_key(key, section="fixed", fields=fields)
        label = f"fixed.{key}"
        if key in params:
            raise SpaceError(f"{label}: {key!r} is both searched (params) and fixed; keep one")
        if isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in KINDS:
            raise SpaceError(f"{label}: fixed takes plain values, got the param spec {value!r}; move it to params")
        _check_values(label, key, [value])

    if "arch" not in params and "arch" not in fixed:
        raise SpaceError(
            f"arch is required: set params.arch (e.g. {{choice: [basic, unet]}}) or fixed.arch; "
            f"known architectures: {', '.join(_models())}"
        )
    _check_model_options(params, fixed)
    _check_loss_pairing(params, fixed)

    defaults = _mapping("defaults", d.get("defaults"))
    bad = [k for k in defaults if k not in DEFAULT_KEYS]
    if bad:
        raise SpaceError(f"defaults: unknown key(s) {bad}{did_you_mean(bad[0], DEFAULT_KEYS)}; allowed: {', '.join(DEFAULT_KEYS)}")
    clean_defaults: dict[str, Any] = {}
    for key in DEFAULT_KEYS:  # canonical order
        if key == "time_budget":
            if key in defaults:
                parse_duration(defaults[key], label="defaults.time_budget")
                clean_defaults[key] = defaults[key]
            continue
        if key in ("metrics", "constraints"):
            if key in defaults:
                clean_defaults[key] = _objective_default(key, defaults[key])
            continue
        if key in defaults:
            multiple = SIZE_MULTIPLE if key == "size" else 1
            clean_defaults[key] = _positive_int(f"defaults.{key}", defaults[key], multiple=multiple)
            if key == "grace_period":
                if clean_defaults[key] > clean_defaults.get("max_epochs", 10**9):
                    raise SpaceError(f"defaults.grace_period ({clean_defaults[key]}) must not exceed defaults.max_epochs "
                                     f"({clean_defaults['max_epochs']}): ASHA could never stop a trial")
                continue
            upper = DEFAULT_UPPER_BOUNDS[key]
            if clean_defaults[key] > upper:
                raise SpaceError(f"defaults.{key} is {clean_defaults[key]}, more than the {upper} colorsweep accepts; "
                                 f"choose a smaller value (a sweep is extended later with `colorsweep resume RUN --trials +N`)")

    start_with = _check_start_with(d.get("start_with"), params, grid=grid)
    space = SearchSpace(space_name, description, grid, params, fixed, clean_defaults, start_with)
    if grid:
        size = space.grid_size
        trials = clean_defaults.get("trials", size)
        if trials != size:
            raise SpaceError(
                f"defaults.trials: a grid space runs each of its {size} combinations once, so trials must "
                f"be omitted or {size}, got {trials!r}"
            )
        space = SearchSpace(space_name, description, grid, params, fixed, {**clean_defaults, "trials": size})

    # Safety net: the two extreme trials must be accepted by TrainConfig itself (catches rules that
    # TrainConfig gained after this module was written).
    for pick in (0, -1):
        sample = _representative(space, pick)
        config = space.trial_config(
            sample, max_epochs=clean_defaults.get("max_epochs", 1), seed=0,
            monitor=train_config_defaults()["monitor"],
        )
        try:
            _train_config_cls().from_dict(config)
        except (ValueError, TypeError) as exc:
            raise SpaceError(f"space {space_name!r}: TrainConfig rejects the trial {sample}: {exc}") from None
    return space


def samples_random_crops(space: SearchSpace) -> bool:
    """True when every trial of ``space`` trains on random crops (``fixed.samples_per_epoch`` a
    positive int): batches are then drawn with replacement, and may be larger than the training split."""
    value = space.fixed.get("samples_per_epoch")
    return _is_int(value) and value > 0


def with_fixed(space: SearchSpace, **values: Any) -> SearchSpace:
    """``space`` with these keys fixed for every trial (a command-line override such as
    ``--samples-per-epoch``): each key leaves ``params`` and the ``start_with`` configurations, and is
    set in ``fixed``; the result is validated like any space."""
    spec = dict(space.to_dict())
    params = {k: v for k, v in (spec.get("params") or {}).items() if k not in values}
    fixed = {**(spec.get("fixed") or {}), **values}
    spec["params"], spec["fixed"] = params, fixed
    if spec.get("start_with"):
        spec["start_with"] = [{k: v for k, v in point.items() if k not in values} for point in spec["start_with"]]
        spec["start_with"] = [point for point in spec["start_with"] if point] or None
        if spec["start_with"] is None:
            del spec["start_with"]
    return space_from_dict(spec)


def fit_batch_sizes_to_data(space: SearchSpace, *, n_train: int) -> tuple[SearchSpace, str | None]:
    """``space`` with its searched batch sizes capped at the training split, and a line saying so.

    For built-in spaces on small data sets (``wide`` searches batch sizes up to 256): a ``pow2``
    range's upper bound becomes the largest power of two <= ``n_train``; ``choice`` values above
    ``n_train`` are dropped. Returns ``(space, None)`` when nothing changes or nothing can be kept
    (then :func:`validate_for_data` says what is wrong).
    """
    if space.is_grid or space.max_batch_size() <= n_train or samples_random_crops(space):
        return space, None
    spec = dict(space.to_dict())
    params = dict(spec.get("params") or {})
    batch = params.get("batch_size")
    if not isinstance(batch, Mapping) or n_train < 1:
        return space, None
    if "pow2" in batch:
        low, high = batch["pow2"]
        new_high = 1 << (int(n_train).bit_length() - 1)
        if new_high < low:
            return space, None
        params["batch_size"] = {"pow2": [low, new_high]} if new_high > low else {"value": low}
        shown = f"{low}-{new_high}"
        old = f"{low}-{high}"
    elif "choice" in batch:
        kept = [v for v in batch["choice"] if _is_int(v) and v <= n_train]
        if not kept:
            return space, None
        params["batch_size"] = {"choice": kept} if len(kept) > 1 else {"value": kept[0]}
        shown, old = ", ".join(map(str, kept)), ", ".join(map(str, batch["choice"]))
    else:
        return space, None
    spec["params"] = params
    note = (f"space {space.name!r}: batch sizes {shown} (not {old}): the training split has {n_train} images")
    return space_from_dict(spec), note


def validate_for_data(space: SearchSpace, *, n_train: int, size: int) -> None:
    """Check that ``space`` can run on a data set of ``n_train`` training images at ``size`` px.

    Raises :class:`SpaceError` if ``size`` is not a positive multiple of 8, or if the largest
    batch size the space can pick exceeds the training split (a batch larger than the data set
    would make every trial fail at its first step) while its trials train on the fixed crops (no
    ``fixed.samples_per_epoch``; random crops are drawn with replacement, any batch size works).
    """
    if not isinstance(space, SearchSpace):
        raise SpaceError(f"space must be a SearchSpace, got {space!r}")
    _positive_int("size", size, multiple=SIZE_MULTIPLE)
    if not _is_int(n_train) or n_train < 0:
        raise SpaceError(f"n_train must be an int >= 0, got {n_train!r}")
    largest = space.max_batch_size()
    if largest > n_train and not samples_random_crops(space):
        source = space.batch_size_source()
        if source == "default":
            raise SpaceError(
                f"batch_size: the default batch size {largest} exceeds the {n_train} training images; "
                f"set fixed.batch_size or params.batch_size lower, or add images"
            )
        fix = "lower the upper bound" if source == "params.batch_size" else "lower it"
        raise SpaceError(
            f"{source}: largest batch size {largest} exceeds the {n_train} training images; {fix} or add images"
        )
