"""Benchmark: the sweep driver at 100, 1,000 or 10,000 trials, with trials that only sleep.

The real driver of ``colorsweep run`` (``search.sweep.run_sweep``: Optuna's TPE inside the memory
searcher, ASHA, the monitor and its ``TrialLedger`` writing ``trials.json``, Ray's experiment state,
the end-of-sweep report) runs trials that train nothing: :func:`sleeping_trainable` makes a stand-in
for ``search.trainable.colorize_trial`` that sleeps ``--sleep`` seconds per epoch and reports made-up
but plausible validation metrics under the names ``colorize_core.train.fit`` uses (``delta_e``,
``gain_vs_gray``, ``colorfulness``, ...), with a small checkpoint folder (``state.json`` only: no
``best.keras``, so the report has no models to reload and says so in a note). Many trials run at once
(``--concurrency``, ``--cpus-per-trial`` small) so that the driver, not the trials, is the bottleneck.

Figures, for one sweep of ``--trials`` trials:

* ideal = the trials' total sleep / concurrency (every slot always busy, a zero-cost driver);
* loop = wall time of Ray Tune's loop (``tuner.fit``); overhead per trial = (loop - ideal) / trials,
  and the same times the concurrency ("slot seconds" per trial: Ray's release test of 10,000
  one-second trials on 16 CPUs, 715 s against 625 s, is 0.14 slot-seconds per trial);
* time spent in ``TrialLedger`` writes of ``trials.json``, in the searcher's proposals (TPE), in the
  monitor's callbacks; the end-of-sweep report; ``colorsweep report RUN_DIR`` run afterwards as a user
  would (a new process);
* the driver's peak resident memory (``VmHWM``) and its resident memory when the loop starts and ends;
* how many trials ran at once on average, and the driver process's CPU seconds per trial.

    .venv/bin/python bench/scale.py --trials 100 [--concurrency 8] [--sleep 0.2] [--epochs 4]
    .venv/bin/python bench/scale.py --trials 1000 --profile /tmp/scale.prof   # cProfile of the driver

Prints a table and writes ``bench/results/scale-<trials>.json`` (figures in BENCHMARKS.md, "Driver at
scale"). Wall-clock figures move with other load on the machine; the driver's CPU seconds per trial
are the steady figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"


# ---------------------------------------------------------------------------------------------------
# The stand-in trainable


def sleeping_trainable(sleep_s: float, *, checkpoint: bool = True):
    """A function with the signature of ``search.trainable.colorize_trial`` (``(config, *, data,
    settings)``) that trains nothing: each of ``settings["max_epochs"]`` epochs sleeps ``sleep_s``
    seconds and reports metrics that depend smoothly on the configuration (best near learning rate
    1.5e-3, improving with epochs, a little noise), so that TPE and ASHA have something to work on.
    With ``checkpoint`` each epoch also reports a checkpoint folder holding a ``state.json`` (as a real
    trial reports one per epoch; no ``best.keras``). Benchmarks only (``run_sweep(trainable=...)``).

    Returned as a closure so that Ray ships it to its workers by value (no import of this script)."""

    def sleeping_trial(config: dict, *, data, settings: dict) -> None:
        import math
        import random
        import shutil

        from ray import tune

        os.environ.setdefault("TUNE_FUNCTION_THREAD_TIMEOUT_S", "60")  # as colorize_trial: reused workers
        lr = float(config.get("learning_rate", 1e-3))
        rebalance = float(config.get("rebalance", 0.0))
        batch = int(config.get("batch_size", 16))
        rng = random.Random(hash((round(lr, 12), rebalance, batch)))
        quality = abs(math.log10(lr / 1.5e-3)) + 0.4 * abs(rebalance - 0.25) + (0.1 if config.get("loss") == "mse" else 0)
        context = tune.get_context()
        start = 0
        previous = tune.get_checkpoint()
        if previous is not None:
            with previous.as_directory() as folder:
                start = int(json.loads((Path(folder) / "state.json").read_text()).get("epoch", 0))
        workdir = Path(tempfile.mkdtemp(prefix="colorsweep-bench-trial-"))
        best_value, best_epoch, train_time = math.inf, 0, 0.0
        try:
            for epoch in range(start + 1, int(settings["max_epochs"]) + 1):
                time.sleep(sleep_s)
                train_time += sleep_s
                delta_e = 8.5 + 2.5 * quality + 4.0 / epoch + rng.uniform(-0.15, 0.15)
                if delta_e < best_value:
                    best_value, best_epoch = delta_e, epoch
                gain = max(-0.2, 0.45 - 0.05 * (delta_e - 8.5))
                metrics = {
                    "epoch": epoch, "delta_e": delta_e, "ab_mse": 120.0 + 15.0 * (delta_e - 8.5),
                    "psnr": 24.0 - 0.3 * (delta_e - 8.5), "auc": 90.0 - delta_e, "gain_vs_gray": gain,
                    "colorfulness": 20.0 + 10.0 * gain, "colorfulness_gap": 15.0 - 10.0 * gain,
                    "train_loss": 0.01 / epoch, "val_loss": 0.012 / epoch, "val_data_loss": 0.012 / epoch,
                    "penalty": 0.0, "lr": lr, "epoch_train_s": sleep_s, "train_time_s": train_time,
                    "params": 100_000, "peak_memory_mb": 1.0, "early_stopped": False, "best_epoch": best_epoch,
                    "node_id": "bench", "worker_pid": os.getpid(), "gpu_ids": "", "gpu_share": 0.0,
                    "batch_size_used": batch,
                }
                if checkpoint:
                    (workdir / "state.json").write_text(json.dumps({"epoch": epoch, "trial": context.get_trial_id()}))
                    tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(str(workdir)))
                else:
                    tune.report(metrics)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    return sleeping_trial


def bench_space(trials: int, epochs: int, size: int):
    """A small space TPE can work on: two continuous parameters (learning rate, rebalance) and two
    choices; ``unet`` at ``size`` px (never built: the trials only sleep)."""
    from spaces import space_from_dict

    return space_from_dict({
        "name": "scale", "description": "driver benchmark: trials that only sleep",
        "defaults": {"max_epochs": epochs, "size": size, "trials": trials, "grace_period": 1},
        "params": {"learning_rate": {"loguniform": [1e-4, 1e-2]}, "rebalance": {"uniform": [0.0, 1.0]},
                   "loss": {"choice": ["mae", "mse"]}, "batch_size": {"choice": [8, 16]}},
        "fixed": {"arch": "unet", "early_stopping_patience": None},
    })


# ---------------------------------------------------------------------------------------------------
# Timers around the driver's parts (this process only)


class Timer:
    """Calls and seconds spent in one wrapped function (and the slowest call)."""

    def __init__(self, name: str):
        self.name, self.calls, self.seconds, self.slowest = name, 0, 0.0, 0.0
        self.late: list[float] = []  # seconds of each call (for growth: first tenth against last tenth)

    def wrap(self, owner, attribute: str) -> None:
        real = getattr(owner, attribute)
        timer = self

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                dt = time.perf_counter() - t0
                timer.calls += 1
                timer.seconds += dt
                timer.slowest = max(timer.slowest, dt)
                timer.late.append(dt)

        setattr(owner, attribute, timed)

    def summary(self) -> dict:
        tenth = max(1, len(self.late) // 10)
        first = self.late[:tenth]
        last = self.late[-tenth:]
        return {"calls": self.calls, "seconds": round(self.seconds, 3),
                "mean_ms": round(1000 * self.seconds / self.calls, 3) if self.calls else None,
                "slowest_ms": round(1000 * self.slowest, 2),
                "first_tenth_mean_ms": round(1000 * sum(first) / len(first), 3) if first else None,
                "last_tenth_mean_ms": round(1000 * sum(last) / len(last), 3) if last else None}


def install_timers() -> dict[str, Timer]:
    """Wrap the driver parts whose cost may grow with the trial count."""
    import search.sweep.loop as loop
    import search.sweep.run as run
    from search.monitor import SweepMonitor
    from search.packing import MemorySearcher
    from search.rundir import TrialLedger

    timers = {name: Timer(name) for name in ("ledger_write", "proposal", "monitor_result", "monitor_start",
                                              "monitor_complete", "monitor_step_end", "end_report", "loop", "tuner_fit")}
    timers["ledger_write"].wrap(TrialLedger, "_write_snapshot" if hasattr(TrialLedger, "_write_snapshot") else "save")
    if hasattr(TrialLedger, "_append"):
        timers["journal_append"] = Timer("journal_append")
        timers["journal_append"].wrap(TrialLedger, "_append")
    timers["proposal"].wrap(MemorySearcher, "suggest")
    timers["monitor_result"].wrap(SweepMonitor, "on_trial_result")
    timers["monitor_start"].wrap(SweepMonitor, "on_trial_start")
    timers["monitor_complete"].wrap(SweepMonitor, "on_trial_complete")
    timers["monitor_step_end"].wrap(SweepMonitor, "on_step_end")
    timers["end_report"].wrap(loop, "_write_report")
    timers["loop"].wrap(run, "_fit")
    from ray import tune

    timers["tuner_fit"].wrap(tune.Tuner, "fit")
    return timers


class Lifetimes:
    """When each trial started and ended in the driver's view (the monitor's callbacks), and the
    driver process's CPU seconds during Ray Tune's loop: how many trials ran at once on average, and
    what the driver itself spent per trial."""

    def __init__(self):
        self.started: dict[str, float] = {}
        self.ended: dict[str, float] = {}
        self.cpu_s = 0.0

    def install(self) -> None:
        from ray import tune

        from search.monitor import SweepMonitor

        def hook(name: str, into: dict):
            real = getattr(SweepMonitor, name)

            def wrapped(monitor, iteration, trials, trial, *args, **kwargs):
                into.setdefault(trial.trial_id, time.perf_counter())
                return real(monitor, iteration, trials, trial, *args, **kwargs)

            setattr(SweepMonitor, name, wrapped)

        hook("on_trial_start", self.started)
        hook("on_trial_complete", self.ended)
        hook("on_trial_error", self.ended)
        real_fit, lifetimes = tune.Tuner.fit, self

        def fit(tuner, *args, **kwargs):
            before = os.times()
            try:
                return real_fit(tuner, *args, **kwargs)
            finally:
                after = os.times()
                lifetimes.cpu_s += (after.user - before.user) + (after.system - before.system)

        tune.Tuner.fit = fit

    def mean_running(self, loop_s: float) -> float:
        """Trials running at once, averaged over the loop (from start to end callbacks)."""
        busy = sum(self.ended[t] - self.started[t] for t in self.ended if t in self.started)
        return busy / loop_s if loop_s > 0 else 0.0


class MemoryWatch:
    """The driver's resident memory (``/proc/self/status``), sampled every ``period_s`` seconds."""

    def __init__(self, period_s: float = 0.5):
        self.period_s = period_s
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MiB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.t0 = time.monotonic()

    @staticmethod
    def read(key: str) -> float:
        """``VmRSS`` / ``VmHWM`` of this process in MiB."""
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            self.samples.append((time.monotonic() - self.t0, self.read("VmRSS")))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


