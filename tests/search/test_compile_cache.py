"""The compilation cache a sweep's trials share (RUN_DIR/compile_cache): where it is, and that
TensorFlow's XLA writes its programs there. The JAX side, cache hits in a fresh process included, is
tested in tests/colorize_core/test_backends.py."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from search.sweep import COMPILE_CACHE_ENV, compile_cache_dir

ROOT = Path(__file__).resolve().parents[2]


def test_the_cache_is_in_the_run_directory_unless_the_environment_says_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv(COMPILE_CACHE_ENV, raising=False)
    assert compile_cache_dir(tmp_path / "run") == str(tmp_path / "run" / "compile_cache")
    monkeypatch.setenv(COMPILE_CACHE_ENV, str(tmp_path / "shared"))
    assert compile_cache_dir(tmp_path / "run") == str((tmp_path / "shared").resolve())
    monkeypatch.setenv(COMPILE_CACHE_ENV, "off")
    assert compile_cache_dir(tmp_path / "run") is None


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="TensorFlow is not installed")
def test_tensorflow_keeps_xla_programs_in_the_cache(tmp_path, cache_dir):
    """Where Keras on TensorFlow compiles with XLA (GPUs; forced here on CPU), the programs land in the
    cache folder, for the next trial's process to load."""
    script = textwrap.dedent("""
        import json, os, sys
        from colorize_core._backend import use_compilation_cache
        assert use_compilation_cache(sys.argv[2]) == "tensorflow"
        from colorize_core.data import load_dataset
        from colorize_core.train import fit
        data = load_dataset("demo", size=16, cache_dir=sys.argv[1])
        fit({"arch": "basic", "epochs": 1, "batch_size": 16, "jit_compile": True, "eval_max_pixels": 2000},
            data, lambda epoch, metrics: None)
        print("RESULT" + json.dumps({"flags": os.environ.get("TF_XLA_FLAGS", "")}))
    """)
    compiled = tmp_path / "compile_cache"
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "PYTHONPATH": str(ROOT), "TF_XLA_FLAGS": "--tf_xla_auto_jit=0"}
    proc = subprocess.run([sys.executable, "-c", script, str(cache_dir), str(compiled)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    flags = json.loads(proc.stdout.split("RESULT", 1)[1])["flags"]
    assert flags.startswith("--tf_xla_auto_jit=0 "), flags  # the user's own flags are kept
    programs = list(compiled.glob("xla_compile_cache__*"))
    assert programs, f"no XLA program in {compiled}: {sorted(p.name for p in compiled.glob('*'))}"
