"""A new sweep (:func:`run_sweep`): its options resolved and checked, its run directory, its Tuner.

Everything is checked before Ray starts: the space, the data (decoded, cached, split), the run
directory. Also what every trial of a run or resume is given (:func:`_trial_settings`,
:func:`_trainable`).
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from colorize_core.errors import ExistingFileError, InvalidValueError
from colorize_core.data import LabDataset, load_dataset
from search.monitor import SweepMonitor
from search.records import constraints_of, objectives_of
from search.rundir import (
    BASELINES_FILE,
    SWEEP_FILE,
    RunLock,
    TrialLedger,
    clear_run_dir,
    load_baselines,
    run_dir_for,
    write_json_atomic,
)
from search.sweep_info import DataInfo, Resources, SchedulerInfo, SweepInfo
from search.sweep.loop import _fit
from search.sweep.ray_session import _callbacks, _checkpoint_config, _init_ray, _trial_dirname, compile_cache_setting, reuse_workers
from search.sweep.result import SweepResult, _result, baseline_metrics_for, package_versions
from search.sweep.searchers import (
    SCHEDULERS,
    SEARCHERS,
    BudgetStopper,
    _memory_plan_info,
    _memory_searcher,
    _optuna_searcher,
    _scheduler_from,
    _tune_metric,
    resolve_objectives,
)
from spaces import SearchSpace, fit_batch_sizes_to_data, list_spaces, load_space, validate_for_data, with_fixed
from spaces.objectives import TRADEOFF, Constraint, Objective

DEFAULT_STORAGE = "./colorsweep-runs"


def _resolve_budget(space: SearchSpace, time_budget) -> float | None:
    """Seconds of the sweep's time budget: ``time_budget`` (``"20m"``, ``"90s"``, ``"1.5h"``; a plain
    number means minutes), else the space's ``defaults.time_budget``, else None."""
    from spaces import parse_duration

    value = time_budget if time_budget is not None else space.defaults.get("time_budget")
    return None if value is None else parse_duration(value, label="time budget (--time-budget)")


def _resolve(space: SearchSpace, *, trials, max_epochs, size, budgeted: bool = False) -> tuple[int | None, int, int]:
    """Trials, max epochs and size of a sweep: given, else the space's defaults. With a time budget
    and no trials given, the trials are not counted (None): the budget ends the search."""
    defaults = dict(space.defaults)
    max_epochs = int(max_epochs or defaults.get("max_epochs", 10))
    size = int(size or defaults.get("size", 128))
    if space.is_grid:
        if trials not in (None, space.grid_size):
            raise InvalidValueError(
                f"trials must be omitted for the grid space {space.name!r}: it runs each of its "
                f"{space.grid_size} configurations exactly once (got trials={trials})"
            )
        trials = space.grid_size
    elif budgeted and trials is None:
        trials = None
    else:
        trials = int(trials or defaults.get("trials", 10))
    if trials is not None and trials <= 0:
        raise InvalidValueError(f"trials must be a positive int, got {trials!r}")
    if max_epochs <= 0:
        raise InvalidValueError(f"max_epochs must be a positive int, got {max_epochs!r}")
    from spaces import DEFAULT_UPPER_BOUNDS

    for key, value in (("trials", trials), ("max_epochs", max_epochs), ("size", size)):
        if value is not None and value > DEFAULT_UPPER_BOUNDS[key]:
            raise InvalidValueError(f"{key} is {value}, more than the {DEFAULT_UPPER_BOUNDS[key]} colorsweep accepts; "
                                    f"choose a smaller value")
    return trials, max_epochs, size


def _trial_settings(info: SweepInfo, run_dir: Path, fail_when=None, inject_oom_batch: int | None = None) -> dict:
    objectives = objectives_of(info)
    grey = {}
    if len(objectives) > 1 and (run_dir / BASELINES_FILE).is_file():
        grey = load_baselines(run_dir).get("gray", {})
    return {"space": info.space, "max_epochs": info.max_epochs, "seed": info.seed, "run_dir": str(run_dir),
            "metric": info.metric, "cpus_per_trial": info.resources.cpus_per_trial,
            "gpus_per_trial": info.resources.gpus_per_trial, "compile_cache": compile_cache_setting(),
            "inject_error": list(fail_when) if fail_when else None, "inject_oom_batch": inject_oom_batch,
            "objectives": [o.to_dict() for o in objectives] if len(objectives) > 1 else None,
            "constraints": [c.to_dict() for c in constraints_of(info)] or None, "grey": grey}


