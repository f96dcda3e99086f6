"""Training one configuration: build, compile and fit a model, reporting validation metrics every epoch.

Modules, one concern each:

* :mod:`~colorize_core.train.config`: :class:`TrainConfig` (what to train) and :class:`FitResult`;
* :mod:`~colorize_core.train.fit`: :func:`fit`, what a sweep trial and ``colorsweep train`` run;
* :mod:`~colorize_core.train.state`: :class:`TrainState`, how far a fit has come (``state.json``);
* :mod:`~colorize_core.train.checkpoint`: the workdir's files (``best.keras``, ``last.keras``);
* :mod:`~colorize_core.train.callbacks`: what happens at the end of every epoch (imports Keras);
* :mod:`~colorize_core.train.compile`: building and compiling a configuration's model;
* :mod:`~colorize_core.train.batches`: training batches (shuffled crops, random crops, rebalancing);
* :mod:`~colorize_core.train.peak_memory`: the fit's peak host memory.

Importing this package does not import Keras. :func:`predict_ab` lives in :mod:`colorize_core.predict`
and is re-exported here, where it used to be.
"""

from colorize_core.predict import predict_ab
from colorize_core.train.batches import crop_batches, pixel_weighting, shuffled_batches
from colorize_core.train.checkpoint import BEST_MODEL, LAST_MODEL
from colorize_core.train.compile import build_model, compile_model, resolve_jit
from colorize_core.train.config import PRECISIONS, FitResult, ReportFn, TrainConfig
from colorize_core.train.fit import fit
from colorize_core.train.state import STATE_FILE, TrainState

# The names these helpers had when this package was one module (tests import them).
_shuffled_batches = shuffled_batches
_crop_batches = crop_batches
_pixel_weighting = pixel_weighting

__all__ = [
    "TrainConfig",
    "FitResult",
    "TrainState",
    "fit",
    "predict_ab",
    "ReportFn",
    "build_model",
    "compile_model",
    "resolve_jit",
    "STATE_FILE",
    "BEST_MODEL",
    "LAST_MODEL",
    "PRECISIONS",
]
