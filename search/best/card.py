"""The model card of an exported model: its JSON fields, its Markdown page, the preprocessing it describes.

The card records the training configuration, validation metrics beside the baselines, the data
fingerprint, the preprocessing needed to use the model, package versions and where it came from.
:func:`search.best.export.export_model` and :func:`search.best.finetune.finetune` fill it in;
:func:`_write_card` writes ``model_card.json`` and ``model_card.md``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from search.best.folder import CARD_JSON, CARD_MD
from search.rundir import write_json_atomic, write_text_atomic
from search.tables import format_table

__all__ = ["CARD_FORMAT"]

CARD_FORMAT = "colorsweep-model-card/1"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _metric_names() -> list[str]:
    from colorize_core.metrics import METRICS

    return list(METRICS)


def _versions() -> dict[str, str]:
    from search.sweep import package_versions

    return package_versions()


def _preprocessing(size: int, lab_mode: str) -> dict:
    from colorize_core.predict import padding_multiple
    from colorize_core.upsample import GUIDED_EPS, GUIDED_RADIUS

    return {
        "color_space": "CIELAB, D65 white point, from sRGB in [0, 1] (OpenCV cvtColor RGB2Lab on float32)",
        "lab_mode": lab_mode,
        "input": {
            "shape": [None, size, size, 1],
            "encoding": "L / 100 of CIELAB (D65), float32 in [0, 1]",
            "function": "colorize_core.color.encode_l",
        },
        "output": {
            "shape": [None, size, size, 2],
            "encoding": "(ab + 128) / 255, float in [0, 1] (neutral grey = 128/255); "
                        "ab = output * 255 - 128, clipped to [-128, 127]",
            "function": "colorize_core.color.decode_ab",
        },
        "full_resolution": [
            "read the image as float sRGB in [0, 1], (H, W, 3) (colorize_core.data.read_image)",
            "L of the full-size image: colorize_core.color.rgb_to_lab(rgb)[..., 0]",
            f"resize the whole image (not cropped, aspect ratio kept) with cv2.INTER_AREA so that its short side is "
            f"{size} px, take its L, reflect-pad it at the bottom and right to multiples of {padding_multiple(size)} px "
            "(cv2.BORDER_REFLECT_101), encode_l, predict with the model rebuilt for that input shape "
            "(keras.models.clone_model with a new keras.Input, same weights)",
            "decode_ab the prediction, resize it to the padded shape (cv2.INTER_CUBIC), cut the padding off, "
            "bring ab to W x H guided by the full-size L (colorize_core.upsample.ab_to_full_size: a fast guided filter "
            f"of radius {GUIDED_RADIUS} and eps {GUIDED_EPS:g} on the view's L / 100, its coefficients resized "
            "bilinearly and applied to the full-size L / 100)",
            "with scales (colorize --scales 1 2): the same at short side size x each scale, ab averaged; "
            "clip ab to [-128, 127]",
            f"an architecture that cannot take another input shape sees the whole image resized to {size}x{size} instead",
            "merge with the original full-resolution L (colorize_core.color.merge_lab) and convert to sRGB "
            "(colorize_core.color.lab_to_rgb)",
        ],
        "function": "colorize_core.predict.colorize_rgb(model, rgb) / colorize_file(model, path, out_path)",
        "training_images": (f"random square crops (random scale, position and flip) resized to {size}x{size} "
                            "with cv2.INTER_AREA when samples_per_epoch is set (the auto space), otherwise the "
                            "centre square; validation and test photos: the centre square, resized the same way"),
        "command": "colorsweep colorize MODEL_DIR INPUT... --out DIR",
    }


def _metrics_of(row: dict | None) -> dict:
    names = _metric_names()
    return {k: row.get(k) for k in names if row and k in row}


def _card_markdown(card: dict) -> str:

    src = card.get("source", {})
    data = card.get("data", {})
    val = card.get("validation", {})
    names = [m for m in _metric_names() if m in val.get("metrics", {})]
    rows = [{"prediction": "this model", **val.get("metrics", {})}]
    if card.get("fine_tuned_from"):
        rows.insert(0, {"prediction": "before fine-tuning", **card["fine_tuned_from"].get("metrics_before", {})})
    for name, values in (val.get("baselines") or {}).items():
        rows.append({"prediction": f"baseline: {name}", **values})
    cfg = card.get("config", {})
    pre = card.get("preprocessing", {})
    lines = [f"# colorsweep model: {cfg.get('arch', '?')}", ""]
    if card.get("fine_tuned_from"):
        ft = card["fine_tuned_from"]
        lines += [f"Fine-tuned from {ft.get('source')} for {ft.get('epochs_added')} more epoch(s) "
                  f"(epochs {ft.get('epochs_before', 0) + 1}..{ft.get('epochs_before', 0) + ft.get('epochs_added', 0)}; "
                  f"optimizer state {ft.get('optimizer_state')}).", ""]
    lines += [
        f"- exported: {card.get('exported')}",
        f"- model file: `{card.get('model_file')}` (input {card.get('input_size')}x{card.get('input_size')}, "
        f"{card.get('parameters')} parameters)",
        f"- source: run `{src.get('run_dir')}`, trial `{src.get('trial_id')}`, rank {src.get('rank')} by "
        f"{src.get('ranked_by', {}).get('metric')}" + (f", picked by `{src['picked_by']}`" if src.get("picked_by") else "")
        if src.get("trial_id") else f"- source: {src.get('path')}",
        f"- epochs trained: {card.get('epochs_trained')}, weights of epoch {card.get('best_epoch')} "
        f"(best validation {cfg.get('monitor')})",
        "", "## Validation metrics (best epoch) beside the baselines", "",
        f"Split: {val.get('split')} ({val.get('n_images')} images). "
        "Lower is better for ab_mse, delta_e, colorfulness_gap; higher for the others.", "",
        "```", format_table(rows, ["prediction", *names]), "```", "",
        "## Colour strength", "", _strength_text(card.get("colour_strength")), "",
        "## Configuration", "", "```json", json.dumps(cfg, indent=1), "```", "",
        "## Data", "",
        f"- source: `{data.get('source')}`",
        f"- fingerprint: `{data.get('fingerprint')}`",
        f"- size: {data.get('size')} px, lab_mode: {data.get('lab_mode')}, split (train/val/test): {data.get('split')}",
        "", "## Preprocessing (to use the model)", "",
        f"- colour space: {pre.get('color_space')}",
        f"- input: {pre.get('input', {}).get('encoding')} — `{pre.get('input', {}).get('function')}`, "
        f"shape {pre.get('input', {}).get('shape')}",
        f"- output: {pre.get('output', {}).get('encoding')} — `{pre.get('output', {}).get('function')}`, "
        f"shape {pre.get('output', {}).get('shape')}",
        "- full resolution:",
        *[f"  {i}. {step}" for i, step in enumerate(pre.get("full_resolution", []), start=1)],
        f"- all of this: `{pre.get('function')}`; command line: `{pre.get('command')}`",
        "", "## Loading", "",
        "```python", "from search.best import load_exported", "model = load_exported(\"THIS_FOLDER\")",
        "# or, with only Keras: keras.saving.load_model(\"THIS_FOLDER/model.keras\", compile=False)", "```", "",
        "## Versions", "", "```json", json.dumps(card.get("versions", {}), indent=1), "```", "",
    ]
    return "\n".join(lines)


def _strength_text(strength: dict | None) -> str:
    """The model card's colour-strength paragraph (:mod:`search.best.strength`)."""
    if not strength:
        return "Not fitted (an older export): `colorsweep colorize` uses the model's own colours (chroma 1)."
    chroma = strength.get("chroma", 1.0)
    if strength.get("note"):
        return f"Chroma {chroma:g}: {strength['note']}."
    delta_e = strength.get("delta_e", {})
    one, chosen = delta_e.get("1"), delta_e.get(f"{chroma:g}")
    figures = (f" (validation delta_e {one:.3f} at 1, {chosen:.3f} at {chroma:g})"
               if one is not None and chosen is not None else "")
    return (f"`colorsweep colorize` multiplies the predicted chroma by {chroma:g}, hues kept: {strength.get('rule')}"
            f"{figures}. `--chroma 1` gives the model's own colours.")


def _write_card(out: Path, card: dict) -> None:
    write_json_atomic(out / CARD_JSON, card)
    write_text_atomic(out / CARD_MD, _card_markdown(card))
