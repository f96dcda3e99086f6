"""TPE whose cost per proposal does not grow with the sweep: it learns from a bounded history.

Optuna's TPE fits its two Parzen estimators on every finished trial at each proposal, and scores its
24 candidates against all of them: the cost of a proposal grows linearly with the trials, a sweep's
total with their square (bench/scale.py: 6 ms per proposal at 100 trials, 59 ms by the 3,000th).
Optuna has no setting that bounds the history, so :class:`BoundedHistoryTPESampler` hands TPE a view
of the study that holds at most ``keep_best + keep_recent`` finished trials (plus the running ones):

* the ``keep_best`` best, in TPE's own order (feasible completed trials by value, then stopped ones,
  then infeasible ones by their violation; with several objectives, the best of each in turn), so the
  "good" estimator, which TPE builds from the best 10 % and at most 25 trials, is exactly what it
  would be on the whole history while ``keep_best`` >= 25;
* the ``keep_recent`` latest, which TPE weighs most in its "bad" estimator anyway (its default
  weights ramp older trials down).

Below that size the view is the study itself: nothing changes for sweeps of up to
``keep_best + keep_recent`` (500) trials. Each finished trial is ranked once (:class:`RankIndex`);
what stays linear in the history is a pass over Optuna's trial list, which Optuna itself makes at
every proposal.
"""

from __future__ import annotations

import bisect
import math
from typing import Any

from optuna.samplers import TPESampler
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from colorize_core.errors import InvalidValueError

__all__ = ["BoundedHistoryTPESampler", "KEEP_BEST", "KEEP_RECENT"]

KEEP_BEST = 100    #: finished trials kept by rank (TPE's "good" set is at most 25 of them)
KEEP_RECENT = 400  #: finished trials kept by recency (most of TPE's "bad" set's weight)


def _violation(trial: FrozenTrial) -> float:
    return sum(v for v in trial.constraints.values() if v > 0)


def _rank_keys(trial: FrozenTrial, directions: list[StudyDirection]) -> list[tuple]:
    """Sort keys of a finished trial, smaller is better, one per objective: TPE's order (feasible
    completed trials by value, then stopped ones by their last step and value, then infeasible ones
    by violation)."""
    violation = _violation(trial)
    if violation > 0:
        return [(2, violation)] * len(directions)
    if trial.state == TrialState.PRUNED:
        if trial.intermediate_values:
            step, value = max(trial.intermediate_values.items())
            sign = 1.0 if directions[0] == StudyDirection.MINIMIZE else -1.0
            value = math.inf if math.isnan(value) else sign * value
            return [(1, -step, value)] * len(directions)
        return [(1, 1, 0.0)] * len(directions)
    values = trial.values or []
    keys = []
    for index, direction in enumerate(directions):
        value = values[index] if index < len(values) else math.inf
        value = math.inf if value is None or math.isnan(value) else value
        keys.append((0, value if direction == StudyDirection.MINIMIZE else -value))
    return keys


class RankIndex:
    """Every finished trial a sampler has seen, sorted by its rank keys (one list per objective), kept
    up to date as trials finish: a finished trial never changes, so each is ranked once, and choosing
    the best of a long history walks the head of a sorted list instead of sorting the history."""

    def __init__(self, directions: list[StudyDirection]):
        self.directions = list(directions)
        self.seen: set[int] = set()
        self.ranked: list[list[tuple]] = [[] for _ in self.directions]  # (key, number, trial), best first

    def add_new(self, finished: list[FrozenTrial]) -> None:
        """Rank the trials of ``finished`` not seen before (none when it holds as many as were seen:
        a finished trial stays finished)."""
        if len(finished) == len(self.seen):
            return
        for trial in finished:
            if trial.number not in self.seen:
                self.seen.add(trial.number)
                for index, key in enumerate(_rank_keys(trial, self.directions)):
                    bisect.insort(self.ranked[index], (key, trial.number, trial))


