"""What a sweep optimises and what it must respect: objectives, constraints, the Pareto front, picks.

Pure Python (no Ray, Optuna or Keras): the sweep, the searcher, the report and ``export`` all use
these definitions, and a space's ``defaults.metrics`` / ``defaults.constraints`` are checked with them.

* **Objectives** (:class:`Objective`): validation metrics of :mod:`colorize_core.metrics`, each with
  its direction. One objective is the classic sweep. With several, a trial's point is its values at
  its *best epoch on the first objective* (the epoch its ``best.keras`` holds, so the point is the
  model ``export`` hands out).
* **Early stopping with several objectives** (:func:`tradeoff_score`): ASHA takes one number, so each
  epoch reports ``tradeoff``, the mean over objectives of the value relative to predicting grey
  (``value / grey`` for a metric where lower is better, ``grey / value`` where higher is better): 1.0
  is as good as grey on average, 0 is perfect. It is unitless, so ``delta_e`` (ΔE ≈ 10) and
  ``colorfulness_gap`` (≈ 20) weigh the same, and a trial that is far better than grey on either
  objective survives a rung. Metrics on which grey scores 0 (``colorfulness``, ``gain_vs_gray``)
  cannot be normalised this way and are refused as one of several objectives (use
  ``colorfulness_gap`` and ``delta_e``, which rank the same way).
* **Constraints** (:class:`Constraint`): ``"peak_memory_mb<=3500"``, ``"train_time_s<=120"``,
  ``"params<=2e6"``, or a metric bound. A trial that violates one is *infeasible*: recorded as such,
  never ranked best, off the front; the searcher learns from the violation (Optuna's
  ``constraints_func``, :func:`violations`).
* **Pareto ranks** (:func:`pareto_ranks`): non-dominated sorting of the feasible trials' points;
  rank 1 is the front.
* **Picks** (:func:`parse_pick`, :func:`choose`): how ``colorsweep export --pick`` chooses one trial:
  ``knee`` (:func:`knee_index`), ``"min delta_e where colorfulness_gap<=5"``, ``"max psnr"``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from colorize_core.errors import InvalidValueError

__all__ = [
    "RESOURCE_NAMES",
    "Objective",
    "Constraint",
    "Pick",
    "ObjectiveError",
    "parse_objectives",
    "parse_constraint",
    "parse_constraints",
    "check_normalisable",
    "tradeoff_score",
    "TRADEOFF",
    "violations",
    "is_feasible",
    "dominates",
    "pareto_ranks",
    "knee_index",
    "parse_pick",
    "choose",
    "trial_values",
]

#: What a constraint may bound besides the validation metrics: a trial's resources. ``peak_memory_mb``
#: (the largest peak memory it reported: GPU when it ran on one, else the process's RSS), ``train_time_s``
#: (seconds in optimisation steps), ``params`` (trainable + non-trainable weights), ``epochs`` trained.
RESOURCE_NAMES = ("peak_memory_mb", "train_time_s", "params", "epochs")

#: The per-epoch value ASHA ranks a several-objective sweep on (see :func:`tradeoff_score`).
TRADEOFF = "tradeoff"

_OPERATORS = ("<=", ">=", "<", ">")
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*$")


class ObjectiveError(InvalidValueError):
    """A bad objective, constraint or pick; the message says what is wrong and what is accepted."""


def _metric_names() -> list[str]:
    from colorize_core.metrics import METRIC_NAMES

    return list(METRIC_NAMES)


def _mode(metric: str) -> str:
    from colorize_core.metrics import metric_mode

    try:
        return metric_mode(metric)
    except ValueError:
        from colorize_core.suggest import did_you_mean

        raise ObjectiveError(
            f"unknown metric {metric!r}{did_you_mean(metric, _metric_names())}; metrics: {', '.join(_metric_names())}"
        ) from None


@dataclass(frozen=True)
class Objective:
    """One validation metric a sweep optimises, and its direction (``"min"`` or ``"max"``)."""

    metric: str
    mode: str

    def to_dict(self) -> dict:
        return {"metric": self.metric, "mode": self.mode}


def parse_objectives(metrics: str | Sequence[str] | None, *, modes: Sequence[str] | None = None) -> list[Objective]:
    """Objectives from metric names (``"delta_e"`` or ``["delta_e", "colorfulness_gap"]``); each
    metric's own direction unless ``modes`` gives one per metric. None → ``[delta_e]``."""
    if metrics is None:
        metrics = ["delta_e"]
    if isinstance(metrics, str):
        metrics = [metrics]
    metrics = list(metrics)
    if not metrics:
        raise ObjectiveError("at least one metric is needed, e.g. --metric delta_e")
    duplicates = sorted({m for m in metrics if metrics.count(m) > 1})
    if duplicates:
        raise ObjectiveError(f"metric {duplicates[0]!r} is given twice; give each objective once")
    if modes is not None and len(modes) != len(metrics):
        raise ObjectiveError(f"{len(metrics)} metric(s) but {len(modes)} mode(s): give one mode per metric")
    out = []
    for i, metric in enumerate(metrics):
        if not isinstance(metric, str):
            raise ObjectiveError(f"metric names are strings, got {metric!r}")
        mode = modes[i] if modes is not None else _mode(metric)
        _mode(metric)
        if mode not in ("min", "max"):
            raise ObjectiveError(f"mode must be 'min' or 'max', got {mode!r}")
        out.append(Objective(metric, mode))
    return out


