"""Benchmark: what a sweep finds, judged by the model a user would export.

For each variant, runs ``colorsweep run SPACE --data DATA --size SIZE --time-budget BUDGET [ARGS]``
(or scores a finished run given as ``--run-dir LABEL=DIR``), exports the best trial's model (rank 1
on the sweep's metric), and scores it beside predicting grey on the test split of DATA and on photos
no trial trained on (the built-in demo photos), with :mod:`colorize_core.metrics`: ``gain_vs_gray``,
``delta_e``, colourfulness and its gap to the truth. Saves a picture (grey input | truth |
prediction, 256 px) of a few validation photos for the first variant.

    .venv/bin/python bench/quality.py [--space auto] [--data ../shared/datasets/gcompris] [--size 64]
        [--budget 15m] [--compare] [--variant LABEL=SPACE:ARGS ...] [--run-dir LABEL=DIR ...] [--out bench/results]

``--compare`` adds, at the same budget, random search without early stopping (``--searcher random
--scheduler none``) and the study's ``seed`` grid, so the table shows what the search adds.
``--variant 'no crops=auto:--samples-per-epoch 0'`` adds any other variant (one change at a time).
Variants run one after another (each has the machine to itself). Prints a Markdown table, also
written to ``OUT/quality.md`` (with JSON beside it); the picture is ``OUT/quality.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "gcompris"
RESULTS = Path(__file__).resolve().parent / "results"
COLUMNS = ("gain_vs_gray", "delta_e", "colorfulness", "colorfulness_gap", "auc")


def _row(name: str, values: dict) -> str:
    return "| " + name + " | " + " | ".join(f"{values[c]:.3f}" if abs(values[c]) < 10 else f"{values[c]:.2f}"
                                            for c in COLUMNS) + " |"


def _score(model, split, *, temperature: float, decode: str, chroma: float = 1.0) -> tuple[dict, dict, float, dict]:
    """Metrics of ``model`` at colour strength ``chroma`` (what ``colorsweep colorize`` gives with the
    export's fitted strength) and of predicting grey on ``split``, the truth's colourfulness, and the
    model's metrics at its own colours (chroma 1)."""
    from colorize_core import color, metrics
    from colorize_core.train import predict_ab

    ab = predict_ab(model, split.lightness, temperature=temperature, decode=decode)
    own = metrics.evaluate(split.lightness, split.ab, ab)
    predicted = own if chroma == 1.0 else metrics.evaluate(split.lightness, split.ab, ab * np.float32(chroma))
    grey = metrics.evaluate(split.lightness, split.ab, color.gray_ab(split.ab.shape))
    truth = float(np.mean(metrics.colorfulness(color.lab_to_rgb(color.merge_lab(split.lightness, split.ab)))))
    return predicted, grey, truth, own


def _run(label: str, space: str, extra: list[str], args, storage: Path) -> Path:
    """Run one variant's sweep; its run directory."""
    import re

    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{label}-{time.strftime('%Y%m%d-%H%M%S')}")
    command = [sys.executable, "-m", "search.cli", "run", space, "--data", args.data, "--size", str(args.size),
               "--time-budget", args.budget, "--storage", str(storage), "--name", name, *extra]
    print("$ colorsweep " + " ".join(command[3:]), file=sys.stderr, flush=True)
    subprocess.run(command, check=True, cwd=Path(__file__).resolve().parents[1])
    return storage / name


def _tradeoff(run_dir: Path, info, records) -> dict:
    """What the run's trials offer on accuracy and colour, whatever it optimised: the front its trials
    form on (delta_e, colorfulness_gap) at validation, the best of each, and the knee."""
    from search import pareto
    from spaces.objectives import parse_objectives

    objectives = parse_objectives(["delta_e", "colorfulness_gap"])
    standing = pareto.standings(records, objectives)
    points = [s.point for s in standing.values() if s.point is not None]
    knee = pareto.knee(standing, objectives)
    return {"front_size": len(pareto.front(standing, objectives)),
            "best_val_delta_e": min((p[0] for p in points), default=None),
            "best_val_gap": min((p[1] for p in points), default=None),
            "knee_val": knee.point if knee else None}


def _evaluate(label: str, run_dir: Path, out: Path, picture: Path | None, pick: str | None = None) -> dict:
    """Export the best trial of ``run_dir`` (or the one ``pick`` chooses) and score it (test split,
    unseen demo photos)."""
    from colorize_core.data import load_dataset
    from search.best import export_model, load_exported, select_trial
    from search.records import constraints_of, data_source, load_records, load_sweep_info, rank_records

    info = load_sweep_info(run_dir)
    records = rank_records(load_records(run_dir), metric=info.metric, mode=info.mode,
                           constraints=constraints_of(info))
    best = records[0] if pick is None else select_trial(run_dir, pick=pick).record
    config = best.params
    exported = export_model(run_dir, rank=1, pick=pick, overwrite=True,
                            out=out / "quality-models" / (run_dir.name + ("-" + pick if pick else "")))
    model = load_exported(exported)
    kwargs = {"temperature": float(config.get("temperature", 0.38)), "decode": config.get("decode", "annealed_mean")}
    data = load_dataset(data_source(info.data.source), size=int(info.data.size))
    demo = load_dataset("demo", size=int(info.data.size))
    from search.best import CARD_JSON

    chroma = float((json.loads((exported / CARD_JSON).read_text()).get("colour_strength") or {}).get("chroma", 1.0))
    test, test_grey, test_truth, test_own = _score(model, data.test, chroma=chroma, **kwargs)
    unseen, unseen_grey, unseen_truth, unseen_own = _score(model, demo.test if len(demo.test) else demo.val,
                                                           chroma=chroma, **kwargs)
    names = []
    if picture is not None:
        from colorfulness import _picture  # bench/colorfulness.py: grey | truth | models, from the original files

        try:
            names = _picture({"prediction": model}, data, 5, picture, kwargs["temperature"], kwargs["decode"])
        except (IndexError, OSError) as exc:  # the picture reads the original files: built-in demo tiles have none
            print(f"no picture: {type(exc).__name__}: {exc}", file=sys.stderr)
    statuses: dict[str, int] = {}
    for record in records:
        statuses[record.status] = statuses.get(record.status, 0) + 1
    return {
        "label": label, "run_dir": str(run_dir), "command": info.command_line, "trials": len(records),
        "statuses": statuses, "wall_time_s": info.wall_time_s, "best": best.trial_id, "params": config,
        "val": best.best_value(info.metric, info.mode), "metric": info.metric, "pick": pick,
        "val_gap": (best.best(info.metric, info.mode) or {}).get("colorfulness_gap"),
        "objectives": [o["metric"] for o in info.objectives or []] or [info.metric],
        "tradeoff": _tradeoff(run_dir, info, records),
        "chroma": chroma, "test_own": test_own, "unseen_own": unseen_own,
        "test": test, "test_grey": test_grey, "test_truth": test_truth, "n_test": len(data.test),
        "unseen": unseen, "unseen_grey": unseen_grey, "unseen_truth": unseen_truth,
        "n_unseen": len(demo.test) or len(demo.val), "picture_names": names,
    }


def _short(params: dict) -> str:
    keys = ("arch", "loss", "learning_rate", "batch_size", "samples_per_epoch")
    return ", ".join(f"{k} {params[k]:.2g}" if isinstance(params.get(k), float) else f"{k} {params[k]}"
                     for k in keys if params.get(k) is not None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="auto")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--budget", default="15m")
    parser.add_argument("--compare", action="store_true", help="also random search and the seed grid")
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL=SPACE:ARGS")
    parser.add_argument("--run-dir", action="append", default=[], metavar="LABEL=DIR",
                        help="score this finished run instead of running that variant")
    parser.add_argument("--only-given", action="store_true", help="score only the --run-dir runs")
    parser.add_argument("--storage", default="/tmp/colorsweep-quality")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    variants = [(f"{args.space} (TPE + ASHA)", args.space, [])]
    if args.compare:
        variants += [("random search, no early stopping", args.space, ["--searcher", "random", "--scheduler", "none"]),
                     ("seed grid (the study's 24)", "seed", [])]
    for spec in args.variant:
        label, _, rest = spec.partition("=")
        space, _, extra = rest.partition(":")
        variants.append((label, space or args.space, extra.split()))
    given = dict(item.split("=", 1) for item in args.run_dir)
    if args.only_given:
        variants = [(label, "", []) for label in given]
    rows = []
    for index, (label, space, extra) in enumerate(variants):
        run_dir = Path(given[label]) if label in given else _run(label, space, extra, args, Path(args.storage))
        rows.append(_evaluate(label, run_dir, out, out / "quality.png" if index == 0 else None))
        if len(rows[-1]["objectives"]) > 1:  # a several-objective sweep: also what `export --pick knee` hands out
            rows.append(_evaluate(f"{label}: its knee", run_dir, out, None, pick="knee"))

    first = rows[0]
    lines = [
        f"## What a {args.budget} sweep finds — `bench/quality.py` ({time.strftime('%Y-%m-%d')})",
        "",
        f"Data `{args.data}` at {args.size} px; {platform.processor() or platform.machine()}, {os.cpu_count()} CPU "
        f"cores; variants ran one after another. Scores of each sweep's exported best model (rank 1 on validation "
        f"{first['metric']}); test split: {first['n_test']} photos (truth colourfulness {first['test_truth']:.1f}); "
        f"unseen: {first['n_unseen']} demo tiles (truth {first['unseen_truth']:.1f}). Grey on the test split: "
        f"delta_e {first['test_grey']['delta_e']:.2f}.",
        "",
        "Test and unseen columns are at the export's colour strength (what `colorsweep colorize` gives by default);",
        "the last column is the model's own colours (chroma 1).",
        "",
        "| variant | trials | val delta_e (gap) | colour strength | test gain_vs_gray | test delta_e | test colourfulness (gap) | "
        "unseen gain_vs_gray | unseen colourfulness (gap) | test gain (gap) at chroma 1 | exported configuration |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        test, unseen = row["test"], row["unseen"]
        gap = f" ({row['val_gap']:.1f})" if row.get("val_gap") is not None else ""
        lines.append(
            f"| {row['label']} | {row['trials']} | {row['val']:.3f}{gap} | {row['chroma']:g} | {test['gain_vs_gray']:.3f} "
            f"| {test['delta_e']:.2f} | {test['colorfulness']:.1f} ({test['colorfulness_gap']:.1f}) "
            f"| {unseen['gain_vs_gray']:.3f} | {unseen['colorfulness']:.1f} ({unseen['colorfulness_gap']:.1f}) "
            f"| {row['test_own']['gain_vs_gray']:.3f} ({row['test_own']['colorfulness_gap']:.1f}) | {_short(row['params'])} |")
    lines += ["", "What each sweep's trials offer on validation (every trial at its best epoch on delta_e; the front "
              "on delta_e and colorfulness_gap, whatever the sweep optimised):", "",
              "| variant | objectives | trials | wall (min) | front size | best delta_e | best colourfulness gap | knee (delta_e, gap) |",
              "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        if row["label"].endswith(": its knee"):
            continue
        t = row["tradeoff"]
        knee = f"{t['knee_val'][0]:.2f}, {t['knee_val'][1]:.1f}" if t["knee_val"] else "–"
        wall = f"{row['wall_time_s'] / 60:.1f}" if row.get("wall_time_s") else "–"
        lines.append(f"| {row['label']} | {', '.join(row['objectives'])} | {row['trials']} | {wall} | {t['front_size']} "
                     f"| {t['best_val_delta_e']:.3f} | {t['best_val_gap']:.1f} | {knee} |")
    lines += ["", "Commands: " + "; ".join(f"`{r['command']}`" for r in rows if r.get("command")), "",
              f"Picture: `quality.png` (grey input | truth | prediction of `{first['label']}`; "
              f"{', '.join(first['picture_names'])})."]
    text = "\n".join(lines) + "\n"
    (out / "quality.md").write_text(text)
    (out / "quality.json").write_text(json.dumps(rows, indent=1, default=float))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
