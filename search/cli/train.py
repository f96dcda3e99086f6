"""``colorsweep train``: one model trained without Ray, beside the baselines."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from search.cli._output import (add_json_flag, apply_max_megapixels, data_arg, emit, format_table, non_negative_int,
                                positive_int, unit_interval)

__all__ = ["add_parsers", "cmd_train"]


def _baseline_rows(values: dict, baselines: dict, metric_names) -> list[dict]:
    rows = [{"prediction": "model (best epoch)", **{m: values.get(m) for m in metric_names}}]
    for name, vals in baselines.items():
        rows.append({"prediction": f"baseline: {name}", **{m: vals.get(m) for m in metric_names}})
    return rows


def _samples_per_epoch(value: int) -> int | None:
    """``--samples-per-epoch``: 0 (one pass over the fixed centre crops) means None in TrainConfig."""
    return value or None


def _crop_scale(text: str) -> float:
    """``--min-crop-scale``: a number in (0, 1]."""
    value = unit_interval(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be above 0 (a crop needs a side), got 0")
    return value


def cmd_train(args) -> int:
    """Train one model, print its validation metrics beside the baselines, write ``OUT/result.json``."""
    from colorize_core import metrics
    from colorize_core.data import load_dataset
    from colorize_core.train import TrainConfig, fit, predict_ab

    config = TrainConfig(
        arch=args.arch, optimizer=args.optimizer, loss=args.loss, learning_rate=args.lr,
        batch_size=args.batch_size, epochs=args.epochs, output_activation=args.output_activation,
        seed=args.seed, augment=args.augment, monitor=args.monitor, temperature=args.temperature,
        samples_per_epoch=_samples_per_epoch(args.samples_per_epoch), rebalance=args.rebalance,
        lr_schedule=args.lr_schedule,
        **({} if args.min_crop_scale is None else {"min_crop_scale": args.min_crop_scale}),
    )
    apply_max_megapixels(args)
    data = load_dataset(data_arg(args.data), size=args.size)
    out = Path(args.out or f"colorsweep-train/{args.arch}-{time.strftime('%Y%m%d-%H%M%S')}")
    print(
        f"data: {len(data.train)} train / {len(data.val)} val / {len(data.test)} test at {data.size}px "
        f"({'from cache' if data.cache_hit else 'decoded'}, {len(data.skipped)} skipped); checkpoints in {out}",
        file=sys.stderr,
    )

    def report(epoch: int, values: dict) -> None:
        print(
            f"epoch {epoch}/{config.epochs}: train_loss {values['train_loss']:.5f}  delta_e {values['delta_e']:.3f}  "
            f"gain_vs_gray {values['gain_vs_gray']:.4f}  ({values['epoch_train_s']:.1f}s)", file=sys.stderr,
        )

    result = fit(config, data, report, workdir=out, keep_model=True)
    names = list(metrics.METRICS)
    test_values = metrics.evaluate(data.test.lightness, data.test.ab, predict_ab(
        result.model, data.test.lightness, temperature=config.temperature, decode=config.decode)) if len(data.test) else {}
    baselines_val = metrics.baseline_metrics(data.val.lightness, data.val.ab, ab_train=data.train.ab)
    payload = {**result.to_dict(), "baselines_val": baselines_val, "test_metrics": test_values,
               "model_path": str(out / "best.keras")}
    (out / "result.json").write_text(json.dumps(payload, indent=1, default=float))
    text = (
        f"validation metrics (best epoch {result.best_epoch} of {result.epochs_trained}):\n"
        + format_table(_baseline_rows(result.best_metrics, baselines_val, names))
        + f"\n\nmodel: {out / 'best.keras'}  ({result.params:,} parameters, {result.train_time_s:.1f}s training)"
    )
    emit(args, payload, text)
    return 0


def add_parsers(sub) -> None:
    """Register ``train``."""
    p = sub.add_parser("train", help="train one model without Ray and compare it with the baselines")
    p.add_argument("--arch", default="unet", help="architecture (see `colorsweep models`; default unet)")
    p.add_argument("--optimizer", default="adam", help="adam, rmsprop, sgd, ... (default adam)")
    p.add_argument("--loss", default=None, help="mse, mae, huber, ciede2000 (default mse); classification archs: cls_rebalanced")
    p.add_argument("--temperature", type=float, default=0.38, help="annealed-mean temperature (classification archs)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 1e-3)")
    p.add_argument("--batch-size", type=positive_int, default=8, help="default 8, as in the study")
    p.add_argument("--epochs", type=positive_int, default=5, help="epochs (default 5)")
    p.add_argument("--size", type=positive_int, default=64, help="training image size in px (default 64)")
    p.add_argument("--output-activation", default="original", choices=["original", "sigmoid", "linear"],
                   help="regression output layer: the study's own (original), sigmoid or linear")
    p.add_argument("--monitor", default="delta_e", help="metric for early stopping and the best checkpoint")
    p.add_argument("--augment", action="store_true", help="random crop/flip of the fixed crops (with --samples-per-epoch 0)")
    p.add_argument("--samples-per-epoch", type=non_negative_int, default=1024, metavar="N",
                   help="an epoch is N random crops (random scale, position, flip) of the training photos kept "
                        "whole (default 1024); 0: one pass over the fixed centre crops, as the study did")
    p.add_argument("--min-crop-scale", type=_crop_scale, default=None, metavar="S",
                   help="smallest random crop, as a fraction of the photo's short side, in (0, 1] "
                        "(default: TrainConfig's, see `colorize_core.sampling.MIN_CROP_SCALE`)")
    p.add_argument("--rebalance", type=unit_interval, default=0.0, metavar="S",
                   help="regression models: weight each pixel's loss by its colour's rarity to the power S, in "
                        "[0, 1] (default 0: unweighted; 1: Zhang et al.'s full class rebalancing)")
    from colorize_core.optimizers import LR_SCHEDULES

    p.add_argument("--lr-schedule", choices=list(LR_SCHEDULES), default="plateau",
                   help="plateau (default): lower the learning rate when validation stops improving; cosine: "
                        "from --lr down to nearly 0 over --epochs")
    p.add_argument("--seed", type=int, default=0, help="seeds weights, shuffling and crops (default 0)")
    p.add_argument("--data", nargs="+", default=["demo"], help="image folder(s), or 'demo' (built-in photos)")
    p.add_argument("--out", help="folder for checkpoints and result.json")
    p.add_argument("--max-megapixels", type=float, help="skip images larger than this (default 50; checked before decoding)")
    add_json_flag(p)
    p.set_defaults(func=cmd_train)
