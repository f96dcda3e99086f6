"""An exported model folder: its file names, and making it ready to be written.

``OUT/model.keras`` (:data:`MODEL_FILE`), ``OUT/model_card.json`` (:data:`CARD_JSON`),
``OUT/model_card.md`` (:data:`CARD_MD`) and, in a fine-tuned model folder, ``OUT/checkpoints/``
(:data:`CHECKPOINTS_DIR`). ``--overwrite`` replaces only these, never anything else in the folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from colorize_core.errors import ExistingFileError

__all__ = ["MODEL_FILE", "CARD_JSON", "CARD_MD", "CHECKPOINTS_DIR"]

MODEL_FILE = "model.keras"
CARD_JSON = "model_card.json"
CARD_MD = "model_card.md"
CHECKPOINTS_DIR = "checkpoints"  # inside a fine-tuned model folder: last.keras + state.json (resumable)


def _check_out(out: str | os.PathLike, *, overwrite: bool) -> Path:
    """Fail early (before any work) when ``out`` cannot be written."""
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise ExistingFileError(f"--out {out} is a file; pass a folder")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise ExistingFileError(
                f"{out} is not empty; choose another --out or pass --overwrite to replace what is there"
            )
        ours = {MODEL_FILE, CARD_JSON, CARD_MD, CHECKPOINTS_DIR}
        others = sorted(p.name for p in out.iterdir() if p.name not in ours)
        if others:
            raise ExistingFileError(
                f"refusing to overwrite {out}: it holds more than an exported model ({', '.join(others[:5])}); "
                "choose a new or empty --out"
            )
    return out


def _prepare_out(out: str | os.PathLike, *, overwrite: bool) -> Path:
    out = _check_out(out, overwrite=overwrite)
    for name in (MODEL_FILE, CARD_JSON, CARD_MD, CHECKPOINTS_DIR):  # overwrite: only what we wrote before
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out


def _copy_atomic(src: Path, dst: Path) -> None:
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
