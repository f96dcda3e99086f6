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


def test_one_cache_per_machine_named_by_versions_chosen_by_flag_or_environment(tmp_path, monkeypatch):
    from colorize_core.compile_cache import MACHINE_CACHE, compile_cache_folder, resolve_compile_cache, version_tag

    monkeypatch.delenv(COMPILE_CACHE_ENV, raising=False)
    monkeypatch.setenv("COLORSWEEP_CACHE", str(tmp_path / "user-cache"))
    assert resolve_compile_cache() == MACHINE_CACHE
    machine = compile_cache_folder(MACHINE_CACHE, "jax")
    assert machine.parent == tmp_path / "user-cache" / "compile"  # beside the data cache, not in a run
    assert machine.name.startswith("jax-") and "jaxlib-" in machine.name and "keras-" in machine.name
    assert compile_cache_folder(MACHINE_CACHE, "tensorflow").name == version_tag("tensorflow") != machine.name
    assert compile_cache_dir(tmp_path / "run") == str(compile_cache_folder(MACHINE_CACHE))
    monkeypatch.setenv(COMPILE_CACHE_ENV, str(tmp_path / "shared"))
    assert compile_cache_folder(resolve_compile_cache(), "jax") == (tmp_path / "shared").resolve() / machine.name
    assert resolve_compile_cache("off") is None  # the flag beats the environment
    monkeypatch.setenv(COMPILE_CACHE_ENV, "off")
    assert compile_cache_dir(tmp_path / "run") is None and compile_cache_folder(None) is None


def test_a_cache_others_could_write_is_refused_with_the_fix(tmp_path):
    from colorize_core.compile_cache import UntrustedCompileCache, prepare_compile_cache

    folder = prepare_compile_cache(tmp_path / "cc" / "jax-x")
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    (folder / "program-cache").write_bytes(b"x")
    os.chmod(folder / "program-cache", 0o666)
    with pytest.raises(UntrustedCompileCache, match="writable by other users.*chmod go-w .*program-cache"):
        prepare_compile_cache(folder)
    os.chmod(folder / "program-cache", 0o600)
    os.chmod(folder, 0o770)
    with pytest.raises(UntrustedCompileCache, match="chmod go-w"):
        prepare_compile_cache(folder)
    os.chmod(folder, 0o700)
    prepare_compile_cache(folder)  # fixed: accepted
    if os.geteuid() == 0:  # only root can give a file away
        os.chown(folder / "program-cache", 12345, 12345)
        with pytest.raises(UntrustedCompileCache, match="belongs to another user"):
            prepare_compile_cache(folder)


def test_a_sweep_refuses_an_untrusted_cache_before_any_trial(tmp_path, monkeypatch, capsys, cache_dir):
    from search.cli import main

    monkeypatch.setenv(COMPILE_CACHE_ENV, "machine")  # --compile-cache sets it: put back after the test
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    code = main(["run", "smoke", "--data", "demo", "--size", "16", "--trials", "1", "--max-epochs", "1",
                 "--storage", str(tmp_path / "runs"), "--name", "r", "--compile-cache", str(shared)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"chmod go-w {shared}" in err and "Traceback" not in err
    assert not list((tmp_path / "runs").rglob("trial_*"))  # no trial started


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
