"""``colorsweep colorize``: colorize image files and folders at full resolution, with a progress bar.

Each image goes through :func:`colorize_core.predict.colorize_rgb` (original L, predicted ab
resized up).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

from colorize_core.errors import InvalidValueError
from search.best.load import _load_keras, _resolve

__all__ = ["colorize_paths"]


class _Progress:
    """Images done / total on a stream, drawn by tqdm: redrawn in place with the current file on a
    terminal, a plain line per 10% otherwise (a log file). Nothing when off or for a single image."""

    def __init__(self, total: int, *, enabled: bool, label: str = "colorizing", stream=None):
        from tqdm import tqdm

        self.total, self.label = total, label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and total > 1
        self.tty = self.enabled and bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = max(1, total // 10)
        self.started = time.monotonic()
        # tqdm redraws with carriage returns: only on a terminal; the log lines are written by update()
        self.bar = tqdm(total=total, desc=label, unit="image", file=self.stream, disable=not self.tty,
                        dynamic_ncols=True, leave=True)

    def update(self, done: int, name: str = "") -> None:
        if self.tty:
            self.bar.set_postfix_str(name[-40:], refresh=False)
            self.bar.update(done - self.bar.n)
        elif self.enabled and (done % self.every == 0 or done == self.total):
            line = self.bar.format_meter(done, self.total, time.monotonic() - self.started, prefix=self.label,
                                         unit="image", ascii=True)
            self.stream.write(line + "\n")
            self.stream.flush()

    def message(self, text: str) -> None:
        """A line of its own (a skipped file), above the bar on a terminal."""
        if self.tty:
            self.bar.write(text, file=self.stream)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def close(self) -> None:
        self.bar.close()


def _plan(inputs: Sequence[Path], out_dir: Path) -> tuple[list[tuple[Path, Path]], list[dict]]:
    """(input file, output file) pairs, and inputs skipped before decoding (missing, no images)."""
    from colorize_core.data import discover_images

    jobs: list[tuple[Path, Path]] = []
    skipped: list[dict] = []
    out_resolved = out_dir.resolve()
    several = len(inputs) > 1
    for given in inputs:
        if not given.exists():
            skipped.append({"path": str(given), "reason": "not found"})
            continue
        if given.is_file():
            jobs.append((given, out_dir / given.name))
            continue
        try:
            files = discover_images(given)
        except (ValueError, FileNotFoundError) as exc:
            skipped.append({"path": str(given), "reason": str(exc)})
            continue
        root = given.resolve()
        prefix = Path(given.resolve().name) if several else Path()
        for f in files:
            if out_resolved == f.parent or out_resolved in f.parents:
                continue  # earlier outputs inside an input folder are not inputs
            jobs.append((f, out_dir / prefix / f.relative_to(root)))
    return jobs, skipped


def colorize_paths(
    model_or_run_dir: Any,
    inputs: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    out_dir: str | os.PathLike,
    compare: bool = False,
    progress: bool = True,
    rank: int = 1,
    lab_mode: str | None = None,
    chroma: float | None = None,
    scales=(1.0,),
    overwrite: bool = False,
) -> dict:
    """Colorize image files and folders (searched recursively) at full resolution into ``out_dir``.

    ``model_or_run_dir``: a Keras model, an exported folder, a ``.keras`` file or a run directory.
    Each output has its input's file name, extension and pixel size (folders keep their relative
    sub-paths; with several inputs, each folder's outputs go under a subfolder of its name). With
    ``compare`` the output is the grey input beside the colorized result (twice as wide). Files
    that cannot be read or written are skipped with their reason, never raised. ``progress`` shows a
    text progress bar and the skip messages on stderr. ``chroma`` (> 0) scales the predicted colours'
    strength, hue kept (:func:`colorize_core.predict.colorize_rgb`; 1 = the model's own); None (the
    default) takes the model's fitted colour strength (:mod:`search.best.strength`: an export's card,
    or fitted now for a run's trial; 1 for a bare model). The model
    sees each photo whole with its aspect ratio kept, short side at its input size times each of
    ``scales`` (predictions averaged; default 1).

    An output file that already exists is kept, not replaced, unless ``overwrite``: a file the user
    keeps in ``out_dir`` is never lost, and running the same command again after an interruption
    colorizes only what is missing. Each output is written whole or not at all.

    Hidden temporary files that an earlier run killed outright left beside the outputs are removed
    first (:func:`colorize_core.files.remove_stale_temporaries`).

    Returns ``{"written": n, "skipped": n, "kept": n, "outputs": [...], "skipped_files": [{"path", "reason"}],
    "kept_files": [output paths], "removed_temporaries": [paths], "out_dir": str, "model": str}``.
    Raises ValueError when nothing at all was found to colorize.
    """
    import cv2

    from colorize_core import color
    from colorize_core.data import ImageError, read_image
    from colorize_core.files import remove_stale_temporaries
    from colorize_core.predict import check_chroma, check_scales, colorize_rgb, side_by_side, write_rgb

    if chroma is not None:
        chroma = check_chroma(chroma)  # before the model is loaded or any file written
    chroma_from = "given"
    scales = check_scales(scales)
    out_dir = Path(out_dir).expanduser()
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidValueError(f"--out {out_dir} is a file, not a folder; pass a folder for the colorized photos")
    if hasattr(model_or_run_dir, "predict"):
        model, model_name, mode = model_or_run_dir, getattr(model_or_run_dir, "name", "model"), "float"
        temperature = None
        if chroma is None:
            chroma, chroma_from = 1.0, "default"
    else:
        source = _resolve(model_or_run_dir, rank=rank)
        model, model_name, mode = _load_keras(source.model_path), source.describe(), source.lab_mode
        temperature = source.temperature
        if chroma is None:
            strength = source.colour_strength(model)
            chroma = float(strength.get("chroma", 1.0))
            chroma_from = "default" if strength.get("note") else "fitted"
    mode = lab_mode or mode
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    inputs = [Path(p).expanduser() for p in inputs]
    if not inputs:
        raise InvalidValueError("inputs must name at least one image file or folder")
    jobs, skipped = _plan(inputs, out_dir)
    if not jobs:
        reasons = "; ".join(f"{s['path']}: {s['reason']}" for s in skipped)
        raise InvalidValueError(f"nothing to colorize: {reasons}")
    # Half-written outputs of an earlier run killed outright (kill -9): hidden temporary files
    # that no running process owns. Removed before anything is written; finished outputs are kept.
    leftovers = [str(p) for folder in sorted({dst.parent for _, dst in jobs})
                 for p in remove_stale_temporaries(folder)]

    bar = _Progress(len(jobs), enabled=progress)
    for entry in skipped:
        if progress:
            bar.message(f"skipped {entry['path']}: {entry['reason']}")
    outputs: list[dict] = []
    kept: list[str] = []
    claimed: dict[Path, Path] = {}
    for done, (src, dst) in enumerate(jobs, start=1):
        reason = None
        key = dst.resolve()
        if key == src.resolve():
            reason = "the output would overwrite the input; choose another --out"
        elif key in claimed:
            reason = f"same output name as {claimed[key]}; colorize it separately with another --out"
        elif not overwrite and (dst.exists() or dst.is_symlink()):
            kept.append(str(dst))
            claimed[key] = src
            bar.update(done, src.name)
            continue
        if reason is None:
            try:
                rgb = read_image(src)
                result = colorize_rgb(model, rgb, lab_mode=mode, temperature=temperature, chroma=chroma,
                                      scales=scales)
                image = result
                if compare:
                    lightness = color.rgb_to_lab(rgb, lab_mode=mode)[..., 0]
                    gray = color.lab_to_rgb(color.merge_lab(lightness, color.gray_ab(lightness.shape + (2,))))
                    image = side_by_side(gray, result)
                write_rgb(dst, image)
                claimed[key] = src
                outputs.append({"input": str(src), "output": str(dst), "width": int(result.shape[1]),
                                "height": int(result.shape[0])})
            except ImageError as exc:
                reason = f"unreadable image: {exc}"
            except (OSError, ValueError, cv2.error, MemoryError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
        if reason is not None:
            skipped.append({"path": str(src), "reason": reason})
            if progress:
                bar.message(f"skipped {src}: {reason}")
        bar.update(done, src.name)
    bar.close()
    return {"written": len(outputs), "skipped": len(skipped), "kept": len(kept), "outputs": outputs,
            "skipped_files": skipped, "kept_files": kept, "removed_temporaries": leftovers,
            "out_dir": str(out_dir), "model": model_name, "compare": bool(compare), "chroma": chroma,
            "chroma_from": chroma_from,
            "scales": list(scales)}
