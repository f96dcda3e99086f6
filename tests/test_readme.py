"""Every command README.md shows is run here, as written, on tiny settings, so a README promise
cannot break unnoticed.

The commands are read from README.md itself (fenced ``bash`` blocks, inline commands in the prose,
the Python API block); :data:`RUN_BY` says which test runs each one, and
:func:`test_every_readme_command_is_run_by_a_test` fails when README.md shows a command that no
test runs (or :data:`RUN_BY` names one README.md no longer shows). Tiny settings: the user's photo
folders become the built-in demo photos, sizes 16 px, 1 trial, 1 epoch. The two grid commands (32
trials even so, ~2.5 min) are marked ``extended``: deselected by default, run with ``-m extended``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

#: README command (exactly as written, trailing comment removed) -> the test that runs it.
RUN_BY = {
    "./run demo": "test_readme_demo_command",
    "./run test": "CI: .ci/run is this command",
    './run test -m "not slow"': "CI: the same suite, slow tests deselected",
    "KERAS_BACKEND=jax ./run test": "tests/colorize_core/test_backends.py runs colorize_core and a sweep on JAX",
    "colorsweep data inspect ~/photos": "test_readme_commands_that_need_no_sweep",
    "colorsweep run auto --data ~/photos": "test_readme_sweep_commands",
    "colorsweep run wide --data ~/photos --trials 50 --max-epochs 20 --size 128": "test_readme_sweep_commands",
    "colorsweep run seed --data ~/landscapes": "test_readme_grid_commands",
    "colorsweep resume ./colorsweep-runs/wide-20261126-101500": "test_readme_sweep_commands",
    "colorsweep resume ./colorsweep-runs/wide-20261126-101500 --trials +20": "test_readme_sweep_commands",
    "colorsweep report ./colorsweep-runs/wide-20261126-101500 --tensorboard": "test_readme_sweep_commands",
    "colorsweep export ./colorsweep-runs/wide-20261126-101500 --out best-model": "test_readme_sweep_commands",
    "colorsweep colorize best-model old-photos/ --out coloured/": "test_readme_sweep_commands",
    "colorsweep colorize best-model old-photos/ --out own/ --chroma 1": "test_readme_sweep_commands",
    "colorsweep finetune best-model --epochs 5 --data ~/more-photos --out best-model-ft": "test_readme_sweep_commands",
    "colorsweep plan seed --gpu-memory 4GiB --size 128": "test_readme_commands_that_need_no_sweep",
    "colorsweep run wide --data ~/photos --gpus-per-trial 0.25 --gpu-memory 4GiB --fit-batch": "test_readme_sweep_commands",
    "colorsweep train --arch unet --epochs 5 --size 64 --data ~/photos": "test_readme_commands_that_need_no_sweep",
    "colorsweep models --size 128": "test_readme_commands_that_need_no_sweep",
    "colorsweep spaces": "test_readme_commands_that_need_no_sweep",
    "colorsweep spaces show wide": "test_readme_commands_that_need_no_sweep",
    "colorsweep spaces show seed": "test_readme_commands_that_need_no_sweep",
    "colorsweep run my-space.yaml --data ~/photos": "test_readme_sweep_commands",
    'colorsweep run auto --data ~/photos --metric delta_e --metric colorfulness_gap --constraint "peak_memory_mb<=3500"':
        "test_readme_two_objective_commands",
    "colorsweep export ./colorsweep-runs/auto-20261129-090000 --pick knee --out balanced-model":
        "test_readme_two_objective_commands",
    "colorsweep run zhang --data ~/photos": "test_readme_grid_commands",
    "ray start --head --port=6379": "test_readme_cluster_commands",
    "ray start --address=HEAD_IP:6379": "test_readme_cluster_commands",
    "colorsweep run wide --data /shared/photos --address auto --storage /shared/colorsweep-runs": "test_readme_cluster_commands",
    "python: search.run_sweep and colorize_core.train.fit": "test_readme_python_api",
}

_COMMAND_START = re.compile(r"^(colorsweep|\./run|ray|[A-Z_]+=\S+ \./run)( |$)")


def readme_commands(text: str | None = None) -> list[str]:
    """Commands README.md shows: every line of its ``bash`` blocks (comments dropped) and every inline
    code span that is a whole command (three words or more), in order, each once; plus one entry
    for the Python API block."""
    text = README.read_text() if text is None else text
    found: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = re.split(r"\s{2,}#|^#", line)[0].strip()
            if line:
                found.append(line)
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    for span in re.findall(r"`([^`\n]+)`", prose):
        span = span.strip()
        if _COMMAND_START.match(span) and len(span.split()) >= 3 and "..." not in span:
            found.append(span)
    if "```python" in text:
        found.append("python: search.run_sweep and colorize_core.train.fit")
    return list(dict.fromkeys(found))


def commands_of(test_name: str) -> list[str]:
    """The README commands ``test_name`` runs, in README order."""
    order = readme_commands()
    return [c for c in order if RUN_BY.get(c) == test_name]


def test_every_readme_command_is_run_by_a_test():
    commands = readme_commands()
    missing = [c for c in commands if c not in RUN_BY]
    assert not missing, f"README.md shows commands no test runs; add them to RUN_BY and run them: {missing}"
    stale = [c for c in RUN_BY if c not in commands]
    assert not stale, f"RUN_BY names commands README.md no longer shows: {stale}"
    sources = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))
    for command, runner in RUN_BY.items():
        if runner.startswith("test_"):
            assert f"def {runner}(" in sources, (command, runner)


def test_the_command_list_reads_blocks_inline_spans_and_skips_comments():
    text = ("```bash\n# a comment\ncolorsweep spaces            # list them\n./run demo\n```\n"
            "Use `colorsweep spaces show seed` or `colorsweep run`.\n```python\nx = 1\n```\n")
    assert readme_commands(text) == ["colorsweep spaces", "./run demo", "colorsweep spaces show seed",
                                     "python: search.run_sweep and colorize_core.train.fit"]


# -- running them ---------------------------------------------------------------------------------------
_PHOTO_FOLDERS = ("~/photos", "~/landscapes", "~/more-photos", "/shared/photos")
_EXAMPLE_RUN = "./colorsweep-runs/wide-20261126-101500"
_TINY = {"--trials": "1", "--max-epochs": "1", "--size": "16", "--epochs": "1"}


def tiny_argv(command: str, *, run_dir: Path | None = None, grid: bool = False) -> list[str]:
    """``command`` as argv for ``search.cli.main``: photo folders -> demo, the example run directory ->
    ``run_dir``, and tiny settings (replacing the README's values, or added to run / train)."""
    words = shlex.split(command)
    assert words[0] == "colorsweep", command
    words = ["demo" if w in _PHOTO_FOLDERS else w for w in words[1:]]
    if run_dir is not None:
        words = [str(run_dir) if w == _EXAMPLE_RUN else w for w in words]
    for i, word in enumerate(words[:-1]):
        if word in _TINY and words[0] in ("run", "train", "finetune"):
            words[i + 1] = "+2" if words[i + 1].startswith("+") else _TINY[word]
    if words[0] in ("run", "train"):
        for flag in ("--max-epochs", "--size") if words[0] == "run" else ("--epochs", "--size"):
            if flag not in words:
                words += [flag, _TINY[flag]]
        if words[0] == "run" and not grid and "--trials" not in words:
            words += ["--trials", _TINY["--trials"]]
    return words


def test_tiny_argv_keeps_the_command_and_shrinks_its_settings(tmp_path):
    argv = tiny_argv("colorsweep run wide --data ~/photos --trials 50 --max-epochs 20 --size 128")
    assert argv == ["run", "wide", "--data", "demo", "--trials", "1", "--max-epochs", "1", "--size", "16"]
    argv = tiny_argv(f"colorsweep resume {_EXAMPLE_RUN} --trials +20", run_dir=tmp_path)
    assert argv == ["resume", str(tmp_path), "--trials", "+20"]  # resume: +20 is shrunk by the caller
    assert tiny_argv("colorsweep run seed --data ~/landscapes", grid=True) == [
        "run", "seed", "--data", "demo", "--max-epochs", "1", "--size", "16"]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch, cache_dir):
    """A fresh working folder, as a user's shell would have (run directories land in ./colorsweep-runs)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _main(argv: list[str], capsys) -> tuple[int, str, str]:
    from search.cli import main

    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_readme_commands_that_need_no_sweep(in_tmp, capsys):
    for command in commands_of("test_readme_commands_that_need_no_sweep"):
        argv = tiny_argv(command)
        code, out, err = _main(argv, capsys)
        assert code == 0, (command, err[-2000:])
        if argv[0] == "train":
            assert "baseline: gray" in out, out
        if argv[0] == "data":
            assert "ignored" in out and "skipped" in out
        if argv[0] == "plan":
            assert "4" in out and "GiB" in out
        if argv[:2] == ["spaces", "show"]:
            assert argv[2] in out


@pytest.fixture(scope="module")
def ray_with_a_logical_gpu():
    """One local Ray for this module's sweeps, with one logical GPU so that the README's GPU command
    schedules here too (its trials then train on the CPU; tests/search/test_memory.py does the same)."""
    import ray

    from search.sweep import _init_ray

    ray.shutdown()
    _init_ray(None, num_cpus=2, num_gpus=1)
    yield
    ray.shutdown()


def _photo_folder(path: Path) -> Path:
    from skimage import data

    path.mkdir()
    cv2.imwrite(str(path / "astronaut.jpg"), cv2.cvtColor(data.astronaut()[::2, ::2], cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(path / "coffee.png"), cv2.cvtColor(data.coffee()[::3, ::3], cv2.COLOR_RGB2BGR))
    return path


def _yaml_block() -> str:
    return re.search(r"```yaml\n(.*?)```", README.read_text(), re.S).group(1)


@pytest.mark.slow
def test_readme_sweep_commands(in_tmp, capsys, ray_with_a_logical_gpu):
    """run -> resume (nothing left) -> resume +N -> report -> export -> colorize -> finetune, then the
    GPU-memory run and a run of the README's YAML space."""
    from search.records import load_records, load_sweep_info

    _photo_folder(in_tmp / "old-photos")
    (in_tmp / "my-space.yaml").write_text(_yaml_block())
    run_dir = None
    for command in commands_of("test_readme_sweep_commands"):
        argv = tiny_argv(command, run_dir=run_dir)
        if argv[0] == "resume" and "--trials" in argv:
            argv[argv.index("--trials") + 1] = "+2"
        code, out, err = _main(argv, capsys)
        assert code == 0, (command, err[-3000:])
        if argv[:2] == ["run", "wide"] and "--gpus-per-trial" not in argv:
            run_dir = next((in_tmp / "colorsweep-runs").glob("wide-*"))
            assert len(load_records(run_dir)) == 1 and "1 trial ranked" in out
        elif argv[0] == "resume" and "--trials" in argv:  # the case: +2 on a finished sweep
            assert load_sweep_info(run_dir).trials == 3
            assert len([r for r in load_records(run_dir) if r.status in ("completed", "stopped")]) == 3
            assert "3 trials ranked" in out
            report = json.loads((run_dir / "report" / "trials.json").read_text())
            assert len(report["trials"]) == 3
            assert "3 trials" in (run_dir / "report" / "report.md").read_text()
        elif argv[0] == "resume":
            assert "nothing to resume" in err
        elif argv[0] == "report":  # one TensorBoard run per trial, and the one command to open them
            logdir = run_dir / "report" / "tensorboard"
            assert f"tensorboard --logdir {logdir}" in out
            assert len({f.parent for f in run_dir.rglob("events.out.tfevents*")}) == 3
        elif argv[0] == "export":
            assert (in_tmp / "best-model" / "model.keras").is_file()
        elif argv[0] == "colorize" and "--chroma" in argv:  # the same photos in the model's own colours
            fitted = cv2.cvtColor(cv2.imread(str(in_tmp / "coloured" / "coffee.png")), cv2.COLOR_BGR2LAB).astype(float)
            own = cv2.cvtColor(cv2.imread(str(in_tmp / "own" / "coffee.png")), cv2.COLOR_BGR2LAB).astype(float)
            own_chroma, fitted_chroma = (np.hypot(x[..., 1] - 128, x[..., 2] - 128).mean() for x in (own, fitted))
            strength = json.loads((in_tmp / "best-model" / "model_card.json").read_text())["colour_strength"]["chroma"]
            if strength > 1:  # the export's fitted strength, what the plain command used
                assert fitted_chroma > own_chroma, (strength, own_chroma, fitted_chroma)
            else:
                assert fitted_chroma == pytest.approx(own_chroma, abs=0.5), (own_chroma, fitted_chroma)
            assert "at chroma" not in out  # its own colours
            assert np.abs(fitted[..., 0] - own[..., 0]).mean() < 2  # same lightness
        elif argv[0] == "colorize":
            strength = json.loads((in_tmp / "best-model" / "model_card.json").read_text())["colour_strength"]
            # the export's fitted colour strength, said so; none for a classification model (its temperature)
            assert ("(its colour strength, fitted on validation" in out) == ("note" not in strength), strength
            assert sorted(p.name for p in (in_tmp / "coloured").iterdir()) == ["astronaut.jpg", "coffee.png"]
            assert cv2.imread(str(in_tmp / "coloured" / "astronaut.jpg")).shape[:2] == (256, 256)
        elif argv[0] == "finetune":
            assert (in_tmp / "best-model-ft" / "model.keras").is_file()
        elif "--gpus-per-trial" in argv:
            gpu_run = max((in_tmp / "colorsweep-runs").glob("wide-*"), key=lambda p: p.stat().st_mtime)
            memory = load_sweep_info(gpu_run).memory
            assert memory["budget_bytes"] == 4 * 2**30 and memory["fit_batch"] is True
        elif argv[1] == "my-space.yaml":
            assert next((in_tmp / "colorsweep-runs").glob("my-space-*"))
        elif argv[1] == "auto":  # its first trial is the space's first known-good configuration
            (auto_run,) = (in_tmp / "colorsweep-runs").glob("auto-*")
            (record,) = load_records(auto_run)
            config = {**load_sweep_info(auto_run).space["fixed"], **record.params}
            assert {k: config[k] for k in ("arch", "loss", "batch_size")} == {"arch": "unet", "loss": "ciede2000", "batch_size": 16}
            assert load_sweep_info(auto_run).space["fixed"]["samples_per_epoch"] == 512
            first_row = next(line for line in out.splitlines() if re.match(r"1\s+[0-9a-f]{8}\s", line))
            assert " unet " in first_row and " adam " in first_row  # fixed by the space, shown in the table
            assert load_sweep_info(auto_run).time_budget_s == 900