#: Metrics on which predicting grey scores 0 by definition: they cannot be normalised by grey.
_ZERO_FOR_GREY = ("colorfulness", "gain_vs_gray")


def check_normalisable(objectives: Sequence[Objective], grey: Mapping[str, Any] | None = None) -> None:
    """With several objectives, each must be normalisable by predicting grey (:func:`tradeoff_score`):
    grey's value must be a positive number (checked against ``grey``, the grey baseline's validation
    metrics, when given; ``colorfulness`` and ``gain_vs_gray`` are 0 for grey by definition).
    ObjectiveError otherwise, before any trial starts."""
    if len(objectives) < 2:
        return
    for objective in objectives:
        value = 0.0 if objective.metric in _ZERO_FOR_GREY else (grey or {}).get(objective.metric, 1.0)
        if not (_finite(value) and value > 0):
            raise ObjectiveError(
                f"{objective.metric} cannot be one of several objectives: predicting grey scores {value!r} on it, so "
                f"early stopping cannot weigh it against the others; use colorfulness_gap for colour and delta_e "
                f"(or ab_mse, psnr, auc) for accuracy"
            )


def tradeoff_score(values: Mapping[str, Any], objectives: Sequence[Objective], grey: Mapping[str, Any]) -> float:
    """The unitless number ASHA ranks a several-objective sweep on (lower is better): the mean over
    objectives of ``value / grey`` (min metrics) or ``grey / value`` (max metrics). 1.0 = as good as
    predicting grey on average, 0 = perfect. A missing, non-finite or non-positive value scores
    ``1e6`` (worst), so a diverged trial is stopped at its first rung."""
    worst = 1e6
    scores = []
    for objective in objectives:
        value, base = values.get(objective.metric), grey.get(objective.metric)
        if not (_finite(value) and _finite(base) and base > 0):
            return worst
        if objective.mode == "min":
            scores.append(value / base)
        else:
            if value <= 0:
                return worst
            scores.append(base / value)
    return float(sum(scores) / len(scores))


@dataclass(frozen=True)
class Constraint:
    """``name op bound``, e.g. ``peak_memory_mb <= 3500``. ``name`` is a metric or one of
    :data:`RESOURCE_NAMES`; ``op`` one of ``<=``, ``>=``, ``<``, ``>``."""

    name: str
    op: str
    bound: float

    @property
    def text(self) -> str:
        return f"{self.name}{self.op}{_number(self.bound)}"

    def violation(self, value: Any) -> float:
        """How far ``value`` is beyond the bound (> 0: violated, <= 0: satisfied), in the name's
        units; a missing or non-finite value is violated (``inf``). Strict bounds count equality as a
        violation of size 0 + tiny."""
        if not _finite(value):
            return math.inf
        value = float(value)
        if self.op in ("<=", "<"):
            excess = value - self.bound
        else:
            excess = self.bound - value
        if self.op in ("<", ">") and excess == 0:
            return 1e-12
        return excess

    def to_dict(self) -> dict:
        return {"name": self.name, "op": self.op, "bound": self.bound, "text": self.text}


