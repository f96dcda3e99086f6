"""TPE learning from a bounded history (search/bounded_tpe.py): the same proposals as Optuna's TPE up
to the bound, a bounded view past it that keeps TPE's "good" set whole, for one objective, several,
and constraints. No timing here: bench/scale.py measures the cost per proposal."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.samplers import TPESampler
from optuna.samplers._tpe.sampler import _split_trials
from optuna.trial import TrialState, create_trial

from search.bounded_tpe import BoundedHistoryTPESampler, bounded_history

optuna.logging.set_verbosity(optuna.logging.WARNING)
DIST = {"x": FloatDistribution(-5.0, 5.0), "y": FloatDistribution(-5.0, 5.0)}


def _study(n: int, *, directions=("minimize",), sampler=None, constraints=False, seed=0):
    import random

    rng = random.Random(seed)
    study = optuna.create_study(directions=list(directions), sampler=sampler)
    for _ in range(n):
        params = {"x": rng.uniform(-5, 5), "y": rng.uniform(-5, 5)}
        values = [(params["x"] - 1) ** 2 + params["y"] ** 2 + rng.random()]
        if len(directions) > 1:
            values.append((params["x"] + 1) ** 2 + rng.random())
        trial = create_trial(params=params, distributions=DIST, values=values)
        if constraints:
            trial.set_constraint("constraint_excess", params["y"] - 4.0)  # y > 4: infeasible
        study.add_trial(trial)
    return study


def _proposals(sampler, study, count=5):
    study.sampler = sampler
    out = []
    for _ in range(count):
        trial = study.ask(DIST)
        out.append((trial.params["x"], trial.params["y"]))
        study.tell(trial, state=TrialState.FAIL)  # a failed trial teaches TPE nothing
    return out


def test_up_to_the_bound_the_proposals_are_optunas_own():
    plain = _proposals(TPESampler(seed=3), _study(120))
    bounded = _proposals(BoundedHistoryTPESampler(seed=3, keep_best=50, keep_recent=100), _study(120))
    assert bounded == plain


def test_past_the_bound_tpe_sees_the_best_and_the_latest_and_its_good_set_is_whole():
    study = _study(700)
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    kept = bounded_history(trials, study.directions, keep_best=100, keep_recent=400)
    assert len(kept) == 500 and [t.number for t in kept] == sorted(t.number for t in kept)
    best = sorted(trials, key=lambda t: t.value)[:100]
    assert {t.number for t in best} <= {t.number for t in kept}
    assert {t.number for t in trials[-400:]} <= {t.number for t in kept}
    below_all, _ = _split_trials(study, trials, 25)
    below_kept, _ = _split_trials(study, kept, 25)
    assert [t.number for t in below_kept] == [t.number for t in below_all]


def test_past_the_bound_the_sampler_proposes_from_the_bounded_view(monkeypatch):
    seen = []
    original = TPESampler._sample

    def spy(self, study, trial, search_space):
        seen.append(len(study._get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))))
        return original(self, study, trial, search_space)

    monkeypatch.setattr(TPESampler, "_sample", spy)
    proposals = _proposals(BoundedHistoryTPESampler(seed=0, keep_best=30, keep_recent=70), _study(300), count=2)
    assert seen and set(seen) == {100}
    assert all(-5 <= x <= 5 and -5 <= y <= 5 for x, y in proposals)


def test_several_objectives_keep_the_best_of_each_and_infeasible_trials_rank_last():
    study = _study(400, directions=("minimize", "minimize"))
    trials = study.get_trials(deepcopy=False)
    kept = {t.number for t in bounded_history(trials, study.directions, keep_best=40, keep_recent=100)}
    older = trials[:-100]
    for index in (0, 1):
        assert {t.number for t in sorted(older, key=lambda t: t.values[index])[:20]} <= kept

    constrained = _study(400, constraints=True)
    trials = constrained.get_trials(deepcopy=False)
    kept = bounded_history(trials, constrained.directions, keep_best=40, keep_recent=100)
    older_kept = [t for t in kept if t.number < 300]
    assert len(older_kept) == 40 and all(t.params["y"] <= 4.0 for t in older_kept)  # feasible first
    assert {t.number for t in sorted((t for t in trials[:300] if t.params["y"] <= 4.0), key=lambda t: t.value)[:40]} \
        == {t.number for t in older_kept}


def test_a_bound_smaller_than_tpes_good_set_is_refused():
    with pytest.raises(ValueError, match="at least 25"):
        BoundedHistoryTPESampler(keep_best=10)


def test_the_sweeps_tpe_is_the_bounded_one():
    from search.sweep import _optuna_searcher
    from spaces import load_space
    from spaces.objectives import parse_objectives

    searcher = _optuna_searcher(load_space("auto"), objectives=parse_objectives("delta_e"), seed=0)
    assert isinstance(searcher._sampler, BoundedHistoryTPESampler)
