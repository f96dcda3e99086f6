"""Several objectives and constraints (spaces.objectives, search.pareto, search.optuna_search): parsing,
the Pareto front on hand-made trial sets, the knee, picks, the searcher's constraint path, and one
end-to-end two-objective, constrained sweep (report, export --pick knee, resume --trials +1)."""

from __future__ import annotations

import json
import math

import pytest

from search.records import TrialRecord
from spaces import SpaceError, space_from_dict
from spaces.objectives import (
    Constraint,
    Objective,
    ObjectiveError,
    check_normalisable,
    choose,
    dominates,
    knee_index,
    parse_constraint,
    parse_objectives,
    parse_pick,
    pareto_ranks,
    tradeoff_score,
    trial_values,
    violations,
)

MIN2 = ["min", "min"]


# -- parsing ---------------------------------------------------------------------------------------


def test_objectives_take_each_metrics_own_direction_and_refuse_repeats_and_unknowns():
    assert parse_objectives(["delta_e", "psnr"]) == [Objective("delta_e", "min"), Objective("psnr", "max")]
    assert parse_objectives(None) == [Objective("delta_e", "min")]
    with pytest.raises(ObjectiveError, match="'delta_e' is given twice"):
        parse_objectives(["delta_e", "delta_e"])
    with pytest.raises(ObjectiveError, match="did you mean 'delta_e'"):
        parse_objectives(["delta_f"])


def test_metrics_grey_scores_zero_on_cannot_be_one_of_several_objectives():
    check_normalisable([Objective("delta_e", "min")])  # one objective: anything goes
    check_normalisable(parse_objectives(["delta_e", "colorfulness_gap"]))
    with pytest.raises(ObjectiveError, match="colorfulness cannot be one of several objectives.*use colorfulness_gap"):
        check_normalisable(parse_objectives(["delta_e", "colorfulness"]))


@pytest.mark.parametrize("text, name, op, bound", [
    ("peak_memory_mb<=3500", "peak_memory_mb", "<=", 3500.0),
    ("train_time_s <= 120", "train_time_s", "<=", 120.0),
    ("params<=2e6", "params", "<=", 2e6),
    ("gain_vs_gray>0.1", "gain_vs_gray", ">", 0.1),
])
def test_constraints_are_read_from_text(text, name, op, bound):
    constraint = parse_constraint(text)
    assert (constraint.name, constraint.op, constraint.bound) == (name, op, bound)
    assert parse_constraint(constraint.to_dict()) == constraint  # as sweep.json records it
    assert parse_constraint(constraint.text) == constraint


@pytest.mark.parametrize("text, message", [
    ("params=2e6", "write NAME OP NUMBER"),
    ("parms<=2e6", "did you mean 'params'"),
    ("params<=lots", "write NAME OP NUMBER"),
])
def test_bad_constraints_say_what_is_accepted(text, message):
    with pytest.raises(ObjectiveError, match=message):
        parse_constraint(text)


def test_violations_follow_optunas_sign_and_count_missing_values_as_violated():
    constraints = [parse_constraint("params<=100"), parse_constraint("gain_vs_gray>=0.2")]
    assert violations({"params": 80, "gain_vs_gray": 0.3}, constraints) == [-20, pytest.approx(-0.1)]
    assert violations({"params": 120, "gain_vs_gray": 0.1}, constraints) == [20, pytest.approx(0.1)]
    assert violations({}, constraints) == [math.inf, math.inf]
    assert Constraint("params", "<", 100).violation(100) > 0  # a strict bound is violated at equality


def test_space_defaults_may_hold_metrics_and_constraints():
    space = space_from_dict({"name": "t", "fixed": {"arch": "unet"},
                             "defaults": {"metrics": ["delta_e", "colorfulness_gap"], "constraints": ["params<=2e6"]}})
    assert space.defaults["metrics"] == ["delta_e", "colorfulness_gap"]
    assert space.defaults["constraints"] == ["params<=2e6"]
    with pytest.raises(SpaceError, match="defaults.constraints: cannot read constraint"):
        space_from_dict({"name": "t", "fixed": {"arch": "unet"}, "defaults": {"constraints": ["params=2"]}})
    with pytest.raises(SpaceError, match="defaults.metrics must be a non-empty list"):
        space_from_dict({"name": "t", "fixed": {"arch": "unet"}, "defaults": {"metrics": []}})


# -- the front ---------------------------------------------------------------------------------------


