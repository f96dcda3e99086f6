"""The Ray Tune trainable: one trial = ``colorize_core.train.fit`` on the sweep's prepared data.

The data set arrives through Ray's object store (``tune.with_parameters``), decoded once by the
driver: no trial reads an image file. Every epoch is reported to Tune with a checkpoint folder
holding ``best.keras``, ``last.keras`` (with optimizer state) and ``state.json``; a trial restored
from such a checkpoint continues from its last epoch.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import tempfile
from pathlib import Path

__all__ = ["colorize_trial"]

# How long Ray Tune waits for a finished trial's training thread to end before it hands the worker
# process to the next trial (reused workers, search.sweep.reuse_workers). Ray's default, 2 s, is too
# short: handovers took 1.7-2.5 s on 2 busy cores (inside Ray; the trial function had returned), and
# a handover that times out ends the next trial as an error before it starts.
WORKER_RESET_TIMEOUT_S = 60

# The GPU share this worker process is held to (set by its first trial; None before) and how many
# trials it has run: a reused GPU worker keeps its first trial's memory cap (see search.sweep.reuse_workers).
_PROCESS_SHARE: float | None = None
_TRIALS_IN_PROCESS = 0


def colorize_trial(config: dict, *, data, settings: dict) -> None:
    """Train the configuration ``config`` (the sampled hyperparameters) and report each epoch.

    ``settings`` holds the sweep-level values every trial shares: the space (as a dict),
    ``max_epochs``, ``seed``, ``metric``, ``cpus_per_trial``, ``run_dir`` (where a trial restarted
    without a Ray checkpoint finds the one it left: :func:`_checkpoint_left_in_run_dir`) and
    ``compile_cache`` (where compiled programs are shared with every trial on this machine: None, off;
    ``"machine"``, this node's ``~/.cache/colorsweep/compile``; or a folder; see
    :mod:`colorize_core.compile_cache`).

    ``config["_memory"]`` (from :class:`search.packing.MemorySearcher`) carries the memory plan: the
    batch size to use, the GPU share (the process is capped to it: ``XLA_PYTHON_CLIENT_MEM_FRACTION``
    for JAX, a logical-device limit with memory growth for TensorFlow) and the estimate. An
    out-of-memory error is re-raised as :class:`search.memory.TrialOutOfMemory` (status ``oom``).
    Each epoch also reports ``node_id``, ``worker_pid`` (the process, which may have run earlier
    trials: see :func:`search.sweep.reuse_workers`), ``gpu_ids``, ``gpu_share``, ``batch_size_used``
    and, on a GPU, ``gpu_peak_memory_mb`` (this trial's peak; left out on JAX after a worker's first
    trial, whose peak cannot be reset).

    A worker that ran an earlier trial trains this one on the model it left when their structures match
    (``fit(..., reuse_model=True)``, :mod:`colorize_core.train.reuse`): compiled steps are shared.
    """
    os.environ.setdefault("TUNE_FUNCTION_THREAD_TIMEOUT_S", str(WORKER_RESET_TIMEOUT_S))  # read at reset
    threads = str(max(1, int(settings.get("cpus_per_trial", 1))))
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", threads)
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    from search.memory import POOL_FRACTION, TrialOutOfMemory, is_out_of_memory

    from colorize_core.compile_cache import compile_cache_folder

    cache_folder = compile_cache_folder(settings.get("compile_cache"))  # this node's, for "machine"
    if cache_folder is not None:  # before the backend is imported or compiles anything
        from colorize_core._backend import use_compilation_cache
        from colorize_core.compile_cache import prepare_compile_cache

        use_compilation_cache(prepare_compile_cache(cache_folder))  # refused if others could write it

    # Hold this process to its GPU share before any backend initialises its devices (issue 6). A reused
    # worker keeps the cap its first trial set: Ray hands it only trials asking for the same resources.
    memory = config.get("_memory") or {}
    share = float(memory.get("gpu_share") or 0.0)
    global _PROCESS_SHARE, _TRIALS_IN_PROCESS
    if _PROCESS_SHARE is not None and share != _PROCESS_SHARE:
        raise RuntimeError(
            f"this worker process is held to GPU share {_PROCESS_SHARE:g} but the trial asks for {share:g}: "
            f"a worker was reused across resource requests. Set COLORSWEEP_REUSE_WORKERS=off and report this")
    _PROCESS_SHARE = share
    _TRIALS_IN_PROCESS += 1
    if 0 < share <= 1 and _TRIALS_IN_PROCESS == 1:
        os.environ["XLA_PYTHON_CLIENT_MEM_FRACTION"] = f"{share * POOL_FRACTION:.3f}"
        os.environ["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
        from colorize_core._backend import limit_tensorflow_gpu_memory

        limit_tensorflow_gpu_memory(memory.get("memory_limit_bytes"))

    import ray
    from ray import tune

    from colorize_core.train import TrainConfig, fit
    from spaces import space_from_dict

    space = space_from_dict(settings["space"])
    params = {key: value for key, value in config.items() if key in space.params}
    if "batch_size" in params and memory.get("proposed_batch_size") is not None:
        params["batch_size"] = memory["proposed_batch_size"]  # the in-space value; the batch used is below
    train_config = space.trial_config(
        params, max_epochs=settings["max_epochs"], seed=settings["seed"], monitor=settings["metric"]
    )
    if memory.get("batch_size"):  # shrunk to fit (--fit-batch), or halved after running out of memory
        train_config["batch_size"] = int(memory["batch_size"])
    if settings.get("inject_error") and params.get(settings["inject_error"][0]) == settings["inject_error"][1]:
        raise RuntimeError(f"injected failure for testing: {settings['inject_error'][0]}={settings['inject_error'][1]!r}")
    batch_size = TrainConfig.from_dict(train_config).batch_size
    if settings.get("inject_oom_batch") and batch_size >= int(settings["inject_oom_batch"]):
        raise TrialOutOfMemory(  # the text XLA gives, for testing out-of-memory handling without a GPU
            f"RESOURCE_EXHAUSTED: Out of memory while trying to allocate the batch (injected for testing: "
            f"batch_size {batch_size} >= {settings['inject_oom_batch']})")
    gpu_ids = ",".join(str(i) for i in ray.get_gpu_ids())
    try:  # the share Ray actually gave this trial (what with_resources asked for)
        granted = float(tune.get_context().get_trial_resources().required_resources.get("GPU", 0.0))
    except Exception:  # noqa: BLE001 - outside a Tune session
        granted = share

    node_id = ray.get_runtime_context().get_node_id()
    peak_is_this_trials = True  # the GPU peak measures this trial alone (not so on JAX in a reused worker)
    if share > 0 and _TRIALS_IN_PROCESS > 1:
        from colorize_core._backend import reset_accelerator_peak_memory

        peak_is_this_trials = reset_accelerator_peak_memory()
    workdir = Path(tempfile.mkdtemp(prefix="colorsweep-trial-"))
    try:
        checkpoint = tune.get_checkpoint()
        if checkpoint is not None:
            checkpoint.to_directory(str(workdir))
        else:
            checkpoint = _checkpoint_left_in_run_dir(settings, tune.get_context().get_trial_id())
            if checkpoint is not None:
                shutil.copytree(checkpoint, workdir, dirs_exist_ok=True)

        def report(epoch: int, metrics: dict) -> None:
            metrics = {**metrics, "node_id": node_id, "worker_pid": os.getpid(), "gpu_ids": gpu_ids,
                       "gpu_share": granted, "batch_size_used": batch_size}
            if memory.get("estimate_gib") is not None:
                metrics["memory_estimate_gib"] = memory["estimate_gib"]
            if share > 0 and peak_is_this_trials:
                from colorize_core._backend import accelerator_peak_memory_bytes

                peak = accelerator_peak_memory_bytes()
                if peak is not None:
                    metrics["gpu_peak_memory_mb"] = peak / (1 << 20)
            metrics.update(_objective_values(metrics, workdir, settings))
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(str(workdir)))

        if checkpoint is not None and _report_if_finished(workdir, train_config, report):
            return
        try:
            fit(train_config, data, report, workdir=workdir, tensorboard=False,  # the report writes TensorBoard
                reuse_model=True,  # a reused worker trains its last model again when the structure matches
                on_finish=functools.partial(_leave_outputs, data=data, workdir=workdir, seed=settings["seed"],
                                             batch_size=batch_size))
        except Exception as exc:
            if not is_out_of_memory(exc) or isinstance(exc, TrialOutOfMemory):
                raise
            first = next((line for line in reversed(str(exc).splitlines()) if line.strip()), type(exc).__name__)
            raise TrialOutOfMemory(
                f"out of memory at batch_size {batch_size} (estimated {memory.get('estimate_gib')} GiB, "
                f"GPU share {share:g}, GPUs [{gpu_ids}]): {first[:300]}") from exc
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _checkpoint_left_in_run_dir(settings: dict, trial_id: str) -> Path | None:
    """The checkpoint folder this trial left in the run directory before the sweep was stopped, when
    Ray restarts it without one: Ray saves its experiment state every few seconds, and a state saved
    before the trial's first checkpoint names none. The trial then continues from the latest epoch the
    records hold (:func:`search.resume_point.resumable_checkpoint`) instead of from epoch 1. None for a
    new trial (no folder yet) and when the run directory is not on this machine's file system."""
    run_dir = settings.get("run_dir")
    if not run_dir or not trial_id:
        return None
    from search.sweep.ray_session import trial_dir_name
    from search.resume_point import resumable_checkpoint

    try:
        return resumable_checkpoint(Path(run_dir) / trial_dir_name(trial_id))
    except OSError:
        return None


