"""Benchmark: how well a sweep uses its GPUs (issue 6, item 7).

Runs a sweep (default: the ``seed`` space, the study's 24 configurations) with GPU shares from the
memory estimates, or reads a finished run directory, and writes:

* **GPU-busy fraction**: the mean of ``nvidia-smi``'s ``utilization.gpu`` (the share of time a kernel was
  running) sampled twice a second while the sweep runs, and the most GPU memory in use, summed over
  the sweep's processes; only when this script runs the sweep and ``nvidia-smi`` exists;
* **training concurrency** = sum of the trials' pure training time / (sweep wall time x GPUs): how many
  trials were inside optimisation steps at once per GPU, on average. It is the busy fraction only when
  one trial at a time has a GPU; with GPU shares it exceeds 1 (evaluation, checkpoints, worker start
  and compilation are outside it);
* **img/s per trial** (training images x epochs / pure training time, after the first epoch, which
  also compiles), per architecture, beside the bare-Keras figures of ``shared/design/anchors.md`` (H200, JAX, synthetic data, ``model.fit``);
* **estimated against measured peak memory** per architecture (``memory_estimate_gib`` against the
  trial's largest ``gpu_peak_memory_mb``; the estimate is for the batch size the trial used);
* **trials at once**: the most trials that trained at the same time, overall and on one GPU.

    source .gpu/env.sh; python bench/gpu_sweep.py --data .gpu/data/gcompris --max-epochs 10
    python bench/gpu_sweep.py --run-dir colorsweep-runs/NAME          # analyse a finished sweep
    python bench/gpu_sweep.py --data demo --space smoke --size 32 --gpus 0   # a CPU rehearsal

Prints Markdown (also written to ``--out``, default ``bench/results/gpu_sweep.md``) and a JSON
summary beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Bare-Keras training throughput on one H200 (JAX, float32, 128 px), img/s at batch 8 and 128:
#: shared/design/anchors.md.
ANCHOR_IMG_S = {
    "basic": {8: 2801, 128: 9049},
    "classic": {8: 2686, 128: 4187},
    "conv_sampling": {8: 3122, 128: 11257},
    "large_kernel": {8: 2514, 128: 3214},
    "richard_zhang": {8: 2290, 128: 5800},
    "split_learning": {8: 2638, 128: 6158},
}


def trial_intervals(run_dir: Path, records) -> list[dict]:
    """Each trial's wall-clock training interval [start, end] (seconds since the epoch) and GPU ids,
    from Ray's ``result.json``: start = first report time - that epoch's ``time_this_iter_s``
    (which includes worker start-up after a trial is placed), end = last report time."""
    from search.records import read_result_lines, trial_path

    out = []
    for record in records:
        folder = trial_path(run_dir, record.trial_dir)
        lines = read_result_lines(folder / "result.json") if folder is not None else []
        if not lines:
            continue
        start = float(lines[0]["timestamp"]) - float(lines[0].get("time_this_iter_s", 0.0))
        out.append({"trial_id": record.trial_id, "start": start, "end": float(lines[-1]["timestamp"]),
                    "gpu_ids": str(lines[-1].get("gpu_ids") or "")})
    return out


def epoch_times(run_dir: Path, records) -> tuple[list[float], list[float]]:
    """Ray's ``time_this_iter_s`` of every trial's first epoch (building, compiling - or loading from
    the run's compilation cache -, training, evaluating) and of all later epochs."""
    from search.records import read_result_lines, trial_path

    first, later = [], []
    for record in records:
        folder = trial_path(run_dir, record.trial_dir)
        times = [float(line["time_this_iter_s"]) for line in (read_result_lines(folder / "result.json") if folder else [])
                 if line.get("time_this_iter_s") is not None]
        first += times[:1]
        later += times[1:]
    return first, later


class GpuSampler:
    """Samples ``nvidia-smi``'s utilisation (%) and memory in use (MiB) of every GPU while a sweep runs
    (``with GpuSampler() as sampler: ...``; then :meth:`summary`). Does nothing without ``nvidia-smi``."""

    def __init__(self, interval_ms: int = 500):
        self.interval_ms = interval_ms
        self.samples: list[tuple[int, float, float]] = []  # (gpu index, utilisation %, memory MiB)
        self._process = None
        self._reader = None

    def __enter__(self):
        import threading

        try:
            self._process = subprocess.Popen(
                ["nvidia-smi", "--query-gpu=index,utilization.gpu,memory.used", "--format=csv,noheader,nounits",
                 f"--loop-ms={self.interval_ms}"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        except OSError:
            return self
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        for line in self._process.stdout:
            parts = [p.strip() for p in line.split(",")]
            try:
                self.samples.append((int(parts[0]), float(parts[1]), float(parts[2])))
            except (IndexError, ValueError):  # a header or "[N/A]"
                continue

    def __exit__(self, *exc):
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._reader.join(timeout=10)
        return False

    def summary(self) -> dict | None:
        """``{"busy_fraction", "peak_memory_gib", "samples"}`` over all GPUs, or None without samples."""
        if not self.samples:
            return None
        return {"busy_fraction": statistics.fmean(u for _, u, _ in self.samples) / 100.0,
                "peak_memory_gib": max(m for _, _, m in self.samples) / 1024.0,
                "samples": len(self.samples)}


def most_at_once(intervals: list[dict]) -> tuple[int, int]:
    """(most trials running at the same moment, most on a single GPU id)."""
    def peak(items):
        events = sorted([(i["start"], 1) for i in items] + [(i["end"], -1) for i in items],
                        key=lambda e: (e[0], e[1]))
        now = best = 0
        for _, step in events:
            now += step
            best = max(best, now)
        return best

    per_gpu = defaultdict(list)
    for item in intervals:
        for gpu in filter(None, item["gpu_ids"].split(",")):
            per_gpu[gpu].append(item)
    return peak(intervals), max((peak(items) for items in per_gpu.values()), default=0)


def analyse(run_dir: Path, gpus: int) -> dict:
    """The figures above for a run directory (``gpus``: GPUs the sweep had; 0 = CPU rehearsal, the
    busy fraction is then per trial slot of the CPU machine and says so)."""
    from search.records import load_records, load_sweep_info

    info = load_sweep_info(run_dir)
    records = [r for r in load_records(run_dir) if r.history]
    n_train = int(info.data.split[0])
    wall = float(info.wall_time_s or 0.0)
    train = sum(r.train_time_s for r in records)
    steady = sum(steady_train_s(r) for r in records)
    per_arch: dict[str, dict] = defaultdict(lambda: {"trials": 0, "img_s": [], "estimate_gib": [], "peak_gib": [],
                                                     "batch": set(), "share": set()})
    for record in records:
        arch = record.params.get("arch", "?")
        last = record.history[-1]
        row = per_arch[arch]
        row["trials"] += 1
        later = [h["epoch_train_s"] for h in record.history[1:] if h.get("epoch_train_s")]
        if later:  # after the first epoch (which compiles), like the anchors' warmed-up figures
            row["img_s"].append(n_train * len(later) / sum(later))
        if last.get("memory_estimate_gib") is not None:
            row["estimate_gib"].append(float(last["memory_estimate_gib"]))
        peaks = [h["gpu_peak_memory_mb"] for h in record.history if h.get("gpu_peak_memory_mb") is not None]
        if peaks:
            row["peak_gib"].append(max(peaks) / 1024.0)
        row["batch"].add(last.get("batch_size_used"))
        row["share"].add(last.get("gpu_share"))
    at_once, on_one_gpu = most_at_once(trial_intervals(run_dir, records))
    first_epoch, later_epochs = epoch_times(run_dir, records)
    from search.sweep import compile_cache_dir

    cache = Path(compile_cache_dir() or run_dir / "no-compile-cache")
    cached_programs = sum(1 for p in cache.rglob("*") if p.is_file()) if cache.is_dir() else None
    processes = {row.get("worker_pid") for r in records for row in r.history[:1] if row.get("worker_pid")}
    statuses = defaultdict(int)
    for record in load_records(run_dir):
        statuses[record.status] += 1
    return {
        "run_dir": str(run_dir), "space": info.space["name"], "trials": len(load_records(run_dir)),
        "statuses": dict(statuses), "max_epochs": info.max_epochs, "size": info.data.size,
        "train_images": n_train, "wall_s": wall, "train_s": train, "gpus": gpus,
        "concurrency": train / (wall * max(gpus, 1)) if wall else None,
        "steady_train_s": steady,
        "steady_concurrency": steady / (wall * max(gpus, 1)) if wall else None,
        "nvidia_smi": None,  # filled by main when it ran the sweep under a GpuSampler
        "most_at_once": at_once, "most_on_one_gpu": on_one_gpu,
        "first_epoch_s": _median(first_epoch), "later_epoch_s": _median(later_epochs),
        "cached_programs": cached_programs, "worker_processes": len(processes),
        "versions": info.versions, "resources": info.resources.to_dict(),
        "per_arch": {arch: {**row, "batch": sorted(b for b in row["batch"] if b is not None),
                            "share": sorted(s for s in row["share"] if s is not None)}
                     for arch, row in sorted(per_arch.items())},
    }


def steady_train_s(record) -> float:
    """A trial's training time with its first epoch counted at the median speed of its later ones
    (the first epoch also traces and compiles the model); its plain total when it ran one epoch."""
    times = [float(h.get("epoch_train_s") or 0.0) for h in record.history]
    if len(times) < 2:
        return sum(times)
    return _median(times[1:]) + sum(times[1:])


def _median(values):
    values = sorted(values)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def to_markdown(summary: dict, device: str) -> str:
    def f(value, spec):
        return "–" if value is None else format(value, spec)

    gpus = summary["gpus"]
    smi = summary.get("nvidia_smi")
    busy = f"{smi['busy_fraction']:.3f} ({smi['samples']} samples)" if smi else "– (no nvidia-smi samples)"
    peak_memory = f"{smi['peak_memory_gib']:.1f} GiB" if smi else "–"
    lines = [
        f"Sweep `{summary['space']}`: {summary['trials']} trials ({', '.join(f'{k} {v}' for k, v in sorted(summary['statuses'].items()))}), "
        f"up to {summary['max_epochs']} epochs of {summary['train_images']} training images at {summary['size']} px; "
        f"{device}; resources {json.dumps(summary['resources'])}; versions "
        f"{json.dumps({k: v for k, v in summary['versions'].items() if k in ('keras', 'jax', 'tensorflow', 'ray', 'optuna')})}.",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| sweep wall time | {summary['wall_s']:.1f} s |",
        f"| sum of trials' pure training time | {summary['train_s']:.1f} s |",
        f"| **GPU-busy fraction** (nvidia-smi utilization.gpu, mean over the sweep) | **{busy}** |",
        f"| most GPU memory in use (nvidia-smi, all processes) | {peak_memory} |",
        f"| training concurrency (trials' training time / (wall x {max(gpus, 1)} {'GPU' if gpus else 'CPU slot'}); "
        f"> 1 when trials share a GPU) | {f(summary['concurrency'], '.3f')} |",
        f"| the same, first epochs at the later epochs' speed (compilation excluded) | "
        f"{summary['steady_train_s']:.1f} s → {f(summary['steady_concurrency'], '.3f')} |",
        f"| a trial's first epoch, median (build, compile or load from the cache, train, evaluate) | "
        f"{f(summary['first_epoch_s'], '.1f')} s |",
        f"| a later epoch, median | {f(summary['later_epoch_s'], '.1f')} s |",
        f"| programs in the run's compilation cache | {f(summary['cached_programs'], 'd')} |",
        f"| most trials training at once (on one GPU) | {summary['most_at_once']} ({summary['most_on_one_gpu']}) |",
        f"| worker processes that ran the trials (reused workers, issue 17) | {summary.get('worker_processes', '–')} |",
        "",
        "| arch | trials | batch | GPU share | img/s per trial after epoch 1 (median) | bare Keras img/s (anchors, same batch) | "
        "estimate GiB | measured peak GiB (median) | estimate error |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for arch, row in summary["per_arch"].items():
        img_s, est, peak = _median(row["img_s"]), _median(row["estimate_gib"]), _median(row["peak_gib"])
        batch = row["batch"][0] if len(row["batch"]) == 1 else None
        anchor = ANCHOR_IMG_S.get(arch, {}).get(batch)
        error = f"{100 * (est / peak - 1):+.0f} %" if est and peak else "–"
        lines.append(f"| {arch} | {row['trials']} | {'/'.join(map(str, row['batch']))} | "
                     f"{'/'.join(f'{s:g}' for s in row['share'])} | {f(img_s, ',.0f')} | {f(anchor, ',')} | "
                     f"{f(est, '.2f')} | {f(peak, '.2f')} | {error} |")
    return "\n".join(lines)


def _device() -> tuple[str, int]:
    from search.memory import detect_gpu_memory, format_bytes

    memory = detect_gpu_memory()
    try:
        names = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                               text=True, timeout=20).stdout.split("\n")
        names = [n.strip() for n in names if n.strip()]
    except (OSError, subprocess.SubprocessError):
        names = []
    if names:
        return f"{len(names)} x {names[0]} ({format_bytes(memory)}), {os.cpu_count()} CPUs", len(names)
    return f"no GPU, {os.cpu_count()} CPUs ({platform.machine()})", 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", help="analyse this finished sweep instead of running one")
    parser.add_argument("--space", default="seed")
    parser.add_argument("--data", default="demo")
    parser.add_argument("--max-epochs", type=int, help="override the space's max epochs (a documented subset)")
    parser.add_argument("--trials", type=int)
    parser.add_argument("--size", type=int)
    parser.add_argument("--gpus", type=int, help="GPUs the sweep uses (default: all nvidia-smi lists)")
    parser.add_argument("--cpus-per-trial", type=float, default=2.0)
    parser.add_argument("--storage", default=str(ROOT / "colorsweep-runs"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "gpu_sweep.md"))
    args = parser.parse_args(argv)

    device, detected = _device()
    gpus = detected if args.gpus is None else args.gpus
    if args.run_dir:  # the machine that ran it is not necessarily this one
        device = f"analysed from the run's records with {gpus} GPU(s) (--gpus)"
    sampler = None
    if args.run_dir:
        run_dir = Path(args.run_dir)
    else:
        from search.sweep import run_sweep

        name = f"gpu-bench-{time.strftime('%Y%m%d-%H%M%S')}"
        with GpuSampler() as sampler:
            result = run_sweep(args.space, data=args.data, name=name, storage=args.storage, trials=args.trials,
                               max_epochs=args.max_epochs, size=args.size, cpus_per_trial=args.cpus_per_trial,
                               gpus_per_trial=1.0 if gpus else 0.0, num_gpus=gpus if gpus else None,
                               live=False, report=False, command_line=" ".join(sys.argv))
        run_dir = Path(result.run_dir)
    summary = analyse(run_dir, gpus)
    summary["nvidia_smi"] = sampler.summary() if sampler else None
    text = f"### GPU use of a sweep ({time.strftime('%Y-%m-%d')})\n\n" + to_markdown(summary, device)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    out.with_suffix(".json").write_text(json.dumps(summary, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
