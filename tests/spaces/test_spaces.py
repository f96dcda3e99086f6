"""Tests of the `spaces` package: built-in spaces, the schema's validation, and space → trial config."""

from __future__ import annotations

import dataclasses
import itertools
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import spaces
from spaces import SearchSpace, SpaceError, load_space, space_from_dict, validate_for_data

REPO = Path(__file__).resolve().parents[2]
STUDY_ARCHS = ["basic", "classic", "conv_sampling", "large_kernel", "richard_zhang", "split_learning"]
CLS_ARCHS = ["richard_zhang_cls", "unet_cls"]
BUILTINS = ["auto", "seed", "smoke", "wide", "zhang"]


def _space(**overrides):
    """A small valid space dict; ``overrides`` replace or add top-level keys."""
    d = {
        "name": "t",
        "description": "test space",
        "params": {
            "arch": {"choice": ["basic", "unet"]},
            "optimizer": {"choice": ["adam", "rmsprop"]},
            "learning_rate": {"loguniform": [1e-3, 1e-2]},
        },
        "fixed": {"batch_size": 8},
    }
    d.update(overrides)
    return d


def _with_param(key, spec, **overrides):
    d = _space(**overrides)
    d["params"] = {**d["params"], key: spec}
    return d


# --- built-in spaces ------------------------------------------------------------------------------
def test_builtin_names():
    assert spaces.list_spaces() == BUILTINS


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_space_loads_and_validates(name):
    from colorize_core.train import TrainConfig

    space = load_space(name)
    assert isinstance(space, SearchSpace)
    assert space.name == name
    assert space.description
    assert "arch" in space.params or "arch" in space.fixed
    # re-validating its own dict gives the same space
    assert space_from_dict(space.to_dict()).to_dict() == space.to_dict()
    assert space.defaults["size"] % 8 == 0
    validate_for_data(space, n_train=10_000, size=space.defaults["size"])
    # the first and last values of every param make valid training configurations
    for pick in (0, -1):
        sample = {
            k: (p.values[pick] if p.values is not None else (p.low if pick == 0 else p.high))
            for k, p in space.params.items()
        }
        assert space.contains(sample)
        cfg = space.trial_config(sample, max_epochs=space.defaults["max_epochs"], seed=1, monitor="delta_e")
        TrainConfig.from_dict(cfg)


def test_seed_space_is_the_study_grid():
    space = load_space("seed")
    assert space.is_grid
    assert space.grid_size == 24
    assert dict(space.defaults) == {"max_epochs": 30, "size": 128, "trials": 24}
    combos = space.grid()
    assert len(combos) == 24
    keys = {tuple(sorted(c.items())) for c in combos}
    assert len(keys) == 24  # all distinct
    expected = {
        (("arch", a), ("loss", l), ("optimizer", o))
        for a, o, l in itertools.product(STUDY_ARCHS, ["adam", "rmsprop"], ["mse", "mae"])
    }
    assert keys == expected
    assert space.grid() == combos  # deterministic
    cfg = space.trial_config(combos[0], max_epochs=space.defaults["max_epochs"], seed=0, monitor="delta_e")
    assert cfg["learning_rate"] == 0.01
    assert cfg["batch_size"] == 8
    assert cfg["epochs"] == 30
    assert cfg["output_activation"] == "original"
    assert cfg["early_stopping_patience"] == 5
    assert cfg["reduce_lr_patience"] == 2
    assert cfg["reduce_lr_factor"] == 0.1
    assert cfg["min_lr"] == 1e-7
    assert (cfg["arch"], cfg["optimizer"], cfg["loss"]) == ("basic", "adam", "mse")
    assert space.max_batch_size() == 8


def test_wide_space_contents():
    from colorize_core.models import list_models

    space = load_space("wide")
    assert not space.is_grid and space.grid_size is None
    assert set(space.params["arch"].values) == set(list_models()) == set(STUDY_ARCHS) | {"unet"} | set(CLS_ARCHS)
    assert set(space.params["optimizer"].values) == {"adam", "rmsprop", "sgd", "adamw"}
    assert set(space.params["loss"].values) == {"mse", "mae", "huber"}
    lr = space.params["learning_rate"]
    assert (lr.kind, lr.low, lr.high) == ("loguniform", 1e-4, 3e-2)
    bs = space.params["batch_size"]
    assert (bs.kind, bs.low, bs.high) == ("pow2", 8, 256)
    assert bs.values == (8, 16, 32, 64, 128, 256)
    assert set(space.params["output_activation"].values) == {"original", "sigmoid"}
    t = space.params["temperature"]
    assert (t.kind, t.low, t.high) == ("uniform", 0.1, 1.0)
    assert dict(space.defaults) == {"max_epochs": 30, "size": 128, "trials": 100}
    assert space.max_batch_size() == 256


