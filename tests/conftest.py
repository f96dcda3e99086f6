"""Shared fixtures: tiny real data sets, a private cache folder, quiet TensorFlow."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

GCOMPRIS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "gcompris"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """A cache folder private to this test session (never the user's ~/.cache)."""
    path = tmp_path_factory.mktemp("colorsweep-cache")
    os.environ["COLORSWEEP_CACHE"] = str(path)
    return path


@pytest.fixture(scope="session")
def demo16(cache_dir):
    """The built-in demo data at 16x16 px."""
    from colorize_core.data import load_dataset

    return load_dataset("demo", size=16, cache_dir=cache_dir)


@pytest.fixture(scope="session")
def gcompris_dir() -> Path:
    if not GCOMPRIS.is_dir():
        pytest.skip(f"shared data set not found at {GCOMPRIS}")
    return GCOMPRIS
