"""The Ray side of memory planning: which configurations launch, at what batch size, on what GPU share.

:class:`MemorySearcher` wraps the sweep's searcher (Optuna's TPE, or :class:`GridSearcher` for a grid
space) and, in the driver, for every proposed configuration:

* asks :class:`search.memory.TrialPlanner` whether it fits the budget. One that does not is **not
  launched**: it is written to ``trials.json`` as ``infeasible`` (note ``needs X GiB``) and the inner
  searcher is told ``on_trial_complete(error=True)``. For Ray's ``OptunaSearch`` that marks the Optuna
  trial ``FAIL`` (``ray/tune/search/optuna/optuna_search.py``: no value and ``error=True`` → FAIL),
  and Optuna's TPE samples only from COMPLETE and PRUNED trials (plus RUNNING ones as constant
  liars), never FAIL ones (``optuna/samplers/_tpe/sampler.py``): the searcher's model of the
  objective is not biased, as it would be by a PRUNED trial (ranked among the worst) or a made-up
  worst value. Infeasible proposals do not count toward ``trials``; the searcher is asked again
  (at most ``max_infeasible`` times in all). With ``fit_batch`` the batch size is shrunk instead.
* attaches a ``_memory`` entry to the trial's config (batch size, estimate, GPU share, memory limit,
  note), which :class:`TrialResources` turns into the trial's Ray resources (``tune.with_resources``
  with a function of the config) and the trainable into its memory caps.
* retries a trial that ran out of memory (``trials.json`` status ``oom``, set by the monitor) once,
  as a new trial with the same parameters at half the batch size (``retry_of`` in its record), after
  raising the architecture's calibration factor (:class:`search.memory.RunCalibration`). The Optuna
  trial of the original proposal is told the retry's result (the configuration as it could be
  trained), or FAIL when the retry fails too.

The wrapper ends the search (``Searcher.FINISHED``) when the inner searcher is done (or ``trials``
configurations launched) and no trial of its own is running or waiting for a retry; the Tuner's
``num_samples`` is only an upper bound (twice the configurations: each runs at most twice). Its
state (and the inner searcher's) is saved with Ray's experiment state, so ``colorsweep resume``
carries on.
"""

from __future__ import annotations

import copy
import json
import logging
import pickle
import sys
import time
from pathlib import Path

from ray.tune.execution.placement_groups import PlacementGroupFactory
from ray.tune.search import Searcher

from search.memory import TrialPlanner
from search.rundir import FAILED_STATUSES, TrialLedger, TrialStatus

__all__ = ["MemorySearcher", "GridSearcher", "TrialResources", "MEMORY_KEY"]

logger = logging.getLogger(__name__)

#: The config key carrying a trial's memory decision (kept out of its recorded params).
MEMORY_KEY = "_memory"


