"""Benchmark: what a sweep finds, judged by the model a user would export.

Runs ``colorsweep run SPACE --data DATA --size SIZE --time-budget BUDGET`` (unless ``--run-dir``
names a finished run), exports the best trial's model (rank 1 on the sweep's metric), and scores it
beside predicting grey on the test split of DATA and on photos no trial trained on (the built-in
demo photos), with :mod:`colorize_core.metrics`: ``gain_vs_gray``, ``delta_e``, colourfulness and
its gap to the truth. Saves a picture (grey input | truth | prediction, 256 px) of a few test photos.

    .venv/bin/python bench/quality.py [--space auto] [--data ../shared/datasets/gcompris] [--size 64]
                                      [--budget 15m] [--run-dir RUN] [--out bench/results]

Prints a Markdown block, also written to ``OUT/quality-SPACE.md``; the picture is
``OUT/quality-SPACE.png``. Random search and the seed grid at the same budget are not run by this
script yet (see BENCHMARKS.md).
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


def _score(model, split, *, temperature: float, decode: str) -> tuple[dict, dict, float]:
    """Metrics of ``model`` and of predicting grey on ``split``, and the truth's colourfulness."""
    from colorize_core import color, metrics
    from colorize_core.train import predict_ab

    predicted = metrics.evaluate(split.lightness, split.ab,
                                 predict_ab(model, split.lightness, temperature=temperature, decode=decode))
    grey = metrics.evaluate(split.lightness, split.ab, color.gray_ab(split.ab.shape))
    truth = float(np.mean(metrics.colorfulness(color.lab_to_rgb(color.merge_lab(split.lightness, split.ab)))))
    return predicted, grey, truth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="auto")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--budget", default="15m")
    parser.add_argument("--run-dir", help="score this finished run instead of running a sweep")
    parser.add_argument("--storage", default="/tmp/colorsweep-quality")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if args.run_dir:
        run_dir = Path(args.run_dir)
    else:
        name = f"{args.space}-{time.strftime('%Y%m%d-%H%M%S')}"
        command = [sys.executable, "-m", "search.cli", "run", args.space, "--data", args.data, "--size",
                   str(args.size), "--time-budget", args.budget, "--storage", args.storage, "--name", name]
        subprocess.run(command, check=True, cwd=Path(__file__).resolve().parents[1])
        run_dir = Path(args.storage) / name
    sweep_s = time.perf_counter() - started

    from colorize_core.data import load_dataset
    from search.best import export_model, load_exported
    from search.records import data_source, load_records, load_sweep_info, rank_records

    info = load_sweep_info(run_dir)
    if args.run_dir:
        sweep_s = float(info.get("wall_time_s") or 0.0)
    records = rank_records(load_records(run_dir), metric=info["metric"], mode=info["mode"])
    best = records[0]
    config = best.params
    exported = export_model(run_dir, rank=1, out=out / f"quality-{args.space}-model", overwrite=True)
    model = load_exported(exported)
    kwargs = {"temperature": float(config.get("temperature", 0.38)), "decode": config.get("decode", "annealed_mean")}
    data = load_dataset(data_source(info["data"]["source"]), size=int(info["data"]["size"]))
    demo = load_dataset("demo", size=int(info["data"]["size"]))
    test, test_grey, test_truth = _score(model, data.test, **kwargs)
    unseen, unseen_grey, unseen_truth = _score(model, demo.test if len(demo.test) else demo.val, **kwargs)

    picture = out / f"quality-{args.space}.png"
    from colorfulness import _picture  # bench/colorfulness.py: grey | truth | models, from the original files

    names = _picture({"prediction": model}, data, 5, picture, kwargs["temperature"], kwargs["decode"])
    statuses = {}
    for record in records:
        statuses[record.status] = statuses.get(record.status, 0) + 1
    lines = [
        f"## What `{args.space}` finds — `bench/quality.py` ({time.strftime('%Y-%m-%d')})",
        "",
        f"`colorsweep run {args.space} --data {info['data']['source']} --size {info['data']['size']} "
        f"--time-budget {args.budget}`: {len(records)} trials ({', '.join(f'{n} {s}' for s, n in statuses.items())}), "
        f"sweep wall time {sweep_s / 60:.1f} min; {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores.",
        "",
        f"Exported best trial `{best.trial_id}` (validation {info['metric']} "
        f"{best.best_value(info['metric'], info['mode']):.3f}): "
        + ", ".join(f"{k} {v}" for k, v in config.items() if k in ("arch", "loss", "learning_rate", "batch_size")),
        "",
        "| prediction | " + " | ".join(COLUMNS) + " |",
        "|---|" + "---|" * len(COLUMNS),
        _row(f"best model, test split ({len(data.test)} photos; truth colourfulness {test_truth:.1f})", test),
        _row("grey, test split", test_grey),
        _row(f"best model, unseen demo photos ({len(demo.test) or len(demo.val)} tiles; truth {unseen_truth:.1f})", unseen),
        _row("grey, unseen demo photos", unseen_grey),
        "",
        f"Picture: `{picture.relative_to(out.parent) if out.parent in picture.parents else picture}` "
        f"(grey input | truth | prediction; {', '.join(names)}).",
    ]
    text = "\n".join(lines) + "\n"
    (out / f"quality-{args.space}.md").write_text(text)
    (out / f"quality-{args.space}.json").write_text(json.dumps(
        {"run_dir": str(run_dir), "best": best.trial_id, "params": config, "test": test, "test_grey": test_grey,
         "unseen": unseen, "unseen_grey": unseen_grey, "sweep_s": sweep_s}, indent=1, default=float))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
