"""What the console shows: colorsweep's own words, not the backend's start-up chatter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
