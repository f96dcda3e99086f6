"""Calibrating the estimate: the fit to the measured anchors, its accuracy, a sweep's learned correction.

The anchors and the fitted constants themselves live in :mod:`search.memory.anchors` (re-exported here).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from search.memory.anchors import ANCHOR_EXTRAS, ANCHORS, CALIBRATION, CALIBRATION_NOTES, GLOBAL_CALIBRATION
from search.memory.estimate import estimate_memory
from search.memory.profile import model_profile
from search.memory.units import GiB

__all__ = ["ANCHORS", "ANCHOR_EXTRAS", "CALIBRATION", "GLOBAL_CALIBRATION", "CALIBRATION_NOTES",
           "CALIBRATION_FILE", "fit_calibration", "accuracy_table", "RunCalibration"]

CALIBRATION_FILE = "memory_calibration.json"


def _anchor_parts(arch: str, size: int, batch_size: int, precision: str | None = None) -> tuple[float, float, float]:
    """(fixed bytes, per-k bytes, per-m bytes) of one configuration: estimate = a + k·b + m·c."""
    est = estimate_memory(arch, size=size, batch_size=batch_size, precision=precision, calibration=(1.0, 0.0))
    return float(est.state + est.batch), float(est.activations + est.working), float(
        model_profile(arch, size, precision=precision).all_outputs)


def fit_calibration() -> dict:
    """Fit (k, m) to :data:`ANCHORS`: exactly per architecture (two rows, two unknowns), and one global
    pair minimising the largest relative error over all twelve rows. Returns the pairs and residuals.

    Builds the six study models at 128 px (a few seconds). The constants in :data:`CALIBRATION` and
    :data:`GLOBAL_CALIBRATION` are this function's output, rounded.
    """
    import numpy as np

    per_arch, rows = {}, []
    for arch, peaks in ANCHORS.items():
        (a0, b0, c0), (a1, b1, c1) = (_anchor_parts(arch, 128, bs) for bs in sorted(peaks))
        p0, p1 = (peaks[bs] * GiB for bs in sorted(peaks))
        k = ((p1 - a1) - (p0 - a0)) / (b1 - b0)
        m = (p0 - a0 - k * b0) / c0
        per_arch[arch] = (k, m)
        for bs in sorted(peaks):
            rows.append((arch, bs, peaks[bs] * GiB, *_anchor_parts(arch, 128, bs)))
    measured = np.array([r[2] for r in rows])
    a, b, c = (np.array([r[i] for r in rows]) for i in (3, 4, 5))
    ks = np.arange(0.2, 3.0, 0.01)[:, None, None]
    ms = np.arange(0.0, 200.0, 1.0)[None, :, None]
    worst = np.abs(np.log((a + ks * b + ms * c) / measured)).max(axis=2)
    i, j = np.unravel_index(np.argmin(worst), worst.shape)
    global_pair = (float(ks[i, 0, 0]), float(ms[0, j, 0]))
    residuals = {f"{arch}@{bs}": float((a_ + global_pair[0] * b_ + global_pair[1] * c_) / p - 1)
                 for arch, bs, p, a_, b_, c_ in rows}
    return {"per_arch": per_arch, "global": global_pair, "global_residuals": residuals}


def accuracy_table(*, calibration: str = "fitted") -> list[dict]:
    """Estimate against every anchor row (fitted rows and held-out ones), ``calibration`` "fitted"
    (per-architecture pairs) or "global" (the global pair for every architecture)."""
    out = []
    cases = [(arch, 128, bs, None, gib, "fit") for arch, peaks in ANCHORS.items() for bs, gib in peaks.items()]
    cases += [(arch, size, bs, prec, gib, "held out") for arch, size, bs, prec, gib in ANCHOR_EXTRAS]
    for arch, size, bs, prec, gib, role in cases:
        est = estimate_memory(arch, size=size, batch_size=bs, precision=prec,
                              calibration=GLOBAL_CALIBRATION if calibration == "global" else None)
        out.append({"arch": arch, "size": size, "batch_size": bs, "precision": prec or "float32", "role": role,
                    "measured_gib": gib, "estimate_gib": round(est.gib, 2),
                    "error": round(est.gib / gib - 1, 3)})
    return out


class RunCalibration:
    """A sweep's learned correction: a factor per architecture, raised when a trial runs out of memory
    although its estimate fitted, so that the same configuration is estimated above the budget next
    time. Kept in ``RUN_DIR/memory_calibration.json`` with every event; read by resume."""

    def __init__(self, run_dir: str | os.PathLike | None):
        self.path = Path(run_dir) / CALIBRATION_FILE if run_dir else None
        self.factors: dict[str, float] = {}
        self.events: list[dict] = []
        if self.path is not None and self.path.exists():
            data = json.loads(self.path.read_text())
            self.factors = {k: float(v) for k, v in data.get("factors", {}).items()}
            self.events = list(data.get("events", []))

    def factor(self, arch: str) -> float:
        return self.factors.get(arch, 1.0)

    def learn_oom(self, *, trial_id: str, arch: str, batch_size: int, estimate: int, budget: int | None,
                  margin: float = 1.02) -> float:
        """Record an out-of-memory trial; with a budget, raise ``arch``'s factor so that this
        configuration's estimate (``estimate`` bytes, the factor already applied) exceeds it."""
        before = self.factor(arch)
        after = before
        if budget and estimate > 0 and estimate <= budget * margin:
            after = before * budget * margin / estimate
            self.factors[arch] = after
        self.events.append({"trial_id": trial_id, "arch": arch, "batch_size": int(batch_size),
                            "estimate_gib": round(estimate / GiB, 4),
                            "budget_gib": round(budget / GiB, 4) if budget else None,
                            "factor_before": round(before, 4), "factor_after": round(after, 4),
                            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        self.save()
        return after

    def save(self) -> None:
        if self.path is None:
            return
        from search.rundir import write_json_atomic

        write_json_atomic(self.path, {"factors": self.factors, "events": self.events})
