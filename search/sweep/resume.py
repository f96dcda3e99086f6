"""Continuing a sweep (:func:`resume_sweep`): interrupted trials from their checkpoints, or new trials added.

The data is reloaded and checked against its fingerprint (:func:`_reload_data`); Ray's experiment
state is repaired where a full disk or a kill left it inconsistent (:mod:`search.sweep.repair`);
``extra_trials`` runs a new Tuner with the searcher warm-started on every earlier result (:func:`_extend`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import shlex
import sys
import time
from pathlib import Path

from colorize_core.errors import InvalidValueError, MissingFileError
from colorize_core.files import remove_stale_temporaries
from colorize_core.data import LabDataset, load_dataset
from search.monitor import SweepMonitor
from search.records import (
    constraints_of,
    data_source,
    load_records,
    load_sweep_info,
    load_trial_entries,
    objectives_of,
)
from search.rundir import (
    FINAL_STATUSES,
    RunLock,
    TrialLedger,
    TrialStatus,
    check_trusted,
    load_baselines,
)
from search.sweep.loop import _fit
from search.sweep.ray_session import _callbacks, _checkpoint_config, _init_ray, _trial_dirname, reuse_workers
from search.sweep.repair import _trials_with_unwritten_errors, repair_broken_writes, repair_replaced_checkpoints
from search.sweep.result import UNFINISHED_STATUSES, SweepResult, _Outcome, _result
from search.sweep.run import _trainable, _trial_settings
from search.sweep.searchers import _memory_searcher, _optuna_searcher, _scheduler_from, _tune_metric
from search.sweep_info import SweepInfo
from spaces import SearchSpace
from spaces.objectives import trial_values, violations

def _reload_data(info: SweepInfo, *, cache_dir=None) -> LabDataset:
    """The sweep's data set again, from its recorded source, checked against its fingerprint."""
    data_info = info.data
    # runs made before the photo pool existed recorded no pool_side: reload them without one (same fingerprint)
    dataset = load_dataset(data_source(data_info.source), size=data_info.size,
                           lab_mode=data_info.lab_mode, cache_dir=cache_dir,
                           pool_side=data_info.pool_side)
    if dataset.fingerprint != data_info.fingerprint:
        raise InvalidValueError(
            f"the images under {data_info.source} changed since the sweep started (fingerprint "
            f"{dataset.fingerprint[:12]} != recorded {data_info.fingerprint[:12]}); restore the original "
            f"files, or start a new sweep with `colorsweep run`"
        )
    return dataset


def resume_sweep(
    run_dir: str | os.PathLike,
    *,
    retry_errored: bool = False,
    extra_trials: int = 0,
    live: bool = True,
    address: str | None = None,
    num_cpus: int | None = None,
    num_gpus: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    report: bool = True,
    command_line: str | None = None,
) -> SweepResult:
    """Continue a sweep that was interrupted (Ctrl-C, SIGTERM, ``kill -9``, a full disk, a reboot),
    or extend one.

    Finished trials are not run again; trials interrupted mid-training continue from their last
    epoch checkpoint; errored trials are retried only with ``retry_errored``; the Optuna searcher's
    state is restored from Ray's experiment state. ``extra_trials=N`` adds N new trials after the
    recorded ones (first finishing any interrupted ones), with the searcher warm-started on every
    earlier result. The run directory is locked for the whole resume (one writer at a time), and
    its pickles must be the user's own (:func:`search.rundir.check_trusted`).
    """
    started = time.monotonic()
    run_dir = Path(run_dir).expanduser().resolve()
    info = load_sweep_info(run_dir)
    check_trusted(run_dir)  # before anything of the folder is used: its pickles are code
    space = _space_from_info(info)
    if extra_trials < 0:
        raise InvalidValueError(f"extra trials must be >= 0, got {extra_trials}")
    if extra_trials and space.is_grid:
        raise InvalidValueError(f"space {space.name!r} is a grid: it runs each configuration once and cannot be extended")
    lock = RunLock(run_dir, command=command_line or " ".join(shlex.quote(a) for a in sys.argv)).acquire()
    try:
        leftovers = remove_stale_temporaries(run_dir, recursive=True)
        if leftovers:
            print(f"colorsweep: removed {len(leftovers)} unfinished temporary file(s) that the killed run left in "
                  f"{run_dir}", file=sys.stderr)
        return _resume_locked(run_dir, info, space, retry_errored=retry_errored, extra_trials=extra_trials,
                              live=live, address=address, num_cpus=num_cpus, num_gpus=num_gpus,
                              cache_dir=cache_dir, report=report, started=started)
    finally:
        lock.release()


