"""``colorsweep export``, ``colorize`` and ``finetune``: take a sweep's model out, use it, train it further."""

from __future__ import annotations

import json

from colorize_core.errors import InvalidValueError
from search.cli._output import add_json_flag, emit, format_table, positive_number

__all__ = ["add_parsers", "cmd_export", "cmd_colorize", "cmd_finetune"]


def _comparison_table(rows: list[dict]) -> str:
    """Validation metrics of the model (and its baselines) as a table, metrics in their defined order."""
    from colorize_core.metrics import METRICS

    return format_table(rows, ["prediction", *[n for n in METRICS if any(n in r for r in rows)]])


def _strength_line(strength: dict) -> str:
    """One line on the colour strength ``colorsweep colorize`` will use (:mod:`search.best.strength`)."""
    chroma = float(strength.get("chroma", 1.0))
    if strength.get("note"):
        return f"chroma {chroma:g} ({strength['note']})"
    delta_e = strength.get("delta_e", {})
    return (f"chroma {chroma:g}, the strongest colours whose validation delta_e is no worse than the model's own "
            f"({delta_e.get('1', float('nan')):.3f} at 1, {delta_e.get(f'{chroma:g}', float('nan')):.3f} at {chroma:g}); "
            "colorize uses it unless --chroma is given")


def cmd_export(args) -> int:
    """Export the best (K-th, ``--trial``, ``--pick``) model of a sweep with its model card."""
    from search.best import CARD_JSON, CARD_MD, MODEL_FILE, export_model

    if args.rank is not None and (args.trial is not None or args.pick is not None):
        raise InvalidValueError("give one of --rank, --trial and --pick")
    out = export_model(args.run_dir, rank=args.rank or 1, out=args.out, metric=args.metric, overwrite=args.overwrite,
                       trial_id=args.trial, pick=args.pick)
    card = json.loads((out / CARD_JSON).read_text())
    val = card["validation"]
    rows = [{"prediction": "model (best epoch)", **val["metrics"]}]
    rows += [{"prediction": f"baseline: {k}", **v} for k, v in (val.get("baselines") or {}).items()]
    picked = f"picked by {card['source']['picked_by']}; " if card["source"].get("picked_by") else ""
    text = (
        f"exported trial {card['source']['trial_id']} ({picked}rank {card['source']['rank']} by {card['source']['ranked_by']['metric']}, "
        f"{card['config']['arch']}, epoch {card['best_epoch']} of {card['epochs_trained']}) to {out}\n"
        f"validation metrics:\n{_comparison_table(rows)}\n\n"
        f"colour strength: {_strength_line(card.get('colour_strength') or {})}\n"
        f"model: {out / MODEL_FILE}\ncard:  {out / CARD_MD}\n"
        f"use it: colorsweep colorize {out} PHOTOS... --out DIR"
    )
    emit(args, {"out": str(out), "model_path": str(out / MODEL_FILE), "card": card}, text)
    return 0


def cmd_colorize(args) -> int:
    """Colorize photos at full resolution; exit 1 when none could be written or was already there."""
    from search.best import colorize_paths

    result = colorize_paths(args.model, args.inputs, out_dir=args.out, compare=args.compare,
                            progress=not args.quiet, rank=args.rank, chroma=args.chroma,
                            scales=args.scales, overwrite=args.overwrite)
    strength = ""
    if result["chroma_from"] == "fitted":
        strength = (f" at chroma {result['chroma']:g} (its colour strength, fitted on validation: the strongest "
                    "colours that cost no accuracy; --chroma 1 for the model's own)")
    elif result["chroma"] != 1.0:
        strength = f" at chroma {result['chroma']:g}"
    if result["scales"] != [1.0]:
        strength += " averaging scales " + " ".join(f"{s:g}" for s in result["scales"])
    lines = [f"colorized {result['written']} image(s) into {result['out_dir']} with {result['model']}{strength}"]
    if result["kept"]:
        lines.append(f"kept {result['kept']} output(s) already in {result['out_dir']} "
                     "(not colorized again; pass --overwrite to replace them)")
    if result["removed_temporaries"]:
        lines.append(f"removed {len(result['removed_temporaries'])} unfinished temporary file(s) left in "
                     f"{result['out_dir']} by a run that was killed")
    if result["skipped"]:
        lines.append(f"skipped {result['skipped']}:")
        lines += [f"  {s['path']}: {s['reason']}" for s in result["skipped_files"]]
    emit(args, result, "\n".join(lines))
    return 0 if result["written"] or result["kept"] else 1