def _number(value: float) -> str:
    """``3500`` → ``"3500"``, ``2e6`` → ``"2e6"``, ``0.5`` → ``"0.5"``."""
    text = f"{value:g}"
    return text.replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def parse_constraint(text: Any) -> Constraint:
    """``"peak_memory_mb<=3500"`` → :class:`Constraint`; ObjectiveError naming what is wrong."""
    if isinstance(text, Mapping):  # as sweep.json records it
        try:
            return Constraint(str(text["name"]), str(text["op"]), float(text["bound"]))
        except (KeyError, TypeError, ValueError):
            raise ObjectiveError(f"a recorded constraint needs name, op and bound, got {dict(text)!r}") from None
    if not isinstance(text, str):
        raise ObjectiveError(f"a constraint is text like 'peak_memory_mb<=3500', got {text!r}")
    match = _CONSTRAINT.match(text)
    if not match:
        raise ObjectiveError(
            f"cannot read constraint {text!r}: write NAME OP NUMBER with OP one of {', '.join(_OPERATORS)}, e.g. "
            f"'peak_memory_mb<=3500', 'train_time_s<=120', 'params<=2e6', 'colorfulness_gap<=5'"
        )
    name, op, number = match.groups()
    known = _metric_names() + list(RESOURCE_NAMES)
    if name not in known:
        from colorize_core.suggest import did_you_mean

        raise ObjectiveError(f"constraint {text!r}: unknown name {name!r}{did_you_mean(name, known)}; "
                             f"constrain one of {', '.join(known)}")
    try:
        bound = float(number)
    except ValueError:
        raise ObjectiveError(f"constraint {text!r}: {number!r} is not a number") from None
    if not math.isfinite(bound):
        raise ObjectiveError(f"constraint {text!r}: the bound must be a finite number")
    return Constraint(name, op, bound)


def parse_constraints(texts: Iterable[Any] | None) -> list[Constraint]:
    """Every constraint of ``texts`` (None → none); the same constraint twice is kept once."""
    out: list[Constraint] = []
    for text in texts or ():
        constraint = parse_constraint(text)
        if constraint not in out:
            out.append(constraint)
    return out


def violations(values: Mapping[str, Any], constraints: Sequence[Constraint]) -> list[float]:
    """One number per constraint, Optuna's convention: <= 0 satisfied, > 0 violated (by that much)."""
    return [c.violation(values.get(c.name)) for c in constraints]


def is_feasible(values: Mapping[str, Any], constraints: Sequence[Constraint]) -> bool:
    """True when ``values`` satisfy every constraint."""
    return all(v <= 0 for v in violations(values, constraints))


# --------------------------------------------------------------------------------------------------
# The Pareto front


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _oriented(point: Sequence[float], modes: Sequence[str]) -> tuple[float, ...]:
    """The point with every objective turned into 'lower is better'."""
    return tuple(v if m == "min" else -v for v, m in zip(point, modes))


def dominates(a: Sequence[float], b: Sequence[float], modes: Sequence[str]) -> bool:
    """Whether point ``a`` is at least as good as ``b`` on every objective and better on one."""
    a, b = _oriented(a, modes), _oriented(b, modes)
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def pareto_ranks(points: Sequence[Sequence[float] | None], modes: Sequence[str]) -> list[int | None]:
    """Non-dominated sorting: rank 1 for the points no other point dominates (the front), rank 2 for
    those only rank-1 points dominate, and so on. A point that is None or has a non-finite value
    (an infeasible trial, one with no finished epoch) gets None."""
    ranks: list[int | None] = [None] * len(points)
    remaining = [i for i, p in enumerate(points) if p is not None and all(_finite(v) for v in p)]
    rank = 1
    while remaining:
        front = [i for i in remaining if not any(dominates(points[j], points[i], modes) for j in remaining if j != i)]
        for i in front:
            ranks[i] = rank
        remaining = [i for i in remaining if i not in front]
        rank += 1
    return ranks


def knee_index(points: Sequence[Sequence[float]], modes: Sequence[str]) -> int:
    """The knee of a front: the point nearest (Euclidean) to the ideal point after each objective is
    scaled to [0, 1] over the given points (0 = the best value any of them reaches). With one point,
    that point; ties go to the earlier point. ``points`` are normally the front's (rank 1)."""
    if not points:
        raise InvalidValueError("the front is empty: no trial has finite values on every objective")
    oriented = [_oriented(p, modes) for p in points]
    lows = [min(p[k] for p in oriented) for k in range(len(modes))]
    highs = [max(p[k] for p in oriented) for k in range(len(modes))]
    spans = [(h - lo) or 1.0 for lo, h in zip(lows, highs)]

    def distance(p: Sequence[float]) -> float:
        return math.sqrt(sum(((v - lo) / s) ** 2 for v, lo, s in zip(p, lows, spans)))

    return min(range(len(points)), key=lambda i: (distance(oriented[i]), i))


# --------------------------------------------------------------------------------------------------
# Picking one trial