def bounded_history(trials: list[FrozenTrial], directions: list[StudyDirection], *, keep_best: int,
                    keep_recent: int, index: RankIndex | None = None, states=None) -> list[FrozenTrial]:
    """The trials TPE learns from: the running ones, the ``keep_recent`` latest finished ones and the
    ``keep_best`` best finished ones (split evenly between the objectives), in trial-number order.
    ``trials`` itself when it holds no more finished trials than the two together.

    ``trials`` is in trial-number order, as Optuna's storages return them, and filtered to ``states``
    (None: any). ``index`` (kept by the sampler between proposals) must have seen only trials of
    the same study; without it the finished trials are ranked here."""
    running = [t for t in trials if t.state == TrialState.RUNNING]
    if len(trials) - len(running) <= keep_best + keep_recent:
        return trials
    finished = [t for t in trials if t.state != TrialState.RUNNING] if running else trials
    recent = finished[len(finished) - keep_recent:] if keep_recent else []
    cutoff = recent[0].number if recent else finished[-1].number + 1
    chosen = {t.number: t for t in recent}
    per_objective = max(1, keep_best // len(directions))
    if index is None:
        index = RankIndex(directions)
    index.add_new(finished)
    allowed = set(states) if states is not None else None
    for ranked in index.ranked:
        taken = 0
        for _, number, trial in ranked:
            if taken >= per_objective:
                break
            if number < cutoff and (allowed is None or trial.state in allowed):
                chosen[number] = trial
                taken += 1
    chosen.update({t.number: t for t in running})
    return [chosen[number] for number in sorted(chosen)]


class _StudyView:
    """A study as TPE sees it while it samples one trial: the same study, with its finished trials
    bounded (:func:`bounded_history`). The bounded lists are kept for that trial's other parameters
    (TPE samples each one apart, and the study does not change in between)."""

    def __init__(self, study, keep_best: int, keep_recent: int, cache: dict, index: RankIndex):
        self._study = study
        self._keep = (keep_best, keep_recent)
        self._cache = cache
        self._index = index

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _get_trials(self, deepcopy: bool = True, states=None, use_cache: bool = False) -> list[FrozenTrial]:
        key = (deepcopy, tuple(states) if states is not None else None)
        if key not in self._cache:
            trials = self._study._get_trials(deepcopy=deepcopy, states=states, use_cache=use_cache)
            self._cache[key] = bounded_history(trials, self._study.directions, keep_best=self._keep[0],
                                               keep_recent=self._keep[1], index=self._index, states=states)
        return self._cache[key]

    def get_trials(self, deepcopy: bool = True, states=None) -> list[FrozenTrial]:
        return self._get_trials(deepcopy=deepcopy, states=states, use_cache=False)


class BoundedHistoryTPESampler(TPESampler):
    """Optuna's :class:`~optuna.samplers.TPESampler` (same arguments) learning from at most
    ``keep_best`` best and ``keep_recent`` latest finished trials (see the module's docstring):
    a proposal costs the same at 10,000 trials as at 500."""

    def __init__(self, *args, keep_best: int = KEEP_BEST, keep_recent: int = KEEP_RECENT, **kwargs):
        if keep_best < 25:
            raise InvalidValueError(f"keep_best must be at least 25 (TPE's largest 'good' set), got {keep_best}")
        super().__init__(*args, **kwargs)
        self.keep_best, self.keep_recent = int(keep_best), int(keep_recent)
        self._sampling: tuple[int, dict] = (-1, {})  # (the trial being sampled, its bounded lists)
        self._index: tuple[object, RankIndex] | None = None  # (the study's identity, its ranked trials)

    def _view(self, study, trial: FrozenTrial) -> _StudyView:
        if self._sampling[0] != trial.number:
            self._sampling = (trial.number, {})
        identity = (id(study._storage), study._study_id)
        if self._index is None or self._index[0] != identity:
            self._index = (identity, RankIndex(study.directions))
        return _StudyView(study, self.keep_best, self.keep_recent, self._sampling[1], self._index[1])

    def sample_relative(self, study, trial, search_space):
        return super().sample_relative(self._view(study, trial), trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return super().sample_independent(self._view(study, trial), trial, param_name, param_distribution)

    def after_trial(self, study, trial, state, values) -> None:
        self._sampling = (-1, {})  # the study changed: nothing kept refers to it
        super().after_trial(study, trial, state, values)