def test_pareto_ranks_sort_hand_made_points_into_fronts():
    points = [(1, 9), (2, 5), (5, 2), (9, 1), (3, 6), (6, 6), None, (2, 5), (float("nan"), 1)]
    ranks = pareto_ranks(points, MIN2)
    assert ranks[:4] == [1, 1, 1, 1]  # the trade-off curve
    assert ranks[4] == 2  # dominated by front points only
    assert ranks[5] == 3  # dominated by (3, 6) of rank 2 as well
    assert ranks[6] is None and ranks[8] is None  # no point, or not finite: on no front
    assert ranks[7] == 1  # an equal point does not dominate
    assert dominates((1, 1), (1, 2), MIN2) and not dominates((1, 2), (1, 2), MIN2)


def test_pareto_ranks_respect_directions():
    # maximise the second objective: (1, 9) is now best on both
    assert pareto_ranks([(1, 9), (2, 5), (5, 2)], ["min", "max"]) == [1, 2, 3]


def test_the_knee_is_the_front_point_nearest_the_ideal_once_scaled():
    front = [(9.0, 20.0), (10.0, 6.0), (14.0, 1.0)]  # accurate-grey, balanced, colourful-wrong
    assert knee_index(front, MIN2) == 1
    assert knee_index([(3.0, 3.0)], MIN2) == 0
    with pytest.raises(ValueError, match="front is empty"):
        knee_index([], MIN2)


def test_tradeoff_score_is_relative_to_grey_and_worst_for_missing_values():
    grey = {"delta_e": 10.0, "colorfulness_gap": 40.0, "psnr": 20.0}
    objectives = parse_objectives(["delta_e", "colorfulness_gap"])
    assert tradeoff_score({"delta_e": 10.0, "colorfulness_gap": 40.0}, objectives, grey) == pytest.approx(1.0)
    assert tradeoff_score({"delta_e": 5.0, "colorfulness_gap": 0.0}, objectives, grey) == pytest.approx(0.25)
    assert tradeoff_score({"delta_e": float("nan"), "colorfulness_gap": 1.0}, objectives, grey) == 1e6
    assert tradeoff_score({"psnr": 40.0}, parse_objectives(["psnr"]), grey) == pytest.approx(0.5)


def test_trial_values_read_the_best_epoch_and_the_trials_resources():
    history = [
        {"epoch": 1, "delta_e": 12.0, "colorfulness_gap": 5.0, "peak_memory_mb": 900.0, "train_time_s": 3.0, "params": 10},
        {"epoch": 2, "delta_e": 11.0, "colorfulness_gap": 9.0, "peak_memory_mb": 1100.0, "train_time_s": 6.0, "params": 10},
        {"epoch": 3, "delta_e": 11.5, "colorfulness_gap": 2.0, "peak_memory_mb": 1000.0, "train_time_s": 9.0, "params": 10},
    ]
    values = trial_values(history, best_epoch=2)
    assert values["delta_e"] == 11.0 and values["colorfulness_gap"] == 9.0  # the epoch best.keras holds
    assert values["peak_memory_mb"] == 1100.0 and values["train_time_s"] == 9.0 and values["epochs"] == 3
    history[1]["gpu_peak_memory_mb"] = 3000.0
    assert trial_values(history, 2)["peak_memory_mb"] == 3000.0  # the GPU's peak when there is one
    assert trial_values([], None) == {}


# -- picks -------------------------------------------------------------------------------------------


def _rows():
    return [
        {"trial_id": "grey", "delta_e": 9.0, "colorfulness_gap": 20.0, "params": 1e6, "pareto_rank": 1, "feasible": True},
        {"trial_id": "balanced", "delta_e": 10.0, "colorfulness_gap": 6.0, "params": 1e6, "pareto_rank": 1, "feasible": True},
        {"trial_id": "vivid", "delta_e": 14.0, "colorfulness_gap": 1.0, "params": 1e6, "pareto_rank": 1, "feasible": True},
        {"trial_id": "worse", "delta_e": 15.0, "colorfulness_gap": 7.0, "params": 1e6, "pareto_rank": 2, "feasible": True},
        {"trial_id": "huge", "delta_e": 8.0, "colorfulness_gap": 4.0, "params": 9e9, "pareto_rank": None, "feasible": False},
    ]


def test_picks_choose_the_knee_or_the_best_under_conditions_and_never_an_infeasible_trial():
    objectives = parse_objectives(["delta_e", "colorfulness_gap"])
    assert choose(_rows(), parse_pick("knee"), objectives)["trial_id"] == "balanced"
    assert choose(_rows(), parse_pick("min delta_e"), objectives)["trial_id"] == "grey"  # not "huge": infeasible
    assert choose(_rows(), parse_pick("min delta_e where colorfulness_gap<=5"), objectives)["trial_id"] == "vivid"
    rule = parse_pick("MIN delta_e where colorfulness_gap<=8 and delta_e<=12")
    assert rule.kind == "best" and len(rule.where) == 2
    assert choose(_rows(), rule, objectives)["trial_id"] == "balanced"
    with pytest.raises(ObjectiveError, match="no trial meets 'colorfulness_gap<=0.5'"):
        choose(_rows(), parse_pick("min delta_e where colorfulness_gap<=0.5"), objectives)
    with pytest.raises(ObjectiveError, match="needs a sweep with several objectives"):
        choose(_rows(), parse_pick("knee"), objectives[:1])
    with pytest.raises(ObjectiveError, match="cannot read pick rule"):
        parse_pick("lowest delta_e")


