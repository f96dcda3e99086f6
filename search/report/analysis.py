"""What the trials say together: the study's comparison grid, fANOVA importances, the Pareto front."""

from __future__ import annotations

import json
import math
import warnings
from typing import Callable, Iterable, Sequence

from colorize_core import metrics as metric_defs
from search._optuna_space import optuna_distributions
from search import pareto
from search.records import TrialRecord
from search.report.rows import is_finite, _Report

# ---------------------------------------------------------------------------------------------------
# The study's comparison, importances


def _arch_order(rep: _Report, archs: Iterable[str]) -> list[str]:
    spec = (rep.info.space or {}).get("params", {}).get("arch", {})
    listed = list(spec.get("choice", [])) if isinstance(spec, dict) else []
    archs = list(dict.fromkeys(archs))
    return [a for a in listed if a in archs] + [a for a in archs if a not in listed]


def _comparison(rep: _Report) -> None:
    metric, mode = rep.metric, rep.mode
    scored = [row for row in rep.rows if row[metric] is not None]
    archs = _arch_order(rep, (str(row["arch"]) for row in scored))
    combos = sorted({(str(row["optimizer"]), str(row["loss"])) for row in scored})
    cells = {}
    for row in scored:
        key = (str(row["arch"]), str(row["optimizer"]), str(row["loss"]))
        cell = cells.setdefault(key, {"value": row[metric], "trial_id": row["trial_id"], "n": 0})
        cell["n"] += 1
        if metric_defs.is_better(metric, row[metric], cell["value"]):
            cell.update(value=row[metric], trial_id=row["trial_id"])
    rep.comparison = {
        "metric": metric, "mode": mode, "rows": archs,
        "columns": [{"optimizer": o, "loss": loss} for o, loss in combos],
        "cells": [{"arch": a, "optimizer": o, "loss": loss, **c} for (a, o, loss), c in cells.items()],
    }
    rep.best_per_arch = []
    for arch in archs:
        row = next(r for r in scored if str(r["arch"]) == arch)  # rows are ranked: first is best
        rep.best_per_arch.append({k: row[k] for k in ("arch", "trial_id", "rank", metric, "optimizer", "loss",
                                                      "learning_rate", "batch_size", "output_activation",
                                                      "epochs", "status_text")})


def _distributions(space: dict) -> dict:
    """Optuna distributions of the space's searched params that can vary (``value`` params and one-value
    choices are constants: left out); see :func:`search._optuna_space.optuna_distributions`."""
    from spaces import space_from_dict

    return optuna_distributions(space_from_dict(space), varying_only=True) if space.get("params") else {}


#: Most trials fANOVA's forest is fitted on. Its cost grows faster than the trial count (28 s of a
#: 1,000-trial sweep's 35 s report, bench/scale.py); importances from a few hundred trials spread
#: over the whole ranking are as telling, and the report stays interactive at any sweep size.
FANOVA_MAX_TRIALS = 300


def _spread_sample(records: Sequence[TrialRecord], value_of: Callable[[TrialRecord], float],
                   most: int) -> list[TrialRecord]:
    """At most ``most`` of ``records``, evenly spread over their order by ``value_of`` (the best, the
    worst and the range between); all of them when there are no more than ``most``. Deterministic."""
    if len(records) <= most:
        return list(records)
    ordered = sorted(records, key=value_of)
    step = (len(ordered) - 1) / (most - 1)
    return [ordered[round(i * step)] for i in range(most)]


def _fanova(rep: _Report, records: Sequence[TrialRecord], value_of: Callable[[TrialRecord], float],
            mode: str, distributions: dict, varying: list[str]) -> tuple[dict[str, float], int, int]:
    """Optuna fANOVA importances of the ``varying`` hyperparameters for ``value_of(record)`` over
    ``records`` (at most :data:`FANOVA_MAX_TRIALS` of them, spread over their ranking):
    (importances, trials used, trials left out as outside the recorded space); empty importances with
    fewer than 3 usable trials."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize" if mode == "min" else "maximize")
    skipped = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for record in _spread_sample(records, value_of, FANOVA_MAX_TRIALS):
            try:
                study.add_trial(optuna.trial.create_trial(
                    params={k: record.params[k] for k in distributions},
                    distributions=distributions, value=value_of(record),
                ))
            except (KeyError, ValueError):  # a value outside the recorded space (space edited, resumed)
                skipped += 1
        if len(study.trials) < 3:
            return {}, len(study.trials), skipped
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        importances = optuna.importance.get_param_importances(study, evaluator=evaluator, params=varying)
    return {k: float(v) for k, v in importances.items()}, len(study.trials), skipped


def _varying(rep: _Report, records: Sequence[TrialRecord]) -> tuple[dict, list[str]]:
    """The space's Optuna distributions, and the names of those that vary over ``records``."""
    distributions = _distributions(rep.info.space or {})
    varying = [name for name in distributions
               if len({json.dumps(r.params.get(name), default=str) for r in records}) > 1]
    return distributions, varying


