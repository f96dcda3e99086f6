"""GPU memory planning (issue 6): the estimate against the measured anchors, `colorsweep plan`, the
budget (infeasible / --fit-batch), out-of-memory retries, packing on logical GPUs, mixed precision.

Everything runs on CPU: GPUs are Ray's logical ones (``num_gpus=2``), out-of-memory is injected.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from search import memory as mem
from search.memory import GiB, MiB
from search.rundir import read_trial_entries


# --- sizes ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("4GiB", 4 * GiB), ("4GB", 4 * 10**9), ("4096MiB", 4 * GiB), ("0.5GiB", GiB // 2), ("16G", 16 * GiB),
    (" 512 mib ", 512 * MiB), ("80GiB", 80 * GiB), (1024, 1024),
])
def test_parse_memory_accepts_units(text, expected):
    assert mem.parse_memory(text) == expected


@pytest.mark.parametrize("text", ["4", "four GiB", "4 parsecs", "-1GiB", "0GiB", "", True])
def test_parse_memory_rejects_nonsense_with_the_accepted_forms(text):
    with pytest.raises(ValueError, match="gpu memory"):
        mem.parse_memory(text)


# --- the estimate -------------------------------------------------------------------------------------
ANCHOR_ROWS = [(arch, bs, gib) for arch, peaks in mem.ANCHORS.items() for bs, gib in peaks.items()]


def test_anchor_table_is_the_shared_one():
    """The constants are the table of shared/design/anchors.md (checked against the file when present)."""
    assert len(ANCHOR_ROWS) == 12
    anchors = Path(__file__).resolve().parents[3] / "shared" / "design" / "anchors.md"
    if not anchors.exists():
        pytest.skip("shared/design/anchors.md not found")
    text = anchors.read_text()
    for arch, peaks in mem.ANCHORS.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| {arch} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert float(cells[-2]) == peaks[8] and float(cells[-1]) == peaks[128], row


@pytest.mark.parametrize("arch, batch_size, measured", ANCHOR_ROWS)
def test_estimate_within_30_percent_of_the_measured_peak(arch, batch_size, measured):
    est = mem.estimate_memory(arch, size=128, batch_size=batch_size, optimizer="adam")
    assert est.gib == pytest.approx(measured, rel=0.30), est.to_dict()


@pytest.mark.parametrize("arch, size, batch_size, precision, measured", mem.ANCHOR_EXTRAS)
def test_estimate_within_30_percent_on_held_out_anchor_rows(arch, size, batch_size, precision, measured):
    """Rows not used in the fit: batch 512, 256 px, mixed_bfloat16."""
    est = mem.estimate_memory(arch, size=size, batch_size=batch_size, precision=precision)
    assert est.gib == pytest.approx(measured, rel=0.30), est.to_dict()


def test_calibration_constants_are_the_fit_of_the_anchors():
    """A change to the layer walk without refitting the constants fails here."""
    fit = mem.fit_calibration()
    for arch, (k, m) in fit["per_arch"].items():
        assert mem.CALIBRATION[arch][0] == pytest.approx(k, rel=0.01), arch
        assert mem.CALIBRATION[arch][1] == pytest.approx(m, rel=0.01), arch
    assert mem.GLOBAL_CALIBRATION == pytest.approx(fit["global"], abs=0.02)
    # the global pair alone (what unet and custom architectures get) is documented at about +-50 %
    assert max(abs(e) for e in fit["global_residuals"].values()) < 0.5


def test_estimate_parts_follow_the_configuration():
    adam = mem.estimate_memory("classic", size=64, batch_size=16, optimizer="adam")
    sgd = mem.estimate_memory("classic", size=64, batch_size=16, optimizer="sgd")
    p = adam.params
    assert adam.weights == adam.gradients == 4 * p
    assert adam.optimizer_state == 8 * p and sgd.optimizer_state == 4 * p  # Adam 2 slots, SGD-momentum 1
    assert adam.total - sgd.total == pytest.approx(4 * p, rel=0.01)
    bigger = mem.estimate_memory("classic", size=64, batch_size=32)
    assert bigger.activations == 2 * adam.activations and bigger.total > adam.total
    larger_images = mem.estimate_memory("classic", size=128, batch_size=16)
    assert larger_images.activations == 4 * adam.activations
    bf16 = mem.estimate_memory("classic", size=64, batch_size=16, precision="mixed_bfloat16")
    # 2 bytes instead of 4, without float32's second layout: about a quarter of the activations
    assert 0.2 < bf16.activations / adam.activations < 0.35
    assert bf16.weights == 6 * p  # float32 weights and their 16-bit copies
    assert bf16.total < adam.total
    assert mem.estimate_memory("classic", size=64, batch_size=16, precision="float32").total == adam.total


def test_layer_walk_keeps_what_backward_needs():
    profile = mem.model_profile("classic", 32)
    rows = {name: (kind, needs_in, needs_out) for name, kind, _, _, needs_in, needs_out in profile.layers}
    assert rows["enc2_conv"][1] and rows["enc2_lrelu"][2] and rows["enc2_bn"][1]  # conv input, LReLU output, BN input
    assert not rows["dec1_up"][1] and not rows["dec1_up"][2]  # up-sampling keeps nothing itself
    assert not rows["fusion_concat"][1]
    assert 0 < profile.kept < profile.all_outputs * mem.F32_ACTIVATION_FACTOR
    basic = mem.model_profile("basic", 32)
    # basic: every ReLU conv output (and the input) is kept; the largest step is conv3's 32 -> 64 channels
    assert basic.kept == 32 * 32 * (1 + 16 + 32 + 64 + 32 + 16 + 2) * 4 * mem.F32_ACTIVATION_FACTOR
    assert basic.working == 32 * 32 * (32 + 64) * 4 * mem.F32_ACTIVATION_FACTOR


def test_unknown_architectures_get_the_global_calibration():
    est = mem.estimate_memory("unet", size=64, batch_size=8)
    assert est.calibration == mem.GLOBAL_CALIBRATION and est.calibrated_by == "anchors (global)"
    assert est.total > est.state


def test_gpu_share_rounds_up_in_eighths_and_respects_the_cap():
    g = 8 * GiB
    assert mem.gpu_share(0.1 * GiB, g) == 0.125
    assert mem.gpu_share(2 * GiB, g) == 0.375  # 2 GiB over 90 % of 8 GiB = 0.28 -> 3/8
    assert mem.gpu_share(7.5 * GiB, g) == 1.0
    assert mem.gpu_share(3 * GiB, g, cap=0.25) == 0.25
    assert mem.gpu_share(3 * GiB, None, cap=0.5) == 0.5
    assert mem.gpu_share(3 * GiB, g, cap=0) == 0.0


def test_fit_batch_size_is_the_largest_fitting_power_of_two():
    assert mem.fit_batch_size(lambda b: b <= 40, 256) == 32
    assert mem.fit_batch_size(lambda b: True, 24) == 16
    assert mem.fit_batch_size(lambda b: False, 8) is None


@pytest.mark.parametrize("text", [
    "tensorflow.python.framework.errors_impl.ResourceExhaustedError: OOM when allocating tensor",
    "jaxlib.xla_extension.XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying to allocate 1.2GiB",
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB",
])
def test_out_of_memory_errors_are_recognised(text):
    assert mem.is_out_of_memory(text) and mem.is_out_of_memory(RuntimeError(text))
    try:
        try:
            raise RuntimeError(text)
        except RuntimeError as inner:
            raise ValueError("while training") from inner
    except ValueError as outer:
        assert mem.is_out_of_memory(outer)
    assert not mem.is_out_of_memory(ValueError("shapes do not match"))


@pytest.mark.parametrize("marker", [*mem.OOM_MARKERS, None])
def test_monitor_records_a_trial_failing_with_any_out_of_memory_marker_as_oom(tmp_path, marker):
    """The sweep's monitor and search.memory agree on what an out-of-memory error is: every marker
    (CUDA_ERROR_OUT_OF_MEMORY, OutOfMemoryError, ...) in a failed trial's error.txt makes it ``oom``."""
    from types import SimpleNamespace

    from search.monitor import SweepMonitor

    text = (f"Traceback (most recent call last):\n  File \"train.py\", line 1\nRuntimeError: {marker} while training"
            if marker else "Traceback (most recent call last):\nValueError: shapes do not match")
    folder = tmp_path / "trial_a"
    folder.mkdir()
    (folder / "error.txt").write_text(text)
    trial = SimpleNamespace(trial_id="a", status="ERROR", config={"arch": "basic"}, path=str(folder),
                            error_file=None, get_error=lambda: None)
    monitor = SweepMonitor(tmp_path, metric="delta_e", mode="min", max_epochs=2, live=False)
    monitor.on_trial_error(0, [trial], trial)
    entry = json.loads((tmp_path / "trials.json").read_text())["a"]
    assert entry["status"] == ("oom" if marker else "error"), entry
    assert entry["error"] == text


