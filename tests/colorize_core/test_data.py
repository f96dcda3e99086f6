"""colorize_core.data and colorize_core.demo: discovery, decoding, validation, split, cache, demo."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from colorize_core import color, data, demo
from colorize_core.data import dataset as dataset_module, samples as samples_module

GCOMPRIS = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "gcompris"
if not GCOMPRIS.is_dir():
    GCOMPRIS = Path("/work/shared/datasets/gcompris")
needs_gcompris = pytest.mark.skipif(not GCOMPRIS.is_dir(), reason="gcompris data set not present")


# ---------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------


def colourful_rgb8(height: int = 24, width: int = 32, seed: int = 0) -> np.ndarray:
    """A saturated RGB uint8 test image: colour gradients plus a little noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack(
        [255 * x / max(1, width - 1), 255 * y / max(1, height - 1), 255 * (1 - x / max(1, width - 1))],
        axis=-1,
    )
    rgb = rgb + rng.normal(0, 8, rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def write_rgb(path: Path, rgb: np.ndarray, params: list[int] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = rgb[..., ::-1] if rgb.ndim == 3 and rgb.shape[2] == 3 else rgb
    if rgb.ndim == 3 and rgb.shape[2] == 4:
        image = rgb[..., [2, 1, 0, 3]]
    ok, buf = cv2.imencode(path.suffix.lower() if path.suffix.lower() != ".jpeg" else ".jpg", image, params or [])
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def exif_tiff_block(orientation: int) -> bytes:
    """A minimal big-endian TIFF block with one IFD entry: Orientation (0x0112, SHORT)."""
    entry = struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
    return b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1) + entry + struct.pack(">I", 0)


def jpeg_with_orientation(rgb: np.ndarray, orientation: int) -> bytes:
    """Encode a JPEG and insert a hand-written EXIF APP1 segment right after SOI."""
    ok, buf = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    jpeg = buf.tobytes()
    payload = b"Exif\x00\x00" + exif_tiff_block(orientation)
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + app1 + jpeg[2:]


def png_with_orientation(image_bgra: np.ndarray, orientation: int) -> bytes:
    """Encode a PNG and insert an eXIf chunk (hand-written) after IHDR."""
    ok, buf = cv2.imencode(".png", image_bgra)
    assert ok
    png = buf.tobytes()
    body = exif_tiff_block(orientation)
    chunk = struct.pack(">I", len(body)) + b"eXIf" + body
    chunk += struct.pack(">I", zlib.crc32(b"eXIf" + body) & 0xFFFFFFFF)
    ihdr_end = 8 + 4 + 4 + 13 + 4
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def all_names(dataset: data.LabDataset) -> set[str]:
    return set(dataset.train.names) | set(dataset.val.names) | set(dataset.test.names)


def membership(dataset: data.LabDataset) -> dict[str, str]:
    return {n: split for split, s in dataset.splits().items() for n in s.names}


def make_colour_folder(folder: Path, count: int, *, start: int = 0) -> list[Path]:
    return [
        write_rgb(folder / f"img_{i:03d}.png", colourful_rgb8(20, 20, seed=i))
        for i in range(start, start + count)
    ]


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


# ---------------------------------------------------------------------------------------------------
# A folder of good and bad files
# ---------------------------------------------------------------------------------------------------

GOOD = {"a.jpg", "photo.JPG", "pic.bmp", "img16.png", "rgba.png", "sub/deeper/nested.png"}
BAD = {
    "corrupt.jpg": "cannot decode",
    "empty.png": "empty file",
    "truncated.jpg": "truncated JPEG",
    "notes.webp": "cannot decode",
    "gray1.png": "grayscale (single-channel",
    "gray3.png": "grayscale (R == G == B",
    "dull.png": "no colour: mean chroma",
    "tiny.png": "too small",
}


@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    root = tmp_path / "mixed"
    rgb = colourful_rgb8()
    write_rgb(root / "a.jpg", rgb)
    write_rgb(root / "photo.JPG", colourful_rgb8(seed=1))
    write_rgb(root / "pic.bmp", colourful_rgb8(seed=2))
    write_rgb(root / "img16.png", (colourful_rgb8(seed=3).astype(np.uint16) * 257))
    rgba = np.concatenate([colourful_rgb8(seed=4), np.full((24, 32, 1), 200, np.uint8)], axis=-1)
    write_rgb(root / "rgba.png", rgba)
    write_rgb(root / "sub" / "deeper" / "nested.png", colourful_rgb8(seed=5))
    (root / "corrupt.jpg").write_bytes(np.random.default_rng(0).bytes(2000))
    (root / "empty.png").write_bytes(b"")
    full = cv2.imencode(".jpg", colourful_rgb8(64, 64, seed=6))[1].tobytes()
    (root / "truncated.jpg").write_bytes(full[: len(full) // 2])
    (root / "notes.webp").write_text("this is not an image\n")
    gray = colourful_rgb8(seed=7)[..., 0]
    assert cv2.imwrite(str(root / "gray1.png"), gray)
    write_rgb(root / "gray3.png", np.repeat(gray[..., None], 3, axis=-1))
    dull = np.repeat(gray[..., None], 3, axis=-1).astype(np.int16)
    dull[::2, ::2, 0] += 1  # not exactly grey, but no visible colour
    write_rgb(root / "dull.png", np.clip(dull, 0, 255).astype(np.uint8))
    write_rgb(root / "tiny.png", colourful_rgb8(5, 5))
    (root / "readme.txt").write_text("not an image extension: never found\n")
    (root / ".hidden.png").write_bytes(b"hidden files are ignored")
    write_rgb(root / ".thumbnails" / "t.png", colourful_rgb8(seed=8))  # hidden folders too
    return root


def test_mixed_folder_loads_good_and_lists_bad(mixed_folder, cache_dir):
    ds = data.load_dataset(mixed_folder, size=16, cache_dir=cache_dir)
    assert all_names(ds) == GOOD
    assert ds.n_found == len(GOOD) + len(BAD)
    reasons = {s.path: s.reason for s in ds.skipped}
    assert set(reasons) == set(BAD)
    for path, expected in BAD.items():
        assert expected in reasons[path], (path, reasons[path])
    for split in ds.splits().values():
        assert split.lightness.shape == (len(split), 16, 16, 1)
        assert split.ab.shape == (len(split), 16, 16, 2)
        assert split.lightness.dtype == np.float32 and split.ab.dtype == np.float32
    assert min(len(s) for s in ds.splits().values()) >= 1  # >= 3 images: no split is empty
    summary = ds.summary()
    assert summary["n_loaded"] == len(GOOD) and summary["n_skipped"] == len(BAD)
    import json

    json.dumps(summary)  # JSON-able


def test_inspect_data_reports_files_skips_and_sizes(mixed_folder, cache_dir):
    info = data.inspect_data(mixed_folder, size=16, cache_dir=cache_dir)
    assert info["files_found"] == len(GOOD) + len(BAD)
    assert info["loaded"] == len(GOOD)
    assert {s["path"] for s in info["skipped"]} == set(BAD)
    assert sum(info["splits"].values()) == len(GOOD)
    assert info["original_size"]["width"] == {"min": 32, "median": 32, "max": 32}
    assert info["cache_path"].startswith(str(cache_dir))


def test_discover_images(mixed_folder):
    found = data.discover_images(mixed_folder)
    rel = [p.relative_to(mixed_folder).as_posix() for p in found]
    assert rel == sorted(rel)
    assert set(rel) == GOOD | set(BAD)
    assert data.discover_images([mixed_folder / "a.jpg"]) == [(mixed_folder / "a.jpg").resolve()]
    assert data.discover_images([mixed_folder, mixed_folder / "a.jpg"]) == found  # no duplicates


def test_discover_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does-not-exist"):
        data.discover_images(tmp_path / "does-not-exist")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match=r"\.webp"):
        data.discover_images(tmp_path / "empty")


def test_kaggle_layout_uses_color_only(tmp_path, cache_dir):
    root = tmp_path / "landscape Images"
    for i in range(4):
        rgb = colourful_rgb8(seed=i)
        write_rgb(root / "color" / f"{i}.jpg", rgb)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        (root / "gray").mkdir(exist_ok=True)
        assert cv2.imwrite(str(root / "gray" / f"{i}.jpg"), gray)
    write_rgb(root / "gray" / "colour_in_gray_dir.jpg", colourful_rgb8(seed=9))  # would load if found
    found = data.discover_images(root)
    assert [p.relative_to(root).as_posix() for p in found] == [f"color/{i}.jpg" for i in range(4)]
    ds = data.load_dataset(root, size=16, cache_dir=cache_dir)
    assert all_names(ds) == {f"color/{i}.jpg" for i in range(4)} and not ds.skipped


def test_bad_arguments_name_the_argument(mixed_folder):
    with pytest.raises(ValueError, match="size must be"):
        data.load_dataset(mixed_folder, size=4, use_cache=False)
    with pytest.raises(ValueError, match="split must be"):
        data.load_dataset(mixed_folder, split=(0.5, 0.5, 0.5), use_cache=False)
    with pytest.raises(ValueError, match="lab_mode must be"):
        data.load_dataset(mixed_folder, lab_mode="uint8", use_cache=False)
    with pytest.raises(ValueError, match="min_chroma must be"):
        data.load_dataset(mixed_folder, min_chroma=-1, use_cache=False)
    with pytest.raises(ValueError, match="source must be"):
        data.load_dataset(42, use_cache=False)


def test_all_unusable_raises(tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match="no usable images"):
        data.load_dataset(tmp_path, size=16, use_cache=False)


# ---------------------------------------------------------------------------------------------------
# read_image
# ---------------------------------------------------------------------------------------------------


def test_read_image_8_and_16_bit_values(tmp_path):
    rgb8 = colourful_rgb8()
    write_rgb(tmp_path / "a.png", rgb8)
    write_rgb(tmp_path / "b.png", rgb8.astype(np.uint16) * 257)
    a = data.read_image(tmp_path / "a.png")
    b = data.read_image(tmp_path / "b.png")
    assert a.dtype == np.float32 and a.shape == (24, 32, 3)
    np.testing.assert_allclose(a, rgb8 / 255.0, atol=1e-6)  # RGB order, [0, 1]
    np.testing.assert_allclose(b, rgb8 / 255.0, atol=1e-6)


def test_read_image_grayscale_file_gives_three_equal_channels(tmp_path):
    gray = colourful_rgb8()[..., 1]
    assert cv2.imwrite(str(tmp_path / "g.png"), gray)
    rgb = data.read_image(tmp_path / "g.png")
    assert rgb.shape == (24, 32, 3)
    np.testing.assert_allclose(rgb[..., 0], gray / 255.0, atol=1e-6)
    assert np.array_equal(rgb[..., 0], rgb[..., 2])


def test_read_image_alpha_composited_over_white(tmp_path):
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 0] = 255  # red everywhere under the alpha
    rgba[:8, :, 3] = 255  # top half opaque
    rgba[8:, :, 3] = 0  # bottom half transparent
    write_rgb(tmp_path / "t.png", rgba)
    rgb = data.read_image(tmp_path / "t.png")
    np.testing.assert_allclose(rgb[:8], np.broadcast_to([1, 0, 0], (8, 16, 3)), atol=1e-6)
    np.testing.assert_allclose(rgb[8:], 1.0, atol=1e-6)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.jpg", b"", "empty file"),
        ("text.webp", b"hello, not an image", "cannot decode"),
        ("junk.png", bytes(range(256)) * 8, "cannot decode"),
    ],
)
def test_read_image_errors(tmp_path, name, content, reason):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(data.ImageError, match=reason):
        data.read_image(tmp_path / name)


