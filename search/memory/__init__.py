"""GPU memory planning: estimate a configuration's peak memory, check it against a budget, plan a space.

Nothing here needs Ray (the Ray side — the searcher wrapper, GPU shares — is :mod:`search.packing`);
Keras is imported only to build a model symbolically and count what training keeps in memory.

One module per idea, each importing only those above it:

* :mod:`~search.memory.units` — sizes: ``GiB``/``MiB``, parsing and printing them, the local GPU's memory;
* :mod:`~search.memory.anchors` — the measured peaks and the constants fitted to them (data only);
* :mod:`~search.memory.profile` — what one sample of a model costs, walked layer by layer;
* :mod:`~search.memory.estimate` — the estimate of one configuration (how it works is that module's
  docstring);
* :mod:`~search.memory.calibration` — the fit to the anchors, its accuracy, a sweep's learned correction;
* :mod:`~search.memory.planner` — per-trial decisions in the driver: fits, batch size, GPU share;
* :mod:`~search.memory.plan` — ``colorsweep plan``'s table over a whole space;
* :mod:`~search.memory.oom` — recognising an out-of-memory error.

Everything is re-exported here, so ``from search.memory import X`` works for all of them.
"""

from __future__ import annotations

from search.memory.anchors import (
    ANCHOR_EXTRAS,
    ANCHORS,
    CALIBRATION,
    CALIBRATION_NOTES,
    F32_ACTIVATION_FACTOR,
    GLOBAL_CALIBRATION,
)
from search.memory.calibration import CALIBRATION_FILE, RunCalibration, accuracy_table, fit_calibration
from search.memory.estimate import OPTIMIZER_SLOTS, MemoryEstimate, estimate_memory, optimizer_slots
from search.memory.oom import OOM_MARKERS, TrialOutOfMemory, is_out_of_memory
from search.memory.plan import plan_space
from search.memory.planner import (
    POOL_FRACTION,
    SHARE_STEP,
    TrialDecision,
    TrialPlanner,
    fit_batch_size,
    gpu_share,
)
from search.memory.profile import PRECISIONS, ModelProfile, model_profile
from search.memory.units import GiB, MiB, detect_gpu_memory, format_bytes, parse_memory

__all__ = [
    "ANCHORS",
    "ANCHOR_EXTRAS",
    "CALIBRATION",
    "GLOBAL_CALIBRATION",
    "PRECISIONS",
    "MemoryEstimate",
    "ModelProfile",
    "RunCalibration",
    "TrialPlanner",
    "TrialDecision",
    "estimate_memory",
    "model_profile",
    "parse_memory",
    "format_bytes",
    "detect_gpu_memory",
    "fit_batch_size",
    "gpu_share",
    "optimizer_slots",
    "plan_space",
    "fit_calibration",
    "is_out_of_memory",
    "TrialOutOfMemory",
    "POOL_FRACTION",
    "GiB",
    "MiB",
    "OPTIMIZER_SLOTS",
    "F32_ACTIVATION_FACTOR",
    "CALIBRATION_NOTES",
    "CALIBRATION_FILE",
    "accuracy_table",
    "SHARE_STEP",
    "OOM_MARKERS",
]
