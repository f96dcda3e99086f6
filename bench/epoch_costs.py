"""Benchmark: what a sweep trial's epoch costs besides training (issue 17, item 3).

For one architecture at one size, in one process (model built and traced first, so nothing here
compiles), the median over ``--repeat`` runs of:

* a training epoch (``model.fit`` over the training split, batch 16);
* the validation pass (``model.predict`` of the validation split) and the metrics on it
  (:func:`colorize_core.metrics.evaluate`: CIEDE2000 on at most ``eval_max_pixels`` pixels, the rest);
* the checkpoint: ``last.keras`` (with optimizer state), ``best.keras`` (a hard link since issue 17;
  a second serialisation before), ``state.json``;
* Ray's copy of the checkpoint folder into the run directory (``ray.train.Checkpoint.from_directory``
  then ``to_directory``: the same file copy Ray's storage does for ``tune.report``).

    .venv/bin/python bench/epoch_costs.py [--arch unet] [--size 32] [--data demo] [--repeat 5]

Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _median_s(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="unet")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--data", default="demo")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import keras
    import numpy as np

    from colorize_core import color, metrics
    from colorize_core.data import load_dataset
    from colorize_core.train import TrainConfig, TrainState, build_model
    from colorize_core.train.checkpoint import link_model_atomic, save_model_atomic

    data = load_dataset(args.data, size=args.size)
    cfg = TrainConfig(arch=args.arch, batch_size=16, epochs=1)
    model = build_model(cfg, args.size)
    x, y = color.encode_l(data.train.lightness), color.encode_ab(data.train.ab)
    val_x = color.encode_l(data.val.lightness)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)  # builds and traces: not measured
    model.predict(val_x, batch_size=64, verbose=0)
    workdir = Path(tempfile.mkdtemp(prefix="colorsweep-epoch-costs-"))
    state = TrainState.start(cfg)
    save_model_atomic(model, workdir / "last.keras")
    link_model_atomic(workdir / "last.keras", workdir / "best.keras")
    state.save(workdir / "state.json")
    from ray.train import Checkpoint

    copies = Path(tempfile.mkdtemp(prefix="colorsweep-epoch-copies-"))
    counter = iter(range(10**6))

    def ray_copy():
        Checkpoint.from_directory(str(workdir)).to_directory(str(copies / f"checkpoint_{next(counter):06d}"))

    ab = color.decode_ab(np.asarray(model.predict(val_x, batch_size=64, verbose=0)))
    rows = [
        ("training epoch (fit over the training split)", _median_s(lambda: model.fit(x, y, batch_size=16, epochs=1, verbose=0), args.repeat)),
        ("validation pass (predict the validation split)", _median_s(lambda: model.predict(val_x, batch_size=64, verbose=0), args.repeat)),
        ("validation metrics (CIEDE2000 on ≤ 200,000 px, and the rest)",
         _median_s(lambda: metrics.evaluate(data.val.lightness, data.val.ab, ab, max_pixels=cfg.eval_max_pixels, seed=0), args.repeat)),
        ("`last.keras` (model + optimizer state)", _median_s(lambda: save_model_atomic(model, workdir / "last.keras"), args.repeat)),
        ("`best.keras` as a second serialisation (before issue 17)", _median_s(lambda: save_model_atomic(model, workdir / "best.keras"), args.repeat)),
        ("`best.keras` as a hard link (now)", _median_s(lambda: link_model_atomic(workdir / "last.keras", workdir / "best.keras"), args.repeat)),
        ("`state.json`", _median_s(lambda: state.save(workdir / "state.json"), args.repeat)),
        ("Ray's copy of the checkpoint folder into the run directory", _median_s(ray_copy, args.repeat)),
    ]
    size_mb = sum(p.stat().st_size for p in workdir.iterdir()) / 1e6
    shutil.rmtree(workdir, ignore_errors=True)
    shutil.rmtree(copies, ignore_errors=True)

    print(f"### What an epoch costs besides training ({time.strftime('%Y-%m-%d')})")
    print()
    print(f"Machine: {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}, Keras "
          f"{keras.__version__} on `{keras.backend.backend()}`. `{args.arch}` ({model.count_params():,} parameters) "
          f"at {args.size}x{args.size} px, batch 16, data `{args.data}` ({len(data.train)} train / {len(data.val)} "
          f"val images); checkpoint folder {size_mb:.1f} MB; median of {args.repeat}.")
    print()
    print("| step | seconds |")
    print("|---|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
