"""Find image files under folders: extensions, hidden files, the Kaggle color/gray layout (:func:`discover_images`).

Files are listed in a stable order (sources as given, each sorted by its path relative to its source),
which the split and the data fingerprint rely on.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from colorize_core.errors import InvalidValueError, MissingFileError

__all__ = ["IMAGE_EXTENSIONS", "discover_images", "ignored_files"]

#: File extensions searched by :func:`discover_images` (compared case-insensitively).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")

_COLOR_DIRS = frozenset({"color", "colour"})
_GRAY_DIRS = frozenset({"gray", "grey"})


def _is_image_name(name: str) -> bool:
    """Whether a file name has an image extension and is not hidden."""
    return name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith(".")


def _walk_images(root: Path) -> list[Path]:
    """All image files under ``root`` sorted by relative POSIX path, with the Kaggle color/gray rule."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        lowered = {d.lower(): d for d in dirnames}
        color_dirs = [lowered[d] for d in lowered if d in _COLOR_DIRS]
        if color_dirs and any(d in _GRAY_DIRS for d in lowered):
            # Kaggle "landscape Images" layout: colour/ and gray/ hold the same photos; L comes from
            # the colour file, so only color/ is used (its siblings and loose files are ignored).
            dirnames[:] = sorted(color_dirs)
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath) / f for f in filenames if _is_image_name(f))
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def _discover(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[tuple[Path, Path]]:
    """``(source_root, file)`` pairs, sources in the order given, files sorted within each source."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    try:
        path_list = [Path(p) for p in paths]
    except TypeError as exc:
        raise InvalidValueError(
            f"paths must be a path or a list of paths (str or os.PathLike), got {paths!r}"
        ) from exc
    if not path_list:
        raise InvalidValueError("paths must name at least one file or folder, got an empty list")
    pairs: list[tuple[Path, Path]] = []
    seen: set[Path] = set()
    for path in path_list:
        if not path.exists():
            raise MissingFileError(f"image path not found: {str(path)!r}")
        path = path.resolve()
        if path.is_file():
            root, files = path.parent, [path]
        else:
            root, files = path, _walk_images(path)
        for f in files:
            if f not in seen:  # the same file reached through overlapping paths counts once
                seen.add(f)
                pairs.append((root, f))
    if not pairs:
        raise InvalidValueError(
            f"no images found in {[str(p) for p in path_list]}: searched recursively for files "
            f"ending in {', '.join(IMAGE_EXTENSIONS)} (any case)"
        )
    return pairs


def ignored_files(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> dict[str, int]:
    """Files under ``paths`` that are not searched as images, counted by extension (``{".gif": 3}``;
    ``"(none)"`` for names without one). Hidden files and the Kaggle ``gray/`` copies are not counted."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    counts: dict[str, int] = {}
    for path in map(Path, paths):
        if not path.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            lowered = {d.lower(): d for d in dirnames}
            if any(d in _COLOR_DIRS for d in lowered) and any(d in _GRAY_DIRS for d in lowered):
                dirnames[:] = [lowered[d] for d in lowered if d in _COLOR_DIRS]
                continue
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                if name.startswith(".") or _is_image_name(name):
                    continue
                ext = os.path.splitext(name)[1].lower() or "(none)"
                counts[ext] = counts.get(ext, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def discover_images(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Find image files under one or more paths (folders searched recursively, or single files).

    Extensions: :data:`IMAGE_EXTENSIONS` in any case. Hidden files and folders (``.name``) are skipped.
    Kaggle "landscape Images" layout: a folder holding both ``color/`` and ``gray/`` subfolders
    contributes only ``color/`` (the lightness comes from the colour photo). Order: sources as given,
    files sorted by their POSIX path relative to their source; a file reached twice is listed once.

    Returns:
        Absolute (resolved) paths.

    Raises:
        FileNotFoundError: a path does not exist (the message names it).
        ValueError: no image at all was found (the message lists the extensions searched).
    """
    return [f for _, f in _discover(paths)]