def _trainable(dataset: LabDataset, settings: dict, function: Callable | None = None):
    """What the Tuner runs for each trial: ``function`` (default :func:`search.trainable.colorize_trial`)
    given the data set through Ray's object store and the sweep's ``settings``, with the CPUs and the
    GPU share of its memory plan. ``function`` other than the default is for benchmarks only (see
    :func:`run_sweep`'s ``trainable``)."""
    from ray import tune

    from search.packing import TrialResources

    if function is None:
        from search.trainable import colorize_trial as function

    # A function of the trial's config: its GPU share comes from its memory estimate (search.packing).
    resources = TrialResources(settings["cpus_per_trial"], settings.get("gpus_per_trial", 0.0))
    return tune.with_resources(tune.with_parameters(function, data=dataset, settings=settings), resources)


def run_sweep(
    space: str | SearchSpace,
    *,
    data: str | Sequence[str] = "demo",
    name: str | None = None,
    storage: str | os.PathLike = DEFAULT_STORAGE,
    trials: int | None = None,
    max_epochs: int | None = None,
    size: int | None = None,
    metric: str | Sequence[str] | None = None,
    mode: str | None = None,
    seed: int = 0,
    concurrency: int | None = None,
    cpus_per_trial: float = 1.0,
    gpus_per_trial: float = 0.0,
    address: str | None = None,
    grace_period: int | None = None,
    reduction_factor: int = 2,
    overwrite: bool = False,
    live: bool = True,
    num_cpus: int | None = None,
    num_gpus: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    report: bool = True,
    command_line: str | None = None,
    fail_when: tuple[str, Any] | None = None,
    gpu_memory: str | int | None = None,
    fit_batch: bool = False,
    inject_oom_batch: int | None = None,
    time_budget: str | float | None = None,
    samples_per_epoch: int | None = None,
    searcher: str = "tpe",
    scheduler: str = "asha",
    constraints: Sequence[str] | None = None,
    trainable: Callable | None = None,
) -> SweepResult:
    """Run a sweep and return its ranked trials. Mirrors ``colorsweep run``.

    ``space`` is a built-in name (``colorsweep spaces``), a YAML path or a :class:`SearchSpace`.
    ``data`` is ``"demo"`` or image folder(s). ``metric``/``mode`` rank trials (default: the space's
    ``defaults.metrics``, else ``delta_e``, lower is better); ASHA stops trials on it at epoch
    milestones (``grace_period``, ``reduction_factor``, ``max_t = max_epochs``). A list of metrics
    makes a several-objective sweep (:mod:`spaces.objectives`): Optuna's TPE proposes for all of them,
    ASHA ranks on their ``tradeoff`` score, the report shows the Pareto front; each keeps its own
    direction (``mode`` is for a single metric). ``constraints`` (texts like ``"params<=2e6"``;
    default: the space's ``defaults.constraints``) mark the trials that violate them infeasible: never
    ranked best, and the sampler learns to avoid them. ``address`` joins an existing Ray cluster
    (``auto`` or ``ray://host:port``; also ``RAY_ADDRESS``). ``num_cpus``/``num_gpus`` size a local
    Ray instance. ``report`` writes the ranked report into ``RUN_DIR/report/`` at the end (also
    after Ctrl-C). ``fail_when=(param, value)`` makes trials with that value raise (a test hook for
    failure handling). ``samples_per_epoch`` overrides the space's: every trial's epoch is that many
    random crops of the training photos (``0``: one pass over the fixed centre crops). ``searcher``
    (:data:`SEARCHERS`: ``tpe`` or ``random``) and ``scheduler`` (:data:`SCHEDULERS`: ``asha`` or
    ``none``) are there to measure what the search adds (``bench/quality.py``).

    Memory (:mod:`search.memory`, :mod:`search.packing`): ``gpu_memory`` is one GPU's memory budget
    (``"4GiB"`` or bytes; default: detected with nvidia-smi when ``gpus_per_trial`` > 0, else no
    limit). A configuration whose estimate does not fit is not launched and is recorded as
    ``infeasible``; with ``fit_batch`` its batch size is shrunk to the largest power of two that fits.
    ``gpus_per_trial`` is the largest GPU share of a trial: with a known GPU memory each trial asks for
    its estimate's share (in 1/8 steps), so small models pack several to a GPU. A trial that runs out
    of memory is recorded as ``oom`` and retried once at half the batch size. ``inject_oom_batch=N``
    makes trials with a batch size >= N fail with an out-of-memory error (a test hook).

    ``trainable`` is for benchmarks of the driver only (``bench/scale.py``), never for a real sweep: a
    function with the signature of :func:`search.trainable.colorize_trial` (``(config, *, data,
    settings)``, reporting each epoch with ``ray.tune.report``) that Ray runs instead of training.
    The run directory, searcher, scheduler, monitor and report are the real ones; what the trials
    report is whatever that function makes up. None (the default) trains.
    """
    started = time.monotonic()
    builtin = isinstance(space, str) and space in list_spaces()
    space = load_space(space) if not isinstance(space, SearchSpace) else space
    if samples_per_epoch is not None:
        if isinstance(samples_per_epoch, bool) or not isinstance(samples_per_epoch, int) or samples_per_epoch < 0:
            raise InvalidValueError(f"samples_per_epoch must be an int >= 0 (0: one pass over the fixed crops), "
                                    f"got {samples_per_epoch!r}")
        space = with_fixed(space, samples_per_epoch=samples_per_epoch or None)
    objectives, constraint_list = resolve_objectives(space, metric, mode, constraints)
    metric, mode = objectives[0].metric, objectives[0].mode
    if searcher not in SEARCHERS:
        raise InvalidValueError(f"searcher must be one of {', '.join(SEARCHERS)}, got {searcher!r}")
    if scheduler not in SCHEDULERS:
        raise InvalidValueError(f"scheduler must be one of {', '.join(SCHEDULERS)}, got {scheduler!r}")
    budget_s = _resolve_budget(space, time_budget)
    trials, max_epochs, size = _resolve(space, trials=trials, max_epochs=max_epochs, size=size,
                                        budgeted=budget_s is not None)
    grace_period = min(int(grace_period or space.defaults.get("grace_period", 1)), max_epochs)
    if cpus_per_trial <= 0:
        raise InvalidValueError(f"cpus_per_trial must be positive, got {cpus_per_trial!r}")
    if gpus_per_trial < 0:
        raise InvalidValueError(f"gpus_per_trial must be >= 0, got {gpus_per_trial!r}")

    name = name or f"{space.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir = run_dir_for(storage, name)
    command_line = command_line or " ".join(shlex.quote(a) for a in sys.argv)
    # One writer per run directory, taken before anything is written; a second run of the same name
    # fails here at once instead of mixing its trials into this one.
    lock = RunLock(run_dir, command=command_line).acquire()
    try:
        existing = [p for p in run_dir.iterdir() if p.name != ".colorsweep.lock"]
        if existing and not overwrite:
            raise ExistingFileError(
                f"run directory {run_dir} already exists. Report on it with `colorsweep report {run_dir}`, "
                f"continue it with `colorsweep resume {run_dir}`, choose another --name, or pass --overwrite "
                f"to delete it and start again"
            )
        if existing:
            clear_check = run_dir / SWEEP_FILE
            if not clear_check.is_file():
                raise InvalidValueError(
                    f"{run_dir} exists and is not a colorsweep run directory (no {SWEEP_FILE}); --overwrite only "
                    f"replaces runs colorsweep made. Choose another --name, or move that folder yourself"
                )

        dataset = load_dataset(data, size=size, cache_dir=cache_dir)
        if builtin:  # our own spaces adapt to small data sets; a user's YAML is taken as written
            space, note = fit_batch_sizes_to_data(space, n_train=len(dataset.train))
            if note and live:
                print(note, file=sys.stderr)
        validate_for_data(space, n_train=len(dataset.train), size=size)
        memory_plan = _memory_plan_info(gpu_memory, fit_batch=fit_batch, gpus_per_trial=gpus_per_trial)
        if len(dataset.val) == 0:
            raise InvalidValueError(f"the validation split of {data!r} is empty: add images (found {dataset.n_found})")
    except BaseException:
        lock.discard()  # removes the folder again when this run created it and wrote nothing
        raise
    try:
        if existing:  # --overwrite, and everything checked: only now is the old run deleted
            clear_run_dir(run_dir)
        return _run_locked(space, run_dir=run_dir, name=name, dataset=dataset, data=data, size=size,
                           trials=trials, max_epochs=max_epochs, objectives=objectives,
                           constraints=constraint_list, seed=seed, concurrency=concurrency, cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial,
                           address=address, grace_period=grace_period, reduction_factor=reduction_factor,
                           searcher=searcher, scheduler_name=scheduler,
                           live=live, num_cpus=num_cpus, num_gpus=num_gpus, report=report,
                           command_line=command_line, fail_when=fail_when, memory_plan=memory_plan,
                           inject_oom_batch=inject_oom_batch, started=started, budget_s=budget_s,
                           trainable=trainable)
    finally:
        lock.release()


