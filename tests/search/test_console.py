"""What the console shows: colorsweep's own words, not the backend's start-up chatter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_native_stderr_goes_to_the_log_and_comes_back(tmp_path, capfd):
    from colorize_core._backend import native_stderr_to

    log = tmp_path / "logs" / "native.log"
    with native_stderr_to(log):
        os.write(2, b"I0000 chatter from C++\n")
    os.write(2, b"after\n")
    assert log.read_text() == "I0000 chatter from C++\n"
    err = capfd.readouterr().err
    assert "after" in err and "chatter" not in err


def test_a_user_error_is_one_line_with_no_backend_lines(tmp_path):
    env = {**os.environ, "COLORSWEEP_CACHE": str(tmp_path / "cache")}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user's shell has it
    done = subprocess.run([sys.executable, "-m", "search.cli", "run", "smoke", "--data", str(tmp_path / "nonexistent")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("colorsweep: error: ") and "nonexistent" in lines[0], done.stderr
    assert done.stdout == ""
    log = tmp_path / "cache" / "logs" / "backend-start.log"
    assert log.is_file()  # the backend's own lines, kept for whoever needs them


class _Stream:
    """A text stream that says whether it is a terminal."""

    def __init__(self, tty: bool):
        self.tty, self.parts = tty, []

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> None:
        self.parts.append(text)

    def flush(self) -> None:
        pass

    @property
    def text(self) -> str:
        return "".join(self.parts)


class _Trial:
    def __init__(self, trial_id: str, **config):
        self.trial_id, self.config, self.path = trial_id, config, None


def _monitor(tmp_path, tty: bool, deadline=None):
    from search.monitor import SweepMonitor

    stream = _Stream(tty)
    return SweepMonitor(tmp_path, metric="delta_e", mode="min", max_epochs=20, stream=stream, deadline=deadline), stream


def test_piped_progress_prints_a_line_per_change_and_never_repeats_one(tmp_path):
    monitor, stream = _monitor(tmp_path, tty=False)
    a, b = _Trial("aaaa1111", arch="unet", loss="mae", learning_rate=1e-3, batch_size=16), _Trial("bbbb2222", arch="unet")
    monitor.on_trial_start(0, [a], a)
    monitor.on_trial_start(0, [a, b], b)
    monitor.on_trial_result(0, [a, b], a, {"epoch": 1, "delta_e": 11.5})
    monitor.started -= 7  # the clock moved on ...
    monitor.on_trial_result(0, [a, b], a, {"epoch": 2, "delta_e": 11.9})  # ... but nothing else shown changed
    monitor.started -= 7
    monitor.on_trial_result(0, [a, b], b, {"epoch": 1, "delta_e": 12.0})
    lines = stream.text.splitlines()
    assert [line.split("] ", 1)[1] for line in lines] == [
        "running 1 | done 0 | stopped early 0 | failed 0 | best delta_e -",
        "running 2 | done 0 | stopped early 0 | failed 0 | best delta_e -",
        "running 2 | done 0 | stopped early 0 | failed 0 | best delta_e 11.500 (aaaa1111)",
    ]
    assert "\x1b" not in stream.text and "\r" not in stream.text


def test_terminal_progress_is_one_block_redrawn_in_place_with_each_running_trial(tmp_path):
    import time

    monitor, stream = _monitor(tmp_path, tty=True, deadline=time.time() + 600)
    a, b = _Trial("aaaa1111", arch="unet", loss="mae", learning_rate=1e-3, batch_size=16), _Trial("bbbb2222", arch="basic")
    monitor.on_trial_start(0, [a], a)
    monitor.on_trial_start(0, [a, b], b)
    monitor.on_trial_result(0, [a, b], a, {"epoch": 3, "delta_e": 10.25})
    last = stream.parts[-1]
    assert last.startswith("\x1b[3F\x1b[J")  # moves up over the 3-line block drawn before and clears it
    block = last.split("\x1b[J", 1)[1].splitlines()
    assert "budget left 09:" in block[0] or "budget left 10:" in block[0]
    assert block[1] == "  aaaa1111  unet mae lr 0.001 batch 16: epoch 3/20  delta_e 10.250"
    assert block[2] == "  bbbb2222  basic: epoch 0/20"
    monitor.on_trial_complete(0, [a, b], a)
    assert stream.parts[-1].count("\n") == 2  # a finished trial leaves the block


def test_naming_commands_do_not_load_the_backend(tmp_path):
    """`colorsweep spaces`, `spaces show`, `models` and `data inspect` print what they print without
    importing TensorFlow (it takes seconds and prints its own start-up lines)."""
    code = (
        "import sys\n"
        "from search.cli import main\n"
        "for argv in (['spaces'], ['spaces', 'show', 'auto'], ['models', '--size', '64']):\n"
        "    assert main(argv) == 0, argv\n"
        "loaded = [m for m in ('tensorflow', 'keras', 'jax', 'ray') if m in sys.modules]\n"
        "print('LOADED', loaded)\n"
    )
    env = {**os.environ, "COLORSWEEP_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "LOADED []"
    assert "unet_cls" in done.stdout and "auto" in done.stdout


def test_bad_numbers_are_rejected_while_parsing_before_any_heavy_import(capsys):
    from search.cli import main

    for argv, message in ((["run", "smoke", "--trials", "-3"], "argument --trials: must be 1 or more, got -3"),
                          (["train", "--epochs", "two"], "argument --epochs: expected a whole number, got 'two'"),
                          (["run", "smoke", "--samples-per-epoch", "-1"], "must be 0 or more, got -1")):
        with pytest.raises(SystemExit) as excinfo:
            main(argv)
        assert excinfo.value.code == 2
        assert message in capsys.readouterr().err


@pytest.mark.slow
def test_a_small_sweep_prints_only_colorsweep_lines(tmp_path):
    """Issue 18's check: the stderr of a two-trial sweep holds no line from TensorFlow, absl, XLA or
    Ray, and no trial count but the one asked for."""
    import re

    env = {**os.environ, "COLORSWEEP_CACHE": str(tmp_path / "cache")}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "search.cli", "run", "smoke", "--data", "demo", "--size", "16", "--trials", "2",
             "--max-epochs", "1", "--storage", str(tmp_path / "runs"), "--num-cpus", "2"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        pytest.fail("the sweep did not finish in 10 minutes")
    assert done.returncode == 0, done.stderr[-3000:]
    foreign = [line for line in done.stderr.splitlines()
               if re.search(r"^[IWEF]\d{4} |absl|tensorflow|oneDNN|cuda|XLA|xla|WARNING|ray|Ray", line)
               and "colorsweep" not in line and "run directory" not in line and "resume" not in line]
    assert not foreign, foreign
    counts = {int(n) for n in re.findall(r"(\d+) trials?\b", done.stderr + done.stdout)}
    assert counts <= {2}, counts


def test_rays_log_records_during_a_sweep_go_to_the_run_directory(tmp_path, capfd):
    import logging

    from search.sweep import RAY_LOG, _ray_messages_to

    ray_logger = logging.getLogger("ray")
    console = logging.StreamHandler()  # what Ray installs on its logger
    ray_logger.addHandler(console)
    try:
        with _ray_messages_to(tmp_path / RAY_LOG):
            logging.getLogger("ray.tune.tune").warning("something Ray says")
        assert "something Ray says" in (tmp_path / RAY_LOG).read_text()
        assert "something Ray says" not in capfd.readouterr().err
        assert console in ray_logger.handlers  # put back after the sweep
        logging.getLogger("ray.tune.tune").warning("after the sweep")
        assert "after the sweep" in capfd.readouterr().err
    finally:
        ray_logger.removeHandler(console)