@dataclass(frozen=True)
class Pick:
    """A rule that chooses one trial: ``kind`` ``"knee"`` (the front's knee), or ``"best"`` (the best
    ``metric`` in direction ``mode`` among the trials meeting ``where``). ``text`` is the rule as
    written (recorded on the model card)."""

    kind: str
    text: str
    metric: str | None = None
    mode: str | None = None
    where: tuple[Constraint, ...] = ()


_PICK = re.compile(r"^\s*(min|max)\s+([A-Za-z_][A-Za-z0-9_]*)\s*(?:where\s+(.+))?$", re.IGNORECASE)


def parse_pick(text: str) -> Pick:
    """``"knee"``, ``"min delta_e"``, ``"max psnr where peak_memory_mb<=3500"``, ``"min delta_e where
    colorfulness_gap<=5 and params<=2e6"`` → :class:`Pick`; ObjectiveError with the accepted forms."""
    forms = "'knee', 'min METRIC', or 'min METRIC where NAME<=NUMBER [and ...]' (e.g. 'min delta_e where colorfulness_gap<=5')"
    if not isinstance(text, str) or not text.strip():
        raise ObjectiveError(f"--pick needs a rule: {forms}")
    if text.strip().lower() == "knee":
        return Pick("knee", "knee")
    match = _PICK.match(text)
    if not match:
        raise ObjectiveError(f"cannot read pick rule {text!r}: write {forms}")
    mode, metric, where = match.group(1).lower(), match.group(2), match.group(3)
    _mode(metric)
    conditions = tuple(parse_constraint(part) for part in re.split(r"\s+and\s+", where.strip(), flags=re.IGNORECASE)) if where else ()
    return Pick("best", text.strip(), metric=metric, mode=mode, where=conditions)


def choose(rows: Sequence[Mapping[str, Any]], pick: Pick, objectives: Sequence[Objective]) -> Mapping[str, Any]:
    """The row ``pick`` chooses among report rows (each holding metric values at its best epoch,
    ``pareto_rank`` and ``feasible``). ObjectiveError when no row qualifies, saying why."""
    if pick.kind == "knee":
        if len(objectives) < 2:
            raise ObjectiveError("--pick knee needs a sweep with several objectives (run it with --metric twice); "
                                 "use --rank or --pick 'min METRIC' for this one")
        front = [r for r in rows if r.get("pareto_rank") == 1]
        if not front:
            raise ObjectiveError("the sweep has no Pareto front yet (no feasible trial finished an epoch)")
        modes = [o.mode for o in objectives]
        points = [[float(r[o.metric]) for o in objectives] for r in front]
        return front[knee_index(points, modes)]
    candidates = [r for r in rows if r.get("feasible", True) is not False and _finite(r.get(pick.metric))
                  and is_feasible(r, pick.where)]
    if not candidates:
        conditions = " and ".join(c.text for c in pick.where) or "a finite value"
        raise ObjectiveError(f"no trial meets {conditions!r} (rule {pick.text!r}); loosen the rule or see "
                             f"`colorsweep report RUN` for the values the trials reached")
    key = (lambda r: float(r[pick.metric])) if pick.mode == "min" else (lambda r: -float(r[pick.metric]))
    return min(candidates, key=key)


# --------------------------------------------------------------------------------------------------
# A trial's values


def trial_values(history: Sequence[Mapping[str, Any]], best_epoch: int | None) -> dict[str, Any]:
    """What objectives, constraints and picks see of one trial, from its per-epoch records
    (``colorize_core.train.fit``'s, or a trial folder's ``result.json`` rows): every metric at
    ``best_epoch`` (its best epoch on the first objective: the model ``best.keras`` holds), and its
    resources — ``peak_memory_mb`` (the largest GPU peak it reported, else the largest process peak),
    ``train_time_s`` and ``params`` (latest), ``epochs`` (reported). Empty history → ``{}``."""
    if not history:
        return {}
    by_epoch = {int(row.get("epoch", i + 1)): row for i, row in enumerate(history)}
    best = by_epoch.get(int(best_epoch)) if best_epoch else None
    values: dict[str, Any] = {}
    if best is not None:
        values.update({k: v for k, v in best.items() if k in _metric_names()})
    gpu = [r["gpu_peak_memory_mb"] for r in history if _finite(r.get("gpu_peak_memory_mb"))]
    rss = [r["peak_memory_mb"] for r in history if _finite(r.get("peak_memory_mb"))]
    values["peak_memory_mb"] = max(gpu or rss) if (gpu or rss) else None
    last = history[-1]
    values["train_time_s"] = last.get("train_time_s")
    values["params"] = next((r["params"] for r in reversed(history) if _finite(r.get("params"))), None)
    values["epochs"] = len(history)
    return values