# --- colorsweep plan ------------------------------------------------------------------------------------
def test_plan_seed_prints_24_configurations_with_verdicts(capsys):
    from search.cli import main

    assert main(["plan", "seed", "--gpu-memory", "4GiB", "--size", "128", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    rows = payload["configurations"]
    assert len(rows) == 24 and payload["gpu_memory_bytes"] == 4 * GiB
    by_arch = {}
    for row in rows:
        assert row["verdict"] in ("fits", "does not fit") and row["estimate_gib"] > 0
        assert row["fits"] == (row["estimate_gib"] * GiB <= 4 * GiB * mem.POOL_FRACTION + 0.01 * GiB)
        by_arch.setdefault(row["arch"], set()).add(row["verdict"])
    # the study's 4 GB card: basic fits at batch 8, classic (5.0 GiB measured) does not
    assert by_arch["basic"] == {"fits"} and by_arch["classic"] == {"does not fit"}
    assert {r["loss"] for r in rows} == {"mse", "mae"} and {r["optimizer"] for r in rows} == {"adam", "rmsprop"}

    assert main(["plan", "seed", "--gpu-memory", "4GiB", "--size", "128"]) == 0
    text = capsys.readouterr().out
    table = [line for line in text.splitlines() if re.match(r"^\d+\s+(mse|mae)\s", line)]
    assert len(table) == 24 and all(("does not fit" in l) or (" fits " in l + " ") for l in table)
    assert "configurations fit" in text


def test_plan_sampled_space_lists_arch_by_batch_size(capsys):
    from search.cli import main

    assert main(["plan", "smoke", "--gpu-memory", "0.5GiB", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["configurations"]
    assert {(r["arch"], r["batch_size"]) for r in rows} == {
        (a, b) for a in ("basic", "classic", "unet") for b in (8, 16)}


def test_plan_rejects_a_bad_size(capsys):
    from search.cli import main

    assert main(["plan", "seed", "--gpu-memory", "four"]) == 2
    assert "gpu memory" in capsys.readouterr().err


# --- the planner and the searcher wrapper (no Ray runtime needed) ----------------------------------------
GRID = {"name": "mem", "grid": True, "defaults": {"max_epochs": 1, "size": 16},
        "params": {"arch": {"choice": ["basic", "classic"]}, "batch_size": {"choice": [8, 16]}}}


def _budget_between(lower: int, upper: int) -> int:
    """A budget whose usable part lies between two estimates."""
    return int((lower + upper) / 2 / mem.POOL_FRACTION)


def _est(arch, bs, size=16):
    return mem.estimate_memory(arch, size=size, batch_size=bs).total


def test_planner_marks_configurations_that_cannot_fit_and_shrinks_with_fit_batch(tmp_path):
    budget = _budget_between(_est("classic", 8), _est("classic", 16))
    planner = mem.TrialPlanner(space=GRID, size=16, budget=budget, run_dir=str(tmp_path))
    assert planner.decide({"arch": "classic", "batch_size": 8}).feasible
    no = planner.decide({"arch": "classic", "batch_size": 16})
    assert not no.feasible and no.note.startswith("needs ") and "MiB" in no.note
    fitting = mem.TrialPlanner(space=GRID, size=16, budget=budget, fit_batch=True)
    fitted = fitting.decide({"arch": "classic", "batch_size": 16})
    assert fitted.feasible and fitted.batch_size == 8 and fitted.requested_batch_size == 16
    assert fitted.note.startswith("batch_size shrunk 16→8 to fit")


def test_planner_shares_and_limits_follow_the_estimate():
    planner = mem.TrialPlanner(space=GRID, size=16, budget=GiB, gpus_per_trial=1.0)
    decision = planner.decide({"arch": "basic", "batch_size": 8})
    assert decision.gpu_share == 0.125
    assert decision.memory_limit == int(0.125 * GiB * mem.POOL_FRACTION)
    capped = mem.TrialPlanner(space=GRID, size=16, budget=64 * MiB, gpus_per_trial=0.5)
    assert capped.trial_budget == int(32 * MiB * mem.POOL_FRACTION)
    assert not capped.decide({"arch": "classic", "batch_size": 8}).feasible  # needs more than half of 64 MiB
    cpu = mem.TrialPlanner(space=GRID, size=16)  # no budget, no GPU: no estimate at all
    assert cpu.decide({"arch": "classic", "batch_size": 16}).estimate is None


def test_calibration_learns_from_an_out_of_memory_trial(tmp_path):
    budget = 4 * _est("basic", 16)
    planner = mem.TrialPlanner(space=GRID, size=16, budget=budget, run_dir=str(tmp_path))
    assert planner.decide({"arch": "basic", "batch_size": 16}).feasible
    factor = planner.learn_oom("t1", {"arch": "basic", "batch_size": 16}, 16)
    assert factor > 1
    assert not planner.decide({"arch": "basic", "batch_size": 16}).feasible  # now estimated over the budget
    assert planner.decide({"arch": "basic", "batch_size": 8}).feasible
    assert planner.decide({"arch": "classic", "batch_size": 8}).estimate == _est("classic", 8)  # other archs unchanged
    saved = json.loads((tmp_path / mem.CALIBRATION_FILE).read_text())
    assert saved["factors"]["basic"] == pytest.approx(factor)
    assert saved["events"][0]["trial_id"] == "t1" and saved["events"][0]["batch_size"] == 16
    # a new planner (a resumed sweep) reads it back
    again = mem.TrialPlanner(space=GRID, size=16, budget=budget, run_dir=str(tmp_path))
    assert not again.decide({"arch": "basic", "batch_size": 16}).feasible


def _write_status(run_dir: Path, trial_id: str, status: str) -> None:
    """What the monitor records when Ray tells it a trial failed (in the ledger the searcher reads)."""
    from search.rundir import TrialLedger

    ledger = TrialLedger.for_run(run_dir)
    ledger.entry(trial_id, params={})["status"] = status
    ledger.save()


def test_memory_searcher_skips_infeasible_and_retries_out_of_memory_at_half_batch(tmp_path):
    from ray.tune.search import Searcher

    from search.packing import GridSearcher, MemorySearcher

    budget = _budget_between(_est("classic", 8), _est("classic", 16))
    planner = mem.TrialPlanner(space=GRID, size=16, budget=budget, run_dir=str(tmp_path))
    grid = [{"arch": a, "batch_size": b} for a in ("basic", "classic") for b in (8, 16)]
    searcher = MemorySearcher(GridSearcher(grid), planner=planner, run_dir=tmp_path, live=False)
    first, second, third = (searcher.suggest(f"t{i}") for i in (1, 2, 3))
    assert [(c["arch"], c["batch_size"]) for c in (first, second, third)] == [
        ("basic", 8), ("basic", 16), ("classic", 8)]
    assert first["_memory"]["estimate_gib"] > 0
    assert searcher.suggest("t4") is None  # classic@16 was infeasible; trials are still running
    records = read_trial_entries(tmp_path)
    (record_id, infeasible), = records.items()
    assert infeasible["status"] == "infeasible" and infeasible["params"] == {"arch": "classic", "batch_size": 16}
    assert infeasible["note"].startswith("needs ") and record_id not in ("t1", "t2", "t3", "t4")

    searcher.on_trial_complete("t1", result={"delta_e": 10.0})
    searcher.on_trial_complete("t2", error=True)
    _write_status(tmp_path, "t2", "oom")  # what the monitor writes for an out-of-memory error
    retry = searcher.suggest("t5")
    assert retry["batch_size"] == 8 and retry["arch"] == "basic"
    assert retry["_memory"]["retry_of"] == "t2" and "half the batch size (16→8)" in retry["_memory"]["note"]
    assert json.loads((tmp_path / mem.CALIBRATION_FILE).read_text())["events"][0]["trial_id"] == "t2"
    searcher.on_trial_complete("t3", error=True)
    _write_status(tmp_path, "t3", "error")  # a plain error is not retried
    searcher.on_trial_complete("t5", error=True)
    _write_status(tmp_path, "t5", "oom")  # a retry that runs out of memory again is not retried twice
    assert searcher.suggest("t6") == Searcher.FINISHED


def test_infeasible_proposals_reach_optuna_as_failed_trials_which_tpe_ignores(tmp_path):
    """The searcher is told without bias: FAIL (TPE samples from COMPLETE/PRUNED only), not PRUNED."""
    import optuna

    from search.packing import MemorySearcher
    from search.sweep import _optuna_searcher
    from spaces.objectives import parse_objectives
    from spaces import space_from_dict

    space = space_from_dict({"name": "s", "defaults": {"size": 16},
                             "params": {"arch": {"choice": ["basic", "classic"]},
                                        "learning_rate": {"loguniform": [1e-3, 1e-2]}},
                             "fixed": {"batch_size": 16}})
    budget = _budget_between(_est("basic", 16), _est("classic", 16))
    planner = mem.TrialPlanner(space=space.to_dict(), size=16, budget=budget, run_dir=str(tmp_path))
    searcher = MemorySearcher(_optuna_searcher(space, objectives=parse_objectives("delta_e"), seed=0), planner=planner,
                              run_dir=tmp_path, trials=6, live=False)
    for i in range(6):
        config = searcher.suggest(f"t{i}")
        assert config["arch"] == "basic"  # only what fits is launched
        searcher.on_trial_complete(f"t{i}", result={"delta_e": 10.0 + i, "epoch": 1})
    study = searcher.searcher.study
    states = [t.state for t in study.trials]
    infeasible = [r for r in read_trial_entries(tmp_path).values() if r["status"] == "infeasible"]
    assert infeasible and states.count(optuna.trial.TrialState.FAIL) == len(infeasible)
    assert states.count(optuna.trial.TrialState.COMPLETE) == 6
    assert optuna.trial.TrialState.PRUNED not in states
    assert all(t.params["arch"] == "classic" for t in study.trials if t.state == optuna.trial.TrialState.FAIL)


def test_trial_resources_are_a_function_of_the_config():
    from search.packing import TrialResources

    resources = TrialResources(1.0, 0.0)
    assert resources({"arch": "basic"}).required_resources == {"CPU": 1.0}
    assert resources({"_memory": {"gpu_share": 0.375}}).required_resources == {"CPU": 1.0, "GPU": 0.375}
    assert TrialResources(2.0, 0.5)({}).required_resources == {"CPU": 2.0, "GPU": 0.5}


# --- mixed precision --------------------------------------------------------------------------------------
def test_precision_is_validated():
    from colorize_core.train import TrainConfig

    assert TrainConfig(arch="basic", precision="mixed_bfloat16").precision == "mixed_bfloat16"
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(arch="basic", precision="fp8")


def test_precision_is_a_search_dimension():
    from spaces import space_from_dict

    space = space_from_dict({"name": "p", "params": {"arch": {"choice": ["basic"]},
                                                      "precision": {"choice": ["float32", "mixed_bfloat16"]}}})
    config = space.trial_config({"arch": "basic", "precision": "mixed_bfloat16"}, max_epochs=1, seed=0,
                                monitor="delta_e")
    assert config["precision"] == "mixed_bfloat16"


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_fit_trains_in_mixed_precision_and_restores_the_policy(demo16, precision):
    import keras

    from colorize_core.train import TrainConfig, fit

    before = keras.mixed_precision.global_policy().name
    result = fit(TrainConfig(arch="basic", epochs=1, batch_size=32, precision=precision, seed=0), demo16,
                 keep_model=True)
    assert keras.mixed_precision.global_policy().name == before
    assert math.isfinite(result.best_metrics["delta_e"])
    model = result.model
    assert model.get_layer("conv1").compute_dtype == precision.split("_")[1]
    assert model.get_layer("ab_conv").compute_dtype == "float32"  # the output head stays float32
    assert model.get_layer("conv1").kernel.dtype == "float32"  # float32 master weights


def test_tensorflow_memory_limit_is_a_no_op_without_a_gpu():
    from colorize_core._backend import accelerator_peak_memory_bytes, limit_tensorflow_gpu_memory

    assert limit_tensorflow_gpu_memory(GiB) is False
    assert accelerator_peak_memory_bytes() is None


# --- sweeps on CPU: budget, out of memory, packing on two logical GPUs --------------------------------------
@pytest.fixture(scope="module")
def ray_two_gpus():
    import ray

    from search.sweep import _init_ray

    if ray.is_initialized():
        ray.shutdown()
    _init_ray(None, num_cpus=4, num_gpus=2)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def budget_sweep(tmp_path_factory, cache_dir, ray_two_gpus):
    """basic/classic x batch 8/16 at 16 px; the budget is too small for classic@16; batch >= 16 runs out
    of memory (injected), so basic@16 must be retried at 8."""
    from search.sweep import run_sweep
    from spaces import space_from_dict

    budget = _budget_between(_est("classic", 8), _est("classic", 16))
    return run_sweep(space_from_dict(GRID), data="demo", storage=tmp_path_factory.mktemp("runs"), name="budget",
                     live=False, cache_dir=cache_dir, gpu_memory=budget, inject_oom_batch=16, report=False)


def _by_config(records):
    return {(r.params["arch"], r.params.get("batch_size"), r.status): r for r in records}


@pytest.mark.slow
def test_sweep_records_infeasible_configurations_and_finishes_the_rest(budget_sweep):
    records = budget_sweep.records
    infeasible = [r for r in records if r.status == "infeasible"]
    assert [(r.params["arch"], r.params["batch_size"]) for r in infeasible] == [("classic", 16)]
    assert infeasible[0].note.startswith("needs ") and infeasible[0].trial_dir is None  # never launched
    assert "infeasible (needs" in infeasible[0].status_text()
    done = {(r.params["arch"], r.params["batch_size"]) for r in records if r.status == "completed"}
    assert done == {("basic", 8), ("classic", 8)}
    assert len([r for r in records if r.status == "completed"]) == 3  # basic@8 twice: once as the retry


@pytest.mark.slow
def test_out_of_memory_trial_is_retried_once_at_half_batch(budget_sweep):
    run_dir = budget_sweep.run_dir
    raw = json.loads((run_dir / "trials.json").read_text())
    (oom_id, oom), = [(k, v) for k, v in raw.items() if v["status"] == "oom"]
    assert oom["params"] == {"arch": "basic", "batch_size": 16}
    assert "RESOURCE_EXHAUSTED" in oom["error"]
    (retry_id, retry), = [(k, v) for k, v in raw.items() if v.get("retry_of") == oom_id]
    assert retry["status"] == "completed" and retry["params"]["batch_size"] == 8
    assert "16→8" in retry["note"]
    rows = [json.loads(l) for l in (run_dir / retry["trial_dir"] / "result.json").read_text().splitlines() if l]
    assert rows and rows[-1]["batch_size_used"] == 8
    # a fresh worker process: not the one that ran out of memory
    oom_pid = int(re.search(r"pid=(\d+)", oom["error"]).group(1))
    assert all(row["pid"] != oom_pid for row in rows)
    calibration = json.loads((run_dir / mem.CALIBRATION_FILE).read_text())
    assert calibration["events"][0]["trial_id"] == oom_id and calibration["factors"]["basic"] > 1
    info = json.loads((run_dir / "sweep.json").read_text())
    assert info["memory"]["budget_bytes"] > 0 and info["memory"]["budget_source"] == "given"


@pytest.mark.slow
def test_packed_trials_run_concurrently_on_both_logical_gpus(tmp_path, cache_dir, ray_two_gpus):
    from search.sweep import run_sweep
    from spaces import space_from_dict

    space = space_from_dict({"name": "pack", "grid": True, "defaults": {"max_epochs": 1, "size": 16},
                             "params": {"arch": {"choice": ["basic"]}, "loss": {"choice": ["mse", "mae"]},
                                        "optimizer": {"choice": ["adam", "rmsprop"]}},
                             "fixed": {"batch_size": 8}})
    gpu = math.ceil(_est("basic", 8) / mem.POOL_FRACTION / 0.45)  # each trial's estimate: just under half a GPU
    result = run_sweep(space, data="demo", storage=tmp_path, name="pack", live=False, cache_dir=cache_dir,
                       gpus_per_trial=1.0, gpu_memory=gpu, report=False)
    assert [r.status for r in result.records] == ["completed"] * 4
    spans, gpus = [], set()
    for record in result.records:
        lines = (result.run_dir / record.trial_dir / "result.json").read_text().splitlines()
        rows = [json.loads(line) for line in lines if line]
        assert rows[-1]["gpu_share"] == 0.5  # from its estimate, not a fixed --gpus-per-trial
        gpus.add(rows[-1]["gpu_ids"])
        spans.append((rows[-1]["timestamp"] - rows[-1]["time_total_s"], rows[-1]["timestamp"]))
    assert gpus == {"0", "1"}  # both GPUs used
    overlapping = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert overlapping >= 3  # more trials at once than GPUs: packed
    raw = json.loads((result.run_dir / "trials.json").read_text())
    assert all(entry["gpu_share"] == 0.5 and entry["memory"]["gpu_share"] == 0.5 for entry in raw.values())


def test_memory_searcher_state_survives_save_and_restore(tmp_path):
    """What `colorsweep resume` relies on: Ray saves wrappers with get_state, the inner one with save."""
    from ray.tune.search import SearchGenerator

    from search.packing import GridSearcher, MemorySearcher

    grid = [{"arch": "basic", "batch_size": b} for b in (4, 8, 16)]
    planner = mem.TrialPlanner(space=GRID | {"params": {"arch": {"choice": ["basic"]},
                                                        "batch_size": {"choice": [4, 8, 16]}}},
                               size=16, run_dir=str(tmp_path))

    def generator():
        return SearchGenerator(MemorySearcher(GridSearcher(grid), planner=planner, run_dir=tmp_path, live=False))

    before = generator()
    assert before.searcher.suggest("a")["batch_size"] == 4
    before.searcher.on_trial_complete("a", error=True)  # then it runs out of memory...
    _write_status(tmp_path, "a", "oom")
    before.save_to_dir(str(tmp_path), "s")
    after = generator()
    after.restore_from_dir(str(tmp_path))
    assert after.searcher.suggest("b")["_memory"]["retry_of"] == "a"  # ...and is retried after the restart
    assert after.searcher.suggest("c")["batch_size"] == 8  # the grid goes on where it was


def test_calibration_learns_against_the_share_the_trial_had():
    """A trial that ran out of memory inside a 1/8 share says nothing about the whole GPU."""
    planner = mem.TrialPlanner(space=GRID, size=16, budget=GiB, gpus_per_trial=1.0)
    decision = planner.decide({"arch": "basic", "batch_size": 16})
    assert decision.gpu_share == 0.125
    planner.learn_oom("t", {"arch": "basic", "batch_size": 16}, 16, limit=decision.memory_limit)
    again = planner.decide({"arch": "basic", "batch_size": 16})
    assert again.feasible and again.estimate > decision.memory_limit and again.gpu_share > 0.125


def test_optuna_gets_the_retry_result_for_a_proposal_that_ran_out_of_memory(tmp_path):
    import optuna

    from search.packing import MemorySearcher
    from search.sweep import _optuna_searcher
    from spaces.objectives import parse_objectives
    from spaces import space_from_dict

    space = space_from_dict({"name": "s", "defaults": {"size": 16},
                             "params": {"arch": {"choice": ["basic"]}, "batch_size": {"choice": [8, 16]}}})
    planner = mem.TrialPlanner(space=space.to_dict(), size=16, run_dir=str(tmp_path))
    searcher = MemorySearcher(_optuna_searcher(space, objectives=parse_objectives("delta_e"), seed=0), planner=planner,
                              run_dir=tmp_path, trials=1, live=False)
    first = searcher.suggest("a")
    searcher.on_trial_complete("a", error=True)
    _write_status(tmp_path, "a", "oom")
    retry = searcher.suggest("b")
    assert retry["batch_size"] == first["batch_size"] // 2 and retry["_memory"]["retry_of"] == "a"
    (ot_trial,) = searcher.searcher.study.trials
    assert ot_trial.state == optuna.trial.TrialState.RUNNING  # held until the retry tells
    searcher.on_trial_complete("b", result={"delta_e": 12.5, "epoch": 1, "training_iteration": 1})
    (ot_trial,) = searcher.searcher.study.trials
    assert ot_trial.state == optuna.trial.TrialState.COMPLETE and ot_trial.value == 12.5
    assert ot_trial.params["batch_size"] == first["batch_size"]  # the proposal, as Optuna made it
    assert searcher.suggest("c") == "FINISHED"


def test_plan_does_not_suggest_fit_batch_when_nothing_fits_at_batch_1(capsys):
    from search.cli import main

    assert main(["plan", "seed", "--gpu-memory", "1MiB", "--size", "128"]) == 0
    text = capsys.readouterr().out
    assert "0 of 24 configurations fit" in text
    assert "--fit-batch" not in text and "do not fit even at batch size 1" in text
