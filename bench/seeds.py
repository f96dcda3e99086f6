"""Benchmark: one training configuration at several seeds, scored like ``bench/quality.py``.

Why: on a few hundred photos the seed moves one configuration's test ``gain_vs_gray`` by 0.03–0.09
and its colourfulness gap by 3–6 points (BENCHMARKS.md, issue 14), more than most settings do. A
change to a default is worth keeping only if it wins across seeds; this script measures that.

The configuration is a space's ``start_with`` point (default: ``auto``'s first, the configuration
its sweeps export) with the space's ``fixed`` settings and ``max_epochs``, changed by ``--set``. Each
seed is fitted alone (``colorize_core.train.fit``, no Ray), one after another, then scored on the
test split and on the built-in demo photos (which no fit trained on): ``gain_vs_gray``, ``delta_e``,
colourfulness and its gap to the truth, and with ``--chroma-scale S`` the same prediction with its ab
multiplied by S (how much colour costs in accuracy). With ``--data demo`` the "unseen" photos are that
data set's own test split, not unseen.

    .venv/bin/python bench/seeds.py [--space auto] [--point 0] [--set min_crop_scale=0.5 ...]
        [--seeds 0 1] [--chroma-scale 1.2 ...] [--data ../shared/datasets/gcompris] [--size 64]
        [--label NAME] [--out bench/results]

Prints a Markdown table (one row per seed and scale, then the mean over seeds) and writes it with
its JSON to ``OUT/seeds-LABEL.md`` / ``.json``. About 5 minutes per seed for ``auto`` on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from quality import DEFAULT_DATA, RESULTS  # noqa: E402

SCORES = ("gain_vs_gray", "delta_e", "colorfulness", "colorfulness_gap")


def parse_setting(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` (VALUE read as YAML: ``0.5``, ``5e-4``, ``null``, ``mae``) -> (key, value)."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise SystemExit(f"--set takes KEY=VALUE (e.g. min_crop_scale=0.5), got {text!r}")
    parsed = yaml.safe_load(value)
    if isinstance(parsed, str):  # YAML reads 5e-4 (no dot) as text
        try:
            parsed = float(parsed)
        except ValueError:
            pass
    return key.strip(), parsed


def base_config(space_name: str, point: int, settings: list[tuple[str, object]], *, seed: int) -> dict:
    """The ``TrainConfig`` dict of ``space_name``'s ``start_with[point]`` at ``seed``, with ``settings``
    applied (``model_options.X`` keys go into ``model_options``)."""
    from spaces import SpaceError, load_space

    space = load_space(space_name)
    if not space.start_with:
        raise SystemExit(f"space {space_name!r} has no start_with configurations to measure")
    if not 0 <= point < len(space.start_with):
        raise SystemExit(f"--point must be in 0..{len(space.start_with) - 1} for space {space_name!r}, got {point}")
    max_epochs = int(space.defaults.get("max_epochs", 10))  # what `colorsweep run` uses
    try:  # trial_config fills the space's constant params and says which are left open
        config = space.trial_config(dict(space.start_with[point]), max_epochs=max_epochs, seed=seed,
                                    monitor="delta_e")
    except SpaceError as exc:
        raise SystemExit(f"start_with[{point}] of {space_name!r}: {exc}") from None
    for key, value in settings:
        if key.startswith("model_options."):
            config.setdefault("model_options", {})[key.split(".", 1)[1]] = value
        else:
            config[key] = value
    return config


def score(model, split, scales: list[float], *, temperature: float, decode: str) -> dict:
    """``{scale: metrics}`` of ``model`` on ``split`` (scale 1: the prediction as it is)."""
    from colorize_core import metrics
    from colorize_core.train import predict_ab

    ab = predict_ab(model, split.lightness, temperature=temperature, decode=decode)
    out = {}
    for scale in [1.0, *scales]:
        values = metrics.evaluate(split.lightness, split.ab, ab * np.float32(scale))
        out[scale] = {name: float(values[name]) for name in SCORES}
    return out


def run_seed(config: dict, data, unseen, scales: list[float]) -> dict:
    """Fit ``config`` on ``data``; its validation record at the best epoch and its test/unseen scores."""
    from colorize_core.train import TrainConfig, fit

    cfg = TrainConfig.from_dict(config)
    started = time.perf_counter()
    result = fit(cfg, data, keep_model=True, tensorboard=False)
    wall = time.perf_counter() - started
    kwargs = {"temperature": cfg.temperature, "decode": cfg.decode}
    return {
        "seed": cfg.seed, "wall_s": wall, "best_epoch": result.best_epoch, "epochs": result.epochs_trained,
        "val": {name: float(result.best_metrics[name]) for name in ("delta_e", "gain_vs_gray", "colorfulness_gap")},
        "test": score(result.model, data.test, scales, **kwargs),
        "unseen": score(result.model, unseen, scales, **kwargs),
    }


def table(label: str, rows: list[dict], scales: list[float]) -> list[str]:
    """Markdown rows: each seed at each scale, then the mean over seeds per scale."""
    lines = ["| configuration | seed | chroma × | best epoch | val delta_e (gap) | test gain_vs_gray | test delta_e "
             "| test colourfulness (gap) | unseen gain_vs_gray | unseen gap |",
             "|---|---|---|---|---|---|---|---|---|---|"]

    def line(seed, scale, epoch, val, test, unseen):
        return (f"| {label} | {seed} | {scale:g} | {epoch} | {val['delta_e']:.2f} ({val['colorfulness_gap']:.1f}) "
                f"| {test['gain_vs_gray']:.3f} | {test['delta_e']:.2f} | {test['colorfulness']:.1f} "
                f"({test['colorfulness_gap']:.1f}) | {unseen['gain_vs_gray']:.3f} | {unseen['colorfulness_gap']:.1f} |")

    for row in rows:
        for scale in [1.0, *scales]:
            lines.append(line(row["seed"], scale, row["best_epoch"], row["val"], row["test"][scale],
                              row["unseen"][scale]))
    if len(rows) > 1:
        def mean(part, scale=None):
            items = [r[part] if scale is None else r[part][scale] for r in rows]
            return {k: float(np.mean([item[k] for item in items])) for k in items[0]}

        for scale in [1.0, *scales]:
            lines.append(line("mean", scale, "–", mean("val"), mean("test", scale), mean("unseen", scale)))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="auto")
    parser.add_argument("--point", type=int, default=0, help="which start_with configuration (default 0)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
                        help="change one TrainConfig setting (repeatable), e.g. min_crop_scale=0.5")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--chroma-scale", type=float, nargs="*", default=[], metavar="S")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--label", help="name of the configuration in the table and the files")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)

    from colorize_core.data import load_dataset

    settings = [parse_setting(text) for text in args.settings]
    label = args.label or (", ".join(f"{k}={v}" for k, v in settings) or f"{args.space}[{args.point}]")
    data = load_dataset(args.data, size=args.size)
    demo = load_dataset("demo", size=args.size)
    unseen = demo.test if len(demo.test) else demo.val
    configs = [base_config(args.space, args.point, settings, seed=seed) for seed in args.seeds]  # all checked first
    rows = []
    for config in configs:
        rows.append(run_seed(config, data, unseen, args.chroma_scale))
        print(json.dumps({k: rows[-1][k] for k in ("seed", "wall_s", "best_epoch", "val")}), file=sys.stderr, flush=True)

    lines = [f"`bench/seeds.py` ({time.strftime('%Y-%m-%d')}): {label}; data `{args.data}` at {args.size} px "
             f"({len(data.train)} train / {len(data.val)} val / {len(data.test)} test; unseen: {len(unseen)} demo "
             f"photos); {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, one fit at a time.",
             "", *table(label, rows, args.chroma_scale)]
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "seeds-" + (re.sub(r"[^A-Za-z0-9_.=-]+", "-", label).strip("-") or "config")
    (out / f"{stem}.md").write_text(text)
    payload = {"label": label, "space": args.space, "point": args.point, "settings": dict(settings),
               "configs": configs, "rows": [{**r, "test": {str(k): v for k, v in r["test"].items()},
                                             "unseen": {str(k): v for k, v in r["unseen"].items()}} for r in rows]}
    (out / f"{stem}.json").write_text(json.dumps(payload, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
