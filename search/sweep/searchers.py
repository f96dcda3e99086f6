"""How a sweep proposes and stops trials: its objectives, searcher, scheduler and time-budget stopper.

:func:`resolve_objectives` (metrics and constraints), :func:`_optuna_searcher` (Optuna's TPE or
random sampler, warm-started on earlier results), :func:`_memory_searcher` (the memory plan of
:mod:`search.packing` around it), :func:`_scheduler_from` (ASHA or FIFO), :class:`BudgetStopper`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

from ray.tune import Stopper

from colorize_core.errors import InvalidValueError
from search._optuna_space import OptunaSpace, optuna_distributions
from search.sweep_info import SchedulerInfo, SweepInfo
from spaces import SearchSpace
from spaces.objectives import (
    TRADEOFF,
    Constraint,
    Objective,
    check_normalisable,
    parse_constraints,
    parse_objectives,
)

def resolve_objectives(space: SearchSpace, metric: str | Sequence[str] | None, mode: str | None,
                       constraints: Sequence[str] | None) -> tuple[list[Objective], list[Constraint]]:
    """The sweep's objectives and constraints: the arguments, else the space's ``defaults.metrics`` /
    ``defaults.constraints``, else ``[delta_e]`` and none. ``mode`` applies to a single metric only.
    ValueError (spaces.objectives.ObjectiveError) before anything starts."""
    from spaces.objectives import ObjectiveError

    metrics = metric if metric else space.defaults.get("metrics")
    names = [metrics] if isinstance(metrics, str) else list(metrics or ["delta_e"])
    if mode is not None and len(names) > 1:
        raise ObjectiveError("--mode applies to a single --metric; with several, each metric keeps its own direction")
    objectives = parse_objectives(names, modes=[mode] if mode is not None else None)
    check_normalisable(objectives)
    return objectives, parse_constraints(constraints if constraints is not None else space.defaults.get("constraints"))


def _memory_plan_info(gpu_memory, *, fit_batch: bool, gpus_per_trial: float) -> dict:
    """``sweep.json``'s ``memory``: the budget per GPU (given, or detected when trials use GPUs)."""
    from search.memory import detect_gpu_memory, parse_memory

    if gpu_memory is not None:
        budget, source = parse_memory(gpu_memory), "given"
    else:
        budget = detect_gpu_memory() if gpus_per_trial > 0 else None
        source = "detected" if budget else None
    if fit_batch and not budget:
        raise InvalidValueError("fit_batch needs a memory budget: give gpu_memory (--gpu-memory 4GiB), or run trials on "
                                "GPUs (--gpus-per-trial) where nvidia-smi reports their memory")
    return {"budget_bytes": budget, "budget_source": source, "gpu_memory_bytes": budget, "fit_batch": bool(fit_batch)}


def _memory_searcher(inner, info: SweepInfo, run_dir: Path, *, trials: int | None, live: bool,
                     deadline: float | None = None):
    """``inner`` wrapped in the memory plan (search.packing): budget, --fit-batch, out-of-memory retries,
    GPU shares. It ends the search itself; the Tuner's num_samples is only a bound (2 x, for retries)."""
    from search.memory import TrialPlanner
    from search.packing import MemorySearcher

    memory = info.memory or {}
    planner = TrialPlanner(space=info.space, size=int(info.data.size), budget=memory.get("budget_bytes"),
                           gpus_per_trial=float(info.resources.gpus_per_trial),
                           gpu_memory=memory.get("gpu_memory_bytes"), fit_batch=bool(memory.get("fit_batch")),
                           run_dir=str(run_dir))
    return MemorySearcher(inner, planner=planner, run_dir=run_dir, trials=trials, max_epochs=info.max_epochs,
                          live=live, deadline=deadline)


#: ``colorsweep run --searcher``: how configurations are proposed (grid spaces always run their grid).
SEARCHERS = ("tpe", "random")


#: ``colorsweep run --scheduler``: ``asha`` stops poor trials early; ``none`` runs every trial to
#: ``max_epochs`` (or its own early stopping).
SCHEDULERS = ("asha", "none")


def _scheduler_from(scheduler: SchedulerInfo):
    """The trial scheduler recorded in ``sweep.json`` (:attr:`SweepInfo.scheduler`): ASHA on epochs, or
    Ray's FIFO scheduler (no early stopping) for ``name == "none"``. A several-objective sweep's ASHA
    ranks on ``tradeoff`` (``scheduler.metric``; :func:`spaces.objectives.tradeoff_score`); otherwise
    it takes the sweep's metric from the Tuner."""
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    if scheduler.name == "none":
        return FIFOScheduler()
    own = {"metric": TRADEOFF, "mode": "min"} if scheduler.metric == TRADEOFF else {}
    return ASHAScheduler(time_attr="epoch", max_t=int(scheduler.max_t), grace_period=int(scheduler.grace_period),
                         reduction_factor=scheduler.reduction_factor, **own)