def test_read_image_truncated_and_tiny(tmp_path):
    full = cv2.imencode(".jpg", colourful_rgb8(64, 64))[1].tobytes()
    (tmp_path / "t.jpg").write_bytes(full[: len(full) * 2 // 3])
    with pytest.raises(data.ImageError, match="truncated JPEG"):
        data.read_image(tmp_path / "t.jpg")
    write_rgb(tmp_path / "tiny.png", colourful_rgb8(7, 40))
    with pytest.raises(data.ImageError, match="too small: 40x7"):
        data.read_image(tmp_path / "tiny.png")
    assert issubclass(data.ImageError, ValueError)


def _halves(height: int, width: int) -> np.ndarray:
    """Left half red, right half blue."""
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[:, : width // 2] = (255, 0, 0)
    rgb[:, width // 2 :] = (0, 0, 255)
    return rgb


def test_exif_orientation_applied_jpeg(tmp_path):
    (tmp_path / "o6.jpg").write_bytes(jpeg_with_orientation(_halves(16, 40), 6))
    (tmp_path / "o1.jpg").write_bytes(jpeg_with_orientation(_halves(16, 40), 1))
    assert data.read_image(tmp_path / "o1.jpg").shape == (16, 40, 3)
    rotated = data.read_image(tmp_path / "o6.jpg")
    assert rotated.shape == (40, 16, 3)  # orientation 6: rotate 90° clockwise to display
    # The left (red) half of the stored image is now on top.
    assert rotated[:16, :, 0].mean() > 0.8 and rotated[:16, :, 2].mean() < 0.2
    assert rotated[24:, :, 2].mean() > 0.8 and rotated[24:, :, 0].mean() < 0.2
    # ... and so does the data loader: the centre square of the upright image is red above blue
    # (red has b ≈ +67, blue b ≈ -108), not red left of blue as stored.
    ds = data.load_dataset(tmp_path / "o6.jpg", size=8, use_cache=False)
    assert ds.n_loaded == 1
    (ab,) = [s.ab[0] for s in ds.splits().values() if len(s)]
    assert ab[0, :, 1].min() > 30 and ab[-1, :, 1].max() < -30


def test_exif_orientation_applied_with_alpha(tmp_path):
    bgra = np.zeros((16, 40, 4), np.uint8)
    bgra[..., 2] = 255  # red
    bgra[..., 3] = 255
    bgra[:, 20:, 3] = 0  # right half transparent -> white
    (tmp_path / "a6.png").write_bytes(png_with_orientation(bgra, 6))
    rgb = data.read_image(tmp_path / "a6.png")
    assert rgb.shape == (40, 16, 3)
    np.testing.assert_allclose(rgb[:20], np.broadcast_to([1, 0, 0], (20, 16, 3)), atol=1e-6)
    np.testing.assert_allclose(rgb[20:], 1.0, atol=1e-6)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_alpha_path_orients_like_opencv(tmp_path, orientation):
    """The alpha path (IMREAD_UNCHANGED + our EXIF handling) must match OpenCV's own orientation."""
    bgr = colourful_rgb8(16, 40, seed=orientation)[..., ::-1]
    bgra = np.concatenate([bgr, np.full((16, 40, 1), 255, np.uint8)], axis=-1)
    bgra[0, 0, 3] = 254  # really has alpha
    encoded = png_with_orientation(bgra, orientation)
    (tmp_path / "x.png").write_bytes(encoded)
    expected = cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR)[..., ::-1] / 255.0
    rgb = data.read_image(tmp_path / "x.png")
    assert rgb.shape == expected.shape
    np.testing.assert_allclose(rgb, expected, atol=1.5 / 255)


# ---------------------------------------------------------------------------------------------------
# Preprocessing
# ---------------------------------------------------------------------------------------------------


def test_center_crop_not_pad(tmp_path):
    rgb = np.zeros((20, 60, 3), np.uint8)
    rgb[:, :20] = (255, 0, 0)  # left third red
    rgb[:, 20:40] = (0, 255, 0)  # middle third green: the centre square
    rgb[:, 40:] = (0, 0, 255)
    write_rgb(tmp_path / "wide.png", rgb)
    ds = data.load_dataset(tmp_path / "wide.png", size=10, use_cache=False)
    split = next(s for s in ds.splits().values() if len(s))
    expected = color.rgb_to_lab(np.full((10, 10, 3), (0, 1, 0), np.float32))
    np.testing.assert_allclose(split.ab[0], expected[..., 1:], atol=0.05)
    np.testing.assert_allclose(split.lightness[0], expected[..., :1], atol=0.05)
    assert ds.original_sizes == ((60, 20),)


def test_lab_mode_seed_matches_color_module(tmp_path):
    write_rgb(tmp_path / "x.png", colourful_rgb8(16, 16))
    ds = data.load_dataset(tmp_path / "x.png", size=16, lab_mode="seed", use_cache=False)
    split = next(s for s in ds.splits().values() if len(s))
    expected = color.rgb_to_lab(colourful_rgb8(16, 16) / 255.0, lab_mode="seed")
    np.testing.assert_allclose(split.lightness[0, ..., 0], expected[..., 0], atol=1e-4)
    np.testing.assert_allclose(split.ab[0], expected[..., 1:], atol=1e-4)


# ---------------------------------------------------------------------------------------------------
# Split
# ---------------------------------------------------------------------------------------------------


def test_split_is_deterministic_and_stable_when_files_are_added(tmp_path):
    root = tmp_path / "grow"
    make_colour_folder(root, 30)
    before = data.load_dataset(root, size=8, use_cache=False)
    again = data.load_dataset(root, size=8, use_cache=False)
    assert membership(before) == membership(again)
    assert all(len(s) > 0 for s in before.splits().values())
    make_colour_folder(root, 10, start=30)
    after = data.load_dataset(root, size=8, use_cache=False)
    moved = {n: (s, membership(after)[n]) for n, s in membership(before).items() if membership(after)[n] != s}
    assert moved == {}
    assert len(all_names(after)) == 40


def test_split_follows_fractions_roughly(tmp_path):
    keys = [f"dir/file_{i}.jpg" for i in range(2000)]
    assignment = data._assign_splits(keys, (0.7, 0.15, 0.15))
    counts = np.bincount(assignment, minlength=3) / len(keys)
    np.testing.assert_allclose(counts, [0.7, 0.15, 0.15], atol=0.04)


@pytest.mark.parametrize("n", [3, 4, 5])
def test_small_sets_have_nonempty_val_and_test(n):
    for offset in range(20):  # many different name sets, whatever their hashes
        keys = [f"f{offset}_{i}.png" for i in range(n)]
        assignment = data._assign_splits(keys, (0.7, 0.15, 0.15))
        assert set(assignment) == {0, 1, 2}, (keys, assignment)
        assert assignment == data._assign_splits(keys, (0.7, 0.15, 0.15))


def test_split_key_is_relative_to_source_root(tmp_path):
    make_colour_folder(tmp_path / "one" / "photos", 12)
    shutil.copytree(tmp_path / "one" / "photos", tmp_path / "two" / "elsewhere" / "photos")
    a = data.load_dataset(tmp_path / "one" / "photos", size=8, use_cache=False)
    b = data.load_dataset(tmp_path / "two" / "elsewhere" / "photos", size=8, use_cache=False)
    assert membership(a) == membership(b)


# ---------------------------------------------------------------------------------------------------
# Cache
# ---------------------------------------------------------------------------------------------------


def test_cache_hit_then_invalidation(tmp_path, cache_dir, monkeypatch):
    root = tmp_path / "c"
    files = make_colour_folder(root, 6)
    first = data.load_dataset(root, size=16, cache_dir=cache_dir)
    assert not first.cache_hit and Path(first.cache_path).is_file()
    assert Path(first.cache_path).parent == cache_dir and first.fingerprint in first.cache_path
    assert not [p for p in cache_dir.iterdir() if p.suffix == ".tmp"]

    def no_decoding(*args, **kwargs):
        raise AssertionError("a cache hit must not decode images")

    with monkeypatch.context() as m:
        m.setattr(samples_module, "_decode", no_decoding)  # what loads each file
        second = data.load_dataset(root, size=16, cache_dir=cache_dir)
    assert second.cache_hit and second.fingerprint == first.fingerprint
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(first, name).ab, getattr(second, name).ab)
        np.testing.assert_array_equal(getattr(first, name).lightness, getattr(second, name).lightness)
        assert getattr(first, name).names == getattr(second, name).names

    st = files[0].stat()
    os.utime(files[0], ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    third = data.load_dataset(root, size=16, cache_dir=cache_dir)
    assert not third.cache_hit and third.fingerprint != first.fingerprint


def test_fingerprint_changes_with_every_input(tmp_path, cache_dir, monkeypatch):
    root = tmp_path / "f"
    files = make_colour_folder(root, 5)

    def fp(**kwargs):
        return data.load_dataset(root, cache_dir=cache_dir, **{"size": 16, **kwargs}).fingerprint

    base = fp()
    assert fp() == base
    others = {
        fp(size=24),
        fp(lab_mode="seed"),
        fp(split=(0.6, 0.2, 0.2)),
        fp(min_chroma=3.0),
    }
    with monkeypatch.context() as m:
        m.setattr(dataset_module, "CONVERSION_VERSION", data.CONVERSION_VERSION + 1)  # what load_dataset fingerprints
        others.add(fp())
    files[1].write_bytes(files[1].read_bytes() + b"\0")  # size changes
    others.add(fp())
    make_colour_folder(root, 1, start=10)  # a file added
    others.add(fp())
    files[2].unlink()  # a file removed
    others.add(fp())
    assert base not in others and len(others) == 8


def test_use_cache_false_writes_nothing(tmp_path, cache_dir):
    make_colour_folder(tmp_path / "n", 3)
    ds = data.load_dataset(tmp_path / "n", size=8, cache_dir=cache_dir, use_cache=False)
    assert ds.cache_path is None and not ds.cache_hit
    assert not cache_dir.exists()


def test_corrupt_cache_is_rebuilt(tmp_path, cache_dir):
    make_colour_folder(tmp_path / "r", 3)
    first = data.load_dataset(tmp_path / "r", size=8, cache_dir=cache_dir)
    Path(first.cache_path).write_bytes(b"garbage")
    again = data.load_dataset(tmp_path / "r", size=8, cache_dir=cache_dir)
    assert not again.cache_hit and again.n_loaded == 3
    assert data.load_dataset(tmp_path / "r", size=8, cache_dir=cache_dir).cache_hit


def test_default_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("COLORSWEEP_CACHE", str(tmp_path / "envcache"))
    assert data.default_cache_dir() == tmp_path / "envcache"
    monkeypatch.delenv("COLORSWEEP_CACHE")
    assert data.default_cache_dir() == Path.home() / ".cache" / "colorsweep"


def test_progress_callback(tmp_path):
    make_colour_folder(tmp_path / "p", 4)
    calls = []
    data.load_dataset(tmp_path / "p", size=8, use_cache=False, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


# ---------------------------------------------------------------------------------------------------
# Augmentation
# ---------------------------------------------------------------------------------------------------


def test_augment_batch_same_transform_on_l_and_ab():
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 100, (6, 16, 16, 1)).astype(np.float32)
    ab = np.concatenate([base, base - 50.0], axis=-1)
    out_l, out_ab = data.augment_batch(base, ab, rng=np.random.default_rng(1))
    assert out_l.shape == base.shape and out_ab.shape == ab.shape
    assert out_l.dtype == np.float32 and out_ab.dtype == np.float32
    np.testing.assert_allclose(out_ab[..., 0], out_l[..., 0], atol=1e-3)
    np.testing.assert_allclose(out_ab[..., 1], out_l[..., 0] - 50.0, atol=1e-3)
    assert not np.allclose(out_l, base)  # something happened
    again_l, _ = data.augment_batch(base, ab, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(again_l, out_l)  # reproducible from the generator


def test_augment_batch_flip_only_when_scale_is_one():
    lightness = np.arange(2 * 8 * 8, dtype=np.float32).reshape(2, 8, 8, 1)
    ab = np.zeros((2, 8, 8, 2), np.float32)
    seen_flip = seen_same = False
    for seed in range(10):
        out, _ = data.augment_batch(lightness, ab, rng=np.random.default_rng(seed), min_scale=1.0)
        for i in range(2):
            same = np.array_equal(out[i], lightness[i])
            flipped = np.array_equal(out[i], lightness[i, :, ::-1])
            assert same or flipped
            seen_same |= same
            seen_flip |= flipped
    assert seen_flip and seen_same
    with pytest.raises(ValueError, match="rng must be"):
        data.augment_batch(lightness, ab, rng=0)


# ---------------------------------------------------------------------------------------------------
# Real data and the demo
# ---------------------------------------------------------------------------------------------------


@needs_gcompris
def test_gcompris_subset_loads(tmp_path, cache_dir):
    manifest = (GCOMPRIS / "manifest.csv").read_text().splitlines()[1:]
    picked = [line.split(",")[0] for line in manifest][::16][:12]  # every folder, mixed sizes
    for rel in picked:
        (tmp_path / "g" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(GCOMPRIS / rel, tmp_path / "g" / rel)
    ds = data.load_dataset(tmp_path / "g", size=24, cache_dir=cache_dir)
    assert all_names(ds) == set(picked) and not ds.skipped
    assert len({w for w, _ in ds.original_sizes}) > 2  # mixed sizes really were handled
    for split in ds.splits().values():
        assert split.lightness.shape[1:] == (24, 24, 1)
        if len(split):
            assert 0.0 <= split.lightness.min() and split.lightness.max() <= 100.0 + 1e-3
            assert np.abs(split.ab).max() <= 128.0
    assert np.hypot(ds.train.ab[..., 0], ds.train.ab[..., 1]).mean() > 5.0  # real colour


@needs_gcompris
def test_gcompris_full_folder(tmp_path):
    ds = data.load_dataset(GCOMPRIS, size=16, cache_dir=tmp_path)
    assert ds.n_found == 197 and ds.n_loaded + len(ds.skipped) == 197
    assert ds.n_loaded >= 190
    counts = [len(s) for s in ds.splits().values()]
    assert counts[0] > counts[1] > 0 and counts[2] > 0


def test_demo_loads_offline(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the demo data must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    names = [name for name, _ in demo.demo_images()]
    assert {"astronaut", "chelsea", "coffee", "rocket", "china", "flower"} <= set(names)
    for _, rgb in demo.demo_images():
        assert rgb.dtype == np.float32 and rgb.ndim == 3 and rgb.shape[2] == 3
        assert 0.0 <= rgb.min() and rgb.max() <= 1.0
    ds = data.load_dataset("demo", size=16, cache_dir=tmp_path)
    assert ds.source == "demo" and ds.n_loaded >= 100
    assert all(len(s) > 0 for s in ds.splits().values())
    assert all("#tile" in n for n in all_names(ds))
    assert data.load_dataset("demo", size=16, cache_dir=tmp_path).cache_hit


def test_demo_tiles_names_and_shapes():
    tiles = demo.demo_tiles(12, tiles_per_image=5)
    assert len(tiles) == 5 * len(demo.demo_images())
    assert tiles[0][0].endswith("#tile000")
    assert len({name for name, _ in tiles}) == len(tiles)
    assert all(rgb.shape == (12, 12, 3) and rgb.dtype == np.float32 for _, rgb in tiles)


def test_demo_source_forms(tmp_path):
    assert data.load_dataset(["demo"], size=16, cache_dir=tmp_path).source == "demo"
    with pytest.raises(ValueError, match="cannot be combined"):
        data.load_dataset(["demo", str(tmp_path)], size=16, use_cache=False)


def test_several_sources_prefix_names(tmp_path):
    make_colour_folder(tmp_path / "first", 2)
    make_colour_folder(tmp_path / "second", 2)
    ds = data.load_dataset([tmp_path / "first", tmp_path / "second"], size=8, use_cache=False)
    assert all_names(ds) == {f"{d}/img_00{i}.png" for d in ("first", "second") for i in range(2)}
    assert ds.source == os.pathsep.join([str(tmp_path / "first"), str(tmp_path / "second")])


def test_unwritable_cache_does_not_fail_the_load(tmp_path):
    make_colour_folder(tmp_path / "w", 3)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    with pytest.warns(UserWarning, match="could not write the data cache"):
        ds = data.load_dataset(tmp_path / "w", size=8, cache_dir=blocker)
    assert ds.n_loaded == 3 and ds.cache_path is None


def test_data_inspect_prints_sizes_and_the_pool_in_words(mixed_folder, cache_dir, capsys):
    from search.cli import main

    assert main(["data", "inspect", str(mixed_folder), "--size", "16"]) == 0
    out = capsys.readouterr().out
    assert "original size (px): width 32–32 (median 32), height" in out
    assert "{" not in out  # no Python dict printed
    assert "training photos kept whole for random crops:" in out