class GridSearcher(Searcher):
    """Proposes a fixed list of configurations (a grid space's combinations) in order, then FINISHED."""

    def __init__(self, configs: list[dict], *, metric: str | None = None, mode: str | None = None):
        super().__init__(metric=metric, mode=mode)
        self.configs = [dict(c) for c in configs]
        self.position = 0

    def suggest(self, trial_id: str) -> dict | str | None:
        if self.position >= len(self.configs):
            return Searcher.FINISHED
        config = dict(self.configs[self.position])
        self.position += 1
        return config

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        pass

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            pickle.dump({"configs": self.configs, "position": self.position}, f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            state = pickle.load(f)
        self.configs, self.position = state["configs"], state["position"]


class TrialResources:
    """``tune.with_resources`` function of a trial's config: CPUs, and the GPU share the planner put
    in its ``_memory`` entry (``default_gpu`` when it has none)."""

    def __init__(self, cpus: float, default_gpu: float = 0.0):
        self.cpus = float(cpus)
        self.default_gpu = float(default_gpu)

    def __call__(self, config: dict) -> PlacementGroupFactory:
        memory = config.get(MEMORY_KEY) or {}
        gpu = float(memory.get("gpu_share", self.default_gpu) or 0.0)
        bundle = {"CPU": self.cpus}
        if gpu > 0:
            bundle["GPU"] = gpu
        return PlacementGroupFactory([bundle])


class MemorySearcher(Searcher):
    """Budget, batch-size fitting, out-of-memory retries and GPU shares around another searcher.

    ``searcher``: the inner searcher (OptunaSearch, GridSearcher). ``planner``: decides per config.
    ``run_dir``: where ``trials.json`` lives. ``trials``: configurations to launch (None: until the
    inner searcher says FINISHED). ``max_infeasible``: proposals found infeasible before the search
    is ended (a space whose every configuration is too big must not loop forever).
    """

    def __init__(self, searcher: Searcher, *, planner: TrialPlanner, run_dir: str | Path,
                 trials: int | None = None, max_epochs: int | None = None, max_infeasible: int | None = None,
                 live: bool = True, deadline: float | None = None):
        super().__init__(metric=searcher.metric, mode=searcher.mode)
        self.searcher = searcher
        self.planner = planner
        self.run_dir = str(run_dir)
        self.trials = trials
        self.max_epochs = max_epochs
        if max_infeasible is None and trials is not None:  # a grid ends by itself; a sampler may not
            max_infeasible = max(50, 5 * trials)
        self.max_infeasible = max_infeasible
        self.live = live
        self.deadline = deadline                 # wall-clock end of the time budget: no proposal after it
        self.launched = 0
        self.infeasible = 0
        self.inner_finished = False
        self.inner_ids: dict[str, str] = {}      # trial id -> inner searcher's id (None for retries)
        self.configs: dict[str, dict] = {}       # trial id -> config given to Tune
        self.running: set[str] = set()
        self.errored: dict[str, float] = {}      # trial id -> when it errored (status not resolved yet)
        self.retries: list[dict] = []            # configs waiting to be launched
        self.held: dict[str, str] = {}           # retry's parent trial id -> parent's inner id (told later)
        self._attempt = 0

    # -- Searcher API ------------------------------------------------------------------------------
    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        ok = self.searcher.set_search_properties(metric, mode, config, **spec)
        self._metric, self._mode = self.searcher.metric, self.searcher.mode
        return ok

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        return False

    def suggest(self, trial_id: str) -> dict | str | None:
        self._settle_unreported_errors()
        self._resolve_errors()
        deadline = getattr(self, "deadline", None)  # absent in searchers pickled before budgets existed
        if deadline is not None and time.time() >= deadline and not self.inner_finished:
            self.inner_finished = True
            self.retries.clear()
            self._say(f"time budget spent: no new trials; the {len(self.running)} running finish their epoch")
        if self.retries:
            config = self.retries.pop(0)
            return self._launch(trial_id, config, inner_id=None)
        while not self.inner_finished and (self.trials is None or self.launched < self.trials):
            self._attempt += 1
            inner_id = f"{trial_id}-{self._attempt}"
            proposal = self.searcher.suggest(inner_id)
            if proposal is None:
                return None
            if proposal == Searcher.FINISHED:
                self.inner_finished = True
                break
            decision = self._decide(proposal)
            if not decision.feasible:
                self._record_infeasible(inner_id, proposal, decision)
                self.searcher.on_trial_complete(inner_id, result=None, error=True)
                self.infeasible += 1
                if self.max_infeasible is not None and self.infeasible >= self.max_infeasible:
                    self._say(f"{self.infeasible} proposed configurations did not fit the memory budget: ending the "
                              "search (try --fit-batch, a larger --gpu-memory or smaller batch sizes)")
                    self.inner_finished = True
                continue
            config = self._config(proposal, decision)
            self.launched += 1
            return self._launch(trial_id, config, inner_id=inner_id)
        if self.running or self.errored or self.retries:
            return None
        return Searcher.FINISHED

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        inner_id = self.inner_ids.get(trial_id)
        if inner_id is not None:
            self.searcher.on_trial_result(inner_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id not in self.running:  # not ours, or already settled (_settle_unreported_errors)
            return
        self.running.discard(trial_id)
        if trial_id not in self.configs:
            return
        if error:
            self.errored[trial_id] = time.time()  # oom or not: the ledger says, once the monitor recorded it
            return
        self._tell_inner(trial_id, result, error=False)

    # -- internals ---------------------------------------------------------------------------------
    def _say(self, text: str) -> None:
        if self.live:
            print(text, file=sys.stderr)
        logger.info(text)

    def _config(self, proposal: dict, decision) -> dict:
        """The config Tune gets: the proposal, its batch size replaced when shrunk, and ``_memory``."""
        config = dict(proposal)
        if decision.batch_size != decision.requested_batch_size:
            config["batch_size"] = decision.batch_size
        info = decision.memory_info()
        if "batch_size" in proposal:  # the in-space value, for the trainable's space check
            info["proposed_batch_size"] = proposal["batch_size"]
        config[MEMORY_KEY] = info
        return config

    def _decide(self, proposal: dict, **kwargs):
        try:
            return self.planner.decide(proposal, **kwargs)
        except Exception as exc:  # an estimate must never end the sweep: launch, and let the trial tell
            logger.warning("memory estimate failed for %s: %s", proposal, exc)
            from search.memory import TrialDecision

            bs = kwargs.get("batch_size") or proposal.get("batch_size")
            if not bs:
                try:
                    bs = self.planner.train_config(proposal).get("batch_size")
                except Exception:  # noqa: BLE001
                    bs = None
            bs = int(bs or 16)
            cap = min(self.planner.gpus_per_trial, 1.0)
            return TrialDecision(True, bs, bs, None, None, float(cap), None,
                                 f"memory estimate failed: {exc}", proposal.get("arch"))

    def _launch(self, trial_id: str, config: dict, *, inner_id: str | None) -> dict:
        self.inner_ids[trial_id] = inner_id
        self.configs[trial_id] = config
        self.running.add(trial_id)
        return copy.deepcopy(config)

    def _params(self, config: dict) -> dict:
        return {k: v for k, v in config.items() if k != MEMORY_KEY}

    def _record_infeasible(self, record_id: str, proposal: dict, decision) -> None:
        entry = {"params": dict(proposal), "status": TrialStatus.INFEASIBLE, "note": decision.note,
                 "memory": decision.memory_info(), "max_epochs": self.max_epochs}
        TrialLedger.for_run(self.run_dir).add({record_id: entry})
        self._say(f"configuration {record_id} not launched: {decision.note} ({_brief(proposal)})")

    def _tell_inner(self, trial_id: str, result: dict | None, *, error: bool) -> None:
        """Tell the inner searcher how the proposal behind ``trial_id`` ended (a retry speaks for its parent)."""
        config = self.configs.get(trial_id, {})
        parent = (config.get(MEMORY_KEY) or {}).get("retry_of")
        inner_id = self.held.pop(parent, None) if parent else self.inner_ids.get(trial_id)
        if inner_id is not None:
            self.searcher.on_trial_complete(inner_id, result=result if not error else None, error=error)

    def _settle_unreported_errors(self) -> None:
        """Count as ended the running trials that the ledger records as failed although Ray never
        told this searcher: Ray 2.60 ends a trial whose reused worker could not be reset that way, and
        the search would otherwise wait for it forever."""
        if not self.running:
            return
        ledger = TrialLedger.for_run(self.run_dir)
        for trial_id in sorted(self.running):
            if ledger.status(trial_id) in FAILED_STATUSES:
                self.on_trial_complete(trial_id, error=True)

    def _resolve_errors(self) -> None:
        """Retry or give up on the trials that failed since the last proposal. Ray tells this searcher
        of a failure just before it tells the monitor (one controller step, in this process), so by
        the next proposal the ledger says how the trial ended: ``oom`` (retried once at half the batch)
        or anything else (a plain failure, told to the inner searcher)."""
        if not self.errored:
            return
        ledger = TrialLedger.for_run(self.run_dir)
        for trial_id in list(self.errored):
            status = ledger.status(trial_id)
            del self.errored[trial_id]
            config = self.configs[trial_id]
            memory = config.get(MEMORY_KEY) or {}
            if status == TrialStatus.OOM and not memory.get("retry_of") and int(memory.get("batch_size", 1)) > 1:
                self._retry(trial_id, config)
            else:
                self._tell_inner(trial_id, None, error=True)

    def _retry(self, trial_id: str, config: dict) -> None:
        memory = config.get(MEMORY_KEY) or {}
        params = self._params(config)
        batch = int(memory.get("batch_size") or params.get("batch_size"))
        proposal = dict(params)
        if "batch_size" in proposal and memory.get("proposed_batch_size"):
            proposal["batch_size"] = memory["proposed_batch_size"]  # the searcher's own (in-space) value
        factor = self.planner.learn_oom(trial_id, proposal, batch, limit=memory.get("memory_limit_bytes"))
        half = max(1, batch // 2)
        note = f"retry of {trial_id} at half the batch size ({batch}→{half}) after running out of memory"
        decision = self._decide(proposal, batch_size=half, note=note)
        if not decision.feasible:
            self._say(f"trial {trial_id} ran out of memory; not retried: {decision.note}")
            self._tell_inner(trial_id, None, error=True)
            return
        if self.inner_ids.get(trial_id) is not None:
            self.held[trial_id] = self.inner_ids[trial_id]
        retry = self._config(proposal, decision)
        retry["batch_size"] = decision.batch_size
        retry[MEMORY_KEY].update(retry_of=trial_id, calibration_factor=round(factor, 4))
        self.retries.append(retry)
        self._say(f"trial {trial_id} ran out of memory at batch_size {batch}: retrying once at {half}")

    # -- state (Ray saves wrappers with get_state, the innermost searcher with save) ----------------------
    def get_state(self) -> dict:
        state = self.__dict__.copy()
        del state["searcher"]
        return copy.deepcopy(state)

    def set_state(self, state: dict) -> None:
        self.__dict__.update(state)

    def save(self, checkpoint_path: str) -> None:
        self.searcher.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.searcher.restore(checkpoint_path)

    def on_pause(self, trial_id: str) -> None:
        inner_id = self.inner_ids.get(trial_id)
        if inner_id is not None:
            self.searcher.on_pause(inner_id)

    def on_unpause(self, trial_id: str) -> None:
        inner_id = self.inner_ids.get(trial_id)
        if inner_id is not None:
            self.searcher.on_unpause(inner_id)


def _brief(params: dict) -> str:
    keys = ("arch", "batch_size", "precision", "optimizer")
    return ", ".join(f"{k}={params[k]}" for k in keys if k in params) or json.dumps(params, default=str)