def test_wide_never_pairs_an_architecture_with_a_loss_it_cannot_train_with():
    from colorize_core.models import model_info
    from colorize_core.train import TrainConfig

    space = load_space("wide")
    base = {"optimizer": "adam", "learning_rate": 1e-3, "batch_size": 8, "output_activation": "sigmoid",
            "temperature": 0.38}
    for arch, loss in itertools.product(space.params["arch"].values, space.params["loss"].values):
        cfg = space.trial_config({**base, "arch": arch, "loss": loss}, max_epochs=1, seed=0, monitor="delta_e")
        expected = "cls_rebalanced" if model_info(arch).head == "classification" else loss
        assert cfg["loss"] == expected, (arch, loss)
        TrainConfig.from_dict(cfg)  # accepted


def test_zhang_space_compares_regression_and_classification_on_the_same_archs():
    space = load_space("zhang")
    assert space.is_grid and space.grid_size == 8
    assert list(space.params["arch"].values) == ["richard_zhang", "richard_zhang_cls", "unet", "unet_cls"]
    losses = {}
    for combo in space.grid():
        cfg = space.trial_config(combo, max_epochs=2, seed=0, monitor="delta_e")
        losses[cfg["arch"]] = cfg["loss"]
        assert cfg["temperature"] == 0.38 and cfg["batch_size"] == 16 and cfg["optimizer"] == "adam"
    assert losses == {"richard_zhang": "mse", "unet": "mse",
                      "richard_zhang_cls": "cls_rebalanced", "unet_cls": "cls_rebalanced"}
    assert dict(space.defaults) == {"max_epochs": 20, "size": 64, "trials": 8}


def test_a_classification_loss_that_could_meet_a_regression_arch_is_rejected():
    with pytest.raises(SpaceError, match=r"params\.loss: 'cls_rebalanced' is a classification loss.*regression "
                                         r"architecture\(s\) unet"):
        space_from_dict({"params": {"arch": {"choice": ["unet", "unet_cls"]},
                                    "loss": {"choice": ["mse", "cls_rebalanced"]}}, "name": "x"})
    with pytest.raises(SpaceError, match=r"fixed\.loss: 'cls_rebalanced'"):
        space_from_dict({"params": {"arch": {"choice": ["basic", "unet_cls"]}},
                         "fixed": {"loss": "cls_rebalanced"}, "name": "x"})
    # classification archs only: the loss may be written, or left out
    ok = space_from_dict({"params": {"arch": {"choice": CLS_ARCHS}, "temperature": {"loguniform": [0.1, 1.0]}},
                          "fixed": {"loss": "cls_rebalanced", "decode": "annealed_mean"}, "name": "x"})
    assert ok.trial_config({"arch": "unet_cls", "temperature": 0.2}, max_epochs=1, seed=0,
                           monitor="delta_e")["loss"] == "cls_rebalanced"
    bare = space_from_dict({"params": {"arch": {"value": "richard_zhang_cls"}}, "name": "y"})
    assert bare.trial_config({}, max_epochs=1, seed=0, monitor="delta_e")["loss"] == "cls_rebalanced"
    with pytest.raises(SpaceError, match="unknown decode mode 'median'"):
        space_from_dict({"params": {"arch": {"value": "unet_cls"}}, "fixed": {"decode": "median"}, "name": "z"})
    with pytest.raises(SpaceError, match="temperature must be a number > 0"):
        space_from_dict({"params": {"arch": {"value": "unet_cls"}, "temperature": {"uniform": [0.0, 1.0]}},
                         "name": "z"})