def test_standings_put_only_feasible_trials_with_values_on_the_front():
    from search.pareto import front, knee, standings

    def record(trial_id, delta_e, gap, params=100):
        return TrialRecord(trial_id, {}, "completed", history=[
            {"epoch": 1, "delta_e": delta_e + 1, "colorfulness_gap": 0.0, "params": params},  # not its best epoch
            {"epoch": 2, "delta_e": delta_e, "colorfulness_gap": gap, "params": params}])

    records = [record("a", 9, 20), record("b", 10, 6), record("c", 14, 1), record("d", 15, 7),
               record("e", 5, 1, params=10**9), TrialRecord("f", {}, "error")]
    objectives = parse_objectives(["delta_e", "colorfulness_gap"])
    standing = standings(records, objectives, [parse_constraint("params<=1000")])
    assert {k: s.pareto_rank for k, s in standing.items()} == {"a": 1, "b": 1, "c": 1, "d": 2, "e": None, "f": None}
    assert standing["e"].meets_constraints is False and standing["f"].meets_constraints is None
    assert [s.trial_id for s in front(standing, objectives)] == ["a", "b", "c"]
    assert knee(standing, objectives).trial_id == "b"
    assert standing["a"].point == [9, 20]  # values at the best epoch on delta_e, not the best gap


# -- the searcher --------------------------------------------------------------------------------------


def _space():
    return space_from_dict({"name": "t", "params": {"learning_rate": {"loguniform": [1e-4, 1e-2]},
                                                    "loss": {"choice": ["mse", "mae"]}},
                            "fixed": {"arch": "basic"}})


def test_a_constrained_searcher_hands_optuna_each_trials_excess():
    from search.optuna_search import CONSTRAINT_EXCESS
    from search.sweep import _optuna_searcher

    searcher = _optuna_searcher(_space(), objectives=parse_objectives("delta_e"), constrained=True, seed=0)
    searcher.set_search_properties(None, None, {})
    for i, excess in enumerate([-5.0, 30.0]):
        searcher.suggest(f"t{i}")
        searcher.on_trial_complete(f"t{i}", result={"delta_e": 10.0 + i, CONSTRAINT_EXCESS: excess})
    trials = searcher.study.get_trials()
    assert [t.constraints for t in trials] == [{CONSTRAINT_EXCESS: -5.0}, {CONSTRAINT_EXCESS: 30.0}]  # what TPE reads


def test_a_two_objective_searcher_is_told_each_objective_at_the_best_epoch():
    from search.sweep import _optuna_searcher, searcher_metrics

    objectives = parse_objectives(["delta_e", "colorfulness_gap"])
    assert searcher_metrics(objectives) == (["at_best_delta_e", "at_best_colorfulness_gap"], ["min", "min"])
    searcher = _optuna_searcher(_space(), objectives=objectives, seed=0)
    searcher.set_search_properties(None, None, {})
    searcher.suggest("t0")
    searcher.on_trial_complete("t0", result={"at_best_delta_e": 9.5, "at_best_colorfulness_gap": 12.0,
                                             "delta_e": 10.0, "colorfulness_gap": 3.0})
    study = searcher.study
    assert len(study.directions) == 2 and study.get_trials()[0].values == [9.5, 12.0]
    warm = _optuna_searcher(_space(), objectives=objectives, seed=1, constrained=True,
                            evaluated=[({"learning_rate": 1e-3, "loss": "mae"}, [9.0, 4.0], -1.0)])
    warm.set_search_properties(None, None, {})
    assert warm.suggest("w0") is not None
    assert warm.study.get_trials()[0].values == [9.0, 4.0]
    assert warm.study.get_trials()[0].constraints == {"constraint_excess": -1.0}


def test_mode_applies_to_one_metric_only(tmp_path):
    from search.sweep import run_sweep

    with pytest.raises(ValueError, match="--mode applies to a single --metric"):
        run_sweep("smoke", metric=["delta_e", "colorfulness_gap"], mode="min", storage=tmp_path, live=False)
    with pytest.raises(ValueError, match="gain_vs_gray cannot be one of several objectives"):
        run_sweep("smoke", metric=["delta_e", "gain_vs_gray"], storage=tmp_path, live=False)
    assert not any(tmp_path.iterdir())  # refused before anything was written


