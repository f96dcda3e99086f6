"""Stress check: ``kill -9`` a sweep's driver at random moments, resume it each time, and check that
nothing recorded was lost, repeated or mixed once it ends.

Each round starts ``colorsweep run smoke`` (demo data, 16 px, a few trials of a few epochs) in its own
session, and then, ``--kills`` times, waits a random time (uniform in ``--after`` seconds, counted
from the moment the first trial started) and sends SIGKILL to the driver alone (as ``kill -9 PID``
does; Ray's processes go with it), then runs ``colorsweep resume RUN_DIR`` (itself killed the next
time). A last resume runs the sweep to its end. Then, for the run directory:

* the last command exits 0, and every trial ended (completed or stopped; ``abandoned`` for a trial
  Ray's saved state never knew);
* each trial's ``result.json`` (what the records read) holds its epochs 1, 2, ... once each, in order,
  with no gap (a line marked ``reported_again`` is the same epoch said again, and is skipped);
* the records' history of each trial is those epochs;
* each ended trial keeps exactly one ``checkpoint_*`` folder, complete.

    .venv/bin/python bench/kill_resume.py --rounds 10 [--kills 2] [--after 3 25] [--seed 0]

Prints one line per round and a summary; exits 1 when a round broke an invariant (its run directory
is kept and named). Not a unit test: it takes minutes, and its kill times are random by design.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ENDED = {"completed", "stopped"}


def _trials_json(run_dir: Path) -> dict:
    from search.rundir import read_trial_entries

    try:
        entries = read_trial_entries(run_dir)
    except (OSError, ValueError):
        return {}
    return entries if isinstance(entries, dict) else {}


def _kill_after(command: list[str], env: dict, run_dir: Path, after: float, timeout_s: float) -> str:
    """Run ``command``; SIGKILL its driver ``after`` seconds after a trial first runs. Returns what
    happened: "killed", "ended <rc>" (it finished first) or "timeout"."""
    proc = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    started = None
    deadline = time.monotonic() + timeout_s
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if started is None and any(e.get("status") == "running" for e in _trials_json(run_dir).values()):
                started = time.monotonic()
            if started is not None and time.monotonic() - started >= after:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                _wait_session_gone(proc.pid)
                return "killed"
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    _wait_session_gone(proc.pid)
    return f"ended {proc.returncode}" if time.monotonic() < deadline else "timeout"


def _wait_session_gone(sid: int, timeout_s: float = 30.0) -> None:
    """Wait until no process of session ``sid`` is left (Ray's processes die with their driver)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if subprocess.run(["pgrep", "-s", str(sid)], capture_output=True).returncode != 0:  # none left
            return
        time.sleep(0.3)


def check_run(run_dir: Path) -> list[str]:
    """What is wrong with a finished run directory (empty when nothing is)."""
    from search.records import REPORTED_AGAIN, load_records
    from search.resume_point import checkpoint_complete as _checkpoint_complete

    problems = []
    records = load_records(run_dir)
    if not records:
        return ["no trial recorded"]
    for record in records:
        if record.status not in ENDED | {"abandoned"}:
            problems.append(f"trial {record.trial_id} ended {record.status!r}")
            continue
        if record.status == "abandoned":
            continue
        trial_dir = run_dir / record.trial_dir
        lines = []
        for line in (trial_dir / "result.json").read_text().splitlines():
            if line.strip():
                result = json.loads(line)
                if not result.get(REPORTED_AGAIN):
                    lines.append(result["epoch"])
        if lines != list(range(1, len(lines) + 1)):
            problems.append(f"trial {record.trial_id}: result.json epochs {lines}")
        history = [row.get("epoch") for row in record.history]
        if history != list(range(1, len(history) + 1)) or len(history) != len(lines):
            problems.append(f"trial {record.trial_id}: records' epochs {history} against result.json's {lines}")
        folders = sorted(p for p in trial_dir.glob("checkpoint_*"))
        if len(folders) != 1 or not _checkpoint_complete(folders[0]):
            problems.append(f"trial {record.trial_id}: checkpoint folders {[p.name for p in folders]}")
    return problems


def one_round(index: int, args, rng: random.Random, workdir: Path) -> tuple[bool, str]:
    name = f"round{index}"
    run_dir = workdir / name
    env = {**os.environ, "COLORSWEEP_CACHE": str(workdir / "cache")}
    run = [sys.executable, "-m", "search.cli", "run", "smoke", "--data", "demo", "--size", "16",
           "--trials", str(args.trials), "--max-epochs", str(args.epochs), "--grace-period", "2",
           "--num-cpus", "2", "--storage", str(workdir), "--name", name]
    resume = [sys.executable, "-m", "search.cli", "resume", str(run_dir), "--num-cpus", "2"]
    events = []
    command = run
    for _ in range(args.kills):
        after = rng.uniform(*args.after)
        outcome = _kill_after(command, env, run_dir, after, timeout_s=600)
        events.append(f"{'run' if command is run else 'resume'} {outcome} at {after:.1f}s")
        if outcome != "killed":
            break
        command = resume
    final = subprocess.run(resume, env=env, capture_output=True, text=True, timeout=900, cwd=ROOT)
    events.append(f"resume exit {final.returncode}")
    problems = [] if final.returncode == 0 else [f"final resume exit {final.returncode}: {final.stderr[-600:]}"]
    if final.returncode == 0:
        problems += check_run(run_dir)
    ok = not problems
    text = f"round {index}: {'ok' if ok else 'BROKEN'} ({'; '.join(events)})"
    if problems:
        text += "\n    " + "\n    ".join(problems) + f"\n    run directory kept: {run_dir}"
    return ok, text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--kills", type=int, default=2, help="kills per round before the last resume")
    parser.add_argument("--after", type=float, nargs=2, default=(3.0, 25.0),
                        help="seconds after the first trial starts (uniform range)")
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="colorsweep-kill-"))
    broken = 0
    for index in range(args.rounds):
        ok, text = one_round(index, args, rng, workdir)
        print(text, flush=True)
        broken += not ok
        if ok:
            shutil.rmtree(workdir / f"round{index}", ignore_errors=True)
    print(f"{args.rounds - broken} of {args.rounds} rounds kept every record ({args.kills} kill(s) each, "
          f"{args.after[0]:g}-{args.after[1]:g} s after the first trial started)")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
