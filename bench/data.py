"""Benchmark colorize_core.data: decode + convert throughput, cold load vs cached reload.

Usage::

    python bench/data.py [FOLDER] [--size 128] [--repeats 3]

FOLDER defaults to ../shared/datasets/gcompris (197 WebP photos, 180–1920 px wide). Each cold load
uses a fresh, empty cache directory, so it decodes every file and writes the cache; each warm load reads
that cache. A third row decodes with the cache off (no write). Prints a Markdown table and the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from colorize_core import data  # noqa: E402

DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "gcompris"


def _time(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(DEFAULT_FOLDER))
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    files = data.discover_images(args.folder)
    total_mb = sum(f.stat().st_size for f in files) / 2**20
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(10**6))

        def cold():
            return data.load_dataset(args.folder, size=args.size, cache_dir=Path(tmp) / f"c{next(counter)}")

        cold_s, ds = _time(cold, args.repeats)
        n = ds.n_found
        rows.append(("cold load (decode + Lab + write cache)", cold_s, n / cold_s))
        nocache_s, _ = _time(
            lambda: data.load_dataset(args.folder, size=args.size, use_cache=False), args.repeats
        )
        rows.append(("decode + Lab, cache off", nocache_s, n / nocache_s))
        warm_dir = Path(tmp) / "warm"
        data.load_dataset(args.folder, size=args.size, cache_dir=warm_dir)
        warm_s, warm = _time(
            lambda: data.load_dataset(args.folder, size=args.size, cache_dir=warm_dir), args.repeats
        )
        assert warm.cache_hit
        rows.append(("cached reload (stat files + read .npz)", warm_s, n / warm_s))
        cache_mb = Path(warm.cache_path).stat().st_size / 2**20

        # Single-thread decode only (read_image), to separate decoding from the rest.
        start = time.perf_counter()
        for f in files:
            data.read_image(f)
        decode_s = time.perf_counter() - start
        rows.append(("read_image only, 1 thread, no resize/Lab", decode_s, len(files) / decode_s))

    print(f"## colorize_core.data benchmark: {args.folder}\n")
    print(
        f"{n} files ({total_mb:.1f} MiB on disk), size {args.size}, loaded {ds.n_loaded}, "
        f"skipped {len(ds.skipped)}, cache file {cache_mb:.1f} MiB, median of {args.repeats}\n"
    )
    print("| step | seconds | images/s |")
    print("|---|---:|---:|")
    for name, seconds, rate in rows:
        print(f"| {name} | {seconds:.3f} | {rate:.1f} |")
    print(
        f"\nmachine: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        f"python {platform.python_version()}, opencv {cv2.__version__} "
        f"(cv2 threads {cv2.getNumThreads()}), numpy {np.__version__}, {platform.system()} "
        f"{platform.release()}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
