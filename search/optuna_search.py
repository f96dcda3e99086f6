"""Ray's OptunaSearch, told about constraints: what a several-objective or constrained sweep adds to
what its trials report, and the searcher that passes it on to Optuna.

Kept apart from :mod:`search.sweep` so that the class lives at module level (Ray pickles the
searcher with the experiment state; a resumed sweep unpickles it by name).
"""

from __future__ import annotations

from ray.tune.search.optuna import OptunaSearch

__all__ = ["AT_BEST_PREFIX", "CONSTRAINT_EXCESS", "ConstrainedOptunaSearch"]

#: Reported each epoch by a several-objective sweep's trials: every objective at the trial's best
#: epoch so far (``at_best_delta_e``, ...): what the searcher is told when the trial ends.
AT_BEST_PREFIX = "at_best_"
#: Reported each epoch by a constrained sweep's trials: how far the trial is beyond its constraints,
#: the largest excess over them (<= 0: feasible; :func:`spaces.objectives.violations`).
CONSTRAINT_EXCESS = "constraint_excess"


class ConstrainedOptunaSearch(OptunaSearch):
    """Ray's OptunaSearch that also hands Optuna each finished trial's ``constraint_excess`` (Optuna's
    ``Trial.set_constraint``, before its ``tell``), so that TPE, which reads every trial's constraints,
    learns which configurations violate the sweep's constraints (it samples from the feasible ones'
    good region). Without constraints it behaves exactly as OptunaSearch. Ray's class has no hook for
    this: it reads ``_ot_trials`` (Tune trial id → Optuna trial) and ``_ot_study``, the only private
    attributes of Ray's used in the project, here and nowhere else (tests/search/test_objectives.py fails if
    they go away)."""

    @property
    def study(self):
        """The Optuna study behind this searcher: every trial Optuna was told of (values, constraints,
        states), for tests, reports and anyone inspecting what TPE learned."""
        return self._ot_study

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        excess = (result or {}).get(CONSTRAINT_EXCESS)
        ot_trial = self._ot_trials.get(trial_id)
        if excess is not None and ot_trial is not None and trial_id not in self._completed_trials:
            ot_trial.set_constraint(CONSTRAINT_EXCESS, float(excess))
        super().on_trial_complete(trial_id, result=result, error=error)
