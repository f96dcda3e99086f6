"""A search space as Optuna sees it: the one space -> Optuna distributions conversion.

Used by the sweep's searcher (:class:`OptunaSpace`, define-by-run, and warm-starting a study from
earlier trials), by the report's fANOVA importances, and by anything else that needs a parameter's
range in Optuna's terms. Optuna is imported inside the functions: reading a space needs no Optuna.
"""

from __future__ import annotations

import math

from colorize_core.errors import InvalidValueError
from spaces import SearchSpace

__all__ = ["OptunaSpace", "optuna_distributions", "discrete_values"]


def discrete_values(param) -> list:
    """The values a ``choice`` or ``pow2`` parameter takes (``pow2``: every power of two in its range)."""
    if param.values is None:  # pragma: no cover - spaces fills in the powers of a pow2 range
        return [2 ** k for k in range(int(math.log2(param.low)), int(math.log2(param.high)) + 1)]
    return list(param.values)


def optuna_distributions(space: SearchSpace, *, varying_only: bool = False) -> dict:
    """The Optuna distribution of every searched parameter of ``space`` (``value`` kinds are constants,
    not searched). With ``varying_only``, a choice of one value (or a ``pow2`` range of one power) is
    left out too: what fANOVA importances and TensorBoard domains need."""
    import optuna.distributions as od

    out = {}
    for name, param in space.params.items():
        if varying_only and param.kind in ("choice", "pow2") and len(discrete_values(param)) < 2:
            continue
        if param.kind == "choice":
            out[name] = od.CategoricalDistribution(list(param.values))
        elif param.kind == "uniform":
            out[name] = od.FloatDistribution(param.low, param.high)
        elif param.kind == "loguniform":
            out[name] = od.FloatDistribution(param.low, param.high, log=True)
        elif param.kind == "int":
            out[name] = od.IntDistribution(int(param.low), int(param.high))
        elif param.kind == "pow2":
            out[name] = od.CategoricalDistribution(discrete_values(param))
        elif param.kind != "value":  # pragma: no cover - spaces validates kinds
            raise InvalidValueError(f"unsupported parameter kind {param.kind!r} for {name}")
    return out


class OptunaSpace:
    """Define-by-run Optuna space for a :class:`SearchSpace` (TPE sees the real ranges).

    A module-level class, not a closure, so that Ray can pickle the searcher into its experiment
    state (that is what makes a sweep resumable).
    """

    def __init__(self, space: SearchSpace):
        self.space_dict = space.to_dict()

    def __call__(self, trial) -> dict | None:
        import optuna.distributions as od

        from spaces import space_from_dict

        space = space_from_dict(self.space_dict)
        for name, dist in optuna_distributions(space).items():
            if isinstance(dist, od.CategoricalDistribution):
                trial.suggest_categorical(name, list(dist.choices))
            elif isinstance(dist, od.FloatDistribution):
                trial.suggest_float(name, dist.low, dist.high, log=dist.log)
            else:
                trial.suggest_int(name, dist.low, dist.high)
        constants = {name: (param.values[0] if param.values else param.low)
                     for name, param in space.params.items() if param.kind == "value"}
        return constants or None
