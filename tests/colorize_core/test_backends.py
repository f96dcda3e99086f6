"""Keras on JAX: colorize_core must work on the backend the GPU machine runs (no TensorFlow there).

Each check runs in a fresh Python process with ``KERAS_BACKEND=jax`` (Keras fixes its backend at
import). Skipped where JAX is not installed (``pip install -e ".[dev]"`` installs it).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What every JAX process of these tests runs with: CPU only, and XLA's CPU code generator at its
# lowest optimisation level (these tests check behaviour, not speed; it compiles 71 s -> 44 s for the
# nine architectures). XLA flags are part of JAX's compilation-cache key, so cache tests still match.
JAX_ENV = {
    "KERAS_BACKEND": "jax",
    "JAX_PLATFORMS": "cpu",
    "XLA_FLAGS": " ".join(filter(None, [os.environ.get("XLA_FLAGS"), "--xla_backend_optimization_level=0"])),
}

pytestmark = pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")


def _run_on_jax(script: str, *args: str, timeout: int = 600) -> dict:
    env = {**os.environ, **JAX_ENV, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.split("RESULT", 1)[1])


def test_every_architecture_trains_a_step_on_jax():
    result = _run_on_jax("""
        import json
        import keras, numpy as np
        from colorize_core.losses import get_loss
        from colorize_core.models import create_model, list_models
        from colorize_core.optimizers import get_optimizer
        assert keras.backend.backend() == "jax"
        import sys
        assert "tensorflow" not in sys.modules, "colorize_core imported TensorFlow under JAX"
        rng = np.random.default_rng(0)
        out = {}
        for arch in list_models():
            model = create_model(arch, 16)
            head = model.output_shape
            x = rng.random((4, 16, 16, 1), dtype=np.float32)
            if head[-1] == 2:
                y = rng.random((4,) + tuple(head[1:]), dtype=np.float32)
                loss = get_loss("ciede2000")  # our own loss (keras.ops only), so JAX differentiates it
            else:  # classification: soft targets over the ab bins
                y = rng.random((4,) + tuple(head[1:]), dtype=np.float32)
                y /= y.sum(-1, keepdims=True)
                loss = "categorical_crossentropy"
            model.compile(optimizer=get_optimizer("adam", learning_rate=1e-3), loss=loss)
            before = [w.copy() for w in model.get_weights()]
            value = float(model.train_on_batch(x, y))
            changed = any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
            out[arch] = {"loss": value, "changed": changed, "out": list(head[1:])}
        print("RESULT" + json.dumps(out))
    """)
    from colorize_core.models import list_models

    assert sorted(result) == sorted(list_models())
    for arch, row in result.items():
        assert row["changed"] and row["loss"] == row["loss"], (arch, row)  # weights moved, loss not NaN


def test_fit_checkpoint_resume_and_colorize_on_jax(tmp_path, cache_dir):
    """The trial path on JAX: fit with checkpoints, resume for more epochs, reload, colorize."""
    result = _run_on_jax("""
        import json, sys
        import keras, numpy as np
        from colorize_core.data import load_dataset
        from colorize_core.predict import colorize_rgb
        from colorize_core.train import fit
        data = load_dataset("demo", size=16, cache_dir=sys.argv[1])
        workdir = sys.argv[2]
        out = {}
        # the classification model: its loss, soft targets and logit decoding on top of the regression
        # path that test_sweep_runs_on_jax trains
        for arch, loss in (("unet_cls", "cls_rebalanced"),):
            config = {"arch": arch, "loss": loss, "epochs": 1, "batch_size": 16, "learning_rate": 3e-3,
                      "early_stopping_patience": None, "eval_max_pixels": 5000}
            epochs = []
            report = lambda epoch, metrics: epochs.append((epoch, metrics["delta_e"]))
            fit(config, data, report, workdir=f"{workdir}/{arch}")
            fit({**config, "epochs": 2}, data, report, workdir=f"{workdir}/{arch}")  # resumes at epoch 2
            model = keras.saving.load_model(f"{workdir}/{arch}/best.keras", compile=False)
            rgb = np.random.default_rng(0).random((40, 56, 3), dtype=np.float32)
            colour = colorize_rgb(model, rgb)
            out[arch] = {"epochs": [e for e, _ in epochs], "delta_e": [d for _, d in epochs],
                         "shape": list(colour.shape), "finite": bool(np.isfinite(colour).all())}
        print("RESULT" + json.dumps(out))
    """, str(cache_dir), str(tmp_path))
    for arch, row in result.items():
        assert row["epochs"] == [1, 2], (arch, row)  # the second fit continued, it did not start over
        assert row["shape"] == [40, 56, 3] and row["finite"], (arch, row)
        assert all(0 < d < 100 for d in row["delta_e"]), (arch, row)


_FIT_COUNTING_CACHE_HITS = """
    import json, sys
    import jax
    hits = []
    jax.monitoring.register_event_listener(
        lambda event, **kw: hits.append(event) if event == "/jax/compilation_cache/cache_hits" else None)
    from colorize_core._backend import use_compilation_cache
    assert use_compilation_cache(sys.argv[2]) == "jax"
    from colorize_core.data import load_dataset
    from colorize_core.train import fit
    data = load_dataset("demo", size=16, cache_dir=sys.argv[1])
    records = []
    fit({"arch": "unet", "epochs": 2, "batch_size": 8, "learning_rate": float(sys.argv[3]), "loss": "ciede2000",
         "lr_schedule": "cosine", "rebalance": float(sys.argv[4]), "seed": int(sys.argv[5]), "samples_per_epoch": 24,
         "output_activation": "sigmoid", "eval_max_pixels": 2000}, data, lambda epoch, metrics: records.append(metrics))
    print("RESULT" + json.dumps({"hits": len(hits), "records": records}))
