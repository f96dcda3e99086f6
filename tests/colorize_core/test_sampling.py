"""Random-crop training samples from whole photos (colorize_core.sampling) and their use by
load_dataset (the pool) and fit (samples_per_epoch)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from colorize_core import color, sampling
from colorize_core.data import load_dataset, prepare_rgb
from colorize_core.sampling import PhotoPool


def _halves(height: int, width: int) -> np.ndarray:
    """uint8 photo: left half pure red, right half pure blue."""
    image = np.zeros((height, width, 3), np.uint8)
    image[:, : width // 2, 0] = 255
    image[:, width // 2 :, 2] = 255
    return image


def test_pool_side_is_four_times_size_capped_and_within_the_budget():
    assert sampling.pool_side_for(64, 134) == 256
    assert sampling.pool_side_for(256, 134) == 512  # capped at POOL_MAX_SIDE
    # 1000 photos of 256 x 512 x 3 bytes need 393 MB: a 100 MB budget lowers the side
    side = sampling.pool_side_for(64, 1000, budget_bytes=100 * 2**20)
    assert 64 < side < 256 and 1000 * side * side * 2 * 3 <= 100 * 2**20
    assert sampling.pool_side_for(64, 10**6, budget_bytes=2**20) == 64  # never below size


def test_pool_budget_env_is_checked(monkeypatch):
    monkeypatch.setenv(sampling.POOL_BUDGET_ENV, "10")
    assert sampling.pool_budget_bytes() == 10 * 2**20
    monkeypatch.setenv(sampling.POOL_BUDGET_ENV, "lots")
    with pytest.raises(ValueError, match="COLORSWEEP_POOL_MB must be a positive number"):
        sampling.pool_budget_bytes()


def test_pool_image_shrinks_the_short_side_caps_the_long_side_and_never_enlarges():
    wide = sampling.pool_image(_halves(300, 900), 255.0, 100)
    assert wide.dtype == np.uint8 and wide.shape == (100, 200, 3)  # 900 px cut to 2 x 300 first
    tall16 = (np.ones((400, 200, 3)) * 65535).astype(np.uint16)
    assert sampling.pool_image(tall16, 65535.0, 50).shape == (100, 50, 3)
    assert int(sampling.pool_image(tall16, 65535.0, 50).min()) == 255
    small = sampling.pool_image(_halves(40, 60), 255.0, 100)
    assert small.shape == (40, 60, 3)


def test_photo_pool_packs_photos_of_different_shapes():
    images = [_halves(20, 30), _halves(16, 16), _halves(24, 12)]
    pool = PhotoPool.from_images(images, ["a", "b", "c"], side=16)
    assert len(pool) == 3 and pool.nbytes == sum(im.size for im in images)
    for i, image in enumerate(images):
        np.testing.assert_array_equal(pool.image(i), image)
    with pytest.raises(ValueError, match="do not match"):
        PhotoPool(pixels=pool.pixels[:-1], shapes=pool.shapes, names=pool.names, side=16)


def test_a_full_scale_crop_of_a_square_photo_is_the_validation_crop():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    pool = PhotoPool.from_images([photo], ["p"], side=48)
    lightness, ab = sampling.sample_crops(pool, 4, 16, rng=rng, min_scale=1.0, flip=False)
    expected = color.rgb_to_lab(prepare_rgb(photo.astype(np.float32) / 255.0, size=16))
    for i in range(4):
        np.testing.assert_allclose(lightness[i], expected[..., :1], atol=1e-3)
        np.testing.assert_allclose(ab[i], expected[..., 1:], atol=1e-3)


def test_crops_vary_in_scale_position_and_flip_and_keep_the_photos_colours():
    pool = PhotoPool.from_images([_halves(64, 128)], ["halves"], side=64)
    lightness, ab = sampling.sample_crops(pool, 64, 16, rng=np.random.default_rng(1))
    assert lightness.shape == (64, 16, 16, 1) and ab.shape == (64, 16, 16, 2)
    red = color.rgb_to_lab(np.array([[[1.0, 0.0, 0.0]]], np.float32))[0, 0, 1:]
    blue = color.rgb_to_lab(np.array([[[0.0, 0.0, 1.0]]], np.float32))[0, 0, 1:]
    red_share = (np.linalg.norm(ab - red, axis=-1) < 1.0).mean(axis=(1, 2))
    blue_share = (np.linalg.norm(ab - blue, axis=-1) < 1.0).mean(axis=(1, 2))
    assert np.all(red_share + blue_share > 0.8)  # only the photo's colours (a blend at the seam)
    assert (red_share > 0.95).any() and (blue_share > 0.95).any()  # small crops inside one half
    left_red = red_share > 0.3
    mixed = (red_share > 0.3) & (blue_share > 0.3)
    # crops that hold both halves show red on the left unless flipped: both orders occur
    red_left = ab[:, :, :4].mean(axis=(1, 2))[:, 1] > ab[:, :, -4:].mean(axis=(1, 2))[:, 1]
    assert left_red.any() and mixed.sum() >= 4
    assert 0 < red_left[mixed].sum() < mixed.sum()


def test_crops_are_reproducible_from_the_seed():
    pool = PhotoPool.from_images([_halves(64, 96), _halves(50, 50)], ["a", "b"], side=64)
    first = sampling.sample_crops(pool, 8, 16, rng=np.random.default_rng(7))
    again = sampling.sample_crops(pool, 8, 16, rng=np.random.default_rng(7))
    other = sampling.sample_crops(pool, 8, 16, rng=np.random.default_rng(8))
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


def test_load_dataset_keeps_the_training_photos_whole(gcompris_dir, cache_dir):
    data = load_dataset(gcompris_dir, size=16, cache_dir=cache_dir)
    assert data.pool is not None and data.pool.side == 64
    assert data.pool.names == data.train.names
    assert all(min(int(h), int(w)) == 64 for h, w in data.pool.shapes)  # every gcompris photo is larger
    assert data.summary()["pool"]["photos"] == len(data.train)
    again = load_dataset(gcompris_dir, size=16, cache_dir=cache_dir)
    assert again.cache_hit and np.array_equal(again.pool.pixels, data.pool.pixels)
    bare = load_dataset(gcompris_dir, size=16, cache_dir=cache_dir, pool_side=None)
    assert bare.pool is None and bare.fingerprint != data.fingerprint
    np.testing.assert_array_equal(bare.val.ab, data.val.ab)  # validation crops do not change
    with pytest.raises(ValueError, match="pool_side must be"):
        load_dataset(gcompris_dir, size=16, cache_dir=cache_dir, pool_side=8)


def test_demo_pool_holds_the_training_tiles_only(demo16):
    assert demo16.pool is not None and demo16.pool.names == demo16.train.names
    assert {tuple(s) for s in demo16.pool.shapes.tolist()} == {(64, 64)}


def test_crop_batches_are_full_deterministic_and_continue_after_a_resume(demo16):
    from colorize_core.train import _crop_batches

    def make(first_epoch):
        return _crop_batches(demo16.pool, size=16, samples=20, batch_size=8, seed=3, lab_mode="float",
                             first_epoch=first_epoch)

    batches = make(0)
    assert len(batches) == 3  # 20 samples -> 3 full batches of 8
    x0, y0 = batches[2]
    assert x0.shape == (8, 16, 16, 1) and y0.shape == (8, 16, 16, 2)
    batches.on_epoch_end()
    x1, _ = batches[2]
    resumed_x1, _ = make(1)[2]
    assert not np.array_equal(x0, x1)  # a new epoch draws new crops
    np.testing.assert_array_equal(x1, resumed_x1)  # a fit resumed at epoch 1 draws what it would have


def test_fit_trains_on_random_crops_with_batches_larger_than_the_training_split(demo16):
    from colorize_core.train import fit

    seen = []
    big = len(demo16.train) + 8
    result = fit({"arch": "basic", "epochs": 2, "batch_size": big, "samples_per_epoch": 2 * big,
                  "early_stopping_patience": None}, demo16, lambda e, m: seen.append(m))
    assert [m["epoch"] for m in seen] == [1, 2] and result.epochs_trained == 2
    assert all(np.isfinite(m["delta_e"]) for m in seen)


def test_fit_without_a_pool_says_how_to_get_one(cache_dir):
    from colorize_core.train import fit

    data = load_dataset("demo", size=16, cache_dir=cache_dir, pool_side=None)
    with pytest.raises(ValueError, match="has no photo pool: load it with load_dataset"):
        fit({"arch": "basic", "epochs": 1, "samples_per_epoch": 16}, data)


def test_classification_weights_can_follow_the_pool(demo16):
    from colorize_core.classification import class_weights_for, num_bins

    from_pool = class_weights_for(demo16, source="pool")
    from_train = class_weights_for(demo16, source="train")
    assert from_pool.shape == (num_bins(),) and np.all(np.isfinite(from_pool))
    assert not np.allclose(from_pool, from_train)  # different pixels, different weights
    with pytest.raises(ValueError, match='source must be "train" or "pool"'):
        class_weights_for(demo16, source="crops")


def test_samples_per_epoch_is_checked():
    from colorize_core.train import TrainConfig

    for bad in (0, -5, 1.5, True):
        with pytest.raises(ValueError, match="samples_per_epoch must be a positive int or None"):
            TrainConfig(samples_per_epoch=bad)
    assert TrainConfig.from_dict({"samples_per_epoch": 512.0}).samples_per_epoch == 512


def test_a_space_with_random_crops_accepts_batches_larger_than_the_data():
    from spaces import SpaceError, space_from_dict, validate_for_data, with_fixed

    spec = {"name": "t", "params": {"batch_size": {"choice": [8, 64]}}, "fixed": {"arch": "basic"}}
    space = space_from_dict(spec)
    with pytest.raises(SpaceError, match="exceeds the 20 training images"):
        validate_for_data(space, n_train=20, size=16)
    cropped = with_fixed(space, samples_per_epoch=256)
    validate_for_data(cropped, n_train=20, size=16)  # no error
    assert cropped.fixed["samples_per_epoch"] == 256
    with pytest.raises(SpaceError, match="samples_per_epoch must be a positive int or null"):
        space_from_dict({**spec, "fixed": {"arch": "basic", "samples_per_epoch": 0}})


def test_with_fixed_takes_the_key_out_of_params_and_start_with():
    from spaces import load_space, with_fixed

    auto = load_space("auto")
    assert "batch_size" in auto.params and auto.start_with
    fixed = with_fixed(auto, batch_size=8)
    assert "batch_size" not in fixed.params and fixed.fixed["batch_size"] == 8
    assert all("batch_size" not in point for point in fixed.start_with)


def test_cv2_area_resize_matches_the_pool_of_a_shrunk_photo():
    photo = np.random.default_rng(2).integers(0, 256, (120, 180, 3), dtype=np.uint8)
    pooled = sampling.pool_image(photo, 255.0, 60)
    expected = cv2.resize(photo.astype(np.float32) / 255.0, (90, 60), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(pooled.astype(np.float32) / 255.0, expected, atol=1 / 255 + 1e-6)


def test_min_crop_scale_bounds_how_far_the_crops_zoom_in():
    from colorize_core.train import _crop_batches

    pool = PhotoPool.from_images([_halves(64, 64)], ["halves"], side=64)

    def red_shares(min_scale):
        batches = _crop_batches(pool, size=16, samples=64, batch_size=64, seed=0, lab_mode="float",
                                first_epoch=0, min_scale=min_scale)
        _, ab = batches[0]
        red = color.decode_ab(ab)[..., 1] > 20  # b* of pure red is about +67, of pure blue about -108
        return red.mean(axis=(1, 2))

    whole = red_shares(1.0)  # every crop is the whole photo: half red, half blue
    np.testing.assert_allclose(whole, 0.5, atol=0.05)
    zoomed = red_shares(0.25)  # quarter-side crops: many hold one colour only
    assert np.sum((zoomed < 0.05) | (zoomed > 0.95)) >= 8


def test_fit_crops_at_its_configured_min_crop_scale(demo16, monkeypatch):
    import importlib

    fit_module = importlib.import_module("colorize_core.train.fit")
    asked = []
    real = fit_module.crop_batches

    def spy(*args, **kwargs):
        asked.append(kwargs["min_scale"])
        return real(*args, **kwargs)

    monkeypatch.setattr(fit_module, "crop_batches", spy)
    fit_module.fit({"arch": "basic", "epochs": 1, "batch_size": 8, "samples_per_epoch": 8,
                    "min_crop_scale": 0.7}, demo16)
    assert asked == [0.7]


def test_min_crop_scale_is_checked_in_configs_spaces_and_the_cli(capsys):
    from colorize_core.train import TrainConfig
    from search.cli import main
    from spaces import SpaceError, space_from_dict

    assert TrainConfig().min_crop_scale == sampling.MIN_CROP_SCALE
    for bad in (0, -0.5, 1.5, float("nan"), True, "half"):
        with pytest.raises(ValueError, match=r"min_crop_scale must be a number in \(0, 1\]"):
            TrainConfig(min_crop_scale=bad)
    with pytest.raises(SpaceError, match=r"min_crop_scale must be a number in \(0, 1\]"):
        space_from_dict({"name": "t", "params": {"min_crop_scale": {"choice": [0.5, 0]}}, "fixed": {"arch": "basic"}})
    space = space_from_dict({"name": "t", "params": {"min_crop_scale": {"uniform": [0.25, 1.0]}},
                             "fixed": {"arch": "basic"}})
    assert "min_crop_scale" in space.params
    with pytest.raises(SystemExit) as stopped:
        main(["train", "--min-crop-scale", "0"])
    assert stopped.value.code == 2 and "must be above 0" in capsys.readouterr().err
