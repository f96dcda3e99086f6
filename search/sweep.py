"""The sweep driver: a Ray Tune ``Tuner`` with Optuna (TPE) proposing configurations and ASHA
stopping poor ones, each trial running :func:`colorize_core.train.fit` on data prepared once.

Everything is checked before Ray starts: the space, the data (decoded, cached, split), the run
directory. A trial that raises is recorded with its traceback and the sweep goes on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shlex
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from colorize_core import metrics as metric_defs
from colorize_core.data import LabDataset, load_dataset
from colorize_core.train import LAST_MODEL, STATE_FILE
from ray.tune import Stopper

from search._optuna_space import OptunaSpace, optuna_distributions  # OptunaSpace: old experiment states pickle it here
from search.monitor import SweepMonitor
from search.records import (
    data_source,
    load_sweep_info,
    load_trial_entries,
    TrialRecord,
    load_records,
    constraints_of,
    objectives_of,
    rank_records,
    trial_path,
)
from search.rundir import (
    BASELINES_FILE,
    FINAL_STATUSES,
    LIVE_STATUSES,
    SWEEP_FILE,
    TRIALS_FILE,
    RunLock,
    TrialStatus,
    check_trusted,
    clear_run_dir,
    is_disk_full_error,
    load_baselines,
    run_dir_for,
    write_json_atomic,
)
from search.signals import Interrupted, StopSignals
from spaces import SearchSpace, fit_batch_sizes_to_data, list_spaces, load_space, validate_for_data, with_fixed
from spaces.objectives import (
    TRADEOFF,
    Constraint,
    Objective,
    check_normalisable,
    parse_constraints,
    parse_objectives,
    trial_values,
    violations,
)

__all__ = ["SweepResult", "run_sweep", "resume_sweep", "resume_command", "reuse_workers", "DEFAULT_STORAGE",
           "package_versions", "baseline_metrics_for"]

DEFAULT_STORAGE = "./colorsweep-runs"
# When trials use no GPU, a finished trial's worker process (Keras and its backend imported, the data
# deserialised) runs the next trial: that saves a process start and the ~6 s TensorFlow import per
# trial (bench/sweep.py). Trials on GPUs always get a fresh process: each is held to its own GPU
# memory share, which is fixed when the backend starts. COLORSWEEP_REUSE_WORKERS=off gives every
# trial a fresh process.
REUSE_WORKERS_ENV = "COLORSWEEP_REUSE_WORKERS"
#: Statuses of a trial that has not reached a final status: resume runs it (again).
UNFINISHED_STATUSES = LIVE_STATUSES | {TrialStatus.INTERRUPTED}
# Compiled XLA programs shared by the trials of a run (colorize_core._backend.use_compilation_cache):
# RUN_DIR/compile_cache, or the folder in COLORSWEEP_COMPILE_CACHE; "off" switches it off.
COMPILE_CACHE_DIR = "compile_cache"
COMPILE_CACHE_ENV = "COLORSWEEP_COMPILE_CACHE"


@dataclass
class SweepResult:
    """A finished (or ended) sweep: its run directory and its trials ranked on ``metric``."""

    run_dir: Path
    metric: str
    mode: str
    records: list[TrialRecord]
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    wall_time_s: float = 0.0
    planned: int | None = None           # trials the sweep asked for (sweep.json "trials")
    budget_s: float | None = None        # its time budget in seconds (sweep.json "time_budget_s")
    budget_used_s: float | None = None   # seconds from the budget's start to the end of the trials
    interrupted: int | None = None       # the signal that stopped it (SIGINT 2, SIGTERM 15), else None
    disk_full: str | None = None         # the message when it stopped because the disk was full
    objectives: list = field(default_factory=list)   # spaces.objectives.Objective; [] or one: ``metric``
    constraints: list = field(default_factory=list)  # spaces.objectives.Constraint

    @property
    def finished_trials(self) -> int:
        """Trials that ended on their own (completed, stopped by ASHA, failed, infeasible)."""

        return sum(1 for r in self.records if r.status in FINAL_STATUSES)

    @property
    def complete(self) -> bool:
        """Whether the sweep ran to its end (not interrupted, nothing left unfinished)."""
        return self.interrupted is None and self.disk_full is None and not any(
            r.status in UNFINISHED_STATUSES for r in self.records)

    @property
    def best(self) -> TrialRecord | None:
        """The best trial on ``metric`` that meets the constraints, or None."""
        from search.records import meets_constraints

        ranked = [r for r in self.records if r.best_value(self.metric, self.mode) is not None
                  and meets_constraints(r, self.constraints, metric=self.metric, mode=self.mode)]
        return ranked[0] if ranked else None

    def table(self, top: int | None = None) -> list[dict]:
        """Rows of the ranking: rank, trial, status, hyperparameters and best validation metrics."""
        rows = []
        try:  # hyperparameters a space fixes are not in the trials' sampled params: show them too
            fixed = dict((load_sweep_info(self.run_dir).get("space") or {}).get("fixed") or {})
        except (OSError, ValueError):
            fixed = {}
        for rank, record in enumerate(self.records[:top] if top else self.records, start=1):
            best = record.best(self.metric, self.mode) or {}
            hparams = {**fixed, **record.params}
            rows.append({
                "rank": rank,
                "trial_id": record.trial_id,
                "status": record.status_text(),
                **{k: hparams.get(k) for k in ("arch", "optimizer", "loss", "learning_rate", "batch_size", "output_activation") if k in hparams},
                "epochs": record.epochs,
                "best_epoch": best.get("epoch"),
                **{name: best.get(name) for name in metric_defs.METRICS},
                "train_time_s": round(record.train_time_s, 2),
                "node_id": (record.node_id or "")[:8] or None,
            })
            if self.constraints:
                from search.records import meets_constraints

                rows[-1]["meets_constraints"] = meets_constraints(record, self.constraints, metric=self.metric,
                                                                  mode=self.mode) if best else None
        return rows


def package_versions() -> dict[str, str]:
    """Versions of the packages a result depends on."""
    from importlib import metadata

    out = {"python": sys.version.split()[0]}
    for name in ("colorsweep", "keras", "tensorflow", "jax", "ray", "optuna", "numpy", "opencv-python-headless", "scikit-image"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    out["keras_backend"] = os.environ.get("KERAS_BACKEND", "tensorflow")
    return out


def baseline_metrics_for(data: LabDataset, split: str = "val") -> dict[str, dict[str, float]]:
    """Metrics of the neutral-grey and training-mean-ab predictions on ``split``."""
    part = getattr(data, split)
    return metric_defs.baseline_metrics(part.lightness, part.ab, ab_train=data.train.ab)


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
            raise ValueError(
                f"trials must be omitted for the grid space {space.name!r}: it runs each of its "
                f"{space.grid_size} configurations exactly once (got trials={trials})"
            )
        trials = space.grid_size
    elif budgeted and trials is None:
        trials = None
    else:
        trials = int(trials or defaults.get("trials", 10))
    if trials is not None and trials <= 0:
        raise ValueError(f"trials must be a positive int, got {trials!r}")
    if max_epochs <= 0:
        raise ValueError(f"max_epochs must be a positive int, got {max_epochs!r}")
    from spaces._validate import DEFAULT_UPPER_BOUNDS

    for key, value in (("trials", trials), ("max_epochs", max_epochs), ("size", size)):
        if value is not None and value > DEFAULT_UPPER_BOUNDS[key]:
            raise ValueError(f"{key} is {value}, more than the {DEFAULT_UPPER_BOUNDS[key]} colorsweep accepts; "
                             f"choose a smaller value")
    return trials, max_epochs, size


def _init_ray(address: str | None, *, num_cpus: int | None, num_gpus: int | None) -> None:
    """Connect to ``address`` or start a local Ray; our SIGTERM handling stays (Ray's would exit 1)."""
    import signal

    previous = signal.getsignal(signal.SIGTERM)
    try:
        _start_ray(address, num_cpus=num_cpus, num_gpus=num_gpus)
    finally:
        if threading.current_thread() is threading.main_thread() and previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _start_ray(address: str | None, *, num_cpus: int | None, num_gpus: int | None) -> None:
    import logging

    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    # Ray Tune's console reporter prints a box with twice our trial count (num_samples is a bound,
    # see _memory_searcher) and a TensorBoard command for a folder outside the run directory; the
    # monitor prints our own progress, so Ray's legacy reporter (silent at verbose=0) is used.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    import ray

    logging.getLogger("ray.tune").setLevel(logging.WARNING)
    _say_stops_in_our_words()
    if ray.is_initialized():
        return
    env = {"KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "tensorflow"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        # Workers on other nodes need this package: ship the project directory unless installed there.
        ray.init(address=address, runtime_env={"env_vars": env}, log_to_driver=False)
    else:
        os.environ.update(env)
        ray.init(num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING,
                 runtime_env={"env_vars": env})
        from search.watchdog import start_watchdog

        start_watchdog()  # the local Ray's processes end with this driver, even after kill -9


class _OurStopWords(logging.Filter):
    """Drops Ray Tune's notices about a stop that colorsweep itself asked for (Ctrl-C, SIGTERM, a full
    disk): the final table says 'interrupted' and gives `colorsweep resume RUN`, not Ray's
    `Tuner.restore(...)`."""

    NOTICES = ("Stop signal received", "Experiment has been interrupted", "Trials did not complete",
               "Failed to fetch metrics for")  # the last: a trial stopped before its first epoch

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(notice in record.getMessage() for notice in self.NOTICES)


class _RayDefaultNotices(logging.Filter):
    """Drops Ray's notice that token authentication is on by default (the safe default needs no action;
    the warning Ray gives when authentication is *off* still reaches the user)."""

    NOTICES = ("Token authentication is enabled for this Ray cluster",)

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(notice in record.getMessage() for notice in self.NOTICES)


def _say_stops_in_our_words() -> None:
    for name in ("ray.tune.tune", "ray.tune.analysis.experiment_analysis"):
        tune_logger = logging.getLogger(name)
        if not any(isinstance(f, _OurStopWords) for f in tune_logger.filters):
            tune_logger.addFilter(_OurStopWords())
    auth_logger = logging.getLogger("ray._private.authentication.authentication_token_setup")
    if not any(isinstance(f, _RayDefaultNotices) for f in auth_logger.filters):
        auth_logger.addFilter(_RayDefaultNotices())


def reuse_workers(gpus_per_trial: float) -> bool:
    """Whether Ray Tune may hand a finished trial's worker process to the next trial (``reuse_actors``):
    yes when trials use no GPU, unless ``COLORSWEEP_REUSE_WORKERS`` is ``off``."""
    if _switched_off(os.environ.get(REUSE_WORKERS_ENV, "")):
        return False
    return float(gpus_per_trial or 0.0) == 0.0


def _switched_off(value: str) -> bool:
    """Whether an environment switch (``COLORSWEEP_REUSE_WORKERS``, ``COLORSWEEP_COMPILE_CACHE``) says off."""
    return value.strip().lower() in ("off", "0", "false", "no", "none")


def trial_dir_name(trial_id: str) -> str:
    """The folder of a trial inside the run directory."""
    return f"trial_{trial_id}"


def _trial_dirname(trial) -> str:
    return trial_dir_name(trial.trial_id)


def compile_cache_dir(run_dir: Path) -> str | None:
    """Where the trials of ``run_dir`` keep compiled programs: ``RUN_DIR/compile_cache`` by default,
    the folder named by ``COLORSWEEP_COMPILE_CACHE`` (one cache for several sweeps), or None when that
    variable is ``off``."""
    chosen = os.environ.get(COMPILE_CACHE_ENV, "").strip()
    if _switched_off(chosen):
        return None
    return str(Path(chosen).expanduser().resolve()) if chosen else str(Path(run_dir) / COMPILE_CACHE_DIR)


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


def _trial_settings(info: dict, run_dir: Path, fail_when=None, inject_oom_batch: int | None = None) -> dict:
    objectives = objectives_of(info)
    grey = {}
    if len(objectives) > 1 and (run_dir / BASELINES_FILE).is_file():
        grey = load_baselines(run_dir).get("gray", {})
    return {"space": info["space"], "max_epochs": info["max_epochs"], "seed": info["seed"],
            "metric": info["metric"], "cpus_per_trial": info["resources"]["cpus_per_trial"],
            "gpus_per_trial": info["resources"]["gpus_per_trial"], "compile_cache_dir": compile_cache_dir(run_dir),
            "inject_error": list(fail_when) if fail_when else None, "inject_oom_batch": inject_oom_batch,
            "objectives": [o.to_dict() for o in objectives] if len(objectives) > 1 else None,
            "constraints": [c.to_dict() for c in constraints_of(info)] or None, "grey": grey}


def _trainable(dataset: LabDataset, settings: dict):
    from ray import tune

    from search.packing import TrialResources
    from search.trainable import colorize_trial

    # A function of the trial's config: its GPU share comes from its memory estimate (search.packing).
    resources = TrialResources(settings["cpus_per_trial"], settings.get("gpus_per_trial", 0.0))
    return tune.with_resources(tune.with_parameters(colorize_trial, data=dataset, settings=settings), resources)


def _memory_plan_info(gpu_memory, *, fit_batch: bool, gpus_per_trial: float) -> dict:
    """``sweep.json``'s ``memory``: the budget per GPU (given, or detected when trials use GPUs)."""
    from search.memory import detect_gpu_memory, parse_memory

    if gpu_memory is not None:
        budget, source = parse_memory(gpu_memory), "given"
    else:
        budget = detect_gpu_memory() if gpus_per_trial > 0 else None
        source = "detected" if budget else None
    if fit_batch and not budget:
        raise ValueError("fit_batch needs a memory budget: give gpu_memory (--gpu-memory 4GiB), or run trials on "
                         "GPUs (--gpus-per-trial) where nvidia-smi reports their memory")
    return {"budget_bytes": budget, "budget_source": source, "gpu_memory_bytes": budget, "fit_batch": bool(fit_batch)}


def _memory_searcher(inner, info: dict, run_dir: Path, *, trials: int | None, live: bool,
                     deadline: float | None = None):
    """``inner`` wrapped in the memory plan (search.packing): budget, --fit-batch, out-of-memory retries,
    GPU shares. It ends the search itself; the Tuner's num_samples is only a bound (2 x, for retries)."""
    from search.memory import TrialPlanner
    from search.packing import MemorySearcher

    memory = info.get("memory") or {}
    planner = TrialPlanner(space=info["space"], size=int(info["data"]["size"]), budget=memory.get("budget_bytes"),
                           gpus_per_trial=float(info["resources"]["gpus_per_trial"]),
                           gpu_memory=memory.get("gpu_memory_bytes"), fit_batch=bool(memory.get("fit_batch")),
                           run_dir=str(run_dir))
    return MemorySearcher(inner, planner=planner, run_dir=run_dir, trials=trials, max_epochs=info["max_epochs"],
                          live=live, deadline=deadline)


#: ``colorsweep run --searcher``: how configurations are proposed (grid spaces always run their grid).
SEARCHERS = ("tpe", "random")
#: ``colorsweep run --scheduler``: ``asha`` stops poor trials early; ``none`` runs every trial to
#: ``max_epochs`` (or its own early stopping).
SCHEDULERS = ("asha", "none")


def _scheduler_from(info: dict):
    """The trial scheduler recorded in ``sweep.json`` (``info["scheduler"]``): ASHA on epochs, or
    Ray's FIFO scheduler (no early stopping) for ``name == "none"``. A several-objective sweep's ASHA
    ranks on ``tradeoff`` (``scheduler.metric``; :func:`spaces.objectives.tradeoff_score`); otherwise
    it takes the sweep's metric from the Tuner."""
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    scheduler = info["scheduler"]
    if scheduler.get("name", "asha") == "none":
        return FIFOScheduler()
    own = {"metric": TRADEOFF, "mode": "min"} if scheduler.get("metric") == TRADEOFF else {}
    return ASHAScheduler(time_attr="epoch", max_t=int(scheduler["max_t"]), grace_period=int(scheduler["grace_period"]),
                         reduction_factor=scheduler["reduction_factor"], **own)


def _tune_metric(info: dict) -> dict:
    """The Tuner's ``metric``/``mode``: the sweep's metric, or none for a several-objective sweep (its
    scheduler and searcher carry their own; Ray refuses both at once)."""
    if info["scheduler"].get("metric") == TRADEOFF:
        return {}
    return {"metric": info["metric"], "mode": info["mode"]}


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
        raise ValueError(f"searcher must be one of {', '.join(SEARCHERS)}, got {sampler_name!r}")
    if sampler_name == "random":
        sampler = optuna.samplers.RandomSampler(seed=seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=seed)  # it reads each trial's constraints (Trial.set_constraint)
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


def resume_command(run_dir: Path) -> str:
    return f"colorsweep resume {shlex.quote(str(run_dir))}"


class _Outcome:
    """How a tuning loop ended: the signal that stopped it, or the full disk."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self.disk_full: str | None = None
        self.loop_end: float = time.time()  # wall clock when Ray's loop returned


def _no_ray_tensorboard():
    """A stand-in for Ray Tune's TensorBoard logger, which Ray adds to every run unless a callback of
    its type is present: colorsweep's report writes one TensorBoard run per trial with HParams
    (``RUN_DIR/report/tensorboard``), so Ray's second copy (tags ``ray/tune/...``, HParams of finished
    trials only, inside each trial folder) would only double every trial in ``tensorboard --logdir RUN_DIR``."""
    from ray.tune.logger import TBXLoggerCallback

    class NoRayTensorBoard(TBXLoggerCallback):
        def __init__(self):  # no tensorboardX writers
            pass

        def log_trial_start(self, trial):
            pass

        def log_trial_result(self, iteration, trial, result):
            pass

        def log_trial_end(self, trial, failed=False):
            pass

    return NoRayTensorBoard()


def _callbacks(monitor: SweepMonitor) -> list:
    """Ray Tune callbacks of a run or resume: our monitor, and no Ray TensorBoard logger (Ray still adds
    its JSON and CSV loggers: ``result.json`` is what :mod:`search.records` reads)."""
    return [monitor, _no_ray_tensorboard()]


#: Ray's own log messages during a run or resume (Python logging of ``ray`` and ``ray.tune``), instead
#: of the console: ``RUN_DIR/logs/ray.log``.
RAY_LOG = Path("logs") / "ray.log"


@contextlib.contextmanager
def _ray_messages_to(path: Path):
    """Inside the block, Ray's Python log records (WARNING and above) go to ``path`` instead of
    Ray's console handler; the handlers are put back after. Yields the file handler."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    ray_logger = logging.getLogger("ray")
    console = [h for h in ray_logger.handlers  # Ray's PlainRayHandler is a StreamHandler on stderr
               if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]
    for h in console:
        ray_logger.removeHandler(h)
    ray_logger.addHandler(handler)
    try:
        yield handler
    finally:
        ray_logger.removeHandler(handler)
        handler.close()
        for h in console:
            ray_logger.addHandler(h)


def _fit(tuner, run_dir: Path, *, live: bool, report: bool = True, monitor: SweepMonitor | None = None) -> _Outcome:
    """Run the tuner; whatever happens, record what ended, write the report and say how to resume.

    SIGINT / SIGTERM stop the loop gracefully (:mod:`search.signals`); a full disk stops it too
    (the monitor asks). Trials still running when the loop ends are recorded ``interrupted``.
    """
    if live:
        print(f"run directory: {run_dir}  (if interrupted: {resume_command(run_dir)})", file=sys.stderr)
    outcome = _Outcome()
    stop = StopSignals()
    if monitor is not None:
        monitor.stopper = stop
    try:
        with stop:
            stop.in_loop = True
            try:
                with _ray_messages_to(run_dir / RAY_LOG):
                    tuner.fit()
            except Exception as exc:  # noqa: BLE001 - re-raised unless the disk is full
                # A full disk also surfaces as Ray failing to read back what it could not write
                # (e.g. UnpicklingError of a truncated error file while building its ResultGrid).
                full = is_disk_full_error(exc) or _disk_full(run_dir) or (
                    monitor is not None and monitor.disk_full is not None)
                if not full:
                    raise
                outcome.disk_full = (monitor.disk_full if monitor is not None and monitor.disk_full else None) or str(exc)
            finally:
                stop.in_loop = False
                outcome.loop_end = time.time()
        outcome.signal = stop.received if not (monitor and monitor.disk_full) else None
        if monitor is not None and monitor.disk_full:
            outcome.disk_full = monitor.disk_full
        _mark_interrupted(run_dir)
        info = load_sweep_info(run_dir)
        if outcome.signal is None and outcome.disk_full is None:
            info["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            info.pop("interrupted", None)
        else:
            info["interrupted"] = {"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                   "why": "disk full" if outcome.disk_full else _signal_name(outcome.signal)}
        write_json_atomic(run_dir / SWEEP_FILE, info)
    except OSError as exc:
        if not is_disk_full_error(exc):
            raise
        outcome.disk_full = outcome.disk_full or str(exc)
    finally:
        if report and not outcome.disk_full:
            _write_report(run_dir, live=live)
        ray_log = run_dir / RAY_LOG
        try:
            logged = sum(1 for line in ray_log.read_text(encoding="utf-8", errors="replace").splitlines()
                         if " WARNING " in line or " ERROR " in line or " CRITICAL " in line)
        except OSError:
            logged = 0
        if live and logged:
            print(f"Ray logged {logged} warning(s) or error(s): {ray_log}", file=sys.stderr)
        try:
            unfinished = [r for r in load_records(run_dir) if r.status in UNFINISHED_STATUSES]
        except (OSError, ValueError):
            unfinished = []
        if unfinished:
            print(f"{len(unfinished)} trial(s) unfinished; continue with: {resume_command(run_dir)}", file=sys.stderr)
    return outcome


def _disk_full(path: Path, *, below_bytes: int = 1 << 20) -> bool:
    """Whether the disk holding ``path`` has less than ``below_bytes`` free (1 MiB)."""
    try:
        return shutil.disk_usage(path).free < below_bytes
    except OSError:
        return False


def _signal_name(signum: int | None) -> str:
    import signal

    return signal.Signals(signum).name if signum else "unknown"


def _mark_interrupted(run_dir: Path) -> None:
    """Records still ``running``/``pending`` after the driver's loop ended become ``interrupted``."""
    entries = load_trial_entries(run_dir)
    changed = False
    for entry in entries.values():
        if entry.get("status") in LIVE_STATUSES:
            entry["status"] = TrialStatus.INTERRUPTED
            changed = True
    if changed:
        write_json_atomic(run_dir / TRIALS_FILE, entries)


def _write_report(run_dir: Path, *, live: bool) -> None:
    """The ranked report into RUN_DIR/report/; a failure here never loses the sweep's results."""
    from search.report import write_report

    try:
        paths = write_report(run_dir)
    except Exception as exc:  # noqa: BLE001 - the sweep's results are safe on disk either way
        print(f"could not write the report ({type(exc).__name__}: {exc}); "
              f"retry with: colorsweep report {shlex.quote(str(run_dir))}", file=sys.stderr)
        return
    if live and "html" in paths:
        print(f"report: {paths['html']}", file=sys.stderr)



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
    """
    started = time.monotonic()
    builtin = isinstance(space, str) and space in list_spaces()
    space = load_space(space) if not isinstance(space, SearchSpace) else space
    if samples_per_epoch is not None:
        if isinstance(samples_per_epoch, bool) or not isinstance(samples_per_epoch, int) or samples_per_epoch < 0:
            raise ValueError(f"samples_per_epoch must be an int >= 0 (0: one pass over the fixed crops), "
                             f"got {samples_per_epoch!r}")
        space = with_fixed(space, samples_per_epoch=samples_per_epoch or None)
    objectives, constraint_list = resolve_objectives(space, metric, mode, constraints)
    metric, mode = objectives[0].metric, objectives[0].mode
    if searcher not in SEARCHERS:
        raise ValueError(f"searcher must be one of {', '.join(SEARCHERS)}, got {searcher!r}")
    if scheduler not in SCHEDULERS:
        raise ValueError(f"scheduler must be one of {', '.join(SCHEDULERS)}, got {scheduler!r}")
    budget_s = _resolve_budget(space, time_budget)
    trials, max_epochs, size = _resolve(space, trials=trials, max_epochs=max_epochs, size=size,
                                        budgeted=budget_s is not None)
    grace_period = min(int(grace_period or space.defaults.get("grace_period", 1)), max_epochs)
    if cpus_per_trial <= 0:
        raise ValueError(f"cpus_per_trial must be positive, got {cpus_per_trial!r}")
    if gpus_per_trial < 0:
        raise ValueError(f"gpus_per_trial must be >= 0, got {gpus_per_trial!r}")

    name = name or f"{space.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir = run_dir_for(storage, name)
    command_line = command_line or " ".join(shlex.quote(a) for a in sys.argv)
    # One writer per run directory, taken before anything is written; a second run of the same name
    # fails here at once instead of mixing its trials into this one.
    lock = RunLock(run_dir, command=command_line).acquire()
    try:
        existing = [p for p in run_dir.iterdir() if p.name != ".colorsweep.lock"]
        if existing and not overwrite:
            raise FileExistsError(
                f"run directory {run_dir} already exists. Report on it with `colorsweep report {run_dir}`, "
                f"continue it with `colorsweep resume {run_dir}`, choose another --name, or pass --overwrite "
                f"to delete it and start again"
            )
        if existing:
            clear_check = run_dir / SWEEP_FILE
            if not clear_check.is_file():
                raise ValueError(
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
            raise ValueError(f"the validation split of {data!r} is empty: add images (found {dataset.n_found})")
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
                           inject_oom_batch=inject_oom_batch, started=started, budget_s=budget_s)
    finally:
        lock.release()


def _run_locked(space: SearchSpace, *, run_dir: Path, name: str, dataset: LabDataset, data, size: int,
                trials: int, max_epochs: int, objectives: list[Objective], constraints: list[Constraint],
                seed: int, concurrency, cpus_per_trial,
                gpus_per_trial, address, grace_period, reduction_factor, live: bool, num_cpus, num_gpus,
                searcher: str = "tpe", scheduler_name: str = "asha",
                report: bool, command_line: str, fail_when, memory_plan: dict, inject_oom_batch,
                started: float, budget_s: float | None = None) -> SweepResult:
    """The part of :func:`run_sweep` that runs with the run directory locked and everything checked."""
    storage = run_dir.parent
    metric, mode = objectives[0].metric, objectives[0].mode
    if live:
        cache = "from cache" if dataset.cache_hit else "decoded"
        print(
            f"data: {len(dataset.train)} train / {len(dataset.val)} val / {len(dataset.test)} test images "
            f"at {size}x{size} ({cache}; {len(dataset.skipped)} skipped)", file=sys.stderr,
        )

    info = {
        "name": name,
        "run_dir": str(run_dir),
        "space": space.to_dict(),
        "data": {"source": dataset.source, "fingerprint": dataset.fingerprint, "size": size,
                 "pool_side": dataset.pool.side if dataset.pool is not None else None,
                 "lab_mode": dataset.lab_mode, "split": [len(dataset.train), len(dataset.val), len(dataset.test)],
                 "skipped": len(dataset.skipped), "cache_path": dataset.cache_path},
        "trials": trials, "time_budget_s": budget_s, "max_epochs": max_epochs, "metric": metric, "mode": mode,
        "seed": seed,
        "scheduler": {"name": scheduler_name, "time_attr": "epoch", "grace_period": grace_period,
                      "reduction_factor": reduction_factor, "max_t": max_epochs},
        "searcher": "grid" if space.is_grid else f"optuna-{searcher}",
        "resources": {"cpus_per_trial": cpus_per_trial, "gpus_per_trial": gpus_per_trial, "concurrency": concurrency},
        "memory": memory_plan,
        "address": address or os.environ.get("RAY_ADDRESS"),
        "versions": package_versions(),
        "command_line": command_line,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if len(objectives) > 1:  # a one-metric sweep's sweep.json is as it always was
        info["objectives"] = [o.to_dict() for o in objectives]
        info["scheduler"]["metric"] = TRADEOFF
    if constraints:
        info["constraints"] = [c.to_dict() for c in constraints]
    write_json_atomic(run_dir / SWEEP_FILE, info)
    baselines = baseline_metrics_for(dataset)
    write_json_atomic(run_dir / BASELINES_FILE, baselines)

    _init_ray(address, num_cpus=num_cpus, num_gpus=num_gpus)
    from ray import tune

    settings = _trial_settings(info, run_dir, fail_when, inject_oom_batch)
    scheduler = _scheduler_from(info)
    from search.packing import GridSearcher

    param_space = {}
    if space.is_grid:  # every combination once, through the memory plan like any proposal
        inner = GridSearcher(space.grid(), metric=metric, mode=mode)
    else:
        inner = _optuna_searcher(space, objectives=objectives, constrained=bool(constraints), seed=seed,
                                 sampler_name=searcher)
    deadline = time.time() + budget_s if budget_s else None
    search_alg = _memory_searcher(inner, info, run_dir, trials=None if space.is_grid else trials, live=live,
                                  deadline=deadline)
    # The memory searcher ends the search itself; each configuration runs at most twice (one retry).
    num_samples = 2 * (space.grid_size if space.is_grid else trials) if (space.is_grid or trials) else -1
    monitor = SweepMonitor(run_dir, metric=metric, mode=mode, max_epochs=max_epochs, live=live, deadline=deadline)
    tuner = tune.Tuner(
        _trainable(dataset, settings),
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
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
        ),
    )
    outcome = _fit(tuner, run_dir, live=live, report=report, monitor=monitor)
    result = _result(run_dir, metric=metric, mode=mode, baselines=baselines, started=started, outcome=outcome)
    if deadline is not None:
        result.budget_used_s = outcome.loop_end - (deadline - budget_s)
    return result


def _result(run_dir: Path, *, metric: str, mode: str, baselines: dict, started: float, outcome: "_Outcome",
            resumed: bool = False, record: bool = True) -> SweepResult:
    """The ranked result of a run or resume, with its wall time recorded in ``sweep.json``."""
    info = load_sweep_info(run_dir)
    constraints = constraints_of(info)
    records = rank_records(load_records(run_dir), metric=metric, mode=mode, constraints=constraints)
    for record in records:  # Ray's loop has ended: nothing of this sweep runs any more
        if record.status in LIVE_STATUSES:
            record.status = TrialStatus.INTERRUPTED
    result = SweepResult(run_dir=run_dir, metric=metric, mode=mode, records=records, baselines=baselines,
                         objectives=objectives_of(info), constraints=constraints,
                         wall_time_s=time.monotonic() - started, planned=int(info.get("trials") or 0) or None,
                         budget_s=info.get("time_budget_s"),
                         interrupted=outcome.signal, disk_full=outcome.disk_full)
    if outcome.disk_full or not record:
        return result  # nothing more is written to a full disk (nor after a resume that did nothing)
    if resumed:
        info["resumed"] = info.get("resumed", 0) + 1
    else:
        info["wall_time_s"] = result.wall_time_s
    try:
        write_json_atomic(run_dir / SWEEP_FILE, info)
    except OSError as exc:
        if not is_disk_full_error(exc):
            raise
        result.disk_full = str(exc)
    return result


def _reload_data(info: dict, *, cache_dir=None) -> LabDataset:
    """The sweep's data set again, from its recorded source, checked against its fingerprint."""
    data_info = info["data"]
    # runs made before the photo pool existed recorded no pool_side: reload them without one (same fingerprint)
    dataset = load_dataset(data_source(data_info["source"]), size=data_info["size"],
                           lab_mode=data_info.get("lab_mode", "float"), cache_dir=cache_dir,
                           pool_side=data_info.get("pool_side"))
    if dataset.fingerprint != data_info["fingerprint"]:
        raise ValueError(
            f"the images under {data_info['source']} changed since the sweep started (fingerprint "
            f"{dataset.fingerprint[:12]} != recorded {data_info['fingerprint'][:12]}); restore the original "
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
        raise ValueError(f"extra trials must be >= 0, got {extra_trials}")
    if extra_trials and space.is_grid:
        raise ValueError(f"space {space.name!r} is a grid: it runs each configuration once and cannot be extended")
    lock = RunLock(run_dir, command=command_line or " ".join(shlex.quote(a) for a in sys.argv)).acquire()
    try:
        return _resume_locked(run_dir, info, space, retry_errored=retry_errored, extra_trials=extra_trials,
                              live=live, address=address, num_cpus=num_cpus, num_gpus=num_gpus,
                              cache_dir=cache_dir, report=report, started=started)
    finally:
        lock.release()


_RAY_DONE = ("TERMINATED", "ERROR")


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


def _resume_locked(run_dir: Path, info: dict, space: SearchSpace, *, retry_errored: bool, extra_trials: int,
                   live: bool, address, num_cpus, num_gpus, cache_dir, report: bool, started: float) -> SweepResult:
    from ray import tune

    from search.records import _ray_statuses

    metric, mode, max_epochs = info["metric"], info["mode"], info["max_epochs"]
    notes: list[str] = []
    entries = load_trial_entries(run_dir, notes=notes)
    for note in notes:
        print(f"colorsweep: {note}", file=sys.stderr)
    ray_status = _ray_statuses(run_dir)
    # Trials recorded as started that Ray's saved state never knew (the driver was killed before Ray
    # saved it): they cannot be continued; the searcher, restored to that same moment, proposes anew.
    for trial_id, entry in entries.items():
        if entry.get("status") in UNFINISHED_STATUSES and trial_id not in ray_status and ray_status:
            entry["status"] = "abandoned"
            entry["note"] = ("the sweep was killed before Ray saved this trial, so it cannot be continued; "
                             "its epochs stay in its folder and a new trial takes its place")
            print(f"colorsweep: trial {trial_id}: {entry['note']}", file=sys.stderr)
    if notes or any(e.get("status") == "abandoned" for e in entries.values()):
        write_json_atomic(run_dir / TRIALS_FILE, entries)

    # Failed on a full disk: recorded so by the monitor, or so full that not even the error was written.
    disk_full_trials = [k for k, e in entries.items() if e.get("status") == TrialStatus.INTERRUPTED and e.get("note") == "the disk was full"]
    disk_full_trials += [k for k in _trials_with_unwritten_errors(run_dir) if ray_status.get(k) == "ERROR"]
    unfinished_in_ray = [k for k, v in ray_status.items() if v not in _RAY_DONE] + disk_full_trials
    errored = [k for k, v in ray_status.items() if v == "ERROR"] if retry_errored else []
    restore_pass = bool(unfinished_in_ray or errored or (not extra_trials and not info.get("finished")))
    if not extra_trials and not restore_pass:
        print(f"colorsweep: nothing to resume: the sweep's {len(ray_status)} trial(s) have all ended; add trials "
              f"with `colorsweep resume {shlex.quote(str(run_dir))} --trials +N`", file=sys.stderr)
        baselines = load_baselines(run_dir)
        return _result(run_dir, metric=metric, mode=mode, baselines=baselines, started=started, outcome=_Outcome(),
                       record=False)
    if not extra_trials and not tune.Tuner.can_restore(str(run_dir)):
        raise FileNotFoundError(
            f"{run_dir} has no Ray Tune experiment state to resume (the sweep died before its first "
            f"trial started); start it again with `colorsweep run ... --overwrite`"
        )

    dataset = _reload_data(info, cache_dir=cache_dir)
    _init_ray(address or info.get("address"), num_cpus=num_cpus, num_gpus=num_gpus)
    settings = _trial_settings(info, run_dir)
    baselines = load_baselines(run_dir)
    outcome = _Outcome()

    if restore_pass and tune.Tuner.can_restore(str(run_dir)):
        for note in repair_broken_writes(run_dir) + repair_replaced_checkpoints(run_dir):
            print(f"colorsweep: {note}", file=sys.stderr)
        monitor = SweepMonitor(run_dir, metric=metric, mode=mode, max_epochs=max_epochs, live=live,
                               existing=load_trial_entries(run_dir))
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


def _extend(run_dir: Path, info: dict, space: SearchSpace, dataset: LabDataset, settings: dict, *,
            extra_trials: int, live: bool, report: bool) -> "_Outcome":
    """Run ``extra_trials`` new trials in ``run_dir``, TPE warm-started on every earlier result.

    ``sweep.json`` says the new total only once the new searcher was built (a failure there changes
    nothing on disk).
    """
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    metric, mode, max_epochs = info["metric"], info["mode"], info["max_epochs"]
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
                         seed=int(info["seed"]) + len(evaluated), evaluated=evaluated,
                         sampler_name="random" if info.get("searcher") == "optuna-random" else "tpe"),
        info, run_dir, trials=extra_trials, live=live)
    finished = sum(1 for r in load_records(run_dir) if r.status in FINAL_STATUSES - {TrialStatus.INFEASIBLE})
    info["trials"] = int(info["trials"] if info.get("trials") is not None else finished) + extra_trials
    info.setdefault("extensions", []).append({"extra_trials": extra_trials, "warm_start": len(evaluated),
                                              "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    info.pop("finished", None)
    write_json_atomic(run_dir / SWEEP_FILE, info)
    if live:
        print(f"adding {extra_trials} trial(s); the searcher starts from {len(evaluated)} earlier result(s)",
              file=sys.stderr)
    scheduler = info["scheduler"]
    monitor = SweepMonitor(run_dir, metric=metric, mode=mode, max_epochs=max_epochs, live=live,
                           existing=load_trial_entries(run_dir))
    tuner = tune.Tuner(
        _trainable(dataset, settings),
        tune_config=tune.TuneConfig(
            **_tune_metric(info), num_samples=2 * extra_trials,
            reuse_actors=reuse_workers(info["resources"]["gpus_per_trial"]),
            search_alg=searcher,
            scheduler=_scheduler_from({"scheduler": {**scheduler, "max_t": max_epochs}}),
            max_concurrent_trials=info["resources"].get("concurrency"), trial_dirname_creator=_trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=run_dir.name, storage_path=str(run_dir.parent), callbacks=_callbacks(monitor), verbose=0,
            failure_config=tune.FailureConfig(max_failures=0, fail_fast=False),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
        ),
    )
    return _fit(tuner, run_dir, live=live, report=report, monitor=monitor)


def _checkpoint_complete(folder: Path) -> bool:
    """Whether a ``checkpoint_*`` folder holds a readable ``state.json`` and a whole ``last.keras``
    (a zip archive with its central directory: a copy cut short by a full disk is not one)."""
    import zipfile

    try:
        json.loads((folder / STATE_FILE).read_text())
    except (OSError, ValueError):
        return False
    return zipfile.is_zipfile(folder / LAST_MODEL)


def _trials_with_unwritten_errors(run_dir: Path) -> list[str]:
    """Trials whose ``error.txt`` is empty: they failed while the disk was full (resumable)."""
    out = []
    for path in run_dir.glob("trial_*/error.txt"):
        try:
            if path.stat().st_size == 0:
                out.append(path.parent.name[len("trial_"):])
        except OSError:
            continue
    return out


def repair_broken_writes(run_dir: str | os.PathLike) -> list[str]:
    """Undo what a full disk (or a crash mid-write) left in the trial folders; returns a note per fix.

    * A ``checkpoint_*`` folder that is incomplete (its ``last.keras`` cut short, no ``state.json``)
      is renamed ``broken_checkpoint_*`` (kept, not deleted), and the newest complete older one of
      that trial takes its name, so Ray restores the trial from that epoch instead of failing on
      the broken file.
    * Empty ``error.txt`` / ``error.pkl`` files (Ray could not write the error) are removed: they hold
      nothing, and Ray fails reading an empty pickle back.
    """
    run_dir = Path(run_dir)
    notes = []
    for trial_dir in sorted(p for p in run_dir.glob("trial_*") if p.is_dir()):
        for name in ("error.txt", "error.pkl"):
            empty = trial_dir / name
            if empty.is_file() and empty.stat().st_size == 0:
                empty.unlink()
        checkpoints = sorted(trial_dir.glob("checkpoint_*"))
        for index, folder in enumerate(checkpoints):
            if _checkpoint_complete(folder):
                continue
            aside = folder.with_name("broken_" + folder.name)
            os.replace(folder, aside)
            older = [c for c in checkpoints[:index] if c.exists() and _checkpoint_complete(c)]
            if older:
                os.replace(older[-1], folder)
                notes.append(f"{trial_dir.name}: {folder.name} was cut short (kept as {aside.name}); "
                             f"resuming from {older[-1].name}'s epoch")
            else:
                notes.append(f"{trial_dir.name}: {folder.name} was cut short (kept as {aside.name}); no complete "
                             f"checkpoint before it, so the trial starts again")
    return notes


def repair_replaced_checkpoints(run_dir: str | os.PathLike) -> list[str]:
    """Make every checkpoint that Ray's saved experiment state names exist again; returns a note per fix.

    Ray keeps one checkpoint per trial and saves its experiment state every few seconds, after the
    newer checkpoint has replaced the older one: a sweep killed in between leaves a state naming a
    checkpoint that is gone, and Ray refuses to restore that trial ("Could not recover from
    checkpoint as it does not exist on storage anymore"). The newer complete ``checkpoint_*`` folder
    of the trial is then renamed to the name the state expects; the trial resumes from the newer
    epoch (``fit`` reads the epoch from the checkpoint's ``state.json``, not from the folder name).
    Reads the newest ``experiment_state-*.json``, the one ``Tuner.restore`` uses.
    """
    run_dir = Path(run_dir)
    states = sorted(run_dir.glob("experiment_state-*.json"))
    if not states:
        return []
    try:
        trial_data = json.loads(states[-1].read_text()).get("trial_data", [])
    except (OSError, json.JSONDecodeError):
        return []  # Ray will say what is wrong with its own file
    recorded = json.loads((run_dir / TRIALS_FILE).read_text()) if (run_dir / TRIALS_FILE).exists() else {}
    notes = []
    for entry in trial_data:
        try:
            trial_id = json.loads(entry[0])["trial_id"]
            named = (json.loads(entry[1]).get("last_result") or {}).get("checkpoint_dir_name")
        except (TypeError, IndexError, KeyError, json.JSONDecodeError):
            continue
        trial_dir = trial_path(run_dir, (recorded.get(trial_id) or {}).get("trial_dir") or trial_dir_name(trial_id))
        if not named or not trial_dir.is_dir() or (trial_dir / named).exists():
            continue
        newer = [c for c in sorted(trial_dir.glob("checkpoint_*"), reverse=True)
                 if c.name > named and all((c / f).is_file() for f in (STATE_FILE, LAST_MODEL))]
        if newer:
            os.replace(newer[0], trial_dir / named)
            notes.append(f"trial {trial_id}: Ray's saved state names {named}, which {newer[0].name} had replaced "
                         f"when the sweep stopped; resuming from {newer[0].name}'s epoch")
    return notes


def _space_from_info(info: dict) -> SearchSpace:
    from spaces import space_from_dict

    return space_from_dict(info["space"])
