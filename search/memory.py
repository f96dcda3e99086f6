"""GPU memory planning: estimate a configuration's peak memory, check it against a budget, plan a space.

Nothing here needs Ray (the Ray side — the searcher wrapper, GPU shares — is :mod:`search.packing`);
Keras is imported only to build a model symbolically and count what training keeps in memory.

The estimate of one configuration (architecture, input size, batch size, precision, optimizer):

* **state** — weights, gradients and optimizer slots in float32: ``params × 4 × (2 + slots)`` bytes
  (Adam and AdamW keep 2 slots, RMSprop 1, SGD with momentum 1), plus a 16-bit copy of the weights
  under mixed precision;
* **batch** — the input and the target (ab, or class probabilities) of one batch on the device (float32);
* **activations kept for the backward pass**, walked layer by layer over the functional model: a
  layer output is kept when its consumer needs it to compute a gradient (the input of a convolution,
  dense layer, batch normalisation or max pooling) or its producer does (the output of a ReLU,
  sigmoid or tanh — fused or as a layer —, LeakyReLU, max pooling, and the model output for the
  loss). Up-sampling and concatenation keep nothing. Bytes per element follow the layer's compute
  dtype (2 under a mixed policy, 4 for layers pinned to float32 such as the ab output head);
* **backward working set** — the largest ``dY + dX`` of any single layer (the gradient buffers alive
  while that layer is differentiated);
* **workspace margin** — XLA/cuDNN scratch, temporaries and allocator slack, modelled as a multiple
  of one sample's activations (all layer outputs).

Float32 activations are counted twice (``F32_ACTIVATION_FACTOR``): on the anchor GPU, float32
convolutions run through TF32 kernels whose operands XLA keeps in a second layout, while 16-bit ones
run in the models' own NHWC layout; this factor is what makes the two ``mixed_bfloat16`` anchor rows
come out right (see :data:`CALIBRATION_NOTES`).

``estimate = state + batch + k × batch_size × (kept + working set) + m × all activations``, times a
per-run factor learned from out-of-memory errors (:class:`RunCalibration`). ``k`` and ``m`` are fitted
per architecture to the measured peaks in ``shared/design/anchors.md`` (:data:`ANCHORS`), with a
global pair for any other architecture. :data:`CALIBRATION_NOTES` has the fit and its residuals.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

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
]

GiB = 1 << 30
MiB = 1 << 20

#: Precisions a configuration may train in (``TrainConfig.precision``); None and "float32" are the same.
PRECISIONS = (None, "float32", "mixed_float16", "mixed_bfloat16")

#: Optimizer slots (per-parameter float32 state) of the optimizers in ``colorize_core.optimizers``.
OPTIMIZER_SLOTS = {"adam": 2, "adamw": 2, "rmsprop": 1, "sgd": 1}

#: Float32 activations cost this many times their bytes on the anchor GPU (TF32 convolutions keep a
#: second layout of their operands); 16-bit activations cost their bytes once. Fitted to the two
#: mixed_bfloat16 rows of the anchors (classic, richard_zhang at batch 128).
F32_ACTIVATION_FACTOR = 2.0

#: Measured peak memory (GiB, JAX allocator peak_bytes_in_use) on one H200: Keras 3.15.1 on JAX
#: 0.11.2, 128×128 inputs, Adam + MSE, float32 weights, jit. From shared/design/anchors.md.
ANCHORS: dict[str, dict[int, float]] = {
    "basic": {8: 1.5, 128: 8.2},
    "classic": {8: 5.0, 128: 15.8},
    "conv_sampling": {8: 1.3, 128: 5.8},
    "large_kernel": {8: 4.5, 128: 14.8},
    "richard_zhang": {8: 2.4, 128: 5.9},
    "split_learning": {8: 4.4, 128: 11.3},
}
#: The anchors' other rows, not used in the fit (held out): (arch, size, batch, precision, GiB).
ANCHOR_EXTRAS: tuple[tuple[str, int, int, str | None, float], ...] = (
    ("basic", 128, 512, None, 32.5),
    ("classic", 128, 512, None, 50.6),
    ("classic", 256, 32, None, 22.1),
    ("classic", 128, 128, "mixed_bfloat16", 4.2),
    ("richard_zhang", 128, 128, "mixed_bfloat16", 2.2),
)

#: Per-architecture calibration (k, m) fitted to :data:`ANCHORS` by :func:`fit_calibration`
#: (two parameters from two measurements each: the anchor rows themselves are matched up to
#: rounding; the held-out rows in :data:`ANCHOR_EXTRAS` are the check). k scales the per-sample
#: analytic activations, m is the workspace margin in samples' worth of all activations.
CALIBRATION: dict[str, tuple[float, float]] = {
    "basic": (1.760, 105.8),
    "classic": (0.852, 69.9),
    "conv_sampling": (1.118, 79.8),
    "large_kernel": (0.970, 101.2),
    "richard_zhang": (0.640, 113.2),
    "split_learning": (0.629, 103.7),
}
#: (k, m) for architectures without anchors (unet, custom ones): the pair that minimises the largest
#: relative error over the twelve anchor rows when used for all six.
GLOBAL_CALIBRATION: tuple[float, float] = (1.19, 72.0)

CALIBRATION_NOTES = """
Fit (``fit_calibration()``; anchors: H200, Keras 3.15.1 on JAX 0.11.2, 128 px, Adam, float32):

