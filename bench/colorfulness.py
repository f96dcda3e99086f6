"""Benchmark: colourfulness of regression vs classification (Zhang et al. 2016) colorization.

Trains, on the same data with the same budget (epochs, batch size, optimizer, learning rate, seed,
early stopping and reduce-on-plateau rules), the regression ``unet`` (MSE on ab) and its
classification variant ``unet_cls`` (rebalanced cross-entropy over the ab bins, annealed-mean
decoding), then scores both on the validation and test splits with :mod:`colorize_core.metrics`,
beside the grey baseline and the ground truth's own colourfulness.

    .venv/bin/python bench/colorfulness.py [DATA] [--size 64] [--epochs 15] [--batch-size 16] [--lr 1e-3]

DATA defaults to ../shared/datasets/gcompris. Prints a Markdown block (also written to
``bench/results/colorfulness.md``) and saves a picture, ``bench/results/colorfulness.png``: for a
few validation images (evenly spaced over the sorted names), rows of grey input | truth | regression | classification, each colorized
at 256 px from the original file (model at ``--size``, ab upsampled, merged with the 256 px L).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "gcompris"
RESULTS = Path(__file__).resolve().parent / "results"
METRIC_COLUMNS = ("colorfulness", "colorfulness_gap", "delta_e", "auc", "gain_vs_gray", "ab_mse")


def _fmt(value: float) -> str:
    return f"{value:.4f}" if abs(value) < 1 else f"{value:.2f}"


def _table(rows: list[tuple[str, dict]]) -> str:
    head = "| prediction | " + " | ".join(METRIC_COLUMNS) + " |"
    sep = "|---|" + "---|" * len(METRIC_COLUMNS)
    body = ["| " + name + " | " + " | ".join(_fmt(values[m]) for m in METRIC_COLUMNS) + " |" for name, values in rows]
    return "\n".join([head, sep, *body])


def _picture(models: dict, data, n_images: int, path: Path, temperature: float, decode: str) -> list[str]:
    """Rows of grey | truth | regression | classification at 256 px from the original files."""
    import cv2

    from colorize_core import color
    from colorize_core.data import prepare_rgb, read_image
    from colorize_core.predict import colorize_rgb, write_rgb

    roots = [Path(p) for p in data.source.split(os.pathsep)]
    names, rows = [], []
    # evenly spaced over the (sorted) validation names, so the rows span the data set's folders
    picks = np.unique(np.linspace(0, len(data.val) - 1, min(n_images, len(data.val))).round().astype(int))
    for name in (data.val.names[i] for i in picks):
        file = next((root / name for root in roots if (root / name).is_file()), None)
        if file is None:
            continue
        rgb = prepare_rgb(read_image(file), size=256)
        lab = color.rgb_to_lab(rgb)
        grey = color.lab_to_rgb(color.merge_lab(lab[..., 0], color.gray_ab(lab.shape[:2] + (2,))))
        tiles = [grey, rgb] + [
            colorize_rgb(model, rgb, temperature=temperature, decode=decode) for model in models.values()
        ]
        gap = np.ones((256, 4, 3), np.float32)
        rows.append(np.concatenate([t for tile in tiles for t in (tile, gap)][:-1], axis=1))
        names.append(name)
    header = np.full((28, rows[0].shape[1], 3), 255, np.uint8)
    for i, label in enumerate(["grey input", "truth", *models]):
        cv2.putText(header, label, (i * 260 + 6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    header = header.astype(np.float32) / 255.0
    sep = np.ones((4, rows[0].shape[1], 3), np.float32)
    write_rgb(path, np.concatenate([header] + [r for row in rows for r in (row, sep)][:-1], axis=0))
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--optimizer", default="adam")
    parser.add_argument("--temperature", type=float, default=0.38)
    parser.add_argument("--decode", default="annealed_mean")
    parser.add_argument("--monitor", default="delta_e", help="metric for early stopping and the best epoch (both models)")
    parser.add_argument("--regression", default="unet", help="regression architecture")
    parser.add_argument("--classification", default="unet_cls", help="classification architecture")
    parser.add_argument("--images", type=int, default=6, help="validation images in the picture")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)

    import keras

    from colorize_core import classification, color, metrics
    from colorize_core.data import load_dataset
    from colorize_core.train import fit, predict_ab

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_dataset(args.data, size=args.size)
    common = {
        "optimizer": args.optimizer, "learning_rate": args.lr, "batch_size": args.batch_size,
        "epochs": args.epochs, "seed": 0, "monitor": args.monitor, "output_activation": "original",
    }
    configs = {
        f"regression: {args.regression} (mse)": {**common, "arch": args.regression, "loss": "mse"},
        f"classification: {args.classification} (cls_rebalanced, {args.decode} T={args.temperature:g})": {
            **common, "arch": args.classification, "loss": "cls_rebalanced",
            "temperature": args.temperature, "decode": args.decode,
        },
    }
    models, results, rows_val, rows_test = {}, {}, [], []
    for label, config in configs.items():
        start = time.perf_counter()

        def report(epoch, values, label=label):
            print(f"[{label}] epoch {epoch}: delta_e {values['delta_e']:.3f} colorfulness {values['colorfulness']:.2f} "
                  f"gap {values['colorfulness_gap']:.2f} train_loss {values['train_loss']:.4f} lr {values['lr']:.2g} "
                  f"({values['epoch_train_s']:.1f}s)", file=sys.stderr, flush=True)

        result = fit(config, data, report, keep_model=True)
        wall = time.perf_counter() - start
        model = result.model
        short = label.split(" (")[0]
        models[short] = model
        kwargs = {"temperature": args.temperature, "decode": args.decode}
        test_pred = predict_ab(model, data.test.lightness, **kwargs)
        results[label] = (result, wall)
        rows_val.append((label, result.best_metrics))
        rows_test.append((label, metrics.evaluate(data.test.lightness, data.test.ab, test_pred)))

    for split_name, split, rows in (("val", data.val, rows_val), ("test", data.test, rows_test)):
        grey = metrics.evaluate(split.lightness, split.ab, color.gray_ab(split.ab.shape))
        rows.insert(0, ("baseline: grey", grey))
    truth_cf = {
        name: float(np.mean(metrics.colorfulness(color.lab_to_rgb(color.merge_lab(s.lightness, s.ab)))))
        for name, s in (("val", data.val), ("test", data.test))
    }
    picture = out / "colorfulness.png"
    names = _picture(models, data, args.images, picture, args.temperature, args.decode)

    lines = [
        "## Colourfulness: regression vs classification (Zhang et al. 2016)",
        "",
        f"`bench/colorfulness.py`: {data.source} at {args.size}×{args.size} px, {len(data.train)} train / "
        f"{len(data.val)} val / {len(data.test)} test images; both models: {args.optimizer}, learning rate "
        f"{args.lr:g}, batch {args.batch_size}, {args.epochs} epochs at most, seed 0, early stopping (patience 5) "
        f"and reduce-LR-on-plateau (patience 2) on validation {args.monitor}, best epoch restored. "
        f"Q = {classification.num_bins()} ab bins; rebalancing λ = ½, σ = 5; decoding {args.decode}, T = {args.temperature:g}. "
        f"Keras {keras.__version__} ({keras.backend.backend()}), {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPU cores (shared with other jobs).",
        "",
        f"Ground-truth colourfulness (Hasler–Süsstrunk M, mean over images): val {truth_cf['val']:.2f}, "
        f"test {truth_cf['test']:.2f}.",
        "",
        "Validation split (best epoch):",
        "",
        _table(rows_val),
        "",
        "Test split (same models):",
        "",
        _table(rows_test),
        "",
        "| model | params | best epoch / trained | training s | wall s |",
        "|---|---|---|---|---|",
    ]
    for label, (result, wall) in results.items():
        lines.append(f"| {label.split(' (')[0]} | {result.params:,} | {result.best_epoch} / {result.epochs_trained} | "
                     f"{result.train_time_s:.0f} | {wall:.0f} |")
    lines += ["", f"Picture: `bench/results/{picture.name}` (rows: {', '.join(names)}; columns: grey input | "
              f"truth | {' | '.join(models)}; 256 px, ab from the {args.size} px model)."]
    text = "\n".join(lines) + "\n"
    (out / "colorfulness.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
