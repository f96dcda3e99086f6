"""search: the only package that imports Ray and Optuna.

The sweep driver (:func:`run_sweep`), the trainable adapter around ``colorize_core.train.fit``,
trial records and the ``colorsweep`` command line. Import-light: Ray is loaded when a sweep starts.
"""

from search.records import TrialRecord, load_records, load_sweep_info, rank_records
from search.sweep_info import SweepInfo

__all__ = ["run_sweep", "SweepResult", "SweepInfo", "TrialRecord", "load_records", "load_sweep_info", "rank_records"]


def __getattr__(name):
    if name in ("run_sweep", "SweepResult"):
        from search import sweep

        return getattr(sweep, name)
    raise AttributeError(f"module 'search' has no attribute {name!r}")
