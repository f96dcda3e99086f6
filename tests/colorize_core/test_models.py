"""Tests for colorize_core.models: the registry, the six study architectures and the U-Net."""

from __future__ import annotations

import dataclasses
import math
import pathlib
import re

import keras
import numpy as np
import pytest

import colorize_core.models as models
from colorize_core.classification import num_bins, soft_encode
from colorize_core.losses import ClsRebalanced
from colorize_core.models import (
    AB_CONV,
    AB_LOGITS,
    ModelInfo,
    count_params,
    create_model,
    is_model,
    list_models,
    model_info,
    register_model,
)
from colorize_core.models import registry as registry_module

STUDY_MODELS = ("basic", "classic", "conv_sampling", "large_kernel", "richard_zhang", "split_learning")
CLASSIFICATION_MODELS = ("richard_zhang_cls", "unet_cls")

# The study's table (shared/design/seed-architectures.md), parameters at 128×128, 3 significant figures.
DOC_PARAMS_128 = {
    "basic": 46.7e3,
    "classic": 820e3,
    "conv_sampling": 3.89e6,
    "large_kernel": 2.75e6,
    "richard_zhang": 10.5e6,
    "split_learning": 1.41e6,
}
# Exact counts (trainable + BN statistics) of the faithful builds; any layer change moves them.
EXACT_PARAMS_128 = {
    "basic": 46_674,
    "classic": 820_386,
    "conv_sampling": 3_892_194,
    "large_kernel": 2_745_090,
    "richard_zhang": 10_460_354,
    "split_learning": 1_406_850,
    "unet": 1_929_282,
}

ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "linear": lambda z: z,
}


def _round_sig(value: float, digits: int = 3) -> float:
    return round(value, digits - 1 - int(math.floor(math.log10(abs(value)))))


def _call(model: keras.Model, x: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(x, training=False))


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


@pytest.fixture
def scratch_registry(monkeypatch):
    """Lets a test register models without leaking them into the real registry."""
    monkeypatch.setattr(registry_module, "_REGISTRY", dict(registry_module._REGISTRY))


# --- registry -----------------------------------------------------------------------------------


def test_registry_holds_study_models_and_unet():
    names = list_models()
    assert names == sorted(names)
    assert set(STUDY_MODELS) | {"unet"} <= set(names)
    assert all(is_model(n) for n in names)
    assert not is_model("resnet50") and not is_model(None)
    assert {n for n in names if model_info(n).family == "study"} == set(STUDY_MODELS)
    assert model_info("unet").family == "modern"
    assert {n for n in names if model_info(n).head == "classification"} == set(CLASSIFICATION_MODELS)


def test_public_api_is_explicit():
    for name in ("create_model", "list_models", "is_model", "register_model", "model_info", "ModelInfo"):
        assert name in models.__all__
        assert hasattr(models, name)


def test_model_info_describes_options_and_is_frozen():
    info = model_info("large_kernel")
    assert isinstance(info, ModelInfo)
    assert info.name == "large_kernel"
    assert info.default_output_activation == "relu"
    assert dict(info.options) == {"output_activation": "original", "l1": 0.01}
    assert info.description
    assert dict(model_info("unet").options) == {
        "output_activation": "original",
        "base_filters": 32,
        "depth": 3,
        "upsampling": "transpose",
    }
    expected_original = {
        "basic": "relu",
        "classic": "tanh",
        "conv_sampling": "relu",
        "large_kernel": "relu",
        "richard_zhang": "sigmoid",
        "split_learning": "relu",
        "unet": "sigmoid",
    }
    assert {n: model_info(n).default_output_activation for n in expected_original} == expected_original
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.family = "modern"  # type: ignore[misc]
    with pytest.raises(TypeError):
        info.options["l1"] = 1.0  # type: ignore[index]


def test_unknown_model_name_lists_known_names():
    with pytest.raises(ValueError, match="unknown model 'resnet50'") as err:
        create_model("resnet50", 32)
    for name in list_models():
        assert name in str(err.value)
    with pytest.raises(ValueError, match="unknown model"):
        model_info("resnet50")