_RAY_DONE = ("TERMINATED", "ERROR")


def _resume_locked(run_dir: Path, info: SweepInfo, space: SearchSpace, *, retry_errored: bool, extra_trials: int,
                   live: bool, address, num_cpus, num_gpus, cache_dir, report: bool, started: float) -> SweepResult:
    from ray import tune

    from search.records import _ray_statuses

    metric, mode, max_epochs = info.metric, info.mode, info.max_epochs
    notes: list[str] = []
    entries = load_trial_entries(run_dir, notes=notes)
    for note in notes:
        print(f"colorsweep: {note}", file=sys.stderr)
    ray_status = _ray_statuses(run_dir)
    # Trials recorded as started that Ray's saved state never knew (the driver was killed before Ray
    # saved it): they cannot be continued; the searcher, restored to that same moment, proposes anew.
    for trial_id, entry in entries.items():
        if entry.get("status") in UNFINISHED_STATUSES and trial_id not in ray_status and ray_status:
            entry["status"] = TrialStatus.ABANDONED
            entry["note"] = ("the sweep was killed before Ray saved this trial, so it cannot be continued; "
                             "its epochs stay in its folder and a new trial takes its place")
            print(f"colorsweep: trial {trial_id}: {entry['note']}", file=sys.stderr)
    ledger = TrialLedger.open(run_dir, entries)  # shared by the monitor and the memory searcher
    if notes or any(e.get("status") == TrialStatus.ABANDONED for e in entries.values()):
        ledger.save()

    # Failed on a full disk: recorded so by the monitor, or so full that not even the error was written.
    disk_full_trials = [k for k, e in entries.items() if e.get("status") == TrialStatus.INTERRUPTED and e.get("note") == "the disk was full"]
    disk_full_trials += [k for k in _trials_with_unwritten_errors(run_dir) if ray_status.get(k) == "ERROR"]
    unfinished_in_ray = [k for k, v in ray_status.items() if v not in _RAY_DONE] + disk_full_trials
    errored = [k for k, v in ray_status.items() if v == "ERROR"] if retry_errored else []
    restore_pass = bool(unfinished_in_ray or errored or (not extra_trials and not info.finished))
    if not extra_trials and not restore_pass:
        print(f"colorsweep: nothing to resume: the sweep's {len(ray_status)} trial(s) have all ended; add trials "
              f"with `colorsweep resume {shlex.quote(str(run_dir))} --trials +N`", file=sys.stderr)
        baselines = load_baselines(run_dir)
        return _result(run_dir, metric=metric, mode=mode, baselines=baselines, started=started, outcome=_Outcome(),
                       record=False)
    if not extra_trials and not tune.Tuner.can_restore(str(run_dir)):
        raise MissingFileError(
            f"{run_dir} has no Ray Tune experiment state to resume (the sweep died before its first "
            f"trial started); start it again with `colorsweep run ... --overwrite`"
        )

    dataset = _reload_data(info, cache_dir=cache_dir)
    _init_ray(address or info.address, num_cpus=num_cpus, num_gpus=num_gpus)
    settings = _trial_settings(info, run_dir)
    baselines = load_baselines(run_dir)
    outcome = _Outcome()

    if restore_pass and tune.Tuner.can_restore(str(run_dir)):
        for note in repair_broken_writes(run_dir) + repair_replaced_checkpoints(run_dir):
            print(f"colorsweep: {note}", file=sys.stderr)
        monitor = SweepMonitor(run_dir, metric=metric, mode=mode, max_epochs=max_epochs, live=live)
        tuner = tune.Tuner.restore(str(run_dir), trainable=_trainable(dataset, settings),
                                   resume_unfinished=True, resume_errored=bool(disk_full_trials),
                                   restart_errored=retry_errored)
        tuner._local_tuner.get_run_config().callbacks = _callbacks(monitor)  # the pickled one lost its terminal
        # A time budget does not start again: no new trials after its deadline (the searcher knows),
        # and the interrupted trials run to their end (ASHA still applies) instead of stopping at once.
        tuner._local_tuner.get_run_config().stop = None
        # Restored trials start in fresh workers: a resume runs few trials, and restoring a checkpoint
        # into a reused worker is the one path our tests do not run many times.
        tuner._local_tuner._tune_config.reuse_actors = False
        outcome = _fit(tuner, run_dir, live=live, report=report and not extra_trials, monitor=monitor)

    if extra_trials and outcome.signal is None and outcome.disk_full is None:
        outcome = _extend(run_dir, load_sweep_info(run_dir), space, dataset, settings, extra_trials=extra_trials,
                          live=live, report=report)
    return _result(run_dir, metric=metric, mode=mode, baselines=baselines, started=started, outcome=outcome,
                   resumed=True)


