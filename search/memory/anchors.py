"""The measured peak-memory anchors and the constants fitted to them (data only).

Kept apart from :mod:`search.memory.calibration` (which re-exports them) so that the estimate can read
the fitted pairs while the fit itself, which runs the estimate, imports the estimate.
"""

from __future__ import annotations

__all__ = ["F32_ACTIVATION_FACTOR", "ANCHORS", "ANCHOR_EXTRAS", "CALIBRATION", "GLOBAL_CALIBRATION",
           "CALIBRATION_NOTES"]

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
