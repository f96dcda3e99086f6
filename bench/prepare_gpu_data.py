"""Copy a photo folder, shrunk, into ``.gpu/data/`` so it travels to the GPU machine with the bundle.

The GPU machine cannot see ``../shared`` and a device call carries at most 64 MiB (the ``.gpu``
bundle is about 54 MB of it): each photo is resized so that its longer side is at most ``--max-side``
pixels (INTER_AREA) and written as JPEG, keeping the folder structure; ``manifest.csv`` (the photos'
licences) is copied along. Sweeps at 128 px lose nothing: the loader centre-crops and resizes anyway.

    .venv/bin/python bench/prepare_gpu_data.py                       # ../shared/datasets/gcompris
    .venv/bin/python bench/prepare_gpu_data.py --src PHOTOS --max-side 256
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", default=str(ROOT.parent / "shared" / "datasets" / "gcompris"))
    parser.add_argument("--dst", default=str(ROOT / ".gpu" / "data" / "gcompris"))
    parser.add_argument("--max-side", type=int, default=320, help="longest side in pixels after shrinking")
    parser.add_argument("--quality", type=int, default=92, help="JPEG quality")
    args = parser.parse_args(argv)

    from colorize_core.data import ImageError, discover_images, read_image

    src, dst = Path(args.src), Path(args.dst)
    if not src.is_dir():
        print(f"no folder {src}: pass --src with a folder of photos", file=sys.stderr)
        return 2
    if dst.exists():
        shutil.rmtree(dst)
    written = skipped = 0
    for path in discover_images(src):
        try:
            rgb = read_image(path)
        except ImageError as exc:
            print(f"skipped {path}: {exc}", file=sys.stderr)
            skipped += 1
            continue
        height, width = rgb.shape[:2]
        scale = min(1.0, args.max_side / max(height, width))
        if scale < 1.0:
            rgb = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))),
                             interpolation=cv2.INTER_AREA)
        out = (dst / path.relative_to(src)).with_suffix(".jpg")
        out.parent.mkdir(parents=True, exist_ok=True)
        bgr8 = cv2.cvtColor((rgb * 255.0 + 0.5).clip(0, 255).astype("uint8"), cv2.COLOR_RGB2BGR)
        if not cv2.imwrite(str(out), bgr8, [cv2.IMWRITE_JPEG_QUALITY, args.quality]):
            raise OSError(f"could not write {out}")
        written += 1
    for extra in ("manifest.csv", "README.md", "LICENSE"):
        if (src / extra).exists():
            shutil.copy2(src / extra, dst / extra)
    size = sum(p.stat().st_size for p in dst.rglob("*") if p.is_file())
    print(f"{written} photos written to {dst} ({size / 2**20:.1f} MiB), {skipped} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
