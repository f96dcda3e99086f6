"""Ray in the driver process: starting or joining it, and how a sweep's trials sit in it.

Ray's start-up (:func:`_init_ray`) and its log messages (filtered, or sent to ``RUN_DIR/logs/ray.log``
by :func:`_ray_messages_to`); worker reuse between trials (:func:`reuse_workers`); trial folder
names (:func:`trial_dir_name`); the compiled-program cache the trials share (:func:`compile_cache_dir`);
the Tuner's callbacks (our monitor, and no Ray TensorBoard logger).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from pathlib import Path

from search.monitor import SweepMonitor

# A finished trial's worker process (Keras and its backend imported, the data deserialised, the last
# model compiled) runs the next trial: that saves a process start, the ~6 s TensorFlow import and,
# when the next trial's model has the same structure, building and compiling it (colorize_core.train.reuse).
# GPU trials too: Ray Tune hands a cached worker only to a trial asking for the same resources (its
# actor cache is keyed by the placement group), so a worker's GPU share, and the memory cap its backend
# fixed at start from that share, fit every trial it runs. COLORSWEEP_REUSE_WORKERS=off gives every
# trial a fresh process.
REUSE_WORKERS_ENV = "COLORSWEEP_REUSE_WORKERS"


# Compiled programs shared by every trial of every run on a machine: colorize_core.compile_cache
# (~/.cache/colorsweep/compile/<versions>, --compile-cache DIR|off, COLORSWEEP_COMPILE_CACHE).
from colorize_core.compile_cache import COMPILE_CACHE_ENV  # noqa: E402  (one name, defined there)


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


def reuse_workers(gpus_per_trial: float = 0.0) -> bool:
    """Whether Ray Tune may hand a finished trial's worker process to the next trial (``reuse_actors``):
    yes, on CPUs and GPUs alike (a worker goes only to trials with its resources, so with its GPU
    share: see above), unless ``COLORSWEEP_REUSE_WORKERS`` is ``off``. ``gpus_per_trial`` is kept for
    callers; it no longer changes the answer."""
    return not _switched_off(os.environ.get(REUSE_WORKERS_ENV, ""))


def _switched_off(value: str) -> bool:
    """Whether an environment switch (``COLORSWEEP_REUSE_WORKERS``, ``COLORSWEEP_COMPILE_CACHE``) says off."""
    return value.strip().lower() in ("off", "0", "false", "no", "none")


def trial_dir_name(trial_id: str) -> str:
    """The folder of a trial inside the run directory."""
    return f"trial_{trial_id}"


def _trial_dirname(trial) -> str:
    return trial_dir_name(trial.trial_id)


def compile_cache_setting(choice: str | None = None) -> str | None:
    """What a run's trials are told about the compilation cache (their ``settings["compile_cache"]``):
    None (off), ``"machine"`` (each node's own ``~/.cache/colorsweep/compile``) or a folder every node
    uses, from ``choice`` (``--compile-cache``), else ``COLORSWEEP_COMPILE_CACHE``. The folder this
    machine would use is created and checked here, before any trial starts
    (:func:`colorize_core.compile_cache.prepare_compile_cache`: refused when others could write it)."""
    from colorize_core.compile_cache import compile_cache_folder, prepare_compile_cache, resolve_compile_cache

    setting = resolve_compile_cache(choice)
    folder = compile_cache_folder(setting)
    if folder is not None:
        prepare_compile_cache(folder)
    return setting


def compile_cache_dir(run_dir: Path | None = None) -> str | None:
    """The folder this machine's trials keep compiled programs in (None when off); ``run_dir`` is
    ignored (the cache is per machine, no longer per run)."""
    from colorize_core.compile_cache import compile_cache_folder, resolve_compile_cache

    folder = compile_cache_folder(resolve_compile_cache())
    return str(folder) if folder is not None else None


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


def _checkpoint_config():
    """Ray's checkpoint settings of a run: Ray keeps the checkpoints (no ``num_to_keep``) and saves its
    experiment state on its own period (every >= 10 s, at most 5 % of the time).

    With ``num_to_keep`` Ray rewrites its whole experiment state (every trial's, ~30 KiB each) after
    each checkpoint a trial reports: O(trials) per checkpoint, O(trials²) per sweep (bench/scale.py:
    0.14 s of driver CPU per trial at 300 sleeping trials against 0.04 s without it). Instead the
    monitor keeps only each trial's newest checkpoint folder
    (:meth:`search.monitor.SweepMonitor.on_checkpoint`), and a resume after a ``kill -9`` copes with a
    state older than the trials: a checkpoint the state names but a newer one replaced is renamed back
    (:func:`search.sweep.repair.repair_replaced_checkpoints`), a trial the state knows without a
    checkpoint continues from its folder's (:func:`search.trainable.colorize_trial`), both at the
    latest epoch the records hold (:func:`search.resume_point.resumable_checkpoint`)."""
    from ray import tune

    return tune.CheckpointConfig()


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
