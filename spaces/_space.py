"""The :class:`SearchSpace` dataclass: a validated, immutable search space and what it can compute."""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import SpaceError
from ._param import Param, _plain, same_value
from ._yaml import FlowMap, dump_yaml

__all__ = ["SearchSpace", "FrozenMapping", "MODEL_OPTIONS_PREFIX", "DEFAULT_KEYS", "resolve_loss"]

#: Prefix of a key that sets one option of ``TrainConfig.model_options``.
MODEL_OPTIONS_PREFIX = "model_options."
#: The keys a space's ``defaults`` may hold.
DEFAULT_KEYS = ("max_epochs", "size", "trials", "time_budget", "grace_period", "metrics", "constraints")


def resolve_loss(config: dict[str, Any]) -> dict[str, Any]:
    """Apply the loss-pairing rule to a trial config (in place; returned for convenience).

    A classification architecture (``colorize_core.models.model_info(arch).head ==
    "classification"``) always trains with the classification loss (``cls_rebalanced``): its
    ``loss`` is set to it, replacing any regression loss sampled from the space. Regression
    architectures keep the sampled loss; validation (:func:`spaces.space_from_dict`) makes sure a
    space never pairs them with a classification loss. Imports the model registry (Keras) lazily.
    """
    from colorize_core.losses import LOSS_KINDS
    from colorize_core.models import is_model, model_info

    arch = config.get("arch")
    if is_model(arch) and model_info(arch).head == "classification":
        if LOSS_KINDS.get(config.get("loss")) != "classification":
            config["loss"] = next(name for name, kind in LOSS_KINDS.items() if kind == "classification")
    return config