def cmd_finetune(args) -> int:
    """Train a model more epochs from its checkpoint and compare before / after."""
    from search.best import finetune

    data = None if args.data is None else (args.data[0] if len(args.data) == 1 else args.data)
    result = finetune(args.model, epochs=args.epochs, data=data, size=args.size, out=args.out,
                      learning_rate=args.lr, rank=args.rank, overwrite=args.overwrite)
    rows = [{"prediction": f"before (epoch {result['epochs_before']})", **result["metrics_before"]},
            {"prediction": f"after (epoch {result['epochs_after']}, best {result['best_epoch']})", **result["metrics_after"]}]
    rows += [{"prediction": f"baseline: {k}", **v} for k, v in result["baselines"].items()]
    text = (
        f"fine-tuned {result['source']} for {result['epochs_after'] - result['epochs_before']} epoch(s) "
        f"(optimizer state {result['optimizer_state']}) on {result['data']['source']} at {result['data']['size']}px\n"
        f"validation metrics:\n{_comparison_table(rows)}\n\n"
        + ("" if result["improved"] else "no epoch beat the starting model: the saved model keeps its weights\n")
        + f"model: {result['model_path']}\nuse it: colorsweep colorize {result['out']} PHOTOS... --out DIR"
    )
    emit(args, result, text)
    return 0


def add_parsers(sub) -> None:
    """Register ``export``, ``colorize`` and ``finetune``."""
    p = sub.add_parser("export", help="export the best (or K-th) model of a sweep with a model card")
    p.add_argument("run_dir", help="run directory of a sweep")
    p.add_argument("--rank", type=int, help="K-th best trial (default 1)")
    p.add_argument("--trial", metavar="ID", help="the trial with this id (or a unique prefix of it)")
    p.add_argument("--pick", metavar="RULE",
                   help="'knee' (the Pareto front's knee of a several-objective sweep), 'min METRIC', or "
                        "'min delta_e where colorfulness_gap<=5' (conditions joined with 'and')")
    p.add_argument("--out", help="output folder (default RUN_DIR/best/rank-K, or RUN_DIR/best/trial-ID with --trial/--pick)")
    p.add_argument("--metric", help="validation metric that ranks trials (default: the sweep's)")
    p.add_argument("--overwrite", action="store_true", help="replace what --out holds")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("colorize", help="colorize photos (files or folders) at full resolution")
    p.add_argument("model", help="exported model folder, .keras file, or run directory (its best trial)")
    p.add_argument("inputs", nargs="+", help="image files and/or folders (searched recursively)")
    p.add_argument("--out", required=True, help="output folder: same file names and sizes as the inputs")
    p.add_argument("--compare", action="store_true", help="write the grey input beside the colorized result")
    p.add_argument("--rank", type=int, default=1, help="with a run directory: the K-th best trial")
    p.add_argument("--chroma", type=positive_number, default=None, metavar="S",
                   help="colour strength: the predicted colours times S, hues kept (default: the model's fitted "
                        "strength, the largest whose validation delta_e is no worse than the model's own colours; "
                        "1 = the model's own; see BENCHMARKS.md)")
    p.add_argument("--scales", type=positive_number, nargs="+", default=[1.0], metavar="S",
                   help="views of each photo averaged, as multiples of the model's input size for its short side "
                        "(default 1: the scale it was validated at; '1 2' also looks twice as close, more accurate "
                        "for the auto space's models, see BENCHMARKS.md)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace output files that already exist (default: keep them and colorize only the missing ones)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_colorize)

    p = sub.add_parser("finetune", help="train a model more epochs, from its checkpoint, on the same or new data")
    p.add_argument("model", help="run directory (its best or --rank K trial), or an exported / fine-tuned model folder")
    p.add_argument("--epochs", type=int, required=True, help="epochs to add")
    p.add_argument("--data", nargs="+", help="image folder(s) or 'demo' (default: the data it was trained on)")
    p.add_argument("--size", type=int, help="image size in px (default: the model's input size)")
    p.add_argument("--lr", type=float, help="learning rate (default: the checkpoint's)")
    p.add_argument("--rank", type=int, default=1, help="with a run directory: the K-th best trial")
    p.add_argument("--out", required=True, help="folder for the fine-tuned model (model.keras + model card)")
    p.add_argument("--overwrite", action="store_true", help="replace what --out holds")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_finetune)