@pytest.mark.slow
def test_readme_two_objective_commands(in_tmp, capsys, ray_with_a_logical_gpu):
    """A two-objective, constrained auto sweep (1 trial, 1 epoch, 16 px: a front of one), then export of its knee."""
    from search.records import load_sweep_info

    run_dir = None
    for command in commands_of("test_readme_two_objective_commands"):
        argv = tiny_argv(command.replace("./colorsweep-runs/auto-20261129-090000", str(run_dir)))
        code, out, err = _main(argv, capsys)
        assert code == 0, (command, err[-3000:])
        if argv[0] == "run":
            (run_dir,) = (in_tmp / "colorsweep-runs").glob("auto-*")
            info = load_sweep_info(run_dir)
            assert [o["metric"] for o in info.objectives] == ["delta_e", "colorfulness_gap"]
            assert info.constraints[0]["text"] == "peak_memory_mb<=3500"
            assert "colorfulness_gap" in out.splitlines()[2] and "meets_constraints" in out
            assert "## Pareto front: delta_e and colorfulness_gap" in (run_dir / "report" / "report.md").read_text()
        else:
            card = json.loads((in_tmp / "balanced-model" / "model_card.json").read_text())
            knee = json.loads((run_dir / "report" / "trials.json").read_text())["knee"]
            assert card["source"]["picked_by"] == "knee" and card["source"]["trial_id"] == knee


