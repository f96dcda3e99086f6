"""The model registry: every architecture a trial can train, built by name.

>>> from colorize_core.models import create_model, list_models
>>> model = create_model("classic", 128, output_activation="sigmoid")

Every regression model (``model_info(name).head == "regression"``) maps encoded L
``(input_size, input_size, 1)`` to encoded ab ``(input_size, input_size, 2)`` (conventions in
:mod:`colorize_core.color`); every classification model (``head == "classification"``) maps it to Q
ab-bin logits at ¼ size (:mod:`colorize_core.classification`). ``input_size`` is a positive multiple of 8. Options common
to all models: ``output_activation`` = ``"original"`` (default: the architecture's own final
activation, see :func:`model_info`), ``"sigmoid"`` (the fix that matches the [0, 1] target) or
``"linear"``. Architecture-specific options (``l1`` of ``large_kernel``; ``base_filters``, ``depth``,
``upsampling`` of ``unet``) are listed by ``model_info(name).options``.

Regularisation penalties (``large_kernel``'s ``l1``) are not part of the output: Keras keeps them in
``model.losses`` and adds them to the compiled ``loss``; track the data loss with a separate metric.

Models: the study's six (``family="study"``, :mod:`.study`), ``unet`` (``family="modern"``), and
the classification variants ``richard_zhang_cls`` and ``unet_cls`` (``family="classification"``,
:mod:`.classifiers`).
Add one with :func:`register_model`. Backend-neutral Keras 3 (TensorFlow or JAX).
"""

from ._common import AB_CONV, AB_LOGITS, OUTPUT_ACTIVATIONS
from .registry import HEADS, INPUT_MULTIPLE, ModelInfo, create_model, is_model, list_models, model_info, register_model
from .summary import DEFAULT_PARAMS, count_params, default_param_count

# Registers the `cls_rebalanced` loss with Keras when Keras is already imported, so that importing
# this package after Keras is enough to load a saved, compiled classification model
# (keras.saving.load_model(..., compile=True)); building a model registers it too. Without Keras
# imported, this package stays light: naming models needs no backend.
import sys as _sys  # noqa: E402  isort: skip

from colorize_core import losses as _losses  # noqa: E402  isort: skip

if "keras" in _sys.modules:
    _losses.register_custom_objects()

# Importing the architecture modules registers them.
from . import study as _study  # noqa: E402,F401  isort: skip
from . import unet as _unet  # noqa: E402,F401  isort: skip
from . import classifiers as _classifiers  # noqa: E402,F401  isort: skip

__all__ = [
    "DEFAULT_PARAMS",
    "default_param_count",
    "AB_CONV",
    "AB_LOGITS",
    "HEADS",
    "OUTPUT_ACTIVATIONS",
    "INPUT_MULTIPLE",
    "ModelInfo",
    "count_params",
    "create_model",
    "is_model",
    "list_models",
    "model_info",
    "register_model",
]