def _report_if_finished(workdir: Path, train_config: dict, report) -> bool:
    """A restored checkpoint whose fit had already ended (all epochs trained, or stopped early): report
    its last epoch again and say so (True), so that Ray and the run's records see the trial end at its
    real last epoch. That happens when the driver was killed after the trial's last checkpoint was
    written but before its result was recorded; ``fit`` would return without reporting anything."""
    from colorize_core.train import STATE_FILE, TrainConfig, TrainState

    try:
        state = TrainState.load(workdir / STATE_FILE)
    except (OSError, ValueError):
        return False
    epochs = TrainConfig.from_dict(train_config).epochs
    if not state.history or not (state.stopped_early or state.epoch >= epochs):
        return False
    from search.records import REPORTED_AGAIN

    report(state.epoch, {**state.history[-1], REPORTED_AGAIN: True})
    return True


def _leave_outputs(model, best_epoch: int, *, data, workdir: Path, seed: int, batch_size: int) -> None:
    """A trial that trained to its end leaves its best model's test metrics and picture colorizations
    in its last checkpoint (:mod:`search.trial_outputs`), predicted at the trial's ``batch_size`` (its
    GPU share is sized for that), so the report loads no model. A failure here costs the report a model
    load, never the trial."""
    from colorize_core.train import TrainConfig
    from search.trial_outputs import write_trial_outputs

    try:
        write_trial_outputs(model, data, workdir, epoch=best_epoch, seed=seed,
                            max_pixels=TrainConfig.eval_max_pixels, batch_size=batch_size)
    except Exception as exc:  # noqa: BLE001 - the report falls back to best.keras
        print(f"colorsweep: could not save the trial's outputs for the report ({exc}); "
              "the report will load best.keras instead", file=sys.stderr)