@pytest.mark.slow
@pytest.mark.extended
def test_readme_grid_commands(in_tmp, capsys, ray_with_a_logical_gpu):
    """The study's grid (24 configurations, each once) and the classification grid, 1 epoch at 16 px."""
    from search.records import load_records

    for command in commands_of("test_readme_grid_commands"):
        argv = tiny_argv(command, grid=True)
        code, out, err = _main(argv, capsys)
        assert code == 0, (command, err[-3000:])
        run_dir = next((in_tmp / "colorsweep-runs").glob(f"{argv[1]}-*"))
        records = load_records(run_dir)
        expected = {"seed": 24, "zhang": 8}[argv[1]]
        assert len(records) == expected and all(r.status == "completed" for r in records), \
            [(r.trial_id, r.status_text()) for r in records]


@pytest.mark.slow
def test_readme_python_api(in_tmp, capsys, ray_with_a_logical_gpu):
    block = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    tiny = (block.replace('"~/photos"', '"demo"').replace('time_budget="2m"', 'time_budget="8s"')
            .replace("max_epochs=3", "max_epochs=2").replace("size=32", "size=16").replace("size=64", "size=16")
            .replace('"epochs": 5', '"epochs": 1'))
    assert tiny.count("demo") == 2 and "size=16" in tiny and "8s" in tiny, \
        "the README's Python block changed: update this test"
    scope: dict = {}
    exec(compile(tiny, "README.md python block", "exec"), scope)
    out = capsys.readouterr().out
    assert "colorsweep-runs" in out and "delta_e" not in out.splitlines()[0]
    assert re.search(r"^1 \d+\.\d+", out, re.M), out  # fit's callback printed epoch 1 and its delta_e
    # the time budget: trials were proposed until it was spent, none after; each ended, none cut mid-epoch
    result = scope["result"]
    from search.records import load_sweep_info

    info = load_sweep_info(result.run_dir)
    assert info.time_budget_s == 8 and info.trials is None
    assert len(result.records) >= 2 and result.complete
    assert all(r.status in ("completed", "stopped") and r.epochs >= 1 for r in result.records), \
        [(r.trial_id, r.status_text()) for r in result.records]
    assert 0 < result.budget_used_s < 8 + 60  # the deadline, then at most the current epochs


@pytest.mark.slow
def test_readme_demo_command(tmp_path):
    """`./run demo` as written (its setup already done by `./run test`), with tiny settings appended."""
    venv = Path(sys.prefix)
    if not (venv / ".colorsweep-installed").exists():
        pytest.skip(f"{venv} was not set up by ./run (no .colorsweep-installed stamp)")
    (command,) = commands_of("test_readme_demo_command")
    argv = shlex.split(command) + ["--storage", str(tmp_path), "--size", "16", "--trials", "1", "--max-epochs", "1"]
    env = {**os.environ, "COLORSWEEP_VENV": str(venv)}
    out = subprocess.run(["bash", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "1 trial ranked" in out.stdout and "baseline: gray" in out.stdout
    (run_dir,) = tmp_path.glob("demo-*")
    assert (run_dir / "report" / "report.html").is_file()
