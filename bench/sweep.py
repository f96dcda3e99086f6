"""Benchmark: framework overhead of a colorsweep sweep on this machine.

overhead = sweep wall time / sum of the trials' pure training time (seconds inside optimisation
steps, from each trial's ``train_time_s``; evaluation and checkpoints excluded), for trials run one
at a time (concurrency 1, all CPUs to the trial) so that the ratio means "time not spent training".
Also: time from the call to the first training step, a trial's first epoch against its later ones
(compilation), and where the rest went. ``COLORSWEEP_COMPILE_CACHE=off`` runs it without the shared
compilation cache; ``COLORSWEEP_REUSE_WORKERS=off`` gives every trial a fresh worker process;
``KERAS_BACKEND=jax`` on JAX.

    .venv/bin/python bench/sweep.py [--trials 8] [--epochs 6] [--size 32] [--data demo]

Prints a Markdown block for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--arch", default="unet")
    parser.add_argument("--data", default="demo")
    args = parser.parse_args()

    from gpu_sweep import epoch_times  # bench/gpu_sweep.py, beside this script
    from search.records import load_records, read_result_lines, trial_path
    from search.sweep import compile_cache_dir, reuse_workers, run_sweep
    from spaces import space_from_dict

    space = space_from_dict({
        "name": "bench", "description": "overhead benchmark: one architecture, learning rates only",
        "defaults": {"max_epochs": args.epochs, "size": args.size, "trials": args.trials},
        "params": {"arch": {"value": args.arch}, "learning_rate": {"loguniform": [1e-4, 1e-2]},
                   "batch_size": {"choice": [16]}},
        "fixed": {"early_stopping_patience": None},
    })
    cpus = os.cpu_count() or 1
    storage = Path(tempfile.mkdtemp(prefix="colorsweep-bench-"))
    # Warm the data cache first so the figure is about the framework, not decoding.
    from colorize_core.data import load_dataset

    load_dataset(args.data, size=args.size)
    t0 = time.time()
    result = run_sweep(space, data=args.data, storage=storage, name="bench", live=False, concurrency=1,
                       cpus_per_trial=cpus, num_cpus=cpus, grace_period=args.epochs)
    wall = time.time() - t0
    records = load_records(result.run_dir)
    train = sum(r.train_time_s for r in records)
    per_trial = [r.train_time_s for r in records]
    # first training step = earliest (end of a first epoch - that epoch's training time), wall clock
    first_step = min(
        read_result_lines(trial_path(result.run_dir, r.trial_dir) / "result.json")[0]["timestamp"]
        - r.history[0]["epoch_train_s"]
        for r in records
    )
    # Ray's time for each trial's first epoch (building, compiling, training, evaluating) and the later ones
    first_epoch, later_epochs = epoch_times(result.run_dir, records)
    processes = {row.get("worker_pid") for r in records for row in r.history[:1]}

    print(f"### Sweep overhead ({time.strftime('%Y-%m-%d')})")
    print()
    print(f"Machine: {cpus} CPUs, {platform.machine()}, Python {platform.python_version()}, "
          f"versions {json.dumps(result_versions(result.run_dir))}")
    print(f"Sweep: {len(records)} trials of `{args.arch}` at {args.size}x{args.size}, {args.epochs} epochs each "
          f"(ASHA grace period = max epochs, so none stopped), batch 16, data `{args.data}`, concurrency 1, "
          f"{cpus} CPUs per trial. Keras backend `{os.environ.get('KERAS_BACKEND', 'tensorflow')}`, "
          f"compilation cache {'on' if compile_cache_dir(result.run_dir) else 'off'}, worker reuse "
          f"{'on' if reuse_workers(0.0) else 'off'}.")
    print()
    print("| quantity | value |")
    print("|---|---|")
    print(f"| sweep wall time | {wall:.1f} s |")
    print(f"| sum of trials' pure training time | {train:.1f} s |")
    print(f"| per-trial training time (min / max) | {min(per_trial):.1f} / {max(per_trial):.1f} s |")
    print(f"| **overhead = wall / training** | **{wall / train:.2f}** |")
    print(f"| worker processes that ran the {len(records)} trials | {len(processes)} |")
    print(f"| time from call to first training step | {first_step - t0:.1f} s |")
    print(f"| wall time not spent training, per trial | {(wall - train) / len(records):.1f} s |")
    print(f"| a trial's first epoch (median; build, compile, train, evaluate) | {statistics.median(first_epoch):.1f} s |")
    if later_epochs:
        print(f"| a later epoch (median) | {statistics.median(later_epochs):.1f} s |")


def result_versions(run_dir: Path) -> dict:
    from search.sweep_info import SweepInfo

    return {k: v for k, v in SweepInfo.load(run_dir).versions.items() if k in ("ray", "keras", "tensorflow", "optuna")}


if __name__ == "__main__":
    main()