# ---------------------------------------------------------------------------------------------------


def run_once(args) -> dict:
    from colorize_core.data import load_dataset
    from search.records import load_records
    from search.sweep import run_sweep

    load_dataset(args.data, size=args.size)  # decoded and cached before the clock starts
    timers = install_timers()
    lifetimes = Lifetimes()
    lifetimes.install()
    storage = Path(args.storage or tempfile.mkdtemp(prefix="colorsweep-scale-"))
    name = f"scale-{args.trials}"
    num_cpus = args.num_cpus or max(1, round(args.concurrency * args.cpus_per_trial))
    space = bench_space(args.trials, args.epochs, args.size)
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
    load_start = os.getloadavg()
    with MemoryWatch() as memory:
        t0 = time.perf_counter()
        if profiler:
            profiler.enable()
        result = run_sweep(space, data=args.data, storage=storage, name=name, overwrite=True, live=True,
                           concurrency=args.concurrency, cpus_per_trial=args.cpus_per_trial, num_cpus=num_cpus,
                           searcher=args.searcher, trainable=sleeping_trainable(args.sleep, checkpoint=not args.no_checkpoint))
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
        wall = time.perf_counter() - t0
    peak_rss = MemoryWatch.read("VmHWM")
    load_end = os.getloadavg()
    records = load_records(result.run_dir)
    epochs = sum(r.epochs for r in records)
    ideal = epochs * args.sleep / args.concurrency
    loop = timers["tuner_fit"].seconds  # Ray Tune's loop; _fit adds the end-of-sweep bookkeeping and report
    overhead = (loop - ideal) / max(1, len(records))
    # ``colorsweep report`` afterwards, as a user runs it (a new process, the run no longer held)
    t1 = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's code, as `colorsweep report RUN_DIR`
    done = subprocess.run([sys.executable, "-m", "search.cli", "report", str(result.run_dir)],
                          capture_output=True, text=True, cwd=ROOT, env=env)
    report_cli = time.perf_counter() - t1
    if done.returncode != 0:
        print(done.stdout + done.stderr, file=sys.stderr)
    statuses: dict[str, int] = {}
    for r in records:
        statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
    rss = [mib for _, mib in memory.samples]
    out = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_before": load_start, "load_after": load_end},
        "args": {k: v for k, v in vars(args).items() if k not in ("storage",)},
        "run_dir": str(result.run_dir),
        "trials": len(records), "statuses": statuses, "epochs": epochs,
        "wall_s": round(wall, 2), "loop_s": round(loop, 2), "ideal_s": round(ideal, 2),
        "overhead_per_trial_s": round(overhead, 4),
        "overhead_slot_s_per_trial": round(overhead * args.concurrency, 4),
        "mean_running": round(lifetimes.mean_running(loop), 2),
        "driver_cpu_s": round(lifetimes.cpu_s, 1),
        "driver_cpu_s_per_trial": round(lifetimes.cpu_s / max(1, len(records)), 4),
        "ray_num_cpus": num_cpus,
        "setup_s": round(wall - timers["loop"].seconds, 2),
        "after_loop_s": round(timers["loop"].seconds - loop - timers["end_report"].seconds, 2),
        "trials_json_bytes": (result.run_dir / "trials.json").stat().st_size,
        "end_report_s": round(timers["end_report"].seconds, 2),
        "report_cli_s": round(report_cli, 2), "report_cli_rc": done.returncode,
        "report_notes": _report_notes(result.run_dir),
        "driver_peak_rss_mib": round(peak_rss, 1),
        "driver_rss_mib": {"first": round(rss[0], 1) if rss else None, "max": round(max(rss), 1) if rss else None,
                           "last": round(rss[-1], 1) if rss else None},
        "timers": {name: t.summary() for name, t in timers.items()},
    }
    return out