class FrozenMapping(Mapping):
    """A read-only, picklable, hashable mapping (unlike ``types.MappingProxyType``, it pickles,
    so a space can travel to Ray workers)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping | None = None) -> None:
        self._data = dict(data or {})

    def __getitem__(self, key: Any) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(tuple(self._data.items()))

    def __repr__(self) -> str:
        return f"FrozenMapping({self._data!r})"

    def __reduce__(self):
        return (FrozenMapping, (self._data,))


@dataclass(frozen=True, init=False)
class SearchSpace:
    """A named search space: what a sweep samples (``params``), what it holds fixed, its defaults.

    Build one with :func:`spaces.space_from_dict` or :func:`spaces.load_space`, which validate it;
    the constructor ``SearchSpace(name, description="", grid=False, params={}, fixed={},
    defaults={})`` only freezes the mappings. ``params`` keep the order they were written in (that
    order is also the order of :meth:`grid`).

    The ``grid`` flag is stored as :attr:`is_grid` (so that :meth:`grid` can list the combinations).

    Attributes:
        name: the space's name (built-in name or file stem unless the file sets one).
        description: one line on what the space compares.
        is_grid: True when every combination of the (categorical) params runs exactly once.
        params: parameter name → :class:`Param`; names are ``TrainConfig`` fields or
            ``model_options.<option>``.
        fixed: ``TrainConfig`` fields (or ``model_options.<option>``) set for every trial.
        defaults: sweep defaults the command line may override: ``max_epochs``, ``size``, ``trials``,
            ``time_budget``, ``grace_period`` (ASHA), ``metrics`` (the objectives: one metric name or a
            list, :mod:`spaces.objectives`) and ``constraints`` (a list like ``["params<=2e6"]``).
        start_with: configurations (param name -> value, each inside its param; names left out are
            sampled) that the searcher tries first, in order: known-good points of the space.
    """

    name: str
    description: str
    is_grid: bool
    params: Mapping[str, Param]
    fixed: Mapping[str, Any]
    defaults: Mapping[str, Any]
    start_with: tuple

    def __init__(
        self,
        name: str,
        description: str = "",
        grid: bool = False,
        params: Mapping[str, Param] | None = None,
        fixed: Mapping[str, Any] | None = None,
        defaults: Mapping[str, Any] | None = None,
        start_with: tuple | list | None = None,
        *,
        is_grid: bool | None = None,  # alias of grid, so that dataclasses.replace() works
    ) -> None:
        set_ = object.__setattr__
        set_(self, "name", name)
        set_(self, "description", description)
        set_(self, "is_grid", bool(grid if is_grid is None else is_grid))
        set_(self, "params", FrozenMapping(params))
        set_(self, "fixed", FrozenMapping(fixed))
        set_(self, "defaults", FrozenMapping(defaults))
        set_(self, "start_with", tuple(FrozenMapping(c) for c in (start_with or ())))

    # -- shape -------------------------------------------------------------------------------
    @property
    def grid_size(self) -> int | None:
        """Number of combinations of a grid space (product of the choice lengths); None otherwise."""
        if not self.is_grid:
            return None
        return math.prod(len(p.values) for p in self.params.values())

    def grid(self) -> list[dict[str, Any]]:
        """Every combination of a grid space's params, in a deterministic order: params in the
        order they are written, the first varying slowest, each param's values in listed order.

        Raises :class:`SpaceError` for a space that is not a grid space.
        """
        if not self.is_grid:
            raise SpaceError(f"space {self.name!r} is not a grid space (grid: false); it has no grid")
        names = list(self.params)
        return [dict(zip(names, combo)) for combo in itertools.product(*(self.params[n].values for n in names))]

    # -- serialisation ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, dicts, scalars) that :func:`spaces.space_from_dict` turns back into
        an equal space."""
        return {
            "name": self.name,
            "description": self.description,
            "grid": self.is_grid,
            "defaults": {k: _plain(v) for k, v in self.defaults.items()},
            "params": {k: p.to_spec() for k, p in self.params.items()},
            "fixed": {k: _plain(v) for k, v in self.fixed.items()},
            **({"start_with": [{k: _plain(v) for k, v in c.items()} for c in self.start_with]}
               if self.start_with else {}),
        }

    def to_yaml(self) -> str:
        """:meth:`to_dict` as YAML (what :func:`spaces.load_space` reads back)."""
        data = self.to_dict()
        data["params"] = {k: FlowMap(spec) for k, spec in data["params"].items()}
        return dump_yaml(data)

    # -- trials -------------------------------------------------------------------------------
    def contains(self, params: Mapping[str, Any]) -> bool:
        """Whether ``params`` has exactly this space's param names, each value inside its param."""
        if not isinstance(params, Mapping) or set(params) != set(self.params):
            return False
        return all(p.contains(params[name]) for name, p in self.params.items())

    def trial_config(
        self, params: Mapping[str, Any], *, max_epochs: int, seed: int, monitor: str
    ) -> dict[str, Any]:
        """The ``TrainConfig.from_dict`` input of one trial: ``fixed`` + sampled ``params``.

        ``model_options.<x>`` keys are nested into ``model_options: {x: ...}`` (the key is left out
        when no option is set), ``epochs`` is ``max_epochs``, ``seed`` and ``monitor`` are the
        sweep's. Loss pairing: when the arch is a classification model (``*_cls``), ``loss`` is
        set to its classification loss (``cls_rebalanced``) whatever was sampled or left out, so
        a space's ``loss`` choices are the regression archs' (see :func:`resolve_loss`). A ``value`` param may be left out of ``params`` (its constant is used). Raises :class:`SpaceError` when ``params`` does not match the space (missing or
        unknown names, a value outside its param).
        """
        if not isinstance(params, Mapping):
            raise SpaceError(f"params must be a mapping of param name to value, got {params!r}")
        params = {  # a `value` param may be left out: its value is known
            **{k: p.values[0] for k, p in self.params.items() if p.kind == "value"},
            **params,
        }
        unknown = sorted(set(params) - set(self.params))
        missing = [k for k in self.params if k not in params]
        if unknown or missing:
            raise SpaceError(
                f"params of space {self.name!r} must have exactly the keys {list(self.params)}; "
                f"unknown: {unknown}, missing: {missing}"
            )
        for name, p in self.params.items():
            if not p.contains(params[name]):
                raise SpaceError(f"params.{name}: {params[name]!r} is outside the param ({p.describe()})")
        if isinstance(max_epochs, bool) or not isinstance(max_epochs, numbers.Integral) or max_epochs <= 0:
            raise SpaceError(f"max_epochs must be a positive int, got {max_epochs!r}")
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise SpaceError(f"seed must be an int, got {seed!r}")
        if not isinstance(monitor, str) or not monitor:
            raise SpaceError(f"monitor must be a metric name (a non-empty str), got {monitor!r}")

        config: dict[str, Any] = {}
        options: dict[str, Any] = {}
        merged = [(k, v) for k, v in self.fixed.items()]
        merged += [(k, self._canonical(k, params[k])) for k in self.params]
        for key, value in merged:
            if key.startswith(MODEL_OPTIONS_PREFIX):
                options[key[len(MODEL_OPTIONS_PREFIX):]] = value
            else:
                config[key] = value
        if options:
            config["model_options"] = options
        config["epochs"] = int(max_epochs)
        config["seed"] = int(seed)
        config["monitor"] = monitor
        return resolve_loss(config)

    def _canonical(self, name: str, value: Any) -> Any:
        """The value as the space writes it: the listed choice, a Python int or float."""
        p = self.params[name]
        if p.is_categorical:
            return next(v for v in p.values if same_value(v, value))
        if p.kind in ("int", "pow2"):
            return int(value)
        return float(value)

    def max_batch_size(self) -> int:
        """The largest batch size any trial of this space can use (TrainConfig's default if unset)."""
        if "batch_size" in self.params:
            p = self.params["batch_size"]
            return int(max(p.values) if p.values is not None else p.high)
        if "batch_size" in self.fixed:
            return int(self.fixed["batch_size"])
        from ._train_config import train_config_defaults

        return int(train_config_defaults()["batch_size"])

    def batch_size_source(self) -> str:
        """Where the batch size comes from: ``params.batch_size``, ``fixed.batch_size`` or ``default``."""
        if "batch_size" in self.params:
            return "params.batch_size"
        if "batch_size" in self.fixed:
            return "fixed.batch_size"
        return "default"