def _importances(rep: _Report) -> None:
    finished = [r for r in rep.records if r.status in ("completed", "stopped")
                and r.best_value(rep.metric, rep.mode) is not None]
    if len(finished) < 3:
        rep.notes.append(f"parameter importances need at least 3 finished trials with a {rep.metric} value; "
                         f"this sweep has {len(finished)}.")
        return
    distributions, varying = _varying(rep, finished)
    if len(varying) < 2:
        rep.notes.append("parameter importances need at least two hyperparameters that vary over the finished "
                         f"trials; varying here: {', '.join(varying) or 'none'}.")
        return
    importances, used, skipped = _fanova(rep, finished, lambda r: r.best_value(rep.metric, rep.mode), rep.mode,
                                         distributions, varying)
    if not importances:
        rep.notes.append("parameter importances skipped: fewer than 3 finished trials match the recorded space.")
        return
    rep.importances = importances
    stopped = sum(r.status == "stopped" for r in finished)
    rep.captions["param_importances"] = (
        f"Optuna fANOVA importances of the hyperparameters for validation {rep.metric}, over {used} "
        + (f"of the {len(finished)} " if len(finished) > FANOVA_MAX_TRIALS else "")
        + f"finished trials (" + (f"spread over the ranking; " if len(finished) > FANOVA_MAX_TRIALS else "")
        + "best epoch of each"
        + (f"; {stopped} stopped early by ASHA, so scored on fewer epochs" if stopped else "")
        + (f"; {skipped} left out: outside the recorded space" if skipped else "") + "). "
        "With few trials these are rough."
    )


# ---------------------------------------------------------------------------------------------------
# Several objectives: the Pareto front


def _mark_standing(rep: _Report) -> None:
    """Each row's ``pareto_rank`` (several objectives) and ``meets_constraints`` (constraints), and
    the knee of the front."""
    if not rep.several and not rep.constraints:
        return
    rep.standing = pareto.standings(rep.records, rep.objectives, rep.constraints)
    for row in rep.rows:
        standing = rep.standing.get(row["trial_id"])
        if rep.several:
            row["pareto_rank"] = standing.pareto_rank if standing else None
        if rep.constraints:
            row["meets_constraints"] = standing.meets_constraints if standing else None
            if standing and standing.meets_constraints is False:
                broken = [c.text for c in rep.constraints if c.violation(standing.values.get(c.name)) > 0]
                row["status_text"] += f"; violates {', '.join(broken)}"
    if rep.several:
        knee = pareto.knee(rep.standing, rep.objectives)
        rep.knee_id = knee.trial_id if knee else None


def _front_rows(rep: _Report) -> list[dict]:
    """The rows of the front's trials, best first on the first objective."""
    by_id = {row["trial_id"]: row for row in rep.rows}
    return [by_id[s.trial_id] for s in pareto.front(rep.standing, rep.objectives) if s.trial_id in by_id]


def _importances_per_objective(rep: _Report) -> None:
    """fANOVA importances of the hyperparameters for each objective, over the trials with a point."""
    finished = [r for r in rep.records if r.status in ("completed", "stopped")
                and (rep.standing.get(r.trial_id) and rep.standing[r.trial_id].point is not None)]
    distributions, varying = _varying(rep, finished)
    if len(finished) < 3 or len(varying) < 2:
        rep.notes.append("importances per objective need at least 3 finished trials and two varying hyperparameters.")
        return
    for k, objective in enumerate(rep.objectives):
        importances, _, _ = _fanova(rep, finished, lambda r, k=k: rep.standing[r.trial_id].point[k], objective.mode,
                                    distributions, varying)
        if importances:
            rep.importances_by_objective[objective.metric] = importances


def _truth_colorfulness(rep: _Report) -> float | None:
    """The validation truth's mean colourfulness: grey's colorfulness_gap (grey's colourfulness is 0)."""
    value = (rep.baselines.get("gray") or {}).get("colorfulness_gap")
    return float(value) if is_finite(value) else None
