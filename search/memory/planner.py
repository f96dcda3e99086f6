"""Per-trial planning in the driver: does a proposed configuration fit, at which batch size, on what GPU share."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from search.memory.calibration import RunCalibration
from search.memory.estimate import MemoryEstimate, estimate_memory
from search.memory.profile import _normalise_precision
from search.memory.units import GiB, format_bytes

__all__ = ["SHARE_STEP", "POOL_FRACTION", "gpu_share", "fit_batch_size", "TrialDecision", "TrialPlanner"]

SHARE_STEP = 1 / 8
#: Part of a trial's GPU share its process may fill (its JAX pool fraction, its TensorFlow logical
#: device limit): the rest stays free for the CUDA context and cuDNN handles outside the pool.
POOL_FRACTION = 0.9


def gpu_share(estimate: float, gpu_memory: float | None, *, cap: float = 1.0, step: float = SHARE_STEP) -> float:
    """The GPU fraction a trial asks Ray for: its estimate over the usable part
    (:data:`POOL_FRACTION`) of one GPU's memory, rounded up to a multiple of ``step`` (1/8), at least
    ``step``, at most ``cap``. Without a known GPU memory: ``cap``."""
    if cap <= 0:
        return 0.0
    if not gpu_memory:
        return float(cap)
    share = math.ceil(estimate / (gpu_memory * POOL_FRACTION) / step - 1e-9) * step
    return float(min(cap, max(step, share)))


def fit_batch_size(fits, batch_size: int) -> int | None:
    """The largest power of two ≤ ``batch_size`` for which ``fits(bs)`` is true, or None."""
    bs = 1 << (int(batch_size).bit_length() - 1)
    while bs >= 1:
        if fits(bs):
            return bs
        bs //= 2
    return None


def _train_defaults() -> dict:
    from spaces import train_config_defaults

    return train_config_defaults()


def _memory_relevant(config: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict:
    """arch, batch_size, precision, optimizer, model_options of a TrainConfig dict (defaults filled)."""
    return {
        "arch": config.get("arch", defaults.get("arch")),
        "batch_size": int(config.get("batch_size", defaults.get("batch_size", 16))),
        "precision": _normalise_precision(config.get("precision", defaults.get("precision"))),
        "optimizer": config.get("optimizer", defaults.get("optimizer", "adam")),
        "model_options": dict(config.get("model_options") or {}),
    }


@dataclass
class TrialDecision:
    """What the planner decided for one proposed configuration."""

    feasible: bool
    batch_size: int
    requested_batch_size: int
    estimate: int | None
    budget: int | None
    gpu_share: float
    memory_limit: int | None
    note: str | None = None
    arch: str | None = None

    def memory_info(self) -> dict:
        """The ``_memory`` entry a trial's config carries (plain, JSON-able)."""
        return {
            "batch_size": self.batch_size, "requested_batch_size": self.requested_batch_size,
            "estimate_gib": round(self.estimate / GiB, 4) if self.estimate is not None else None,
            "budget_gib": round(self.budget / GiB, 4) if self.budget else None,
            "gpu_share": self.gpu_share,
            "memory_limit_bytes": self.memory_limit,
            "note": self.note,
        }