def test_unknown_option_is_named_with_the_allowed_ones():
    with pytest.raises(ValueError) as err:
        create_model("basic", 32, dropout=0.5)
    assert "'dropout'" in str(err.value) and "output_activation" in str(err.value)
    with pytest.raises(ValueError, match="'l1'"):
        create_model("classic", 32, l1=0.0)  # l1 belongs to large_kernel only


@pytest.mark.parametrize("bad", [0, -8, 30, 12, 4, 32.0, "32", True, None])
def test_bad_input_size_is_rejected(bad):
    with pytest.raises(ValueError, match=re.escape(f"input_size must be a positive multiple of 8, got {bad!r}")):
        create_model("basic", bad)


def test_numpy_int_input_size_is_accepted():
    assert create_model("basic", np.int64(16)).output_shape == (None, 16, 16, 2)


@pytest.mark.parametrize("bad", ["softmax", "relu", None])
def test_bad_output_activation_is_rejected(bad):
    with pytest.raises(ValueError, match="output_activation must be one of"):
        create_model("basic", 16, output_activation=bad)


def test_register_model_adds_a_buildable_architecture(scratch_registry):
    @register_model(family="custom", default_output_activation="linear")
    def tiny(input_size, *, width: int = 4):
        """A tiny test model."""
        inputs = keras.Input((input_size, input_size, 1))
        x = keras.layers.Conv2D(width, 3, padding="same")(inputs)
        return keras.Model(inputs, keras.layers.Conv2D(2, 1)(x))

    assert is_model("tiny") and "tiny" in list_models()
    assert model_info("tiny") == ModelInfo("tiny", "A tiny test model.", "custom", "linear", model_info("tiny").options)
    assert dict(model_info("tiny").options) == {"width": 4}
    assert create_model("tiny", 16, width=3).get_layer(index=1).filters == 3
    with pytest.raises(ValueError, match="already registered"):
        register_model(tiny, name="tiny")


def test_register_model_checks_signature_and_output_shape(scratch_registry):
    with pytest.raises(TypeError, match="keyword-only"):

        @register_model
        def positional_option(input_size, width=4):
            raise AssertionError("never built")

    with pytest.raises(TypeError, match="needs a default"):

        @register_model
        def no_default(input_size, *, width):
            raise AssertionError("never built")

    @register_model
    def wrong_shape(input_size):
        inputs = keras.Input((input_size, input_size, 1))
        return keras.Model(inputs, keras.layers.Conv2D(3, 1)(inputs))

    with pytest.raises(RuntimeError, match="output shape"):
        create_model("wrong_shape", 16)


# --- every architecture --------------------------------------------------------------------------


def _training_step(name: str, *, run_eagerly: bool) -> None:
    model = create_model(name, 32)
    assert model.name == name
    assert model.input_shape == (None, 32, 32, 1)
    rng = np.random.default_rng(0)
    x = rng.random((2, 32, 32, 1), dtype=np.float32)
    if model_info(name).head == "classification":  # Q bin logits at 1/4 size, soft-encoded targets
        out_shape = (2, 8, 8, num_bins())
        y = soft_encode(rng.uniform(-60, 60, (2, 32, 32, 2)).astype(np.float32), factor=4)
        loss = ClsRebalanced()
    else:
        out_shape = (2, 32, 32, 2)
        y = rng.random(out_shape, dtype=np.float32)
        loss = "mse"
    model.compile(optimizer="adam", loss=loss, run_eagerly=run_eagerly)
    before = [keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights]
    loss = model.train_on_batch(x, y)
    loss = float(np.asarray(loss).reshape(-1)[0])
    assert math.isfinite(loss)
    after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after)), "the step changed no weight"
    prediction = model.predict_on_batch(x)
    assert prediction.shape == out_shape
    assert np.all(np.isfinite(prediction))


