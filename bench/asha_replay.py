"""Benchmark: which trials would ASHA have stopped, ranking on one metric or on the ``tradeoff`` score?

A sweep without early stopping (``--scheduler none``) records every trial's full history. This script
replays ASHA's rungs on those histories (grace period G, reduction factor R: rungs at G, G·R, G·R², ...
epochs; at each rung a trial continues when it is in the best 1/R of the trials that reached that rung,
as synchronous successive halving decides) twice: ranking on the first objective alone (``delta_e``),
and on :func:`spaces.objectives.tradeoff_score` (what colorsweep's ASHA ranks a several-objective sweep
on). For each, it counts how many trials of the final Pareto front (the full histories' front on the
sweep's objectives) would have been stopped before their end: those are trials the front would have
lost.

    .venv/bin/python bench/asha_replay.py RUN_DIR [--grace 4] [--reduction 2]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _rungs(grace: int, reduction: int, max_epochs: int) -> list[int]:
    rungs, rung = [], grace
    while rung < max_epochs:
        rungs.append(rung)
        rung *= reduction
    return rungs


def replay(histories: dict[str, list[dict]], score, *, grace: int, reduction: int, max_epochs: int) -> dict[str, int]:
    """Trial id → the epoch ASHA would have stopped it at (its last epoch if it survives every rung).
    ``score(row)`` is lower-is-better."""
    stopped_at = {tid: len(rows) for tid, rows in histories.items()}
    alive = set(histories)
    for rung in _rungs(grace, reduction, max_epochs):
        at_rung = {tid: score(histories[tid][rung - 1]) for tid in alive if len(histories[tid]) >= rung}
        if len(at_rung) < reduction:
            continue
        keep = max(1, len(at_rung) // reduction)
        survivors = set(sorted(at_rung, key=at_rung.get)[:keep])
        for tid in set(at_rung) - survivors:
            stopped_at[tid] = rung
            alive.discard(tid)
    return stopped_at


def main(argv: list[str] | None = None) -> int:
    from search import pareto
    from search.records import load_records, load_sweep_info, objectives_of
    from spaces.objectives import parse_objectives, tradeoff_score

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--grace", type=int, help="default: the sweep's recorded grace period")
    parser.add_argument("--reduction", type=int, default=2)
    args = parser.parse_args(argv)

    run_dir = Path(args.run_dir)
    info = load_sweep_info(run_dir)
    objectives = objectives_of(info)
    if len(objectives) < 2:
        objectives = parse_objectives(["delta_e", "colorfulness_gap"])
    grey = json.loads((run_dir / "baselines.json").read_text())["gray"]
    grace = args.grace or int(info.scheduler.grace_period)
    records = [r for r in load_records(run_dir) if r.history and r.status in ("completed", "stopped")]
    histories = {r.trial_id: r.history for r in records}
    front = {s.trial_id for s in pareto.front(pareto.standings(records, objectives), objectives)}
    first = objectives[0]
    sign = 1 if first.mode == "min" else -1
    rankings = {
        f"ASHA on {first.metric}": lambda row: sign * row.get(first.metric, float("inf")),
        "ASHA on tradeoff": lambda row: tradeoff_score(row, objectives, grey),
    }
    lines = [f"## ASHA replay on `{run_dir.name}` ({len(records)} trials, none stopped by ASHA; grace {grace}, "
             f"reduction {args.reduction}, max {info.max_epochs} epochs)", "",
             f"Final front on {', '.join(o.metric for o in objectives)}: {len(front)} trial(s): {', '.join(sorted(front))}.", "",
             "| ranking | trials stopped early | front trials stopped early | epochs saved |", "|---|---|---|---|"]
    result = {"run_dir": str(run_dir), "front": sorted(front), "rankings": {}}
    for name, score in rankings.items():
        stopped_at = replay(histories, score, grace=grace, reduction=args.reduction, max_epochs=int(info.max_epochs))
        early = {tid for tid, epoch in stopped_at.items() if epoch < len(histories[tid])}
        lost = sorted(early & front)
        saved = sum(len(histories[tid]) - stopped_at[tid] for tid in early)
        lines.append(f"| {name} | {len(early)} of {len(histories)} | {len(lost)} of {len(front)}"
                     f"{' (' + ', '.join(lost) + ')' if lost else ''} | {saved} |")
        result["rankings"][name] = {"stopped_early": sorted(early), "front_lost": lost, "epochs_saved": saved}
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "asha_replay.md").write_text(text)
    (out / "asha_replay.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