# -- end to end ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_objective_sweep(tmp_path_factory, cache_dir):
    """Two objectives and a constraint that the U-Nets break: basic (47 k parameters) and unet (1.9 M)."""
    import ray

    from search.sweep import run_sweep

    space = space_from_dict({
        "name": "mo", "defaults": {"max_epochs": 1, "size": 16, "trials": 3, "grace_period": 1},
        "params": {"arch": {"choice": ["basic", "unet"]}, "loss": {"choice": ["mse", "mae"]},
                   "learning_rate": {"loguniform": [1e-3, 1e-2]}},
        "fixed": {"batch_size": 8, "output_activation": "sigmoid"},
        "start_with": [{"arch": "unet", "loss": "mae", "learning_rate": 3e-3},
                       {"arch": "basic", "loss": "mae", "learning_rate": 3e-3}],
    })
    storage = tmp_path_factory.mktemp("runs")
    result = run_sweep(space, data="demo", storage=storage, name="mo", live=False, num_cpus=2, cache_dir=cache_dir,
                       metric=["delta_e", "colorfulness_gap"], constraints=["params<=1e6"])
    yield result
    ray.shutdown()


@pytest.mark.slow
def test_two_objective_constrained_sweep_records_reports_and_exports_its_front(two_objective_sweep, capsys):
    from search.cli import main
    from search.records import load_sweep_info

    result = two_objective_sweep
    run_dir = result.run_dir
    info = load_sweep_info(run_dir)
    assert info.objectives == [{"metric": "delta_e", "mode": "min"}, {"metric": "colorfulness_gap", "mode": "min"}]
    assert info.constraints[0]["text"] == "params<=1e6" and info.scheduler.metric == "tradeoff"
    finished = [r for r in result.records if r.history]
    assert finished and all({"tradeoff", "at_best_delta_e", "constraint_excess"} <= set(r.history[-1]) for r in finished)
    unets = [r for r in finished if r.params["arch"] == "unet"]
    assert unets and all(r.history[-1]["constraint_excess"] > 0 for r in unets)
    assert result.best is not None and result.best.params["arch"] == "basic"  # never a violating trial
    ranked_ids = [r.trial_id for r in result.records]
    assert all(ranked_ids.index(b.trial_id) < ranked_ids.index(u.trial_id)
               for b in finished if b.params["arch"] == "basic" for u in unets)

    assert main(["report", str(run_dir)]) == 0
    capsys.readouterr()
    report = json.loads((run_dir / "report" / "trials.json").read_text())
    rows = {row["trial_id"]: row for row in report["trials"]}
    assert "pareto_rank" in report["columns"] and "meets_constraints" in report["columns"]
    assert all(rows[r.trial_id]["pareto_rank"] is None and rows[r.trial_id]["meets_constraints"] is False for r in unets)
    front_ids = [f["trial_id"] for f in report["front"]]
    assert front_ids and report["knee"] in front_ids
    assert all(rows[t]["pareto_rank"] == 1 for t in front_ids)
    markdown = (run_dir / "report" / "report.md").read_text()
    assert "## Pareto front: delta_e and colorfulness_gap" in markdown
    assert (run_dir / "report" / "pareto_front.png").stat().st_size > 0
    assert (run_dir / "report" / "pareto_pictures.png").stat().st_size > 0
    header = (run_dir / "report" / "trials.csv").read_text().splitlines()[0].split(",")
    assert header.index("pareto_rank") == header.index("best_epoch") + 1

    assert main(["export", str(run_dir), "--pick", "knee", "--json"]) == 0
    card = json.loads(capsys.readouterr().out)["card"]
    assert card["source"]["trial_id"] == report["knee"] and card["source"]["picked_by"] == "knee"
    assert "picked by `knee`" in (run_dir / "best" / f"trial-{report['knee']}" / "model_card.md").read_text()


@pytest.mark.slow
def test_resuming_a_two_objective_sweep_keeps_its_objectives_and_constraints(two_objective_sweep):
    from search.records import load_records, load_sweep_info
    from search.sweep import resume_sweep

    run_dir = two_objective_sweep.run_dir
    before = len(load_records(run_dir))
    result = resume_sweep(run_dir, extra_trials=1, live=False, num_cpus=2, report=False)
    info = load_sweep_info(run_dir)
    assert len(result.records) == before + 1
    assert [o["metric"] for o in info.objectives] == ["delta_e", "colorfulness_gap"]
    assert info.constraints[0]["text"] == "params<=1e6" and info.extensions[-1]["warm_start"] >= 1
    newest = [r for r in load_records(run_dir) if r.trial_id not in {x.trial_id for x in two_objective_sweep.records}]
    assert newest and newest[0].history and "at_best_colorfulness_gap" in newest[0].history[-1]
    assert [o.metric for o in result.objectives] == ["delta_e", "colorfulness_gap"]