@pytest.mark.parametrize("name", list_models())
def test_builds_and_takes_a_training_step(name):
    # Eager: tracing a compiled train step costs 2-13 s per model on 2 CPU cores, which would
    # make this file several times slower; the compiled path is covered once just below.
    _training_step(name, run_eagerly=True)


def test_compiled_training_step():
    _training_step("basic", run_eagerly=False)


@pytest.mark.parametrize("name", STUDY_MODELS)
def test_param_counts_match_the_study_table(name):
    count = count_params(name, 128)
    assert _round_sig(count) == pytest.approx(DOC_PARAMS_128[name])
    assert count == EXACT_PARAMS_128[name]


def test_unet_param_count_and_width_option():
    assert count_params("unet", 128) == EXACT_PARAMS_128["unet"]
    # Conv weights scale with base_filters**2 (biases and BN linearly): half the width, ~¼ the params.
    ratio = count_params("unet", 128, base_filters=16) / EXACT_PARAMS_128["unet"]
    assert 0.24 < ratio < 0.26
    assert count_params("unet", 128, depth=2) < EXACT_PARAMS_128["unet"] / 3


# Each option is checked at its own size, so that the same builds also show that every model works
# at sizes that are multiples of 8 but not of 16 (24) and at 48, besides 32 (training step above).
OPTION_SIZES = {"original": 24, "sigmoid": 48, "linear": 16}


@pytest.mark.parametrize("option", list(OPTION_SIZES))
@pytest.mark.parametrize("name", list_models())
def test_output_activation_option_and_size(name, option):
    """Output shape equals input shape; with the output conv rigged to kernel 0, bias (3, -3),
    every pixel is (act(3), act(-3)) for the activation the option names."""
    size = OPTION_SIZES[option]
    model = create_model(name, size, output_activation=option)
    x = np.random.default_rng(1).random((2, size, size, 1), dtype=np.float32)
    if model_info(name).head == "classification":
        # the option is accepted and has no effect: the head is linear logits at 1/4 size
        head = model.get_layer(AB_LOGITS)
        kernel, bias = head.get_weights()
        assert head.filters == num_bins() and head.kernel_size == (1, 1)
        head.set_weights([np.zeros_like(kernel), np.linspace(-5, 5, num_bins()).astype(bias.dtype)])
        out = _call(model, x)
        assert out.shape == (2, size // 4, size // 4, num_bins())
        np.testing.assert_allclose(out, np.broadcast_to(np.linspace(-5, 5, num_bins()), out.shape), atol=1e-5)
        return
    if option == "sigmoid":  # in [0, 1] whatever the input, before the head is rigged below
        wild = _call(model, (x - 0.5) * 200.0)
        assert wild.min() >= 0.0 and wild.max() <= 1.0
    head = model.get_layer(AB_CONV)
    assert head.filters == 2
    kernel, bias = head.get_weights()
    head.set_weights([np.zeros_like(kernel), np.array([3.0, -3.0], dtype=bias.dtype)])
    out = _call(model, x)
    assert out.shape == (2, size, size, 2)
    act = model_info(name).default_output_activation if option == "original" else option
    expected = ACTIVATIONS[act](np.array([3.0, -3.0]))
    np.testing.assert_allclose(out[..., 0], expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[..., 1], expected[1], rtol=1e-5, atol=1e-6)


# --- architecture-specific options ---------------------------------------------------------------


def _l1_penalty(model: keras.Model) -> float:
    return float(sum(keras.ops.convert_to_numpy(loss) for loss in model.losses))


def test_large_kernel_l1_regularisation_is_separate_and_scaled():
    plain = create_model("large_kernel", 16, l1=0)
    assert plain.losses == []

    model = create_model("large_kernel", 16)
    assert len(model.losses) == 2  # enc1_conv (11×11) and enc3_conv (5×5)
    weights_l1 = sum(
        float(np.abs(model.get_layer(n).get_weights()[0]).sum()) for n in ("enc1_conv", "enc3_conv")
    )
    assert _l1_penalty(model) == pytest.approx(0.01 * weights_l1, rel=1e-4)

    small = create_model("large_kernel", 16, l1=1e-5)
    small.set_weights(model.get_weights())
    assert _l1_penalty(small) == pytest.approx(1e-5 * weights_l1, rel=1e-4)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), "0.01", True])