@dataclass
class TrialPlanner:
    """Decides, in the driver, whether a proposed configuration fits, its batch size and GPU share.

    ``budget``: one GPU's memory available to trials (bytes; None: no limit). ``gpus_per_trial``: 0 for
    CPU trials, else the largest GPU share a trial may take (a trial's budget is that share of
    ``budget`` when below 1). ``gpu_memory``: one GPU's memory for computing shares (defaults to the
    budget). ``fit_batch``: shrink the batch size to the largest power of two that fits instead of
    declaring the configuration infeasible.
    """

    space: dict
    size: int
    budget: int | None = None
    gpus_per_trial: float = 0.0
    gpu_memory: int | None = None
    fit_batch: bool = False
    run_dir: str | None = None
    _calibration: RunCalibration | None = field(default=None, repr=False)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_calibration"] = None  # re-read from the run directory
        return state

    @property
    def calibration(self) -> RunCalibration:
        if self._calibration is None:
            self._calibration = RunCalibration(self.run_dir)
        return self._calibration

    @property
    def trial_budget(self) -> int | None:
        """Bytes one trial may fill: :data:`POOL_FRACTION` of the budget, or of its largest share."""
        if not self.budget:
            return None
        share = self.gpus_per_trial if 0 < self.gpus_per_trial < 1 else 1.0
        return int(self.budget * share * POOL_FRACTION)

    @property
    def estimates_needed(self) -> bool:
        return bool(self.budget) or self.gpus_per_trial > 0

    def train_config(self, params: Mapping[str, Any]) -> dict:
        from spaces import space_from_dict

        space = space_from_dict(self.space)
        return space.trial_config({k: v for k, v in params.items() if k in space.params},
                                  max_epochs=1, seed=0, monitor="delta_e")

    def estimate(self, relevant: Mapping[str, Any], batch_size: int) -> MemoryEstimate:
        return estimate_memory(relevant["arch"], size=self.size, batch_size=batch_size,
                               precision=relevant["precision"], optimizer=relevant["optimizer"],
                               model_options=relevant["model_options"],
                               run_factor=self.calibration.factor(relevant["arch"]))

    def decide(self, params: Mapping[str, Any], *, batch_size: int | None = None,
               note: str | None = None) -> TrialDecision:
        """Decide for the searcher's ``params``; ``batch_size`` overrides the configuration's (a retry)."""
        relevant = _memory_relevant(self.train_config(params), _train_defaults())
        requested = int(batch_size or relevant["batch_size"])
        share_cap = self.gpus_per_trial if self.gpus_per_trial <= 1 else 1.0
        if not self.estimates_needed:
            return TrialDecision(True, requested, requested, None, None, 0.0, None, note, relevant["arch"])
        budget = self.trial_budget
        est = self.estimate(relevant, requested).total
        bs = requested
        if budget and est > budget:
            if not self.fit_batch:
                need = f"needs {format_bytes(est)} ({self._budget_text()})"
                return TrialDecision(False, requested, requested, est, budget, 0.0, None,
                                     f"{need}; {note}" if note else need, relevant["arch"])
            smaller = fit_batch_size(lambda b: self.estimate(relevant, b).total <= budget, requested)
            if smaller is None:
                need = (f"needs {format_bytes(est)} at batch_size {requested}, more than {self._budget_text()} "
                        "even at batch_size 1")
                return TrialDecision(False, requested, requested, est, budget, 0.0, None, need, relevant["arch"])
            bs = smaller
            est = self.estimate(relevant, bs).total
            shrunk = f"batch_size shrunk {requested}→{bs} to fit {format_bytes(self.budget)}"
            note = f"{note}; {shrunk}" if note else shrunk
        per_gpu = self.gpu_memory or self.budget
        if self.gpus_per_trial > 1:
            share = float(self.gpus_per_trial)
        else:
            share = gpu_share(est, per_gpu, cap=share_cap) if self.gpus_per_trial > 0 else 0.0
        limit = int(share * per_gpu * POOL_FRACTION) if share and per_gpu and share <= 1 else None
        return TrialDecision(True, bs, requested, est, budget, share, limit, note, relevant["arch"])

    def _budget_text(self) -> str:
        share = f" x share {self.gpus_per_trial:g}" if 0 < self.gpus_per_trial < 1 else ""
        return f"budget {format_bytes(self.budget)}{share}, {format_bytes(self.trial_budget)} usable"

    def learn_oom(self, trial_id: str, params: Mapping[str, Any], batch_size: int, limit: int | None = None) -> float:
        """A trial ran out of memory at ``batch_size`` with ``limit`` bytes (its share's cap; default the
        trial budget): raise the architecture's factor so that it now estimates above that."""
        relevant = _memory_relevant(self.train_config(params), _train_defaults())
        est = self.estimate(relevant, batch_size).total if self.estimates_needed else 0
        return self.calibration.learn_oom(trial_id=trial_id, arch=relevant["arch"], batch_size=batch_size,
                                          estimate=est, budget=limit or self.trial_budget)