def _report_notes(run_dir: Path) -> list[str]:
    try:
        return json.loads((run_dir / "report" / "trials.json").read_text()).get("notes", [])
    except (OSError, ValueError):
        return []


def print_table(out: dict) -> None:
    t = out["timers"]
    rows = [
        ("trials (statuses)", f"{out['trials']} {out['statuses']}"),
        ("epochs reported", out["epochs"]),
        ("wall (whole run_sweep)", f"{out['wall_s']:.1f} s"),
        ("Ray Tune loop", f"{out['loop_s']:.1f} s"),
        ("ideal (sleep / concurrency)", f"{out['ideal_s']:.1f} s"),
        ("overhead per trial (loop - ideal) / trials", f"{out['overhead_per_trial_s']:.3f} s"),
        ("  x concurrency (slot-seconds, Ray's 0.14)", f"{out['overhead_slot_s_per_trial']:.3f} s"),
        ("trials running at once (mean)", f"{out['mean_running']:.2f} of {out['args']['concurrency']}"),
        ("driver CPU in the loop (total, per trial)", f"{out['driver_cpu_s']:.1f} s, {out['driver_cpu_s_per_trial']:.3f} s"),
        ("trials.json writes (calls, total, mean, last tenth)",
         f"{t['ledger_write']['calls']}, {t['ledger_write']['seconds']:.2f} s, {t['ledger_write']['mean_ms']} ms, "
         f"{t['ledger_write']['last_tenth_mean_ms']} ms"),
        ("trials.json size", f"{out['trials_json_bytes'] / 1024:.0f} KiB"),
        ("proposals (calls, total, first/last tenth mean)",
         f"{t['proposal']['calls']}, {t['proposal']['seconds']:.2f} s, {t['proposal']['first_tenth_mean_ms']} / "
         f"{t['proposal']['last_tenth_mean_ms']} ms"),
        ("monitor per result (mean, last tenth)",
         f"{t['monitor_result']['mean_ms']} / {t['monitor_result']['last_tenth_mean_ms']} ms"),
        ("monitor on_step_end (calls, total)", f"{t['monitor_step_end']['calls']}, {t['monitor_step_end']['seconds']:.2f} s"),
        ("end-of-sweep report", f"{out['end_report_s']:.1f} s"),
        ("colorsweep report RUN_DIR", f"{out['report_cli_s']:.1f} s (exit {out['report_cli_rc']})"),
        ("driver peak RSS", f"{out['driver_peak_rss_mib']:.0f} MiB (loop: {out['driver_rss_mib']})"),
        ("load average before / after", f"{out['machine']['load_before']} / {out['machine']['load_after']}"),
    ]
    if "journal_append" in t:
        rows.insert(8, ("journal appends (calls, total, mean)",
                        f"{t['journal_append']['calls']}, {t['journal_append']['seconds']:.2f} s, "
                        f"{t['journal_append']['mean_ms']} ms"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--sleep", type=float, default=0.2, help="seconds per epoch (default 0.2)")
    parser.add_argument("--epochs", type=int, default=4, help="max epochs; ASHA stops most trials earlier")
    parser.add_argument("--cpus-per-trial", type=float, default=0.25)
    parser.add_argument("--num-cpus", type=int, default=None,
                        help="CPUs Ray may hand out (default concurrency x cpus-per-trial); logical: trials only sleep")
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--data", default="demo")
    parser.add_argument("--searcher", default="tpe", choices=("tpe", "random"))
    parser.add_argument("--no-checkpoint", action="store_true", help="trials report no checkpoint folder")
    parser.add_argument("--storage", default=None, help="where the run goes (default: a new temporary folder)")
    parser.add_argument("--profile", default=None, help="write a cProfile of the driver to this file")
    parser.add_argument("--out", default=None, help="JSON file (default bench/results/scale-<trials>.json)")
    args = parser.parse_args()

    out = run_once(args)
    print_table(out)
    path = Path(args.out) if args.out else RESULTS / f"scale-{args.trials}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"written: {path}")


if __name__ == "__main__":
    main()