def _run_locked(space: SearchSpace, *, run_dir: Path, name: str, dataset: LabDataset, data, size: int,
                trials: int, max_epochs: int, objectives: list[Objective], constraints: list[Constraint],
                seed: int, concurrency, cpus_per_trial,
                gpus_per_trial, address, grace_period, reduction_factor, live: bool, num_cpus, num_gpus,
                searcher: str = "tpe", scheduler_name: str = "asha",
                report: bool, command_line: str, fail_when, memory_plan: dict, inject_oom_batch,
                started: float, budget_s: float | None = None, trainable: Callable | None = None) -> SweepResult:
    """The part of :func:`run_sweep` that runs with the run directory locked and everything checked
    (``trainable``: benchmarks only, see :func:`run_sweep`)."""
    storage = run_dir.parent
    metric, mode = objectives[0].metric, objectives[0].mode
    if live:
        cache = "from cache" if dataset.cache_hit else "decoded"
        print(
            f"data: {len(dataset.train)} train / {len(dataset.val)} val / {len(dataset.test)} test images "
            f"at {size}x{size} ({cache}; {len(dataset.skipped)} skipped)", file=sys.stderr,
        )

    several = len(objectives) > 1  # a one-metric sweep's sweep.json is as it always was
    info = SweepInfo(
        name=name,
        run_dir=str(run_dir),
        space=space.to_dict(),
        data=DataInfo(source=dataset.source, fingerprint=dataset.fingerprint, size=size,
                      pool_side=dataset.pool.side if dataset.pool is not None else None,
                      lab_mode=dataset.lab_mode, split=[len(dataset.train), len(dataset.val), len(dataset.test)],
                      skipped=len(dataset.skipped), cache_path=dataset.cache_path),
        trials=trials, time_budget_s=budget_s, max_epochs=max_epochs, metric=metric, mode=mode,
        seed=seed,
        scheduler=SchedulerInfo(name=scheduler_name, time_attr="epoch", grace_period=grace_period,
                                reduction_factor=reduction_factor, max_t=max_epochs,
                                metric=TRADEOFF if several else None),
        searcher="grid" if space.is_grid else f"optuna-{searcher}",
        resources=Resources(cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial, concurrency=concurrency),
        memory=memory_plan,
        address=address or os.environ.get("RAY_ADDRESS"),
        versions=package_versions(),
        command_line=command_line,
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        objectives=[o.to_dict() for o in objectives] if several else None,
        constraints=[c.to_dict() for c in constraints] if constraints else None,
    )
    info.save(run_dir)
    baselines = baseline_metrics_for(dataset)
    write_json_atomic(run_dir / BASELINES_FILE, baselines)

    _init_ray(address, num_cpus=num_cpus, num_gpus=num_gpus)
    from ray import tune

    settings = _trial_settings(info, run_dir, fail_when, inject_oom_batch)
    scheduler = _scheduler_from(info.scheduler)
    from search.packing import GridSearcher

    param_space = {}
    if space.is_grid:  # every combination once, through the memory plan like any proposal
        inner = GridSearcher(space.grid(), metric=metric, mode=mode)
    else:
        inner = _optuna_searcher(space, objectives=objectives, constrained=bool(constraints), seed=seed,
                                 sampler_name=searcher)
    deadline = time.time() + budget_s if budget_s else None
    TrialLedger.open(run_dir)  # every trial's record, shared by the monitor and the memory searcher
    search_alg = _memory_searcher(inner, info, run_dir, trials=None if space.is_grid else trials, live=live,
                                  deadline=deadline)
    # The memory searcher ends the search itself; each configuration runs at most twice (one retry).
    num_samples = 2 * (space.grid_size if space.is_grid else trials) if (space.is_grid or trials) else -1
    monitor = SweepMonitor(run_dir, metric=metric, mode=mode, max_epochs=max_epochs, live=live, deadline=deadline)
    tuner = tune.Tuner(
        _trainable(dataset, settings, trainable),
        param_space=param_space,
        tune_config=tune.TuneConfig(
            **_tune_metric(info), search_alg=search_alg, scheduler=scheduler, num_samples=num_samples,
            max_concurrent_trials=concurrency, reuse_actors=reuse_workers(gpus_per_trial),
            trial_dirname_creator=_trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=run_dir.name, storage_path=str(storage), callbacks=_callbacks(monitor), verbose=0,
            stop=BudgetStopper(deadline, budget_s) if deadline else None,
            failure_config=tune.FailureConfig(max_failures=0, fail_fast=False),
            checkpoint_config=_checkpoint_config(),
        ),
    )
    outcome = _fit(tuner, run_dir, live=live, report=report, monitor=monitor)
    result = _result(run_dir, metric=metric, mode=mode, baselines=baselines, started=started, outcome=outcome)
    if deadline is not None:
        result.budget_used_s = outcome.loop_end - (deadline - budget_s)
    return result
