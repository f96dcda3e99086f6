"""search.best: export with a model card, load in a fresh process, colorize at full size, fine-tune.

The run directory is built by hand with the real layout (see /tmp/runs/* from `colorsweep run`):
``sweep.json``, ``baselines.json``, ``trials.json`` and Ray trial folders with ``result.json`` and
``checkpoint_NNNNNN/{best,last}.keras + state.json`` written by ``colorize_core.train.fit``. Trial
``aaaa0001`` (basic, 2 epochs) has a checkpoint; trial ``bbbb0002`` reported a worse epoch but has none.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from search import best

TRIAL_A, TRIAL_B = "aaaa0001", "bbbb0002"
PARAMS_A = {"arch": "basic", "optimizer": "adam", "loss": "mse", "learning_rate": 0.003, "batch_size": 16,
            "output_activation": "original"}
PARAMS_B = {**PARAMS_A, "arch": "classic", "learning_rate": 0.009}
RAY_EXTRAS = {"timestamp": 0, "done": False, "training_iteration": 1, "trial_id": "x", "pid": 1,
              "hostname": "h", "node_ip": "127.0.0.1", "checkpoint_dir_name": None, "should_checkpoint": True}


def _trial_dir_name(trial_id: str, index: int, params: dict) -> str:
    text = ",".join(f"{k}={params[k]}" for k in sorted(params))
    return f"colorize_trial_{trial_id}_{index}_{text}_2026-01-01_00-00-0{index}"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, demo16):
    """A finished two-trial run directory of the smoke space on the demo data at 16 px."""
    from colorize_core.train import fit
    from search.sweep import baseline_metrics_for, package_versions
    from spaces import load_space

    root = tmp_path_factory.mktemp("runs") / "fake"
    root.mkdir()
    space = load_space("smoke")
    info = {
        "name": "fake", "run_dir": str(root), "space": space.to_dict(),
        "data": {"source": "demo", "fingerprint": demo16.fingerprint, "size": 16, "lab_mode": demo16.lab_mode,
                 "pool_side": demo16.pool.side,
                 "split": [len(demo16.train), len(demo16.val), len(demo16.test)], "skipped": 0,
                 "cache_path": demo16.cache_path},
        "trials": 2, "max_epochs": 2, "metric": "delta_e", "mode": "min", "seed": 0,
        "versions": package_versions(), "command_line": "colorsweep run smoke ...", "created": "2026-01-01T00:00:00",
    }
    (root / "sweep.json").write_text(json.dumps(info, indent=1))
    (root / "baselines.json").write_text(json.dumps(baseline_metrics_for(demo16), indent=1))

    dir_a, dir_b = _trial_dir_name(TRIAL_A, 1, PARAMS_A), _trial_dir_name(TRIAL_B, 2, PARAMS_B)
    trials = {
        TRIAL_A: {"params": PARAMS_A, "status": "completed", "max_epochs": 2, "trial_dir": dir_a, "epochs": 2},
        TRIAL_B: {"params": PARAMS_B, "status": "stopped", "max_epochs": 2, "trial_dir": dir_b, "epochs": 1},
    }
    (root / "trials.json").write_text(json.dumps(trials, indent=1))

    rows = []
    config = space.trial_config(PARAMS_A, max_epochs=2, seed=0, monitor="delta_e")
    (root / dir_a).mkdir()
    fit(config, demo16, lambda epoch, values: rows.append({**values, **RAY_EXTRAS, "trial_id": TRIAL_A}),
        workdir=root / dir_a / "checkpoint_000001")
    (root / dir_a / "result.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / dir_b).mkdir()  # reported one (worse) epoch, its checkpoint is gone
    worse = {**rows[0], "epoch": 1, "delta_e": rows[0]["delta_e"] + 50.0, "trial_id": TRIAL_B}
    (root / dir_b / "result.json").write_text(json.dumps(worse) + "\n")
    return root


@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory) -> Path:
    return best.export_model(run_dir, rank=1, out=tmp_path_factory.mktemp("export") / "model")


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    """The astronaut photo resized to 640x427 (width x height), saved as JPEG."""
    from skimage import data

    rgb = cv2.resize(data.astronaut(), (640, 427), interpolation=cv2.INTER_AREA)
    path = tmp_path_factory.mktemp("photos") / "astronaut.jpg"
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def _checkpoint(run_dir: Path) -> Path:
    return next(run_dir.glob(f"colorize_trial_{TRIAL_A}_*")) / "checkpoint_000001"


# -- export ----------------------------------------------------------------------------------------------
def test_export_writes_model_and_a_complete_card(run_dir, exported):
    ckpt = _checkpoint(run_dir)
    assert (exported / "model.keras").read_bytes() == (ckpt / "best.keras").read_bytes()
    card = json.loads((exported / "model_card.json").read_text())
    state = json.loads((ckpt / "state.json").read_text())

    assert card["config"]["arch"] == "basic" and card["config"]["learning_rate"] == PARAMS_A["learning_rate"]
    assert card["config"]["monitor"] == "delta_e" and card["config"]["batch_size"] == 16
    assert card["best_epoch"] == state["best_epoch"] and card["epochs_trained"] == 2
    best_row = state["history"][state["best_epoch"] - 1]
    assert card["validation"]["metrics"]["delta_e"] == pytest.approx(best_row["delta_e"])
    assert set(card["validation"]["metrics"]) >= {"ab_mse", "delta_e", "psnr", "auc", "gain_vs_gray"}
    assert card["validation"]["baselines"] == json.loads((run_dir / "baselines.json").read_text())
    sweep = json.loads((run_dir / "sweep.json").read_text())
    assert card["data"]["fingerprint"] == sweep["data"]["fingerprint"]
    assert card["data"]["source"] == "demo" and card["data"]["size"] == 16 and card["data"]["lab_mode"] == "float"
    pre = card["preprocessing"]
    assert pre["input"]["function"] == "colorize_core.color.encode_l" and "L / 100" in pre["input"]["encoding"]
    assert pre["output"]["function"] == "colorize_core.color.decode_ab" and "(ab + 128) / 255" in pre["output"]["encoding"]
    assert "D65" in pre["color_space"] and len(pre["full_resolution"]) >= 4
    assert card["input_size"] == 16 and card["source"]["trial_id"] == TRIAL_A and card["source"]["rank"] == 1
    assert card["source"]["run_dir"] == str(run_dir.resolve()) and card["exported"]
    assert card["versions"]["exported_with"]["keras"] and card["versions"]["trained_with"]["keras"]
    assert card["custom_objects"] == []
    md = (exported / "model_card.md").read_text()
    for needed in (sweep["data"]["fingerprint"], "encode_l", "decode_ab", "baseline: gray", TRIAL_A, "delta_e"):
        assert needed in md


def test_rank_that_does_not_exist_or_has_no_checkpoint_is_an_error(run_dir, tmp_path):
    with pytest.raises(ValueError, match=r"rank 3 does not exist: .* 2 ranked trial\(s\)"):
        best.export_model(run_dir, rank=3, out=tmp_path / "x")
    with pytest.raises(ValueError, match=rf"{TRIAL_B} \(rank 2 .*no checkpoint.*trials with checkpoints: rank 1 \({TRIAL_A}\)"):
        best.export_model(run_dir, rank=2, out=tmp_path / "y")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_cli_export_rank_error_exits_2_with_the_message(run_dir, tmp_path, capsys):
    from search.cli import main

    assert main(["export", str(run_dir), "--rank", "5", "--out", str(tmp_path / "o")]) == 2
    assert "rank 5 does not exist" in capsys.readouterr().err


def test_every_architecture_saves_with_builtin_keras_objects_only(tmp_path):
    from colorize_core.losses import get_loss
    from colorize_core.models import create_model, list_models

    for name in list_models():
        model = create_model(name, 16)
        model.compile(optimizer="adam", loss=get_loss("huber"))
        path = tmp_path / f"{name}.keras"
        model.save(path)
        assert best.unregistered_objects(path) == [], name


def test_unregistered_objects_flags_custom_and_lambda_layers(tmp_path):
    import keras

    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2)(inputs))
    path = tmp_path / "lambda.keras"
    model.save(path)
    assert best.unregistered_objects(path) == ["keras.layers.Lambda"]


def test_load_exported_accepts_folder_file_and_run_dir(run_dir, exported):
    folder = best.load_exported(exported)
    file = best.load_exported(exported / "model.keras")
    from_run = best.load_exported(run_dir)
    reference = best.load_exported(_checkpoint(run_dir) / "best.keras")
    for model in (folder, file, from_run):
        assert model.input_shape == (None, 16, 16, 1)
        for got, want in zip(model.get_weights(), reference.get_weights()):
            np.testing.assert_array_equal(got, want)
    with pytest.raises(FileNotFoundError, match="neither an exported model folder"):
        best.load_exported(run_dir.parent)


# -- colorize ---------------------------------------------------------------------------------------------
def test_fresh_process_loads_the_export_and_colorizes_a_640x427_photo(exported, photo, tmp_path):
    script = textwrap.dedent("""
        import json, sys
        import keras
        plain = keras.saving.load_model(sys.argv[1] + "/model.keras", compile=False)  # Keras alone
        assert not [m for m in sys.modules if m.split(".")[0] in ("colorize_core", "search", "spaces")]
        from search.best import colorize_paths, load_exported
        model = load_exported(sys.argv[1])
        result = colorize_paths(model, [sys.argv[2]], out_dir=sys.argv[3], progress=False)
        print("RESULT" + json.dumps(result))
    """)
    out_dir = tmp_path / "out"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", script, str(exported), str(photo), str(out_dir)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.split("RESULT", 1)[1])
    assert result["written"] == 1 and result["skipped"] == 0
    written = out_dir / "astronaut.jpg"
    assert result["outputs"][0]["output"] == str(written)
    image = cv2.imread(str(written))
    assert image.shape == (427, 640, 3)
    # full resolution: the output keeps the input's own lightness (not an upscaled 16 px image)
    lum_in = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2Lab)[..., 0].astype(float)
    lum_out = cv2.cvtColor(image, cv2.COLOR_BGR2Lab)[..., 0].astype(float)
    assert np.mean(np.abs(lum_in - lum_out)) < 6.0
    blurred = cv2.resize(cv2.resize(lum_in, (16, 16), interpolation=cv2.INTER_AREA), (640, 427))
    assert np.mean(np.abs(blurred - lum_out)) > 2 * np.mean(np.abs(lum_in - lum_out))


def test_colorize_folder_skips_a_corrupt_file_and_keeps_names_and_sizes(exported, photo, tmp_path, capsys):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.jpg").write_bytes(photo.read_bytes())
    small = cv2.resize(cv2.imread(str(photo)), (50, 30))
    cv2.imwrite(str(folder / "sub" / "b.png"), small)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    model = best.load_exported(exported)

    result = best.colorize_paths(model, [folder], out_dir=tmp_path / "out", progress=True)
    assert result["written"] == 2 and result["skipped"] == 1
    assert result["skipped_files"][0]["path"].endswith("broken.jpg") and result["skipped_files"][0]["reason"]
    assert cv2.imread(str(tmp_path / "out" / "a.jpg")).shape == (427, 640, 3)
    assert cv2.imread(str(tmp_path / "out" / "sub" / "b.png")).shape == (30, 50, 3)
    assert not (tmp_path / "out" / "broken.jpg").exists()
    err = capsys.readouterr().err
    assert "skipped" in err and "broken.jpg" in err and "3/3" in err  # message + progress bar

    side = best.colorize_paths(model, [folder / "sub" / "b.png"], out_dir=tmp_path / "cmp", compare=True, progress=False)
    assert side["written"] == 1 and cv2.imread(str(tmp_path / "cmp" / "b.png")).shape == (30, 100, 3)


def test_export_fits_the_colour_strength_that_colorize_uses_unless_chroma_is_given(
        run_dir, exported, photo, demo16, tmp_path, capsys):
    """The strongest colours that cost no validation accuracy (search.best.strength), fitted at export,
    written in the card, and what `colorsweep colorize` uses by default."""
    import shutil

    from colorize_core.predict import predict_ab
    from search.best.strength import fit_colour_strength
    from search.cli import main

    card = json.loads((exported / "model_card.json").read_text())
    strength = card["colour_strength"]
    model = best.load_exported(exported)
    expected = fit_colour_strength(demo16.val.lightness, demo16.val.ab, predict_ab(model, demo16.val.lightness),
                                   max_pixels=card["config"]["eval_max_pixels"], seed=card["config"]["seed"])
    assert strength["chroma"] == expected["chroma"] and strength["delta_e"] == pytest.approx(expected["delta_e"])
    assert strength["delta_e"][f"{strength['chroma']:g}"] <= strength["delta_e"]["1"]
    assert "## Colour strength" in (exported / "model_card.md").read_text()

    fitted = best.colorize_paths(exported, [photo], out_dir=tmp_path / "fitted", progress=False)
    assert fitted["chroma"] == strength["chroma"] and fitted["chroma_from"] == "fitted"
    explicit = best.colorize_paths(exported, [photo], out_dir=tmp_path / "explicit", chroma=strength["chroma"],
                                   progress=False)
    assert explicit["chroma_from"] == "given"
    assert (tmp_path / "fitted" / photo.name).read_bytes() == (tmp_path / "explicit" / photo.name).read_bytes()
    own = best.colorize_paths(exported, [photo], out_dir=tmp_path / "own", chroma=1, progress=False)
    assert own["chroma"] == 1.0 and own["chroma_from"] == "given"
    assert main(["colorize", str(exported), str(photo), "--out", str(tmp_path / "cli"), "--quiet"]) == 0
    assert f"at chroma {strength['chroma']:g} (its colour strength, fitted on validation" in capsys.readouterr().out

    # a run directory: fitted now, the same strength as its export's
    assert best.colorize_paths(run_dir, [photo], out_dir=tmp_path / "run", progress=False)["chroma"] == strength["chroma"]
    # an export made before colour strengths existed colours with the model's own colours
    old = tmp_path / "old-export"
    shutil.copytree(exported, old)
    old_card = json.loads((old / "model_card.json").read_text())
    del old_card["colour_strength"]
    (old / "model_card.json").write_text(json.dumps(old_card))
    result = best.colorize_paths(old, [photo], out_dir=tmp_path / "old", progress=False)
    assert result["chroma"] == 1.0 and result["chroma_from"] == "default"


def test_a_bad_chroma_is_refused_before_anything_is_loaded_or_written(exported, photo, tmp_path):
    for bad in (0, -0.5, float("nan")):
        with pytest.raises(ValueError, match="chroma must be a number > 0"):
            best.colorize_paths(exported, [photo], out_dir=tmp_path / "out", chroma=bad, progress=False)
    assert not (tmp_path / "out").exists()
    result = best.colorize_paths(exported, [photo], out_dir=tmp_path / "out", chroma=1.3, progress=False)
    assert result["written"] == 1 and result["chroma"] == 1.3


def test_cli_colorize_with_a_run_dir(run_dir, photo, tmp_path, capsys):
    from search.cli import main

    code = main(["colorize", str(run_dir), str(photo), str(tmp_path / "missing.png"), "--out", str(tmp_path / "o"), "--json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["written"] == 1 and payload["skipped"] == 1
    assert payload["skipped_files"][0]["reason"] == "not found"
    assert cv2.imread(str(tmp_path / "o" / "astronaut.jpg")).shape == (427, 640, 3)


def test_colorize_keeps_files_already_in_out_and_overwrite_replaces_them(run_dir, photo, tmp_path, capsys):
    from search.cli import main

    out = tmp_path / "o"
    out.mkdir()
    mine = out / "astronaut.jpg"
    mine.write_bytes(b"the user's own file, not an image")
    code = main(["colorize", str(run_dir), str(photo), "--out", str(out), "--quiet"])
    text = capsys.readouterr().out
    assert code == 0  # nothing to do is not a failure: a second run after an interruption ends here
    assert "colorized 0 image(s)" in text and "kept 1 output(s) already in" in text and "--overwrite" in text
    assert mine.read_bytes() == b"the user's own file, not an image"

    code = main(["colorize", str(run_dir), str(photo), "--out", str(out), "--quiet", "--overwrite", "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0 and payload["written"] == 1 and payload["kept"] == 0
    assert cv2.imread(str(mine)).shape == (427, 640, 3)


def test_cli_colorize_scales_averages_views_and_refuses_bad_ones(run_dir, photo, tmp_path, capsys):
    from search.cli import main

    code = main(["colorize", str(run_dir), str(photo), "--out", str(tmp_path / "o"), "--quiet", "--scales", "1", "2"])
    assert code == 0 and "averaging scales 1 2" in capsys.readouterr().out
    assert cv2.imread(str(tmp_path / "o" / "astronaut.jpg")).shape == (427, 640, 3)
    with pytest.raises(SystemExit) as exit_info:
        main(["colorize", str(run_dir), str(photo), "--out", str(tmp_path / "p"), "--scales", "0"])
    assert exit_info.value.code == 2 and "must be a finite number > 0" in capsys.readouterr().err
    assert main(["colorize", str(run_dir), str(photo), "--out", str(tmp_path / "p"), "--scales", "9"]) == 2
    assert "scales must be one or more numbers in (0, 8]" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()
    (tmp_path / "p").write_bytes(b"a file")
    assert main(["colorize", str(run_dir), str(photo), "--out", str(tmp_path / "p")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_an_interrupted_image_write_leaves_the_old_file_or_none(tmp_path, monkeypatch):
    from colorize_core import files
    from colorize_core.predict import write_rgb

    target = tmp_path / "out.png"
    target.write_bytes(b"previous")

    def dies_mid_write(path, write, **kwargs):
        class Half:
            def write(self, data):
                raise OSError(28, "No space left on device")
        return original(path, lambda handle: (handle.write(b"\x89PNG half"), write(Half())), **kwargs)

    original = files.write_atomic
    monkeypatch.setattr("colorize_core.predict.write_atomic", dies_mid_write)
    with pytest.raises(OSError, match="No space left"):
        write_rgb(target, np.zeros((8, 8, 3)))
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # no temporary file left behind
    with pytest.raises(OSError):
        write_rgb(tmp_path / "new.png", np.zeros((8, 8, 3)))
    assert not (tmp_path / "new.png").exists()


def test_colorize_removes_the_half_written_file_of_a_killed_run_and_nothing_else(run_dir, photo, tmp_path, capsys):
    from colorize_core import files
    from search.cli import main

    out = tmp_path / "o"
    out.mkdir()
    # A writer killed outright (kill -9) in the middle of writing the output leaves its temporary file.
    killed = subprocess.run(
        [sys.executable, "-c",
         "import os, signal; from colorize_core.files import write_atomic; "
         f"write_atomic({str(out / 'astronaut.jpg')!r}, "
         "lambda h: (h.write(b'half a jpeg'), h.flush(), os.kill(os.getpid(), signal.SIGKILL)), binary=True)"],
        cwd=Path(__file__).resolve().parents[2])
    assert killed.returncode == -9
    (left,) = out.iterdir()
    assert left.name.startswith(".astronaut.jpg.") and left.name.endswith(".tmp")
    # A temporary file of a writer that still runs (this process), and one written on another machine.
    running = out / f".other.jpg.abcd1234.{files._HOST}-{os.getpid()}.tmp"
    elsewhere = out / ".other.jpg.abcd1234.another-machine-1.tmp"
    for path in (running, elsewhere):
        path.write_bytes(b"in progress")

    code = main(["colorize", str(run_dir), str(photo), "--out", str(out), "--quiet"])
    text = capsys.readouterr().out
    assert code == 0 and "removed 1 unfinished temporary file(s)" in text and "colorized 1 image(s)" in text
    assert not left.exists()
    assert running.read_bytes() == elsewhere.read_bytes() == b"in progress"
    assert cv2.imread(str(out / "astronaut.jpg")).shape == (427, 640, 3)
    code = main(["colorize", str(run_dir), str(photo), "--out", str(out), "--quiet"])
    assert code == 0 and "removed" not in capsys.readouterr().out


# -- fine-tune --------------------------------------------------------------------------------------------
def _optimizer_iterations(path: Path) -> int:
    import keras

    model = keras.saving.load_model(path, compile=True)
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


def test_finetune_from_run_dir_continues_epochs_with_optimizer_state(run_dir, tmp_path, capsys):
    ckpt = _checkpoint(run_dir)
    state = json.loads((ckpt / "state.json").read_text())
    iterations_before = _optimizer_iterations(ckpt / "last.keras")
    assert iterations_before > 0

    result = best.finetune(run_dir, epochs=2, out=tmp_path / "ft")
    assert result["history_epochs"] == [1, 2, 3, 4]
    assert result["epochs_before"] == 2 and result["epochs_after"] == 4 and result["optimizer_state"] == "kept"
    # "before" is the checkpoint's own model scored on the same validation split
    assert result["metrics_before"]["delta_e"] == pytest.approx(state["history"][-1]["delta_e"], rel=1e-3)
    assert np.isfinite(result["metrics_after"]["delta_e"])
    if result["improved"]:
        assert result["metrics_after"]["delta_e"] < result["metrics_before"]["delta_e"]
    err = capsys.readouterr().err
    assert "before fine-tuning" in err and "after fine-tuning" in err and "epoch 3/4" in err
    # the optimizer continued: twice as many steps as the trial's two epochs
    assert _optimizer_iterations(tmp_path / "ft" / "checkpoints" / "last.keras") == 2 * iterations_before

    card = json.loads((tmp_path / "ft" / "model_card.json").read_text())
    assert card["fine_tuned_from"]["trial_id"] == TRIAL_A and card["fine_tuned_from"]["epochs_added"] == 2
    assert card["fine_tuned_from"]["metrics_before"] == result["metrics_before"]
    assert card["config"]["epochs"] == 4 and [r["epoch"] for r in card["history"]] == [1, 2, 3, 4]
    # a cosine learning rate would run its own curve over the 2 added epochs, not the end of a 4-epoch one
    assert card["config"]["lr_schedule_start"] == 2
    assert best.load_exported(tmp_path / "ft").input_shape == (None, 16, 16, 1)
    assert "Fine-tuned from" in (tmp_path / "ft" / "model_card.md").read_text()


def test_finetune_exported_model_uses_a_fresh_optimizer_and_numbers_epochs_on(exported, tmp_path, demo16):
    card = json.loads((exported / "model_card.json").read_text())
    result = best.finetune(exported, epochs=1, out=tmp_path / "ft", learning_rate=1e-4, verbose=False)
    start = card["best_epoch"]
    assert result["optimizer_state"] == "fresh" and result["epochs_before"] == start
    assert result["history_epochs"] == list(range(1, start + 2))
    assert result["config"]["learning_rate"] == 1e-4
    assert set(result["metrics_before"]) == set(result["metrics_after"]) >= {"delta_e", "ab_mse"}
    strength = json.loads((tmp_path / "ft" / "model_card.json").read_text())["colour_strength"]  # fitted again
    assert strength["delta_e"][f"{strength['chroma']:g}"] <= strength["delta_e"]["1"]
    # the fresh optimizer took exactly one epoch of steps
    assert _optimizer_iterations(tmp_path / "ft" / "checkpoints" / "last.keras") == len(demo16.train) // 16  # full batches only


def test_finetune_rejects_bad_arguments_before_training(run_dir, exported, tmp_path):
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        best.finetune(run_dir, epochs=0, out=tmp_path / "a")
    bare = tmp_path / "bare.keras"
    bare.write_bytes((exported / "model.keras").read_bytes())
    with pytest.raises(ValueError, match="bare .keras file"):
        best.finetune(bare, epochs=1, out=tmp_path / "b")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(FileExistsError, match="--overwrite"):
        best.finetune(run_dir, epochs=1, out=tmp_path / "full")
