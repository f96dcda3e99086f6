"""Estimating the peak GPU memory of training one configuration, part by part.

A configuration is an architecture, input size, batch size, precision and optimizer. The parts:

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
come out right (see :data:`~search.memory.anchors.CALIBRATION_NOTES`).

``estimate = state + batch + k × batch_size × (kept + working set) + m × all activations``, times a
per-run factor learned from out-of-memory errors (:class:`~search.memory.calibration.RunCalibration`).
``k`` and ``m`` are fitted per architecture to the measured peaks in ``shared/design/anchors.md``
(:data:`~search.memory.anchors.ANCHORS`), with a global pair for any other architecture.
:data:`~search.memory.anchors.CALIBRATION_NOTES` has the fit and its residuals.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

from colorize_core.errors import InvalidValueError
from search.memory.anchors import CALIBRATION, GLOBAL_CALIBRATION
from search.memory.profile import _normalise_precision, model_profile
from search.memory.units import GiB

__all__ = ["OPTIMIZER_SLOTS", "optimizer_slots", "MemoryEstimate", "estimate_memory"]

#: Optimizer slots (per-parameter float32 state) of the optimizers in ``colorize_core.optimizers``.
OPTIMIZER_SLOTS = {"adam": 2, "adamw": 2, "rmsprop": 1, "sgd": 1}


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
        raise InvalidValueError(f"batch_size must be a positive int, got {batch_size!r}")
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
