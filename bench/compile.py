"""Benchmark: what a trial spends compiling, with a cold and a warm compilation cache (issue 31).

Each configuration of a space is trained the way a sweep trial in a fresh worker process trains it:
its own Python process, ``colorize_core.train.fit`` for ``--epochs`` epochs, the compilation cache
of :mod:`colorize_core.compile_cache` on. Two passes over the same configurations:

* **cold**: an empty cache folder (a machine's first sweep);
* **warm**: the same folder, filled by the cold pass (every later trial of a structure, in any run).

Per pass, from each fit's epoch records (:mod:`colorize_core.compilation`): programs compiled and
loaded from the cache per trial, seconds compiling per trial, and the first epoch's wall time
(build, compile, train, evaluate: ``elapsed_s`` at epoch 1) against the median later epoch's.

Spaces: ``seed`` (the study's grid: 24 structures) and ``auto`` (its two ``start_with``
configurations and the same at batch 8 and 32: four structures).

    .venv/bin/python bench/compile.py [--spaces seed auto] [--backend jax|tensorflow] [--size 32] [--epochs 3]

Prints a Markdown table for BENCHMARKS.md and writes ``bench/results/compile-<backend>-<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_TRIAL = r"""
import json, os, sys
from colorize_core._backend import use_compilation_cache
from colorize_core.compile_cache import prepare_compile_cache
use_compilation_cache(prepare_compile_cache(sys.argv[1]))
from colorize_core.data import load_dataset
from colorize_core.train import fit
config = json.loads(sys.argv[2])
data = load_dataset(sys.argv[3], size=int(sys.argv[4]))
records = []
fit(config, data, lambda epoch, metrics: records.append(
    {k: metrics[k] for k in ("epoch", "elapsed_s", "compile_s", "compiled_programs", "cached_programs")}))
print("RESULT" + json.dumps(records))
"""


def configurations(space_name: str, *, epochs: int, size: int) -> list[dict]:
    """The fits of one space: TrainConfig dicts, early stopping off so every fit trains ``epochs``."""
    from spaces import load_space

    space = load_space(space_name)
    if space_name == "auto":
        points = [dict(c) for c in space.start_with]
        points += [{**points[0], "batch_size": 8}, {**points[1], "batch_size": 32}]
    else:
        points = space.grid()
    out = []
    for point in points:
        config = space.trial_config(point, max_epochs=epochs, seed=0, monitor="delta_e")
        config.update(early_stopping_patience=None, eval_max_pixels=20_000)
        if config.get("samples_per_epoch"):
            config["samples_per_epoch"] = 256
        out.append(config)
    return out


def run_pass(configs: list[dict], cache: Path, *, data: str, size: int, backend: str) -> list[dict]:
    """Fit each configuration in a fresh process on ``cache``; one summary per fit."""
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu",
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    rows = []
    for config in configs:
        proc = subprocess.run([sys.executable, "-c", _TRIAL, str(cache), json.dumps(config), data, str(size)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            rows.append({"config": config, "error": proc.stderr.strip().splitlines()[-1:]})
            continue
        records = json.loads(proc.stdout.split("RESULT", 1)[1])
        elapsed = [r["elapsed_s"] for r in records]
        later = [b - a for a, b in zip(elapsed, elapsed[1:])]
        last = records[-1]
        rows.append({"arch": config["arch"], "optimizer": config["optimizer"], "loss": config.get("loss"),
                     "batch_size": config["batch_size"], "first_epoch_s": elapsed[0],
                     "later_epoch_s": statistics.median(later) if later else None,
                     "compile_s": last["compile_s"], "compiled": last["compiled_programs"],
                     "cached": last["cached_programs"]})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def summary(rows: list[dict]) -> dict:
    ok = [r for r in rows if "error" not in r]
    ratios = [r["first_epoch_s"] / r["later_epoch_s"] for r in ok if r.get("later_epoch_s")]
    return {"trials": len(rows), "errors": len(rows) - len(ok),
            "compiled_total": sum(r["compiled"] for r in ok), "cached_total": sum(r["cached"] for r in ok),
            "compiled_per_trial": statistics.mean(r["compiled"] for r in ok) if ok else None,
            "compile_s_per_trial": statistics.mean(r["compile_s"] for r in ok) if ok else None,
            "first_over_later_median": statistics.median(ratios) if ratios else None,
            "first_over_later_max": max(ratios) if ratios else None,
            "first_epoch_s_median": statistics.median(r["first_epoch_s"] for r in ok) if ok else None,
            "later_epoch_s_median": statistics.median(r["later_epoch_s"] for r in ok if r.get("later_epoch_s")) if ok else None}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spaces", nargs="+", default=["seed", "auto"])
    parser.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "jax"), choices=["jax", "tensorflow"])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--data", default="demo")
    parser.add_argument("--limit", type=int, help="at most this many configurations per space (a quick look)")
    args = parser.parse_args(argv)
    results = {"backend": args.backend, "size": args.size, "epochs": args.epochs, "data": args.data,
               "machine": f"{platform.node()} {os.cpu_count()} CPUs", "date": time.strftime("%Y-%m-%d"), "spaces": {}}
    for name in args.spaces:
        configs = configurations(name, epochs=args.epochs, size=args.size)[: args.limit]
        with tempfile.TemporaryDirectory() as folder:
            cache = Path(folder) / "compile"
            passes = {}
            for which in ("cold", "warm"):
                print(f"== {name}: {which} cache, {len(configs)} trials", flush=True)
                rows = run_pass(configs, cache, data=args.data, size=args.size, backend=args.backend)
                passes[which] = {"summary": summary(rows), "trials": rows}
        results["spaces"][name] = passes
    print(f"\n{args.backend}, {args.size} px, {args.epochs} epochs, {args.data}, {results['machine']}, {results['date']}\n")
    print("| space | cache | trials | programs compiled / trial | loaded from cache / trial | compile s / trial "
          "| first epoch s | later epoch s | first / later (median, max) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, passes in results["spaces"].items():
        for which, block in passes.items():
            s = block["summary"]
            n = max(s["trials"] - s["errors"], 1)
            print(f"| {name} | {which} | {s['trials']}{' (' + str(s['errors']) + ' failed)' if s['errors'] else ''} "
                  f"| {s['compiled_total'] / n:.1f} | {s['cached_total'] / n:.1f} | {s['compile_s_per_trial'] or 0:.2f} "
                  f"| {s['first_epoch_s_median'] or 0:.2f} | {s['later_epoch_s_median'] or 0:.2f} "
                  f"| {s['first_over_later_median'] or 0:.2f}, {s['first_over_later_max'] or 0:.2f} |")
    out = ROOT / "bench" / "results" / f"compile-{args.backend}-{results['date']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"\nwritten: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
