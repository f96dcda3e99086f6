"""Benchmark: what one TPE proposal costs as the history grows, Optuna's TPE against colorsweep's
bounded one (search/bounded_tpe.py).

For each history size, a study of that many finished trials over a space like ``auto``'s (learning
rate log-uniform, rebalance uniform, loss and batch size as choices; made-up values) is built once;
then each sampler proposes one trial (not timed: what each builds once per study, amortised over a
sweep) and ``--asks`` more (each told as failed, so the history stays the same), and the mean time
per proposal is printed, with the ratio.

    .venv/bin/python bench/tpe_history.py [--sizes 100 500 1000 3000 10000] [--asks 20]

Figures in BENCHMARKS.md ("Driver at scale").
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _space():
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    return {"learning_rate": FloatDistribution(1e-4, 1e-2, log=True), "rebalance": FloatDistribution(0.0, 0.5),
            "loss": CategoricalDistribution(["mae", "huber", "mse"]), "batch_size": CategoricalDistribution([8, 16, 32])}


def _history(n: int, seed: int = 0):
    import math

    from optuna.trial import create_trial

    rng = random.Random(seed)
    space = _space()
    trials = []
    for _ in range(n):
        params = {"learning_rate": math.exp(rng.uniform(math.log(1e-4), math.log(1e-2))),
                  "rebalance": rng.uniform(0, 0.5), "loss": rng.choice(["mae", "huber", "mse"]),
                  "batch_size": rng.choice([8, 16, 32])}
        value = 9.0 + abs(math.log10(params["learning_rate"]) + 2.8) + params["rebalance"] + rng.random()
        trials.append(create_trial(params=params, distributions=space, values=[value]))
    return trials


def per_proposal_s(sampler, trials, asks: int) -> float:
    import optuna
    from optuna.trial import TrialState

    study = optuna.create_study(sampler=sampler)
    study.add_trials(trials)
    space = _space()
    warm = study.ask(space)  # caches built once per study (Optuna's search space, the bounded ranking)
    study.tell(warm, state=TrialState.FAIL)
    started = time.perf_counter()
    for _ in range(asks):
        trial = study.ask(space)
        study.tell(trial, state=TrialState.FAIL)
    return (time.perf_counter() - started) / asks


def main(argv=None) -> int:
    import optuna

    from search.bounded_tpe import BoundedHistoryTPESampler

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 1000, 3000, 10000])
    parser.add_argument("--asks", type=int, default=20)
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows = []
    print(f"{'finished trials':>16} {'Optuna TPE':>12} {'bounded TPE':>12} {'ratio':>7}")
    for n in args.sizes:
        trials = _history(n)
        plain = per_proposal_s(optuna.samplers.TPESampler(seed=0), trials, args.asks)
        bounded = per_proposal_s(BoundedHistoryTPESampler(seed=0), trials, args.asks)
        rows.append({"trials": n, "optuna_tpe_ms": plain * 1e3, "bounded_tpe_ms": bounded * 1e3})
        print(f"{n:>16} {plain * 1e3:>10.2f}ms {bounded * 1e3:>10.2f}ms {plain / bounded:>6.1f}x", flush=True)
    out = ROOT / "bench" / "results" / "tpe_history.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": platform.platform(), "processor": platform.processor(),
                               "optuna": optuna.__version__, "asks": args.asks, "rows": rows}, indent=2))
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
