"""The sweep driver: a Ray Tune ``Tuner`` with Optuna (TPE) proposing configurations and ASHA
stopping poor ones, each trial running :func:`colorize_core.train.fit` on data prepared once.

Everything is checked before Ray starts: the space, the data (decoded, cached, split), the run
directory. A trial that raises is recorded with its traceback and the sweep goes on.

Modules: :mod:`~search.sweep.run` (:func:`run_sweep`: options, run directory, the Tuner),
:mod:`~search.sweep.resume` (:func:`resume_sweep`, adding trials), :mod:`~search.sweep.loop` (one
Tuner loop and how it ended), :mod:`~search.sweep.searchers` (objectives, Optuna searcher, memory
plan, scheduler, time-budget stopper), :mod:`~search.sweep.ray_session` (Ray start-up and logs,
worker reuse, trial folders, compile cache, callbacks), :mod:`~search.sweep.result`
(:class:`SweepResult`, versions, baselines), :mod:`~search.sweep.repair` (fixing what a full disk or
a kill left behind).
"""

from __future__ import annotations

# Every name of the module this package replaced (search/sweep.py) stays importable here: other code
# imports them from search.sweep, and Ray's saved experiment state (tuner.pkl, searcher-state-*.pkl)
# of a sweep started before the split names pickled classes and functions as search.sweep.<name>
# (BudgetStopper, _trial_dirname, OptunaSpace, ...): resuming such a sweep looks them up here.
from search._optuna_space import OptunaSpace  # old experiment states pickle it as search.sweep.OptunaSpace
from search.sweep.loop import (
    _disk_full,
    _fit,
    _mark_interrupted,
    _signal_name,
    _write_report,
    resume_command,
)
from search.sweep.ray_session import (
    COMPILE_CACHE_ENV,
    RAY_LOG,
    REUSE_WORKERS_ENV,
    _callbacks,
    _init_ray,
    _no_ray_tensorboard,
    _OurStopWords,
    _ray_messages_to,
    _RayDefaultNotices,
    _say_stops_in_our_words,
    _start_ray,
    _switched_off,
    _trial_dirname,
    compile_cache_dir,
    compile_cache_setting,
    reuse_workers,
    trial_dir_name,
)
from search.sweep.repair import (
    _checkpoint_complete,
    _trials_with_unwritten_errors,
    repair_broken_writes,
    repair_replaced_checkpoints,
)
from search.sweep.result import (
    UNFINISHED_STATUSES,
    SweepResult,
    _Outcome,
    _result,
    baseline_metrics_for,
    package_versions,
)
from search.sweep.resume import (
    _RAY_DONE,
    _extend,
    _reload_data,
    _resume_locked,
    _space_from_info,
    resume_sweep,
)
from search.sweep.run import (
    DEFAULT_STORAGE,
    _resolve,
    _resolve_budget,
    _run_locked,
    _trainable,
    _trial_settings,
    run_sweep,
)
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
    searcher_metrics,
)

__all__ = ["SweepResult", "run_sweep", "resume_sweep", "resume_command", "reuse_workers", "DEFAULT_STORAGE",
           "package_versions", "baseline_metrics_for"]
