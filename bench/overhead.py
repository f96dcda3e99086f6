"""Benchmark: the same trials run bare, through hand-wired Ray Tune, and as a colorsweep sweep (issue 17).

Three ways to train one list of configurations, one trial at a time with every CPU, each in its own
fresh Python process, timed from after that process imported Keras and loaded the (cached) data:

* **bare**: ``colorize_core.train.fit`` once per configuration in one process (what a user writes by
  hand: a new model per configuration, validation metrics every epoch, no checkpoints);
* **hand-wired Ray Tune**: ``tune.Tuner`` over ``tune.grid_search`` of the configurations, a function
  trainable that calls ``fit`` and ``tune.report``s every epoch, Ray's defaults (a new worker process
  per trial);
* **colorsweep**: ``search.sweep.run_sweep`` of a grid space holding exactly those configurations,
  concurrency 1, all CPUs per trial, no early stopping (``scheduler="none"``), report written: what
  ``colorsweep run`` does, checkpoints and final report included;
* **colorsweep, parallel** (``--ways colorsweep-parallel``): the same with as many one-CPU trials at once
  as there are CPUs (what ``colorsweep run`` does by default), to choose between the two by measurement.

Two sets of 8 configurations at ``--size`` px for ``--epochs`` epochs on ``--data``: ``same`` (one
architecture, ``unet``; 8 learning rates) and ``mixed`` (``unet``, ``unet_cls``, ``basic``,
``classic`` x 2 learning rates). Early stopping is off so every way trains the same epochs.

    .venv/bin/python bench/overhead.py [--sets same mixed] [--ways bare ray colorsweep] [--epochs 4] [--size 32]

Prints a Markdown table for BENCHMARKS.md and writes ``bench/results/overhead-<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LEARNING_RATES = [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2]
SETS = {
    "same": {"arch": ["unet"], "learning_rate": LEARNING_RATES},
    "mixed": {"arch": ["unet", "unet_cls", "basic", "classic"], "learning_rate": [1e-3, 3e-3]},
}
FIXED = {"batch_size": 16, "early_stopping_patience": None}
WAYS = ("bare", "ray", "colorsweep", "colorsweep-parallel")


def configurations(set_name: str, epochs: int) -> list[dict]:
    """The set's configurations as ``fit`` configs, architecture-major (the grid space's order)."""
    grid = SETS[set_name]
    return [{"arch": arch, "learning_rate": lr, "epochs": epochs, **FIXED}
            for arch in grid["arch"] for lr in grid["learning_rate"]]


def run_bare(configs: list[dict], data) -> dict:
    from colorize_core.train import fit

    t0 = time.perf_counter()
    train = 0.0
    for config in configs:
        result = fit(config, data, tensorboard=False)
        train += result.train_time_s
    return {"wall_s": time.perf_counter() - t0, "train_s": train, "trials": len(configs)}


def _hand_wired_trainable(params, data=None):
    """One trial as a user would wire it: ``params["config"]`` is one grid value, a whole configuration."""
    from ray import tune

    from colorize_core.train import fit

    fit(params["config"], data, lambda epoch, metrics: tune.report({k: v for k, v in metrics.items()
                                                          if isinstance(v, (int, float))}), tensorboard=False)


def run_ray(configs: list[dict], data, storage: Path) -> dict:
    import ray
    from ray import tune

    cpus = os.cpu_count() or 1
    t0 = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(_hand_wired_trainable, data=data), {"cpu": cpus}),
        param_space={"config": tune.grid_search(configs)},
        tune_config=tune.TuneConfig(metric="delta_e", mode="min", max_concurrent_trials=1),
        run_config=tune.RunConfig(name="hand-wired", storage_path=str(storage), verbose=0),
    )
    results = tuner.fit()
    wall = time.perf_counter() - t0
    train = sum(float(r.metrics.get("train_time_s", 0.0)) for r in results if r.metrics)
    errors = [str(r.error)[:200] for r in results if r.error]
    ray.shutdown()
    return {"wall_s": wall, "train_s": train, "trials": len(results), "errors": errors}


def run_colorsweep(set_name: str, configs: list[dict], args, storage: Path, *, parallel: bool = False) -> dict:
    """``parallel``: as many 1-CPU trials at once as there are CPUs (colorsweep's default), instead of
    one trial at a time with every CPU."""
    from search.records import load_records
    from search.sweep import run_sweep
    from spaces import space_from_dict

    grid = SETS[set_name]
    space = space_from_dict({
        "name": f"overhead-{set_name}", "description": "bench/overhead.py: the configurations of one set",
        "grid": True,
        "defaults": {"max_epochs": args.epochs, "size": args.size},
        "params": {"arch": {"choice": grid["arch"]}, "learning_rate": {"choice": grid["learning_rate"]}},
        "fixed": dict(FIXED),
    })
    cpus = os.cpu_count() or 1
    t0 = time.perf_counter()
    result = run_sweep(space, data=args.data, storage=storage, name="colorsweep", live=False,
                       concurrency=None if parallel else 1, cpus_per_trial=1 if parallel else cpus, num_cpus=cpus,
                       scheduler="none", report=True)
    wall = time.perf_counter() - t0
    records = load_records(result.run_dir)
    pids = {row.get("worker_pid") for r in records for row in r.history[:1]}
    first = [r.history[0].get("epoch_train_s", 0.0) for r in records if r.history]
    return {"wall_s": wall, "train_s": sum(r.train_time_s for r in records), "trials": len(records),
            "statuses": sorted({str(r.status) for r in records}), "worker_processes": len(pids),
            "first_epoch_train_s": first}


def one(way: str, set_name: str, args) -> dict:
    """Run one way on one set in this process (the child of :func:`main`)."""
    import keras  # noqa: F401 - imported before timing, like a user's script would have

    from colorize_core.data import load_dataset

    data = load_dataset(args.data, size=args.size)
    configs = configurations(set_name, args.epochs)
    storage = Path(tempfile.mkdtemp(prefix="colorsweep-overhead-"))
    if way == "bare":
        return run_bare(configs, data)
    if way == "ray":
        return run_ray(configs, data, storage)
    return run_colorsweep(set_name, configs, args, storage, parallel=way == "colorsweep-parallel")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--ways", nargs="+", default=list(WAYS[:3]), choices=list(WAYS))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--data", default="demo")
    parser.add_argument("--child", nargs=2, metavar=("WAY", "SET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(one(args.child[0], args.child[1], args)), flush=True)
        return

    from colorize_core.data import load_dataset

    load_dataset(args.data, size=args.size)  # decoded once into the cache: no way pays for decoding
    rows = []
    for set_name in args.sets:
        for way in args.ways:
            cmd = [sys.executable, __file__, "--child", way, set_name, "--epochs", str(args.epochs),
                   "--size", str(args.size), "--data", args.data]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
            if proc.returncode != 0 or line is None:
                sys.exit(f"{way} on {set_name} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
            row = {"set": set_name, "way": way, **json.loads(line[len("RESULT "):])}
            rows.append(row)
            print(f"{set_name:6} {way:10} wall {row['wall_s']:.1f} s, training {row['train_s']:.1f} s", file=sys.stderr)

    cpus = os.cpu_count() or 1
    import keras

    print(f"### Bare, hand-wired Ray Tune and colorsweep side by side ({time.strftime('%Y-%m-%d')})")
    print()
    print(f"Machine: {cpus} CPUs, {platform.machine()}, Python {platform.python_version()}, Keras {keras.__version__} "
          f"on `{keras.backend.backend()}`. 8 configurations per set at {args.size}x{args.size} px, {args.epochs} "
          f"epochs each, batch 16, data `{args.data}`, one trial at a time with all {cpus} CPUs; each way in a fresh "
          f"process, timed after its imports and data loading (Ray's start and the workers' imports count).")
    print()
    print("| set | way | wall | pure training | wall / bare |")
    print("|---|---|---:|---:|---:|")
    bare = {row["set"]: row["wall_s"] for row in rows if row["way"] == "bare"}
    names = {"bare": "bare `fit` loop", "ray": "hand-wired Ray Tune", "colorsweep": "colorsweep run",
             "colorsweep-parallel": f"colorsweep run, {cpus} one-CPU trials at once"}
    for row in rows:
        ratio = f"{row['wall_s'] / bare[row['set']]:.2f}" if row["set"] in bare else "-"
        print(f"| {row['set']} | {names[row['way']]} | {row['wall_s']:.1f} s | {row['train_s']:.1f} s | {ratio} |")
    out = ROOT / "bench" / "results" / f"overhead-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "cpus": cpus, "rows": rows}, indent=2))
    print()
    print(f"Raw figures: `{out.relative_to(ROOT)}`.")


if __name__ == "__main__":
    main()