def _extend(run_dir: Path, info: SweepInfo, space: SearchSpace, dataset: LabDataset, settings: dict, *,
            extra_trials: int, live: bool, report: bool) -> "_Outcome":
    """Run ``extra_trials`` new trials in ``run_dir``, TPE warm-started on every earlier result.

    ``sweep.json`` says the new total only once the new searcher was built (a failure there changes
    nothing on disk).
    """
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    metric, mode, max_epochs = info.metric, info.mode, info.max_epochs
    objectives, constraints = objectives_of(info), constraints_of(info)
    evaluated = []
    for record in load_records(run_dir):
        best = record.best(metric, mode)
        if record.status not in (TrialStatus.COMPLETED, TrialStatus.STOPPED) or best is None:
            continue
        values = trial_values(record.history, best.get("epoch"))
        point = [values.get(o.metric) for o in objectives]
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in point):
            continue
        excess = max(violations(values, constraints)) if constraints else None
        evaluated.append(({k: v for k, v in record.params.items() if k in space.params}, point, excess))
    searcher = _memory_searcher(
        _optuna_searcher(space, objectives=objectives, constrained=bool(constraints),
                         seed=int(info.seed) + len(evaluated), evaluated=evaluated,
                         sampler_name="random" if info.searcher == "optuna-random" else "tpe"),
        info, run_dir, trials=extra_trials, live=live)
    finished = sum(1 for r in load_records(run_dir) if r.status in FINAL_STATUSES - {TrialStatus.INFEASIBLE})
    info.trials = int(info.trials if info.trials is not None else finished) + extra_trials
    info.extensions = [*(info.extensions or []), {"extra_trials": extra_trials, "warm_start": len(evaluated),
                                                  "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}]
    info.finished = None
    info.save(run_dir)
    if live:
        print(f"adding {extra_trials} trial(s); the searcher starts from {len(evaluated)} earlier result(s)",
              file=sys.stderr)
    monitor = SweepMonitor(run_dir, metric=metric, mode=mode, max_epochs=max_epochs, live=live)
    tuner = tune.Tuner(
        _trainable(dataset, settings),
        tune_config=tune.TuneConfig(
            **_tune_metric(info), num_samples=2 * extra_trials,
            reuse_actors=reuse_workers(info.resources.gpus_per_trial),
            search_alg=searcher,
            scheduler=_scheduler_from(dataclasses.replace(info.scheduler, max_t=max_epochs)),
            max_concurrent_trials=info.resources.concurrency, trial_dirname_creator=_trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=run_dir.name, storage_path=str(run_dir.parent), callbacks=_callbacks(monitor), verbose=0,
            failure_config=tune.FailureConfig(max_failures=0, fail_fast=False),
            checkpoint_config=_checkpoint_config(),
        ),
    )
    return _fit(tuner, run_dir, live=live, report=report, monitor=monitor)


def _space_from_info(info: SweepInfo) -> SearchSpace:
    from spaces import space_from_dict

    return space_from_dict(info.space)