- per architecture, k and m solve the two anchor rows (batch 8 and 128) exactly; rounded constants
  reproduce them within 1 %. The measured peaks grow with the batch size much less than in
  proportion (classic: 5.0 GiB at 8, 15.8 at 128), which a pure per-sample model cannot match: m,
  a fixed workspace of 70-113 samples' worth of activations, carries that part (it is what XLA's
  autotuning and scratch buffers look like from the allocator's peak).
- held-out anchor rows with the per-architecture pairs: basic bs 512 29.6 vs 32.5 GiB (-9 %);
  classic bs 512 50.4 vs 50.6 (-0.5 %); classic 256 px bs 32 28.6 vs 22.1 (+29 %); classic
  mixed_bfloat16 bs 128 5.1 vs 4.2 (+21 %); richard_zhang mixed_bfloat16 bs 128 2.15 vs 2.2 (-2 %).
- one global pair (k=1.19, m=72) for all six: residuals basic -32 %/-32 %, classic +8 %/+30 %,
  conv_sampling -6 %/+4 %, large_kernel -21 %/+9 %, richard_zhang -22 %/+42 %, split_learning
  -18 %/+47 % (batch 8 / 128): the analytic model alone is within about ±50 %; only the
  per-architecture pairs reach ±30 %. Architectures without anchors (unet) use the global pair.