def _objective_values(metrics: dict, workdir: Path, settings: dict) -> dict:
    """What a several-objective or constrained sweep adds to an epoch's report (nothing otherwise):
    ``tradeoff`` (what ASHA ranks on) and ``at_best_<metric>`` per objective (what the searcher is
    told), and ``constraint_excess`` (<= 0: feasible so far). Values at the trial's best epoch come
    from the ``state.json`` ``fit`` wrote just before reporting (it holds every epoch, also those
    trained before a resume)."""
    objectives, constraints = settings.get("objectives"), settings.get("constraints")
    if not objectives and not constraints:
        return {}
    import json

    from colorize_core.train import STATE_FILE
    from search.optuna_search import AT_BEST_PREFIX, CONSTRAINT_EXCESS
    from spaces.objectives import parse_constraints, parse_objectives, tradeoff_score, trial_values, violations

    try:
        history = list(json.loads((workdir / STATE_FILE).read_text()).get("history") or [])
    except (OSError, ValueError):
        history = []
    history = [row for row in history if row.get("epoch") != metrics.get("epoch")] + [metrics]
    values = trial_values(history, metrics.get("best_epoch"))
    out: dict = {}
    if objectives:
        parsed = parse_objectives([o["metric"] for o in objectives], modes=[o["mode"] for o in objectives])
        out["tradeoff"] = tradeoff_score(metrics, parsed, settings.get("grey") or {})
        for objective in parsed:
            out[AT_BEST_PREFIX + objective.metric] = values.get(objective.metric)
    if constraints:
        out[CONSTRAINT_EXCESS] = min(max(violations(values, parse_constraints(constraints))), 1e12)
    return out