def test_smoke_space_is_tiny():
    space = load_space("smoke")
    assert set(space.params["arch"].values) == {"basic", "classic", "unet"}
    assert set(space.params["batch_size"].values) == {8, 16}
    lr = space.params["learning_rate"]
    assert (lr.kind, lr.low, lr.high) == ("loguniform", 1e-3, 1e-2)
    assert dict(space.defaults) == {"max_epochs": 3, "size": 32, "trials": 6}
    assert space.fixed["early_stopping_patience"] == 5
    assert not any(k.startswith("model_options.") for k in [*space.params, *space.fixed])


# --- YAML -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", BUILTINS)
def test_yaml_round_trip(name, tmp_path):
    space = load_space(name)
    path = tmp_path / "copy.yaml"
    path.write_text(space.to_yaml())
    again = load_space(path)
    assert again.to_dict() == space.to_dict()
    assert again == space


def test_file_name_defaults_to_stem_and_scientific_floats(tmp_path):
    path = tmp_path / "my-space.yml"
    path.write_text(
        "params:\n  arch: {choice: [basic]}\n  learning_rate: {loguniform: [1e-4, 3e-2]}\n"
        "fixed:\n  min_lr: 1e-7\n"
    )
    space = load_space(str(path))
    assert space.name == "my-space"
    assert space.params["learning_rate"].low == 1e-4
    assert space.params["learning_rate"].high == 3e-2
    assert space.fixed["min_lr"] == 1e-7 and isinstance(space.fixed["min_lr"], float)