def test_large_kernel_rejects_bad_l1(bad):
    with pytest.raises(ValueError, match="l1 must be"):
        create_model("large_kernel", 16, l1=bad)


def test_unet_options_are_checked():
    with pytest.raises(ValueError, match=r"depth=4 needs input_size divisible by 2\*\*depth = 16"):
        create_model("unet", 24, depth=4)
    with pytest.raises(ValueError, match="base_filters must be a positive int"):
        create_model("unet", 16, base_filters=0)
    with pytest.raises(ValueError, match="upsampling must be one of"):
        create_model("unet", 16, upsampling="nearest")
    model = create_model("unet", 32, depth=4, base_filters=4, upsampling="bilinear")
    assert sum(isinstance(layer, keras.layers.MaxPooling2D) for layer in model.layers) == 4
    assert _call(model, np.zeros((1, 32, 32, 1), np.float32)).shape == (1, 32, 32, 2)


def test_classification_variants_share_their_bodies():
    # richard_zhang_cls = richard_zhang without its 1×1 ab conv (256·2 + 2) and upsampling, with a
    # 1×1 conv to Q logits (256·Q + Q); unet_cls stops its decoder at 1/4 size by default
    q = num_bins()
    assert count_params("richard_zhang_cls", 128) == EXACT_PARAMS_128["richard_zhang"] - 514 + 257 * q
    assert create_model("unet_cls", 32, output_stride=1).output_shape == (None, 32, 32, q)
    assert create_model("unet_cls", 32, output_stride=2).output_shape == (None, 16, 16, q)
    with pytest.raises(ValueError, match="output_stride must be one of"):
        create_model("unet_cls", 32, output_stride=8)
    with pytest.raises(ValueError, match=r"output_stride=4 must be at most 2\*\*depth = 2"):
        create_model("unet_cls", 32, depth=1)


def test_richard_zhang_ends_with_bilinear_upsample_by_4():
    model = create_model("richard_zhang", 24)
    last = model.layers[-1]
    assert isinstance(last, keras.layers.UpSampling2D)
    assert tuple(last.size) == (4, 4) and last.interpolation == "bilinear"
    assert model.get_layer(AB_CONV).kernel_size == (1, 1)


def test_models_package_is_backend_neutral():
    package = pathlib.Path(models.__file__).parent
    for path in package.glob("*.py"):
        source = path.read_text()
        assert not re.search(r"^\s*(import|from)\s+(tensorflow|jax|torch)\b", source, re.M), path.name
        assert "tf." not in source, path.name


@pytest.mark.parametrize("output_activation", ["original", "linear"])
def test_unet_starts_at_neutral_grey(output_activation):
    from colorize_core.color import AB_NEUTRAL_ENCODED

    model = create_model("unet", 16, output_activation=output_activation)
    x = np.random.default_rng(0).random((2, 16, 16, 1), dtype=np.float32)
    y = np.asarray(model.predict(x, verbose=0))
    np.testing.assert_allclose(y, AB_NEUTRAL_ENCODED, atol=1e-6)


def test_models_listing_is_plain_text_that_fits_a_terminal(capsys):
    from search.cli import main

    assert main(["models", "--size", "16"]) == 0
    out = capsys.readouterr().out
    assert "``" not in out
    assert max(len(line.rstrip()) for line in out.splitlines()) <= 120
    assert any(word in out for word in (" k ", " M "))  # counts in words, not 10460354


@pytest.mark.parametrize("name", list_models())
def test_the_listed_parameter_counts_are_those_of_the_built_models(name):
    from colorize_core.models import DEFAULT_PARAMS

    assert DEFAULT_PARAMS[name] == count_params(name, 16) == count_params(name, 64)
