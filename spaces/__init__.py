"""Search spaces as data: what a colorsweep sweep samples, what it fixes, and their validation.

A space is a YAML file (or the equivalent dict). Built-in ones ship in this package
(:func:`list_spaces`: ``seed``, ``smoke``, ``wide``, ``zhang``); any ``.yaml`` / ``.yml`` path works too.
``spaces`` imports neither Ray, Optuna, Keras nor TensorFlow at import time: it is data and
checks. Validation (:func:`space_from_dict`, :func:`load_space`) imports the model, optimizer and
loss registries of :mod:`colorize_core` (so Keras) to check names. The ``search`` package turns a
space into Optuna distributions or a grid.

Schema (full reference with examples in ``spaces/SCHEMA.md``)::

    name: my-space            # optional in files (defaults to the file stem); [A-Za-z0-9._-]
    description: what it compares
    grid: false               # true: every combination of the (all categorical) params runs once
    defaults:                 # sweep defaults, overridable on the command line
      max_epochs: 10          # positive int; becomes TrainConfig.epochs
      size: 64                # training image size in px, a positive multiple of 8
      trials: 20              # positive int; for grid spaces omitted or equal to the grid size
    params:                   # each key: a TrainConfig field, or model_options.<option>
      arch: {choice: [large_kernel, unet]}
      optimizer: {choice: [adam, rmsprop]}
      loss: {choice: [mse, mae]}
      learning_rate: {loguniform: [1.0e-4, 3.0e-2]}
      batch_size: {pow2: [8, 256]}        # powers of two between the bounds, inclusive
      output_activation: {choice: [original, sigmoid]}
    fixed:                    # TrainConfig fields (or model_options.<option>) for every trial
      early_stopping_patience: 5

Param kinds (exactly one per param): ``choice`` (non-empty list, no duplicates), ``uniform``
``[low, high]``, ``loguniform`` ``[low, high]`` with ``0 < low``, ``int`` ``[low, high]`` (ints),
``pow2`` ``[low, high]`` (both powers of two), ``value`` (a constant that is still reported as a
hyperparameter). Bounds are inclusive with ``low < high``. Grid spaces take only ``choice`` and
``value``.

Keys of ``params`` and ``fixed``: ``TrainConfig`` fields except ``epochs`` (from ``max_epochs``),
``seed`` and ``monitor`` (set by the sweep) and ``model_options`` itself (write
``model_options.<option>``). ``arch`` is required (in params or fixed); ``arch``, ``optimizer``,
``loss`` and ``output_activation`` are categorical and must be registered names;
``learning_rate > 0``; ``batch_size`` positive ints; ``temperature > 0`` and ``decode`` (classification
models only). Loss pairing: classification architectures (``*_cls``) always train with
``cls_rebalanced`` (:func:`resolve_loss` sets it in every trial config), so ``loss`` lists the
regression archs' losses, and a space that could pair a regression arch with ``cls_rebalanced`` is
rejected. A ``model_options.<option>`` must be accepted by
every architecture the space can pick (``colorize_core.models.model_info(arch).options``). Unknown
keys anywhere are errors, and every error is a :class:`SpaceError` (a ``ValueError``) naming the
key, the value and what is allowed.

>>> from spaces import load_space
>>> space = load_space("seed")
>>> space.grid_size
24
>>> space.trial_config(space.grid()[0], max_epochs=30, seed=0, monitor="delta_e")["learning_rate"]
0.01
"""

from ._builtin import list_spaces, load_space, space_from_yaml
from ._describe import describe_space, space_summary_rows
from ._errors import SpaceError
from ._param import CATEGORICAL_KINDS, KINDS, Param
from ._space import DEFAULT_KEYS, MODEL_OPTIONS_PREFIX, SearchSpace, resolve_loss
from ._train_config import train_config_defaults
from ._validate import DEFAULT_UPPER_BOUNDS, OUTPUT_ACTIVATIONS, TOP_LEVEL_KEYS, allowed_keys, fit_batch_sizes_to_data, parse_duration, samples_random_crops, with_fixed, space_from_dict, validate_for_data

__all__ = [
    "CATEGORICAL_KINDS",
    "DEFAULT_UPPER_BOUNDS",
    "DEFAULT_KEYS",
    "KINDS",
    "MODEL_OPTIONS_PREFIX",
    "OUTPUT_ACTIVATIONS",
    "TOP_LEVEL_KEYS",
    "Param",
    "SearchSpace",
    "SpaceError",
    "allowed_keys",
    "train_config_defaults",
    "describe_space",
    "fit_batch_sizes_to_data",
    "samples_random_crops",
    "with_fixed",
    "list_spaces",
    "parse_duration",
    "load_space",
    "resolve_loss",
    "space_from_dict",
    "space_from_yaml",
    "space_summary_rows",
    "validate_for_data",
]