"""


def test_a_second_trial_of_a_structure_in_another_process_compiles_nothing(tmp_path, cache_dir):
    """What every trial on a machine shares through the compilation cache: a second process fitting the
    same structure (architecture, optimizer, loss, batch size) with another learning rate, seed and
    rebalancing compiles 0 programs; it loads them all from the cache. Counted by the fit's own
    records (compiled_programs, cached_programs), which the hits JAX reports confirm."""
    compiled = tmp_path / "compile_cache"
    first = _run_on_jax(_FIT_COUNTING_CACHE_HITS, str(cache_dir), str(compiled), "1e-3", "0.0", "0")
    assert first["hits"] == 0
    last = first["records"][-1]
    assert last["compiled_programs"] > 0 and last["cached_programs"] == 0 and last["compile_s"] > 0, last
    assert first["records"][0]["compiled_programs"] == last["compiled_programs"]  # epoch 2 compiled nothing new
    assert any(compiled.iterdir()), "the first process wrote no compiled program to the cache"
    assert not [p for p in compiled.iterdir() if p.name.endswith(".tmp")]  # written whole (renamed into place)
    second = _run_on_jax(_FIT_COUNTING_CACHE_HITS, str(cache_dir), str(compiled), "3e-4", "0.25", "7")
    again = second["records"][-1]
    assert again["compiled_programs"] == 0, again
    assert again["cached_programs"] == second["hits"] == last["compiled_programs"], (again, second["hits"], last)
    assert 0 < again["elapsed_s"] and again["compile_s"] < last["compile_s"]


@pytest.mark.slow
def test_sweep_runs_on_jax(tmp_path, cache_dir):
    """`colorsweep run` with Keras on JAX, as on the GPU machine: trials train and are ranked."""
    env = {**os.environ, **JAX_ENV, "COLORSWEEP_CACHE": str(cache_dir)}
    proc = subprocess.run(
        [sys.executable, "-m", "search.cli", "run", "smoke", "--data", "demo", "--size", "16", "--trials", "2",
         "--max-epochs", "1", "--num-cpus", "2", "--storage", str(tmp_path), "--name", "jax", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    from search.records import load_records, load_sweep_info

    info = load_sweep_info(tmp_path / "jax")
    assert info.versions["keras_backend"] == "jax"
    records = load_records(tmp_path / "jax")
    assert len(records) == 2 and all(r.status in ("completed", "stopped") for r in records), \
        [(r.status, r.error) for r in records]
    assert all(r.history and 0 < r.history[-1]["delta_e"] < 100 for r in records)
    shared = list((cache_dir / "compile").glob("jax-*"))  # this machine's cache, beside the data cache
    assert shared and any(shared[0].iterdir()), "trials did not share a compilation cache"
    assert all(r.history[-1]["compiled_programs"] + r.history[-1]["cached_programs"] > 0 for r in records)


def test_cosine_learning_rate_is_the_rate_jax_trains_with(cache_dir):
    """JAX keeps the optimizer's variables in its own state during an epoch and writes them back at
    its end: the rate the cosine schedule sets at each epoch's start must be the one that trains (read
    back after the epoch), and must change what the epoch does."""
    result = _run_on_jax("""
        import json, sys
        from colorize_core.data import load_dataset
        from colorize_core.train import fit
        data = load_dataset("demo", size=16, cache_dir=sys.argv[1])
        config = {"arch": "basic", "epochs": 3, "batch_size": 16, "learning_rate": 1e-3, "min_lr": 1e-6,
                  "early_stopping_patience": None, "eval_max_pixels": 2000, "seed": 0}
        out = {}
        for schedule in ("cosine", "plateau"):
            seen = []
            fit({**config, "lr_schedule": schedule}, data, lambda e, m: seen.append((m["lr"], m["delta_e"])))
            out[schedule] = seen
        print("RESULT" + json.dumps(out))
    """, str(cache_dir))
    from colorize_core.optimizers import cosine_learning_rate

    cosine, plateau = result["cosine"], result["plateau"]
    assert [lr for lr, _ in cosine] == pytest.approx([cosine_learning_rate(e, 3, 1e-3, 1e-6) for e in range(3)],
                                                     rel=1e-5)
    assert [lr for lr, _ in plateau] == pytest.approx([1e-3] * 3, rel=1e-5)
    assert cosine[0][1] == pytest.approx(plateau[0][1], rel=1e-4)  # same seed, same first epoch at 1e-3
    assert cosine[2][1] != plateau[2][1]  # the lower rates of epochs 2 and 3 trained differently


def test_ciede2000_gradient_is_finite_on_jax_where_a_grey_pixel_is_predicted_grey():
    """On JAX a grey truth predicted grey made the loss's gradient NaN (c**7 underflowed to 0 under a
    sqrt), and one such pixel in a batch trained every weight of the model to NaN."""
    result = _run_on_jax("""
        import json
        import jax, jax.numpy as jnp, numpy as np
        from colorize_core import color
        from colorize_core.losses import get_loss
        rng = np.random.default_rng(0)
        y_true = rng.uniform(0, 1, (3, 4, 4, 2)).astype(np.float32)
        y_pred = rng.uniform(0, 1, (3, 4, 4, 2)).astype(np.float32)
        y_true[0] = y_pred[0] = color.AB_NEUTRAL_ENCODED  # a grey photo, predicted grey
        y_pred[1] = y_true[1]  # a perfect prediction
        loss = get_loss("ciede2000")
        gradient = np.asarray(jax.grad(lambda p: loss(jnp.asarray(y_true), p))(jnp.asarray(y_pred)))
        print("RESULT" + json.dumps({"finite": bool(np.isfinite(gradient).all()),
                                     "largest": float(np.abs(gradient[np.isfinite(gradient)]).max())}))
    """)
    assert result["finite"], "NaN or inf in the ciede2000 gradient on JAX"
    assert 0 < result["largest"] < 1e5