def _tune_metric(info: SweepInfo) -> dict:
    """The Tuner's ``metric``/``mode``: the sweep's metric, or none for a several-objective sweep (its
    scheduler and searcher carry their own; Ray refuses both at once)."""
    if info.scheduler.metric == TRADEOFF:
        return {}
    return {"metric": info.metric, "mode": info.mode}


def searcher_metrics(objectives: Sequence[Objective]) -> tuple[str | list[str], str | list[str]]:
    """The ``metric``/``mode`` OptunaSearch is built with: the metric itself for one objective (as
    always), ``[at_best_<m>, ...]`` with their directions for several."""
    from search.optuna_search import AT_BEST_PREFIX

    if len(objectives) == 1:
        return objectives[0].metric, objectives[0].mode
    return [AT_BEST_PREFIX + o.metric for o in objectives], [o.mode for o in objectives]


def _optuna_searcher(space: SearchSpace, *, objectives: Sequence[Objective], seed: int, constrained: bool = False,
                     evaluated: list | None = None, sampler_name: str = "tpe"):
    """Ray's OptunaSearch over ``space`` with TPE (or, ``sampler_name="random"``, Optuna's random
    sampler, the baseline a search must beat). One objective: told the metric as always; several:
    Optuna's multi-objective TPE, told ``at_best_<metric>`` for each (:func:`searcher_metrics`).
    ``constrained``: TPE learns from ``constraint_excess`` (:class:`search.optuna_search.ConstrainedOptunaSearch`).
    ``evaluated`` = [(params, values, excess)] warm-starts it (``values`` one per objective).

    Ray's ``evaluated_rewards`` does not work with a define-by-run space, so earlier results go into
    an Optuna study prepared here (public ``create_trial`` / ``add_trial``), which OptunaSearch loads
    by name from the same in-memory storage.
    """
    import optuna

    from search.optuna_search import CONSTRAINT_EXCESS, ConstrainedOptunaSearch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if sampler_name not in SEARCHERS:
        raise InvalidValueError(f"searcher must be one of {', '.join(SEARCHERS)}, got {sampler_name!r}")
    if sampler_name == "random":
        sampler = optuna.samplers.RandomSampler(seed=seed)
    else:
        from search.bounded_tpe import BoundedHistoryTPESampler

        # TPE on at most the 100 best and 400 latest finished trials: a proposal's cost stays flat
        # past 500 trials (search/bounded_tpe.py); it reads each trial's constraints (Trial.set_constraint)
        sampler = BoundedHistoryTPESampler(seed=seed)
    metric, mode = searcher_metrics(objectives)
    if not evaluated:  # a new sweep: the space's known-good configurations first (Optuna's enqueued trials)
        # (not for random search: it is the baseline that knows only the space's ranges)
        first = [dict(c) for c in space.start_with] if sampler_name == "tpe" else []
        return ConstrainedOptunaSearch(OptunaSpace(space), metric=metric, mode=mode, sampler=sampler,
                                       points_to_evaluate=first or None)
    storage = optuna.storages.InMemoryStorage()
    study_name = f"colorsweep-{space.name}"
    study = optuna.create_study(storage=storage, study_name=study_name, sampler=sampler,
                                directions=["minimize" if o.mode == "min" else "maximize" for o in objectives])
    distributions = optuna_distributions(space)
    for params, values, excess in evaluated:
        known = {k: v for k, v in params.items() if k in distributions}
        try:
            trial = optuna.trial.create_trial(params=known, distributions={k: distributions[k] for k in known},
                                              values=[float(v) for v in values])
            if constrained and excess is not None:
                trial.set_constraint(CONSTRAINT_EXCESS, float(excess))
            study.add_trial(trial)
        except ValueError:  # outside the space (e.g. a batch size shrunk to fit memory): not a prior
            continue
    return ConstrainedOptunaSearch(OptunaSpace(space), metric=metric, mode=mode, sampler=sampler, storage=storage,
                                   study_name=study_name)


class BudgetStopper(Stopper):
    """Ray Tune stopper of a time budget: after ``deadline`` (wall clock, seconds since the epoch) each
    running trial stops at the end of its current epoch (its checkpoint is complete); a trial still
    running ``grace_s`` later is stopped wherever it is (Ray's ``stop_all``). New trials stop being
    proposed at the deadline (:class:`search.packing.MemorySearcher`)."""

    def __init__(self, deadline: float, budget_s: float):
        self.deadline = float(deadline)
        self.grace_s = max(60.0, 0.1 * float(budget_s))

    def __call__(self, trial_id: str, result: dict) -> bool:
        return time.time() >= self.deadline

    def stop_all(self) -> bool:
        return time.time() >= self.deadline + self.grace_s