- not measured here: TensorFlow's allocator (the anchors are JAX), other GPUs, float16.
"""

CALIBRATION_FILE = "memory_calibration.json"


# --- sizes ----------------------------------------------------------------------------------------
_UNITS = {
    "b": 1,
    "k": 1 << 10, "kib": 1 << 10, "kb": 10**3,
    "m": 1 << 20, "mib": 1 << 20, "mb": 10**6,
    "g": 1 << 30, "gib": 1 << 30, "gb": 10**9,
    "t": 1 << 40, "tib": 1 << 40, "tb": 10**12,
}
_SIZE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-zA-Z]*)\s*$")


def parse_memory(value: str | int | float) -> int:
    """Bytes from a size like ``4GiB``, ``4GB`` (10⁹), ``4096MiB``, ``0.5GiB``, ``16G`` (binary).

    An int is taken as bytes. Raises ``ValueError`` naming the value and the accepted forms.
    """
    if isinstance(value, bool):
        raise ValueError(f"gpu memory must be a size like 4GiB, got {value!r}")
    if isinstance(value, (int, float)):
        if value <= 0 or not math.isfinite(value):
            raise ValueError(f"gpu memory must be positive, got {value!r}")
        return int(value)
    match = _SIZE_RE.match(str(value))
    unit = match.group(2).lower() if match else ""
    if not match or not unit or unit not in _UNITS:
        raise ValueError(
            f"gpu memory must be a number with a unit, like 4GiB, 4GB, 4096MiB or 0.5GiB "
            f"(units B, KiB, MiB, GiB, TiB, KB, MB, GB, TB; K/M/G/T are binary), got {value!r}"
        )
    number = float(match.group(1))
    if number <= 0:
        raise ValueError(f"gpu memory must be positive, got {value!r}")
    return int(number * _UNITS[unit])


def format_bytes(n: float | None) -> str:
    """``3.2 GiB``, ``512 MiB``; ``-`` for None."""
    if n is None:
        return "-"
    if n >= GiB:
        return f"{n / GiB:.1f} GiB"
    if n >= MiB:
        return f"{n / MiB:.0f} MiB"
    return f"{n / 1024:.0f} KiB"


def detect_gpu_memory() -> int | None:
    """Memory of the smallest local GPU in bytes (``nvidia-smi``), or None without one.

    ``COLORSWEEP_GPU_MEMORY`` (a size such as ``80GiB``) overrides the detection.
    """
    override = os.environ.get("COLORSWEEP_GPU_MEMORY")
    if override:
        return parse_memory(override)
    exe = shutil.which("nvidia-smi")
    if not exe:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        values = [int(float(line.strip())) for line in out.splitlines() if line.strip()]
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return min(values) * MiB if values else None


# --- the layer-by-layer profile ---------------------------------------------------------------------
_NEEDS_OUTPUT_ACTIVATIONS = {"relu", "sigmoid", "tanh", "elu", "selu", "softmax", "gelu", "swish", "silu",
                             "softplus", "relu6", "leaky_relu", "hard_sigmoid", "mish"}
_NEEDS_INPUT_LAYERS = {"Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "Conv3DTranspose", "DepthwiseConv2D",
                       "SeparableConv2D", "Dense", "EinsumDense", "BatchNormalization", "LayerNormalization",
                       "GroupNormalization", "MaxPooling2D", "MaxPooling1D", "MaxPooling3D", "Multiply"}
_NEEDS_OUTPUT_LAYERS = {"ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax", "MaxPooling2D", "MaxPooling1D",
                        "MaxPooling3D"}


@dataclass(frozen=True)
class ModelProfile:
    """What one sample costs in a model, in bytes, and its parameter count.

    ``kept``: layer outputs kept for the backward pass; ``working``: the largest ``dY + dX`` of one
    layer; ``all_outputs``: every layer output (the workspace margin's unit); ``batch``: the input and
    the target (shaped like the output: ab, or class probabilities for a classification model), float32.
    Activation bytes follow each layer's compute dtype and already include
    :data:`F32_ACTIVATION_FACTOR` for float32 ones (``all_outputs`` and ``batch`` do not).
    """

    arch: str
    size: int
    precision: str | None
    params: int
    kept: int
    working: int
    all_outputs: int
    batch: int
    layers: tuple = ()


_PROFILES: dict[tuple, ModelProfile] = {}


def _normalise_precision(precision: str | None) -> str | None:
    if precision in (None, "float32"):
        return None
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    return precision


def _elements(tensor) -> int:
    return int(math.prod(int(d) for d in tensor.shape[1:]))


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _dtype_bytes(dtype: str) -> int:
    return 2 if dtype in ("float16", "bfloat16") else 8 if dtype == "float64" else 4


def model_profile(arch: str, size: int, *, precision: str | None = None,
                  model_options: Mapping[str, Any] | None = None) -> ModelProfile:
    """Build ``arch`` symbolically at ``size`` (under ``precision``'s dtype policy) and walk its layers.

    Cached per (arch, size, precision, options). Imports Keras; never runs a forward pass.
    """
    precision = _normalise_precision(precision)
    key = (arch, int(size), precision, tuple(sorted((model_options or {}).items())))
    if key in _PROFILES:
        return _PROFILES[key]
    import keras

    from colorize_core.models import create_model

    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy(precision or "float32")
    try:
        model = create_model(arch, int(size), **dict(model_options or {}))
    finally:
        keras.mixed_precision.set_global_policy(previous)

    bytes_of: dict[int, int] = {}   # tensor id -> bytes per sample as it is kept
    raw_of: dict[int, int] = {}     # tensor id -> plain bytes per sample
    kept: set[int] = set()
    working = 0
    rows = []
    for layer in model.layers:
        kind = type(layer).__name__
        outputs = _as_list(layer.output)
        dtype = str(getattr(layer, "compute_dtype", "float32"))
        for out in outputs:
            raw = _elements(out) * _dtype_bytes(dtype)
            raw_of[id(out)] = raw
            bytes_of[id(out)] = int(raw * (F32_ACTIVATION_FACTOR if _dtype_bytes(dtype) >= 4 else 1))
        if kind == "InputLayer":
            continue
        inputs = _as_list(layer.input)
        activation = getattr(getattr(layer, "activation", None), "__name__", None)
        needs_input = kind in _NEEDS_INPUT_LAYERS
        needs_output = kind in _NEEDS_OUTPUT_LAYERS or activation in _NEEDS_OUTPUT_ACTIVATIONS or (
            kind == "Activation" and activation in _NEEDS_OUTPUT_ACTIVATIONS)
        if needs_input:
            kept.update(id(t) for t in inputs)
        if needs_output:
            kept.update(id(t) for t in outputs)
        step = sum(bytes_of.get(id(t), 0) for t in inputs) + sum(bytes_of[id(t)] for t in outputs)
        working = max(working, step)
        rows.append((layer.name, kind, dtype, sum(_elements(t) for t in outputs), needs_input, needs_output))
    for out in _as_list(model.output):  # the loss needs the prediction
        kept.add(id(out))
    profile = ModelProfile(
        arch=arch, size=int(size), precision=precision, params=int(model.count_params()),
        kept=sum(bytes_of[t] for t in kept if t in bytes_of), working=working,
        all_outputs=sum(raw_of.values()), layers=tuple(rows),
        batch=4 * sum(_elements(t) for t in _as_list(model.input) + _as_list(model.output)),
    )
    del model
    _PROFILES[key] = profile
    return profile


# --- the estimate -----------------------------------------------------------------------------------
def optimizer_slots(optimizer: str | None) -> int:
    """Per-parameter float32 slots an optimizer keeps (2 for an unknown one, the worst case here)."""
    return OPTIMIZER_SLOTS.get(str(optimizer or "adam").lower(), 2)


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated peak GPU memory of one configuration, with its parts (bytes)."""

    arch: str
    size: int
    batch_size: int
    precision: str | None
    optimizer: str
    params: int
    weights: int
    gradients: int
    optimizer_state: int
    batch: int
    activations: int
    working: int
    workspace: int
    calibration: tuple[float, float]
    calibrated_by: str
    run_factor: float = 1.0

    @property
    def state(self) -> int:
        return self.weights + self.gradients + self.optimizer_state

    @property
    def analytic(self) -> int:
        """Uncalibrated sum of the parts (k = 1, workspace as given)."""
        return self.state + self.batch + self.activations + self.working + self.workspace

    @property
    def total(self) -> int:
        """The calibrated estimate in bytes (what budgets and shares use)."""
        k, _ = self.calibration
        body = self.state + self.batch + k * (self.activations + self.working) + self.workspace
        return int(body * self.run_factor)

    @property
    def gib(self) -> float:
        return self.total / GiB

    def to_dict(self) -> dict:
        out = asdict(self)
        out.update(total=self.total, gib=round(self.gib, 3), analytic=self.analytic)
        return out


def estimate_memory(
    arch: str,
    *,
    size: int,
    batch_size: int,
    precision: str | None = None,
    optimizer: str = "adam",
    model_options: Mapping[str, Any] | None = None,
    calibration: tuple[float, float] | None = None,
    run_factor: float = 1.0,
) -> MemoryEstimate:
    """Estimated peak GPU memory of training one configuration (see the module docstring).

    ``calibration=(k, m)`` overrides the fitted pair; ``run_factor`` multiplies the result (a sweep's
    learned factor after out-of-memory errors).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    precision = _normalise_precision(precision)
    profile = model_profile(arch, size, precision=precision, model_options=model_options)
    if calibration is not None:
        k, m = calibration
        by = "given"
    elif arch in CALIBRATION:
        k, m = CALIBRATION[arch]
        by = f"anchors ({arch})"
    else:
        k, m = GLOBAL_CALIBRATION
        by = "anchors (global)"
    p = profile.params
    return MemoryEstimate(
        arch=arch, size=int(size), batch_size=int(batch_size), precision=precision,
        optimizer=str(optimizer or "adam"), params=p,
        weights=p * 4 + (p * 2 if precision else 0),
        gradients=p * 4,
        optimizer_state=p * 4 * optimizer_slots(optimizer),
        batch=profile.batch * batch_size,
        activations=profile.kept * batch_size,
        working=profile.working * batch_size,
        workspace=int(m * profile.all_outputs),
        calibration=(float(k), float(m)), calibrated_by=by, run_factor=float(run_factor),
    )


# --- calibration --------------------------------------------------------------------------------------
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


# --- budgets and shares ---------------------------------------------------------------------------------
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
    from spaces._validate import train_config_defaults

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


# --- plan -------------------------------------------------------------------------------------------------
def _plan_configs(space) -> list[dict]:
    """TrainConfig dicts to plan: a grid's every configuration; for a sampled space every
    architecture × batch size × precision it can pick (optimizer: the one with most slots)."""
    base = lambda params: space.trial_config(params, max_epochs=1, seed=0, monitor="delta_e")  # noqa: E731
    if space.is_grid:
        return [{"_params": combo, **base(combo)} for combo in space.grid()]

    def values(name):
        p = space.params.get(name)
        if p is None:
            return None
        if p.values is not None:
            return list(p.values)
        if p.kind == "int":
            return [int(p.low), int(p.high)]
        return [p.high]

    one = {}
    for name, p in space.params.items():  # a representative in-space value of every param
        if p.values is not None:
            one[name] = p.values[-1]
        elif p.kind == "int":
            one[name] = int(p.high)
        else:
            one[name] = p.high
    if "optimizer" in space.params:
        one["optimizer"] = max(space.params["optimizer"].values, key=optimizer_slots)
    archs = values("arch") or [None]
    batches = values("batch_size") or [None]
    precisions = values("precision") or [None]
    configs = []
    for arch in archs:
        for bs in batches:
            for prec in precisions:
                params = dict(one)
                for key, value in (("arch", arch), ("batch_size", bs), ("precision", prec)):
                    if value is not None or key in space.params:
                        params[key] = value
                shown = {k: params[k] for k in ("arch", "batch_size", "precision") if k in space.params}
                configs.append({"_params": shown, **base(params)})
    return configs


def plan_space(space, *, size: int | None = None, gpu_memory: int | None = None,
               gpus_per_trial: float = 0.0) -> list[dict]:
    """One row per configuration of ``space`` (see :func:`_plan_configs`): its estimate, whether it
    fits ``gpu_memory`` (bytes per GPU; None: no limit), the largest power-of-two batch that fits and
    the GPU share a trial would ask for."""
    from spaces import SearchSpace, load_space

    space = space if isinstance(space, SearchSpace) else load_space(space)
    size = int(size or space.defaults.get("size", 128))
    defaults = _train_defaults()
    planner = TrialPlanner(space=space.to_dict(), size=size, budget=gpu_memory,
                           gpus_per_trial=gpus_per_trial or (1.0 if gpu_memory else 0.0))
    rows = []
    for i, config in enumerate(_plan_configs(space), start=1):
        shown = config.pop("_params")
        rel = _memory_relevant(config, defaults)
        est = planner.estimate(rel, rel["batch_size"])
        budget = planner.trial_budget
        fits = None if budget is None else est.total <= budget
        largest = None
        if budget is not None:
            largest = fit_batch_size(lambda b: planner.estimate(rel, b).total <= budget, rel["batch_size"])
        row = {"#": i, **{k: v for k, v in shown.items() if k not in ("arch", "batch_size", "precision", "optimizer")},
               "arch": rel["arch"], "batch_size": rel["batch_size"], "precision": rel["precision"] or "float32",
               "optimizer": rel["optimizer"], "estimate_gib": round(est.gib, 2),
               "verdict": "no limit" if fits is None else ("fits" if fits else "does not fit"),
               "fits": fits, "largest_fitting_batch": largest,
               "gpu_share": gpu_share(est.total, gpu_memory) if gpu_memory and fits else None,
               "calibration": est.calibrated_by}
        rows.append(row)
    return rows


# --- out of memory ------------------------------------------------------------------------------------
#: Text that marks an out-of-memory error: TensorFlow, XLA (JAX), CUDA, PyTorch.
OOM_MARKERS = ("ResourceExhaustedError", "RESOURCE_EXHAUSTED", "CUDA out of memory", "out of memory",
               "Out of memory", "OutOfMemoryError", "CUDA_ERROR_OUT_OF_MEMORY")


def is_out_of_memory(error: BaseException | str | None) -> bool:
    """Whether an exception (or its chain), or an error text, is an accelerator out-of-memory error."""
    seen = set()
    while isinstance(error, BaseException) and id(error) not in seen:
        seen.add(id(error))
        if type(error).__name__ in ("ResourceExhaustedError", "OutOfMemoryError") or any(
                marker in str(error) for marker in OOM_MARKERS):
            return True
        error = error.__cause__ or error.__context__
    return isinstance(error, str) and any(marker in error for marker in OOM_MARKERS)


class TrialOutOfMemory(RuntimeError):
    """A trial ran out of accelerator memory (its message says "out of memory", which the sweep's
    monitor records as status ``oom``)."""
