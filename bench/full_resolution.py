"""Benchmark: how well ``colorsweep colorize`` colours whole photos at full resolution, by how it shows them to the model.

Why: the metrics of a sweep score square centre crops at the model's input size; what a user sees is
``colorize`` on whole photos of any shape. This scores that path (:func:`colorize_core.predict.colorize_rgb`,
gamut fitting included) on the validation and test photos of a data set, at their own aspect ratio,
for each way of showing a photo to the model:

- ``squeeze``: the whole photo resized to the model's square input, aspect ratio lost (what
  ``colorize`` did until 2026-11-29; kept here as the reference);
- ``scales 1, bicubic ab``: aspect ratio kept, short side at the input size, the predicted ab resized
  to full size on its own (bicubic; ``colorize`` until 2026-11-30);
- ``scales 1``: the same with ab brought to full size guided by the photo's lightness
  (:mod:`colorize_core.upsample`; ``colorize``'s default);
- ``scales 2``: the same at twice the size;
- ``scales 1 2``: both views averaged (``colorize --scales 1 2``).

Each photo is colorized from its full-resolution original and scored at short side 256 px against
its own colours: ``gain_vs_gray`` (``1 − ab_mse / ab_mse(grey)``, pixels of all photos pooled), and
the mean over photos of ``delta_e`` and the colourfulness gap (:mod:`colorize_core.metrics`).

    .venv/bin/python bench/full_resolution.py [MODEL ...] [--data ../shared/datasets/gcompris] [--out bench/results]

MODEL: exported folders or ``.keras`` files (default: the models ``bench/quality.py`` exported, under
``bench/results/quality-models/``). Prints a Markdown table, also written with its JSON to
``OUT/full-resolution.md`` / ``.json``. About 1 minute per model on 2 CPU cores (63 photos).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from quality import DEFAULT_DATA, RESULTS  # noqa: E402

SCORE_SHORT_SIDE = 256
WAYS = {"squeeze": None, "scales 1, bicubic ab": ((1.0,), "bicubic"), "scales 1": (1.0,), "scales 2": (2.0,),
        "scales 1 2": (1.0, 2.0)}


def squeeze_colorize(model, rgb: np.ndarray) -> np.ndarray:
    """The reference: the whole photo squeezed into the model's square input, ab resized back."""
    import cv2

    from colorize_core import color
    from colorize_core.predict import model_input_size, predict_ab

    size = model_input_size(model)
    height, width = rgb.shape[:2]
    small = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
    ab = predict_ab(model, color.rgb_to_lab(small)[None, ..., :1])[0]
    ab = np.clip(cv2.resize(ab, (width, height), interpolation=cv2.INTER_CUBIC), color.AB_MIN, color.AB_MAX)
    return color.lab_to_rgb(color.merge_lab(color.rgb_to_lab(rgb)[..., 0], ab), fit_gamut=True)


def _at_score_size(rgb: np.ndarray) -> np.ndarray:
    import cv2

    height, width = rgb.shape[:2]
    factor = SCORE_SHORT_SIDE / min(height, width)
    return cv2.resize(rgb, (int(round(width * factor)), int(round(height * factor))), interpolation=cv2.INTER_AREA)


def score_model(model_path: Path, data: Path, names: dict[str, list[str]]) -> dict:
    """{split: {way: scores}} for one model."""
    from colorize_core import color, metrics
    from colorize_core.data import read_image
    from colorize_core.predict import colorize_rgb
    from search.best import load_exported

    model = load_exported(model_path)
    out: dict = {}
    for split, files in names.items():
        sums = {way: {"err": 0.0, "gray": 0.0, "delta_e": [], "gap": []} for way in WAYS}
        for name in files:
            rgb = read_image(data / name)
            truth = color.rgb_to_lab(_at_score_size(rgb))
            for way, scales in WAYS.items():
                if scales is None:
                    result = squeeze_colorize(model, rgb)
                elif isinstance(scales[-1], str):
                    result = colorize_rgb(model, rgb, scales=scales[0], upsampling=scales[1])
                else:
                    result = colorize_rgb(model, rgb, scales=scales)
                ab = color.rgb_to_lab(_at_score_size(result))[..., 1:]
                s = sums[way]
                s["err"] += float(np.sum((ab - truth[..., 1:]) ** 2))
                s["gray"] += float(np.sum(truth[..., 1:] ** 2))
                m = metrics.evaluate(truth[None, ..., :1], truth[None, ..., 1:], ab[None],
                                     metrics=["delta_e", "colorfulness_gap"])
                s["delta_e"].append(m["delta_e"])
                s["gap"].append(m["colorfulness_gap"])
        out[split] = {way: {"gain_vs_gray": 1.0 - s["err"] / s["gray"], "delta_e": float(np.mean(s["delta_e"])),
                            "colorfulness_gap": float(np.mean(s["gap"])), "photos": len(files)}
                      for way, s in sums.items()}
    return out


def default_models() -> list[Path]:
    found = sorted((RESULTS / "quality-models").glob("*/model.keras"))
    if not found:
        raise SystemExit("no models given and none under bench/results/quality-models/: "
                         "run bench/quality.py --compare first, or pass exported folders / .keras files")
    return [p.parent for p in found]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--size", type=int, default=64, help="the size the data set is split at (splits do not depend on it)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from colorize_core.data import load_dataset

    models = args.models or default_models()
    dataset = load_dataset(str(args.data), size=args.size)
    names = {"val": list(dataset.val.names), "test": list(dataset.test.names)}
    started = time.time()
    results = {}
    for path in models:
        label = path.name if path.is_dir() else path.stem
        results[label] = score_model(path, args.data, names)
        print(f"scored {label}", file=sys.stderr)
    lines = [f"`bench/full_resolution.py` ({time.strftime('%Y-%m-%d')}): `colorize` on the whole photos of "
             f"`{args.data}` ({len(names['val'])} val / {len(names['test'])} test), scored at short side "
             f"{SCORE_SHORT_SIDE} px; {platform.machine()}, {os.cpu_count()} CPU cores; "
             f"{time.time() - started:.0f} s in all.", "",
             "| model | view | val gain_vs_gray | val delta_e | val gap | test gain_vs_gray | test delta_e | test gap |",
             "|---|---|---|---|---|---|---|---|"]
    for label, by_split in results.items():
        for way in WAYS:
            v, t = by_split["val"][way], by_split["test"][way]
            lines.append(f"| {label} | {way} | {v['gain_vs_gray']:.3f} | {v['delta_e']:.2f} | {v['colorfulness_gap']:.1f} "
                         f"| {t['gain_vs_gray']:.3f} | {t['delta_e']:.2f} | {t['colorfulness_gap']:.1f} |")
    text = "\n".join(lines)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "full-resolution.md").write_text(text + "\n")
    (args.out / "full-resolution.json").write_text(json.dumps(
        {"data": str(args.data), "score_short_side": SCORE_SHORT_SIDE, "results": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
