"""colorize_core: the colorization library every colorsweep trial runs.

Knows nothing of Ray or Optuna. Modules: ``color`` (Lab conventions), ``data`` (load, validate,
split, cache), ``models`` (registry), ``losses`` / ``optimizers`` (by name), ``metrics``,
``train`` (fit one configuration), ``predict`` (full-resolution colorization).
"""

__version__ = "0.1.0"