def test_yaml_duplicate_key_rejected(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("params:\n  arch: {choice: [basic]}\n  arch: {choice: [unet]}\n")
    with pytest.raises(SpaceError, match="duplicate key 'arch'"):
        load_space(path)


def test_yaml_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("params:\n  arch: {choice: [resnet]}\n")
    with pytest.raises(SpaceError) as err:
        load_space(path)
    assert str(path) in str(err.value) and "params.arch" in str(err.value)


def test_unknown_space_name_lists_builtins():
    with pytest.raises(SpaceError) as err:
        load_space("no-such-space")
    msg = str(err.value)
    assert "no-such-space" in msg
    for name in BUILTINS:
        assert name in msg
    assert ".yaml" in msg


def test_missing_space_file(tmp_path):
    with pytest.raises(SpaceError, match="does not exist"):
        load_space(tmp_path / "absent.yaml")


# --- rejections -----------------------------------------------------------------------------------
REJECTIONS = {
    "unknown top-level key": (
        _space(trails=3),
        ["trails", "name", "description", "grid", "defaults", "params", "fixed"],
    ),
    "unknown param key": (
        _with_param("lr", {"uniform": [0.001, 0.01]}),
        ["params.lr", "learning_rate", "batch_size", "model_options.<option>"],
    ),
    "unknown fixed key": (
        _space(fixed={"batchsize": 8}),
        ["fixed.batchsize", "batch_size", "learning_rate"],
    ),
    "param set by the sweep": (
        _with_param("epochs", {"int": [1, 5]}),
        ["params.epochs", "max_epochs", "learning_rate"],
    ),
    "unknown architecture": (
        _space(params={"arch": {"choice": ["basic", "resnet"]}}),
        ["params.arch", "'resnet'", *STUDY_ARCHS, "unet"],
    ),
    "unknown optimizer": (
        _with_param("optimizer", {"choice": ["adam", "adagrad"]}),
        ["params.optimizer", "'adagrad'", "adam", "adamw", "rmsprop", "sgd"],
    ),
    "unknown loss": (
        _with_param("loss", {"value": "l2"}),
        ["params.loss", "'l2'", "huber", "mae", "mse"],
    ),
    "bad output activation": (
        _space(fixed={"batch_size": 8, "output_activation": "tanh"}),
        ["fixed.output_activation", "'tanh'", "original", "sigmoid", "linear"],
    ),
    "empty choice": (
        _with_param("loss", {"choice": []}),
        ["params.loss", "non-empty", "[]"],
    ),
    "duplicate choice": (
        _with_param("loss", {"choice": ["mse", "mae", "mse"]}),
        ["params.loss", "duplicate", "'mse'"],
    ),
    "inverted bounds": (
        _with_param("learning_rate", {"uniform": [0.1, 0.001]}),
        ["params.learning_rate", "low < high", "[0.1, 0.001]"],
    ),
    "inverted loguniform bounds": (
        _with_param("learning_rate", {"loguniform": [0.1, 0.001]}),
        ["params.learning_rate: loguniform bounds must satisfy 0 < low < high, got [0.1, 0.001]"],
    ),
    "loguniform low 0": (
        _with_param("learning_rate", {"loguniform": [0, 0.01]}),
        ["params.learning_rate", "0 < low < high", "[0, 0.01]"],
    ),
    "learning rate not positive": (
        _with_param("learning_rate", {"uniform": [0.0, 0.01]}),
        ["params.learning_rate", "> 0", "0.0"],
    ),
    "non-power-of-two pow2 bound": (
        _with_param("batch_size", {"pow2": [8, 100]}, fixed={}),
        ["params.batch_size", "powers of two", "[8, 100]", "100"],
    ),
    "batch size not positive int": (
        _space(fixed={"batch_size": 0}),
        ["fixed.batch_size", "positive int", "0"],
    ),
    "batch size as float range": (
        _with_param("batch_size", {"uniform": [8, 64]}, fixed={}),
        ["params.batch_size", "uniform", "choice", "int", "pow2"],
    ),
    "grid with non-categorical param": (
        _space(grid=True),
        ["params.learning_rate", "grid", "loguniform", "choice", "value"],
    ),
    "grid trials differ from grid size": (
        _space(grid=True, params={"arch": {"choice": ["basic", "unet"]}}, defaults={"trials": 5}),
        ["defaults.trials", "2", "5"],
    ),
    "two kinds in one spec": (
        _with_param("loss", {"choice": ["mse"], "value": "mae"}),
        ["params.loss", "exactly one kind", "choice", "value", "uniform", "loguniform", "int", "pow2"],
    ),
    "unknown key in a spec": (
        _with_param("loss", {"choice": ["mse"], "default": "mse"}),
        ["params.loss", "'default'", "choice", "value", "uniform", "loguniform", "int", "pow2"],
    ),
    "bare value as spec": (
        _with_param("loss", "mse"),
        ["params.loss", "'mse'", "choice", "value"],
    ),
    "arch missing": (
        _space(params={"optimizer": {"choice": ["adam"]}}),
        ["arch is required", "params.arch", "fixed.arch", *STUDY_ARCHS],
    ),
    "key both searched and fixed": (
        _space(fixed={"batch_size": 8, "arch": "basic"}),
        ["fixed.arch", "both"],
    ),
    "unknown default": (
        _space(defaults={"epochs": 3}),
        ["defaults", "'epochs'", "max_epochs", "size", "trials"],
    ),
    "size not a multiple of 8": (
        _space(defaults={"size": 60}),
        ["defaults.size", "multiple of 8", "60"],
    ),
    "reduce_lr_factor out of range": (
        _space(fixed={"batch_size": 8, "reduce_lr_factor": 1.5}),
        ["fixed.reduce_lr_factor", "(0, 1)", "1.5"],
    ),
    "model option not accepted by every arch": (
        _with_param("model_options.l1", {"uniform": [0.0, 0.01]}),
        ["params.model_options.l1", "'l1'", "basic", "unet", "base_filters"],
    ),
    "model option of the wrong type": (
        _space(params={"arch": {"value": "large_kernel"}, "model_options.l1": {"choice": ["strong"]}}),
        ["params.model_options.l1", "float", "'strong'"],
    ),
}


@pytest.mark.parametrize("case", list(REJECTIONS), ids=list(REJECTIONS))
def test_rejections_name_key_and_allowed_values(case):
    d, fragments = REJECTIONS[case]
    with pytest.raises(SpaceError) as err:
        space_from_dict(d)
    msg = str(err.value)
    for fragment in fragments:
        assert fragment in msg, f"{fragment!r} not in {msg!r}"


def test_base_space_of_rejection_cases_is_valid():
    # the rejections above must fail because of what each one changes, not because of the base
    space = space_from_dict(_space())
    assert list(space.params) == ["arch", "optimizer", "learning_rate"]
    space_from_dict(_space(params={"arch": {"value": "large_kernel"}, "model_options.l1": {"choice": [0.0, 0.01]}}))


def test_space_error_is_a_value_error():
    assert issubclass(SpaceError, ValueError)


# --- validate_for_data ----------------------------------------------------------------------------
def test_batch_size_larger_than_training_split():
    space = load_space("wide")
    with pytest.raises(SpaceError) as err:
        validate_for_data(space, n_train=140, size=128)
    assert str(err.value) == (
        "params.batch_size: largest batch size 256 exceeds the 140 training images; "
        "lower the upper bound or add images"
    )
    validate_for_data(space, n_train=256, size=128)  # exactly enough


def test_fixed_batch_size_larger_than_training_split():
    with pytest.raises(SpaceError, match=r"fixed\.batch_size: largest batch size 8 exceeds the 5 training images"):
        validate_for_data(load_space("seed"), n_train=5, size=128)


@pytest.mark.parametrize("size", [0, 60, -8, 64.0])
def test_validate_for_data_rejects_bad_size(size):
    with pytest.raises(SpaceError, match=r"size must be a positive multiple of 8, got"):
        validate_for_data(load_space("smoke"), n_train=100, size=size)


# --- contains / trial_config ----------------------------------------------------------------------
def test_contains():
    seed = load_space("seed")
    assert all(seed.contains(c) for c in seed.grid())
    assert not seed.contains({"arch": "unet", "optimizer": "adam", "loss": "mse"})  # not in the grid
    assert not seed.contains({"arch": "basic", "optimizer": "adam"})  # missing key
    wide = load_space("wide")
    ok = {"arch": "unet", "optimizer": "sgd", "loss": "huber", "learning_rate": 0.001,
          "batch_size": 64, "output_activation": "sigmoid", "temperature": 0.38}
    assert wide.contains(ok)
    assert wide.contains({**ok, "learning_rate": 1e-4}) and wide.contains({**ok, "learning_rate": 3e-2})
    assert not wide.contains({**ok, "learning_rate": 0.5})  # above the bound
    assert not wide.contains({**ok, "batch_size": 512})  # above the bound
    assert not wide.contains({**ok, "batch_size": 48})  # not a power of two
    assert not wide.contains({**ok, "extra": 1})  # unknown key
    p = wide.params["learning_rate"]
    assert p.contains(0.01) and not p.contains(5e-5) and not p.contains(True)


def test_trial_config_nests_model_options_and_is_accepted_by_train_config():
    from colorize_core.train import TrainConfig

    space = space_from_dict({
        "name": "lk",
        "params": {
            "arch": {"value": "large_kernel"},
            "learning_rate": {"loguniform": [1e-4, 1e-2]},
            "model_options.l1": {"uniform": [0.0, 0.01]},
        },
        "fixed": {"batch_size": 4, "reduce_lr_patience": None},
    })
    cfg = space.trial_config(
        {"arch": "large_kernel", "learning_rate": 0.002, "model_options.l1": 0.005},
        max_epochs=7, seed=3, monitor="delta_e",
    )
    assert cfg == {
        "batch_size": 4, "reduce_lr_patience": None, "arch": "large_kernel", "learning_rate": 0.002,
        "model_options": {"l1": 0.005}, "epochs": 7, "seed": 3, "monitor": "delta_e",
    }
    # a `value` param may be left out (Optuna's define-by-run returns constants separately)
    assert space.trial_config(
        {"learning_rate": 0.002, "model_options.l1": 0.005}, max_epochs=7, seed=3, monitor="delta_e"
    ) == cfg
    tc = TrainConfig.from_dict(cfg)
    assert dict(tc.model_options) == {"l1": 0.005}
    assert (tc.epochs, tc.seed, tc.batch_size, tc.reduce_lr_patience) == (7, 3, 4, None)


def test_trial_config_without_model_options_omits_them():
    cfg = load_space("smoke").trial_config(
        {"arch": "basic", "optimizer": "adam", "loss": "mae", "learning_rate": 0.005,
         "batch_size": 16, "output_activation": "sigmoid"},
        max_epochs=3, seed=0, monitor="delta_e",
    )
    assert "model_options" not in cfg
    assert cfg["epochs"] == 3 and cfg["early_stopping_patience"] == 5 and cfg["loss"] == "mae"


def test_trial_config_rejects_params_outside_the_space():
    space = load_space("smoke")
    good = {"arch": "basic", "optimizer": "adam", "loss": "mae", "learning_rate": 0.005,
            "batch_size": 16, "output_activation": "sigmoid"}
    with pytest.raises(SpaceError, match=r"params\.learning_rate"):
        space.trial_config({**good, "learning_rate": 0.5}, max_epochs=3, seed=0, monitor="delta_e")
    with pytest.raises(SpaceError, match="missing"):
        space.trial_config({k: v for k, v in good.items() if k != "loss"}, max_epochs=3, seed=0, monitor="delta_e")
    with pytest.raises(SpaceError, match="max_epochs"):
        space.trial_config(good, max_epochs=0, seed=0, monitor="delta_e")


def test_grid_of_non_grid_space_raises():
    with pytest.raises(SpaceError, match="not a grid space"):
        load_space("wide").grid()


# --- the dataclasses ------------------------------------------------------------------------------
def test_space_is_frozen_and_picklable():
    space = load_space("smoke")
    with pytest.raises(dataclasses.FrozenInstanceError):
        space.name = "other"
    with pytest.raises(TypeError):
        space.params["arch"] = None
    with pytest.raises(dataclasses.FrozenInstanceError):
        space.params["arch"].kind = "value"
    assert pickle.loads(pickle.dumps(space)) == space
    renamed = dataclasses.replace(space, name="smoke2")
    assert renamed.name == "smoke2" and renamed.params == space.params and not renamed.is_grid


def test_param_to_spec():
    space = load_space("wide")
    assert space.params["batch_size"].to_spec() == {"pow2": [8, 256]}
    assert space.params["learning_rate"].to_spec() == {"loguniform": [1e-4, 3e-2]}
    assert space.params["loss"].to_spec() == {"choice": ["mse", "mae", "huber"]}


# --- CLI helpers ----------------------------------------------------------------------------------
def test_describe_space():
    text = spaces.describe_space(load_space("seed"))
    assert text.splitlines()[0] == "space: seed"
    assert "24 configurations" in text
    for fragment in ("arch", "split_learning", "optimizer", "rmsprop", "loss", "mae",
                     "learning_rate", "0.01", "batch_size", "max_epochs 30", "size 128"):
        assert fragment in text
    wide = spaces.describe_space(load_space("wide"))
    assert "100 trials" in wide and "loguniform [0.0001, 0.03]" in wide and "pow2 [8, 256]" in wide


def test_space_summary_rows():
    rows = spaces.space_summary_rows()
    assert [r["name"] for r in rows] == BUILTINS
    by_name = {r["name"]: r for r in rows}
    assert by_name["seed"]["grid"] is True and by_name["seed"]["grid_size"] == 24
    assert (by_name["seed"]["size"], by_name["seed"]["max_epochs"], by_name["seed"]["trials"]) == (128, 30, 24)
    assert by_name["wide"]["grid"] is False and by_name["wide"]["trials"] == 100
    assert by_name["wide"]["searched"] == 7
    assert by_name["smoke"]["size"] == 32
    assert all(r["description"] for r in rows)


def test_public_api_is_explicit():
    for name in ("SpaceError", "Param", "SearchSpace", "space_from_dict", "load_space", "list_spaces",
                 "validate_for_data", "describe_space", "space_summary_rows"):
        assert name in spaces.__all__
        assert getattr(spaces, name) is not None


# --- import weight --------------------------------------------------------------------------------
def test_importing_spaces_imports_no_ray_optuna_or_keras():
    code = (
        "import sys, spaces\n"
        "heavy = sorted(m for m in ('ray', 'optuna', 'keras', 'tensorflow', 'jax') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing spaces imported {out.stdout.strip()}"


def test_time_budgets_are_durations_with_units_or_minutes():
    from spaces import parse_duration

    assert parse_duration("90s") == 90 and parse_duration("20m") == 1200 and parse_duration("1.5h") == 5400
    assert parse_duration(10) == 600 and parse_duration("2min") == 120
    for bad in ("soon", "-5m", "0", "20 parsecs", True, "31d"):
        with pytest.raises(SpaceError, match="time budget"):
            parse_duration(bad)


def test_a_space_may_set_a_time_budget_and_a_bad_one_is_named():
    space = space_from_dict({"name": "b", "defaults": {"time_budget": "20m"}, "params": {"arch": {"choice": ["unet"]}}})
    assert space.defaults["time_budget"] == "20m"
    assert space_from_dict(space.to_dict()).defaults["time_budget"] == "20m"
    with pytest.raises(SpaceError, match="defaults.time_budget"):
        space_from_dict({"name": "b", "defaults": {"time_budget": "later"}, "params": {"arch": {"choice": ["unet"]}}})


def test_cli_rejects_a_bad_time_budget_before_anything_starts(tmp_path, capsys):
    from search.cli import main

    assert main(["run", "smoke", "--time-budget", "tomorrow", "--storage", str(tmp_path)]) == 2
    assert "--time-budget" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_start_with_configurations_are_checked_against_the_space():
    space = space_from_dict(_space(start_with=[{"arch": "unet", "learning_rate": 2e-3}, {"optimizer": "rmsprop"}]))
    assert [dict(c) for c in space.start_with] == [{"arch": "unet", "learning_rate": 2e-3}, {"optimizer": "rmsprop"}]
    assert space_from_dict(space.to_dict()) == space
    with pytest.raises(SpaceError, match=r"start_with\[0\].arch: 'vgg' is outside"):
        space_from_dict(_space(start_with=[{"arch": "vgg"}]))
    with pytest.raises(SpaceError, match=r"start_with\[0\].lr: not a searched param"):
        space_from_dict(_space(start_with=[{"lr": 0.1}]))
    with pytest.raises(SpaceError, match="start_with must be a list"):
        space_from_dict(_space(start_with={"arch": "unet"}))


def test_grace_period_default_cannot_exceed_max_epochs():
    assert space_from_dict(_space(defaults={"max_epochs": 8, "grace_period": 4})).defaults["grace_period"] == 4
    with pytest.raises(SpaceError, match="grace_period"):
        space_from_dict(_space(defaults={"max_epochs": 3, "grace_period": 4}))


def test_the_auto_space_tries_its_known_good_configurations_first():
    from search.sweep import _optuna_searcher
    from spaces.objectives import parse_objectives

    space = load_space("auto")
    assert space.defaults["time_budget"] == "15m" and space.defaults["grace_period"] == 4
    searcher = _optuna_searcher(space, objectives=parse_objectives("delta_e"), seed=0)
    searcher.set_search_properties("delta_e", "min", {})
    first, second = searcher.suggest("t1"), searcher.suggest("t2")
    for config, start in zip((first, second), space.start_with):
        assert {k: config[k] for k in start} == dict(start)


@pytest.mark.parametrize("spec, hint", [
    ({"name": "t", "fixed": {"arch": "unet", "learnig_rate": 1e-3}}, "did you mean 'learning_rate'?"),
    ({"name": "t", "fixed": {"arch": "unett"}}, "did you mean 'unet'?"),
    ({"name": "t", "parms": {}, "fixed": {"arch": "unet"}}, "did you mean 'params'?"),
    ({"name": "t", "fixed": {"arch": "unet"}, "defaults": {"max_epoch": 3}}, "did you mean 'max_epochs'?"),
    ({"name": "t", "fixed": {"arch": "unet"}, "params": {"learning_rate": {"logunifrom": [1e-4, 1e-2]}}},
     "did you mean 'loguniform'?"),
])
def test_misspelt_names_get_a_did_you_mean(spec, hint):
    with pytest.raises(SpaceError) as excinfo:
        space_from_dict(spec)
    assert hint in str(excinfo.value)


def test_unknown_space_model_and_metric_names_get_a_did_you_mean():
    from colorize_core import metrics
    from colorize_core.models import model_info
    from colorize_core.suggest import did_you_mean

    with pytest.raises(SpaceError, match=r"did you mean 'wide'\?"):
        load_space("wdie")
    with pytest.raises(ValueError, match=r"did you mean 'unet_cls'\?"):
        model_info("unet_cl")
    with pytest.raises(ValueError, match=r"did you mean 'delta_e'\?"):
        metrics.metric_mode("delta-e")
    assert did_you_mean("zzzz", ["unet", "basic"]) == ""


def test_spaces_listing_fits_a_terminal_and_says_what_its_columns_count(capsys):
    from search.cli import main

    assert main(["spaces"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 120, max(lines, key=len)
    assert "searched" in lines[0] and "n_params" not in lines[0]
