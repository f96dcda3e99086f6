"""search.report: the ranked sweep report, on run directories written by hand (no Ray).

The fixture run directory mirrors what ``colorsweep run`` leaves (sweep.json, baselines.json,
trials.json, Ray trial folders with result.json and checkpoint_*/best.keras): four trials, one
completed with a real tiny checkpoint, one completed without a checkpoint, one stopped early by
ASHA, one errored before its first epoch; and a copy of it caught mid-sweep.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import socket
import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest

from colorize_core import metrics
from search.report import COLUMNS, FIGURES, OBJECTIVE_COLUMNS, tensorboard_commands, write_report

ERROR_TEXT = (
    "Traceback (most recent call last):\n"
    '  File "search/trainable.py", line 41, in colorize_trial\n'
    "    raise RuntimeError(...)\n"
    "RuntimeError: injected failure for testing: arch='basic'\n"
)

# trial id -> params, status, per-epoch delta_e and psnr (trials.json order is not the ranking order)
TRIALS = {
    "bbbb0002": ({"arch": "classic", "optimizer": "rmsprop", "loss": "mae", "learning_rate": 0.005, "batch_size": 16,
                  "output_activation": "original"}, "completed", [25.0, 22.0, 21.0], [18.0, 21.0, 22.0]),
    "dddd0004": ({"arch": "basic", "optimizer": "adam", "loss": "mse", "learning_rate": 0.003, "batch_size": 8,
                  "output_activation": "sigmoid"}, "error", [], []),
    "aaaa0001": ({"arch": "basic", "optimizer": "adam", "loss": "mse", "learning_rate": 0.002, "batch_size": 8,
                  "output_activation": "original"}, "completed", [20.0, 15.0, 16.0], [17.0, 20.0, 19.0]),
    "cccc0003": ({"arch": "unet", "optimizer": "adam", "loss": "mae", "learning_rate": 0.008, "batch_size": 8,
                  "output_activation": "sigmoid"}, "stopped", [18.0], [25.0]),
}
EXPECTED_ORDER = ["aaaa0001", "cccc0003", "bbbb0002", "dddd0004"]  # by delta_e (min); no value last
BASELINES = {
    "gray": {"ab_mse": 480.0, "delta_e": 16.5, "psnr": 17.5, "auc": 83.7, "colorfulness": 0.0,
             "colorfulness_gap": 52.8, "gain_vs_gray": 0.0},
    "train_mean": {"ab_mse": 359.0, "delta_e": 16.2, "psnr": 18.7, "auc": 84.7, "colorfulness": 14.2,
                   "colorfulness_gap": 38.6, "gain_vs_gray": 0.25},
}
SMOKE_SPACE = {
    "name": "smoke", "description": "Tiny sweep for tests", "grid": False,
    "defaults": {"max_epochs": 3, "size": 16, "trials": 4},
    "params": {
        "arch": {"choice": ["basic", "classic", "unet"]},
        "optimizer": {"choice": ["adam", "rmsprop"]},
        "loss": {"choice": ["mse", "mae"]},
        "learning_rate": {"loguniform": [0.001, 0.01]},
        "batch_size": {"choice": [8, 16]},
        "output_activation": {"choice": ["original", "sigmoid"]},
    },
    "fixed": {"early_stopping_patience": 5},
}


def _epoch_row(trial_id: str, params: dict, epoch: int, delta_e: float, psnr: float, best_epoch: int) -> dict:
    values = {"ab_mse": delta_e * 30, "delta_e": delta_e, "psnr": psnr, "auc": 80.0 + epoch, "colorfulness": 20.0,
              "colorfulness_gap": 30.0 - epoch, "gain_vs_gray": 0.1 * epoch}
    return {"epoch": epoch, **values, "train_loss": 0.1 / epoch, "val_loss": 0.12 / epoch, "lr": params["learning_rate"],
            "epoch_train_s": 2.0, "train_time_s": 2.0 * epoch, "early_stopped": False, "best_epoch": best_epoch,
            "node_id": "52e354d7858b2a908db1cb92639f3f576790ca4af3ee64b1e228fd31", "trial_id": trial_id,
            "training_iteration": epoch, "config": params, "done": False, "checkpoint_dir_name": f"checkpoint_{epoch - 1:06d}"}


def _write_trial(run_dir: Path, trial_id: str, params: dict, status: str, delta_e: list, psnr: list,
                 entries: dict, *, error: str | None = None) -> Path:
    trial_dir = run_dir / f"trial_{trial_id}"
    trial_dir.mkdir(parents=True)
    lines, best = [], None
    for epoch, (de, ps) in enumerate(zip(delta_e, psnr), start=1):
        best = epoch if best is None or de < delta_e[best - 1] else best
        lines.append(json.dumps(_epoch_row(trial_id, params, epoch, de, ps, best)))
    (trial_dir / "result.json").write_text("".join(line + "\n" for line in lines))
    (trial_dir / "params.json").write_text(json.dumps(params))
    entry = {"params": params, "status": status, "max_epochs": 3, "trial_dir": trial_dir.name,
             "epochs": len(delta_e), "early_stopped": False, "node_id": None, "params_count": None}
    if error:
        entry["error"] = error
        (trial_dir / "error.txt").write_text(error)
    entries[trial_id] = entry
    return trial_dir


def _sweep_info(run_dir: Path, data, *, finished: bool) -> dict:
    info = {
        "name": run_dir.name, "run_dir": str(run_dir), "space": copy.deepcopy(SMOKE_SPACE),
        "data": {"source": "demo", "fingerprint": data.fingerprint, "size": 16, "lab_mode": "float", "pool_side": data.pool.side,
                 "split": [len(data.train), len(data.val), len(data.test)], "skipped": 0, "cache_path": data.cache_path},
        "trials": 4, "max_epochs": 3, "metric": "delta_e", "mode": "min", "seed": 0,
        "scheduler": {"name": "asha", "time_attr": "epoch", "grace_period": 1, "reduction_factor": 2, "max_t": 3},
        "searcher": "optuna-tpe", "resources": {"cpus_per_trial": 1.0, "gpus_per_trial": 0.0, "concurrency": None},
        "address": None, "versions": {"python": "3.11"}, "command_line": "colorsweep run smoke --data demo --size 16",
        "created": "2026-11-26T06:43:11+0000",
    }
    if finished:
        info.update(finished="2026-11-26T06:45:28+0000", wall_time_s=143.0)
    return info


def _build_run(run_dir: Path, data, *, checkpoint_from: Path | None) -> None:
    entries: dict = {}
    for trial_id, (params, status, delta_e, psnr) in TRIALS.items():
        trial_dir = _write_trial(run_dir, trial_id, params, status, delta_e, psnr, entries,
                                 error=ERROR_TEXT if status == "error" else None)
        if trial_id == "aaaa0001" and checkpoint_from is not None:
            (trial_dir / "checkpoint_000001").mkdir()  # an older checkpoint folder: must not be the one used
            (trial_dir / "checkpoint_000002").mkdir()
            shutil.copy(checkpoint_from, trial_dir / "checkpoint_000002" / "best.keras")
    (run_dir / "trials.json").write_text(json.dumps(entries, indent=1))
    (run_dir / "baselines.json").write_text(json.dumps(BASELINES))
    (run_dir / "sweep.json").write_text(json.dumps(_sweep_info(run_dir, data, finished=True), indent=1))


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A real (untrained) 16 px ``basic`` model saved as best.keras."""
    from colorize_core.models import create_model

    path = tmp_path_factory.mktemp("model") / "best.keras"
    create_model("basic", 16).save(path)
    return path


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, demo16, tiny_model):
    """A finished sweep's run directory and its full report (read back into memory)."""
    run_dir = tmp_path_factory.mktemp("runs") / "finished"
    run_dir.mkdir()
    _build_run(run_dir, demo16, checkpoint_from=tiny_model)
    written = write_report(run_dir)
    return {
        "run_dir": run_dir,
        "written": written,
        "md": written["md"].read_text(),
        "html": written["html"].read_text(),
        "json": json.loads(written["json"].read_text()),
    }


@pytest.fixture()
def run_copy(finished_run, tmp_path) -> Path:
    """A private copy of the finished run directory (for tests that rewrite its report)."""
    target = tmp_path / "copy"
    shutil.copytree(finished_run["run_dir"], target)
    info = json.loads((target / "sweep.json").read_text())
    info["run_dir"] = str(target)
    (target / "sweep.json").write_text(json.dumps(info))
    return target


def test_every_format_and_figure_is_written(finished_run):
    written = finished_run["written"]
    report_dir = finished_run["run_dir"] / "report"
    assert {"md", "html", "csv", "json", "tensorboard", *FIGURES} <= set(written)
    for key, filename in {"md": "report.md", "html": "report.html", "csv": "trials.csv", "json": "trials.json",
                          **FIGURES}.items():
        assert written[key] == report_dir / filename and written[key].stat().st_size > 0, key
    for name in FIGURES:
        assert written[name].read_bytes().startswith(b"\x89PNG"), name


def test_trials_are_ranked_by_the_metric_in_its_direction(finished_run, run_copy):
    rows = finished_run["json"]["trials"]
    assert [r["trial_id"] for r in rows] == EXPECTED_ORDER
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    assert [r["delta_e"] for r in rows[:3]] == [15.0, 18.0, 21.0]  # each trial's best epoch
    assert rows[0]["best_epoch"] == 2 and rows[0]["epochs"] == 3
    md = finished_run["md"]
    assert md.index("aaaa0001") < md.index("cccc0003") < md.index("bbbb0002") < md.index("dddd0004")

    # psnr is higher-is-better (METRICS): the order reverses among the scored trials
    written = write_report(run_copy, metric="psnr", formats=("json",), models=False, tensorboard=False)
    payload = json.loads(written["json"].read_text())
    assert payload["mode"] == metrics.METRICS["psnr"].mode == "max"
    assert [r["trial_id"] for r in payload["trials"]] == ["cccc0003", "bbbb0002", "aaaa0001", "dddd0004"]
    assert [r["psnr"] for r in payload["trials"][:3]] == [25.0, 22.0, 20.0]


def test_the_headline_says_how_strong_the_best_models_colours_are_and_the_command_that_changes_them(
        finished_run, tmp_path, capsys):
    from search.cli import main
    from search.report.cells import _colour_strength

    payload = finished_run["json"]
    best = payload["trials"][0]
    truth = payload["baselines"]["test"]["gray"]["colorfulness_gap"]  # grey's colourfulness is 0
    line = next(l for l in finished_run["md"].splitlines() if l.startswith("- **colour**:"))
    assert f"test-split colourfulness {best['test_colorfulness']:.1f} against {truth:.1f} for the true photos" in line
    assert "colour" in finished_run["html"] and f"{truth:.1f} for the true photos" in finished_run["html"]
    command = re.search(r"`(colorsweep colorize .*?)`", line)
    if best["test_colorfulness"] < 0.85 * truth:
        assert "weaker than the truth's" in line and "--chroma 1.2" in command[1]
    else:
        assert command is None or "--chroma 0.8" in command[1]
    if command:  # the command it shows runs as written, photos and output folder filled in
        import cv2

        photo = tmp_path / "photo.png"
        cv2.imwrite(str(photo), (np.random.default_rng(0).random((40, 56, 3)) * 255).astype(np.uint8))
        args = shlex.split(command[1])[1:]
        args[args.index("PHOTOS")] = str(photo)
        args[args.index("DIR")] = str(tmp_path / "out")
        assert main(args + ["--quiet"]) == 0 and "colorized 1 image(s)" in capsys.readouterr().out

    gray = {"colorfulness": 0.0, "colorfulness_gap": 40.0}
    assert "weaker than the truth's" in _colour_strength({"test_colorfulness": 20.0}, gray, "RUN")
    assert "about as strong as the truth's" in _colour_strength({"test_colorfulness": 38.0}, gray, "RUN")
    assert "--chroma 0.8" in _colour_strength({"test_colorfulness": 50.0}, gray, "RUN")
    assert _colour_strength({"test_colorfulness": None}, gray, "RUN") is None  # the test split was not scored
    assert _colour_strength({"test_colorfulness": 20.0}, {}, "RUN") is None


def test_statuses_include_asha_stops_and_error_lines(finished_run):
    rows = {r["trial_id"]: r for r in finished_run["json"]["trials"]}
    assert rows["aaaa0001"]["status"] == "completed" and rows["aaaa0001"]["status_text"] == "completed"
    assert rows["cccc0003"]["status"] == "stopped"
    assert rows["cccc0003"]["status_text"] == "stopped early by ASHA at epoch 1"
    error_line = "RuntimeError: injected failure for testing: arch='basic'"
    assert rows["dddd0004"]["status"] == "error"
    assert rows["dddd0004"]["error_first_line"] == error_line
    assert rows["dddd0004"]["status_text"] == f"error: {error_line}"
    assert rows["dddd0004"]["epochs"] == 0 and rows["dddd0004"]["delta_e"] is None
    assert rows["aaaa0001"]["error_first_line"] is None
    for fmt in ("md", "html"):
        text = finished_run[fmt]
        assert "by ASHA at epoch 1" in text, fmt
        assert error_line.replace("'", "&#x27;" if fmt == "html" else "'") in text, fmt


def test_baselines_are_in_every_format_where_they_rank(finished_run):
    md, page, payload = finished_run["md"], finished_run["html"], finished_run["json"]
    assert payload["baselines"]["val"] == BASELINES
    for name in BASELINES:
        assert f"baseline: {name}" in md
        assert re.search(rf"<tr class='baseline'><td[^>]*>–</td><td[^>]*>{name}</td>", page), name
    # delta_e: best trial 15.0 < train_mean 16.2 < gray 16.5 < next trial 18.0
    assert md.index("aaaa0001") < md.index("baseline: train_mean") < md.index("baseline: gray") < md.index("cccc0003")
    assert page.index("aaaa0001") < page.index(">train_mean<") < page.index(">gray<") < page.index("cccc0003")
    # the best trial's row is highlighted
    assert re.search(r"<tr class='best'><td[^>]*>1</td><td[^>]*>aaaa0001</td>", page)


def test_html_is_one_self_contained_file_with_embedded_images(finished_run):
    page = finished_run["html"]
    sources = re.findall(r"""\bsrc\s*=\s*["']([^"']*)""", page)
    assert len(sources) == len(FIGURES)
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert base64.b64decode(sources[0].split(",", 1)[1]).startswith(b"\x89PNG")
    assert 'src="http' not in page and "src='http" not in page
    assert not re.search(r"""\bhref\s*=""", page)  # no stylesheet, no link to anything
    assert "<link" not in page and "<script" not in page and "url(" not in page
    for filename in FIGURES.values():
        assert filename not in page  # figures are embedded, not referenced next to the file
    assert "<style>" in page


def test_csv_round_trips_through_pandas_with_documented_columns(finished_run):
    import pandas as pd

    frame = pd.read_csv(finished_run["written"]["csv"])
    assert list(frame.columns) == list(COLUMNS)
    assert len(frame) == len(TRIALS)
    assert list(frame["trial_id"]) == EXPECTED_ORDER
    assert list(frame["rank"]) == [1, 2, 3, 4]
    assert frame["delta_e"].iloc[0] == pytest.approx(15.0)
    assert np.isnan(frame["delta_e"].iloc[3])
    assert frame.loc[frame.trial_id == "cccc0003", "status_text"].item() == "stopped early by ASHA at epoch 1"
    assert frame.loc[frame.trial_id == "dddd0004", "error_first_line"].item().startswith("RuntimeError: injected")
    assert json.loads(frame["config"].iloc[0]) == TRIALS["aaaa0001"][0]
    json_rows = finished_run["json"]["trials"]
    assert [list(row) for row in json_rows] == [list(COLUMNS)] * len(TRIALS)


def test_test_split_metrics_come_from_the_latest_checkpoint(finished_run, demo16, tiny_model):
    import keras

    from colorize_core.train import predict_ab

    payload = finished_run["json"]
    assert payload["tested"] == ["aaaa0001"]  # the only trial with a best.keras
    model = keras.saving.load_model(tiny_model, compile=False)
    expected = metrics.evaluate(demo16.test.lightness, demo16.test.ab, predict_ab(model, demo16.test.lightness))
    row = payload["trials"][0]
    for name in metrics.METRICS:
        assert row[f"test_{name}"] == pytest.approx(expected[name], rel=1e-5), name
    assert row["params"] == model.count_params()
    assert all(r[f"test_{name}"] is None for r in payload["trials"][1:] for name in metrics.METRICS)
    assert set(payload["baselines"]["test"]) == {"gray", "train_mean"}
    assert any("no best.keras checkpoint" in note and "cccc0003" in note for note in payload["notes"])
    assert "Test split" in finished_run["md"] and f"{expected['delta_e']:.3f}" in finished_run["html"]


def test_study_comparison_and_importances(finished_run):
    payload = finished_run["json"]
    comparison = payload["comparison"]
    assert comparison["rows"] == ["basic", "classic", "unet"]  # the space's order
    cells = {(c["arch"], c["optimizer"], c["loss"]): c for c in comparison["cells"]}
    assert cells[("basic", "adam", "mse")]["value"] == 15.0 and cells[("basic", "adam", "mse")]["trial_id"] == "aaaa0001"
    assert cells[("classic", "rmsprop", "mae")]["value"] == 21.0
    assert [b["trial_id"] for b in payload["best_per_arch"]] == ["aaaa0001", "bbbb0002", "cccc0003"]
    importances = payload["importances"]
    assert importances and set(importances) <= set(SMOKE_SPACE["params"])
    assert sum(importances.values()) == pytest.approx(1.0)


def test_tensorboard_logs_hold_hparams_of_every_trial(finished_run):
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    logdir = finished_run["written"]["tensorboard"]
    assert tensorboard_commands(finished_run["run_dir"])["hparams"] == f"tensorboard --logdir {logdir}"

    def events(folder: Path):
        return [e for f in sorted(folder.glob("events.out.tfevents*")) for e in EventFileLoader(str(f)).Load()]

    # one run per trial and nothing else: TensorBoard finds the experiment summary in the first trial's run
    runs = sorted({f.parent.name for f in logdir.rglob("events.out.tfevents*")})
    assert runs == sorted(f"trial_{trial_id}" for trial_id in TRIALS)
    tags = {v.tag for trial_id in TRIALS for e in events(logdir / f"trial_{trial_id}") for v in e.summary.value}
    assert "_hparams_/experiment" in tags
    from tensorboard.plugins.hparams import plugin_data_pb2

    for trial_id, (params, status, delta_e, _) in TRIALS.items():
        values = [v for e in events(logdir / f"trial_{trial_id}") for v in e.summary.value]
        start = next(v for v in values if v.tag == "_hparams_/session_start_info")
        data = plugin_data_pb2.HParamsPluginData.FromString(start.metadata.plugin_data.content)
        hparams = data.session_start_info.hparams
        assert hparams["arch"].string_value == params["arch"]
        assert hparams["learning_rate"].number_value == pytest.approx(params["learning_rate"])
        assert hparams["status"].string_value == status
        best = [_scalar(v) for v in values if v.tag == "best/delta_e"]
        assert best == ([pytest.approx(min(delta_e))] if delta_e else [])
        curve = [_scalar(v) for v in values if v.tag == "val/delta_e"]
        assert curve == [pytest.approx(d) for d in delta_e]


def test_tensorboard_hparams_plugin_reads_every_trial(finished_run):
    """TensorBoard's own HParams plugin (through its data provider, as ``tensorboard --logdir`` does)
    finds the experiment and one session group per trial with its status and best metric."""
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import hparams_plugin
    from tensorboard.plugins.scalar import scalars_plugin
    from werkzeug.test import Client
    from werkzeug.wrappers import Response

    logdir = str(finished_run["written"]["tensorboard"])
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(logdir)
    multiplexer.Reload()
    context = base_plugin.TBContext(logdir=logdir, multiplexer=multiplexer, plugin_name_to_instance={},
                                    data_provider=data_provider.MultiplexerDataProvider(multiplexer, logdir))
    context.plugin_name_to_instance["scalars"] = scalars_plugin.ScalarsPlugin(context)
    apps = hparams_plugin.HParamsPlugin(context).get_plugin_apps()

    def post(route: str, body: dict) -> dict:
        response = Client(apps[route], Response).post("/", data=json.dumps(body), content_type="application/json")
        assert response.status_code == 200, response.get_data(as_text=True)
        return json.loads(response.get_data(as_text=True))

    experiment = post("/experiment", {"experimentName": ""})
    infos = {info["name"]: info for info in experiment["hparamInfos"]}
    assert set(SMOKE_SPACE["params"]) | {"status"} <= set(infos)
    assert set(infos["arch"]["domainDiscrete"]) == {"basic", "classic", "unet"}
    assert infos["learning_rate"]["domainInterval"] == {"minValue": 0.001, "maxValue": 0.01}
    assert "best/delta_e" in {m["name"]["tag"] for m in experiment["metricInfos"]}
    groups = post("/session_groups", {
        "experimentName": "", "startIndex": 0, "sliceSize": 100,
        "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
        "colParams": [{"hparam": "arch"}, {"metric": {"tag": "best/delta_e"}}],
    })["sessionGroups"]
    assert sorted(g["name"] for g in groups) == sorted(TRIALS)
    for group in groups:
        params, status, delta_e, _ = TRIALS[group["name"]]
        assert group["hparams"]["arch"] == params["arch"] and group["hparams"]["status"] == status
        assert group["sessions"][0]["status"] == ("STATUS_FAILURE" if status == "error" else "STATUS_SUCCESS")
        best = [m["value"] for m in group["metricValues"] if m["name"]["tag"] == "best/delta_e"]
        assert best == ([pytest.approx(min(delta_e))] if delta_e else [])


def _scalar(value) -> float:
    """A scalar summary's number (the loader migrates simple_value to a tensor)."""
    return value.tensor.float_val[0] if value.HasField("tensor") else value.simple_value


@pytest.fixture()
def running_run(tmp_path, demo16) -> Path:
    """A sweep caught mid-run: no 'finished' in sweep.json, a running trial with a torn last line, a pending one."""
    run_dir = tmp_path / "running"
    run_dir.mkdir()
    entries: dict = {}
    params, _, delta_e, psnr = TRIALS["aaaa0001"]
    _write_trial(run_dir, "aaaa0001", params, "completed", delta_e, psnr, entries)
    params = {**params, "arch": "unet", "learning_rate": 0.004}
    trial_dir = _write_trial(run_dir, "eeee0005", params, "running", [30.0], [12.0], entries)
    with open(trial_dir / "result.json", "a") as handle:
        handle.write('{"epoch": 2, "delta_e": 2')  # the driver was writing epoch 2
    entries["ffff0006"] = {"params": {**params, "arch": "classic"}, "status": "pending"}
    (run_dir / "trials.json").write_text(json.dumps(entries))
    (run_dir / "baselines.json").write_text(json.dumps(BASELINES))
    (run_dir / "sweep.json").write_text(json.dumps(_sweep_info(run_dir, demo16, finished=False)))
    # the driver holds the run directory (its lock names this live process)
    (run_dir / ".colorsweep.lock").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    return run_dir


def test_a_running_or_killed_sweep_still_reports(running_run):
    written = write_report(running_run)
    assert {"md", "html", "csv", "json"} <= set(written)
    payload = json.loads(written["json"].read_text())
    assert payload["state"] == "running or interrupted"
    rows = {r["trial_id"]: r for r in payload["trials"]}
    assert [r["trial_id"] for r in payload["trials"]] == ["aaaa0001", "eeee0005", "ffff0006"]
    assert rows["eeee0005"]["status_text"] == "running (1 epoch so far)" and rows["eeee0005"]["epochs"] == 1
    assert rows["ffff0006"]["status_text"] == "pending" and rows["ffff0006"]["rank"] == 3
    assert "no end recorded" in written["md"].read_text()
    assert "running (1 epoch so far)" in written["html"].read_text()

    # the same directory after the driver died (its lock released): the stale trial reads interrupted
    (running_run / ".colorsweep.lock").write_text("")
    payload = json.loads(write_report(running_run, formats="json", models=False)["json"].read_text())
    assert {r["trial_id"]: r["status_text"] for r in payload["trials"]}["eeee0005"] == "interrupted after epoch 1"


def test_bad_input_says_what_to_pass(tmp_path, run_copy):
    with pytest.raises(FileNotFoundError, match="sweep.json.*colorsweep run"):
        write_report(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_report(tmp_path / "nope")
    with pytest.raises(ValueError, match="unknown metric 'bogus'.*delta_e"):
        write_report(run_copy, metric="bogus")
    with pytest.raises(ValueError, match="formats must be .*md, html, csv, json.*'pdf'"):
        write_report(run_copy, formats="md,pdf")
    with pytest.raises(ValueError, match="top must be a positive int"):
        write_report(run_copy, top=0)


def test_cli_prints_the_top_table_files_and_tensorboard_command(run_copy, tmp_path, capsys):
    from search.cli import main

    assert main(["report", str(run_copy), "--top", "2", "--no-models", "--format", "csv,json", "--tensorboard"]) == 0
    out = capsys.readouterr().out
    assert "top 2 of 4 trials by validation delta_e" in out
    assert "aaaa0001" in out and "cccc0003" in out and "bbbb0002" not in out
    assert "baseline: gray" in out
    assert str(run_copy / "report" / "trials.csv") in out
    assert f"tensorboard --logdir {run_copy / 'report' / 'tensorboard'}" in out and "HParams" in out
    assert "report.html" not in out  # only the formats asked for

    assert main(["report", str(run_copy), "--top", "1", "--no-models", "--format", "json", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [r["trial_id"] for r in payload["top"]] == ["aaaa0001"]
    assert set(payload["baselines"]) == {"gray", "train_mean"}

    assert main(["report", str(tmp_path / "empty")]) == 2
    assert "colorsweep run" in capsys.readouterr().err


def test_every_column_is_documented():
    text = (Path(__file__).resolve().parents[2] / "docs" / "report.md").read_text()
    missing = [name for name in {**COLUMNS, **OBJECTIVE_COLUMNS} if f"`{name}`" not in text]
    assert not missing, f"columns missing from docs/report.md: {missing}"


def test_markdown_report_escapes_a_hostile_run_name_like_the_html(run_copy):
    info = json.loads((run_copy / "sweep.json").read_text())
    info["name"] = '<img src=x onerror="alert(1)">'
    (run_copy / "sweep.json").write_text(json.dumps(info))
    written = write_report(run_copy, formats=("md", "html"), models=False)
    for fmt in ("md", "html"):
        text = written[fmt].read_text()
        assert "<img src=x" not in text and "&lt;img src=x" in text, fmt


def test_html_ranking_keeps_to_the_columns_that_rank_and_folds_the_rest(finished_run):
    """The ranking table fits a laptop screen: resources (parameters, memory, time, GPU) move to a
    per-trial details table below it; the Markdown table keeps every column."""
    html_text = finished_run["html"]
    ranking = html_text.split("<table class='ranking'>", 1)[1].split("</table>", 1)[0]
    headers = re.findall(r"<th[^>]*>(.*?)</th>", ranking.split("</thead>", 1)[0])
    assert "time&nbsp;(s)" not in headers and "params" not in headers
    assert len(headers) <= 16, headers
    details = html_text.split("<details class='trial-details'>", 1)[1].split("</details>", 1)[0]
    assert "time (s)" in details and "params" in details
    for trial_id in TRIALS:
        assert trial_id in details
    assert "time (s)" in finished_run["md"]


def test_picture_grid_spreads_over_the_data_set_one_image_per_photo():
    from search.report import _grid_indices

    names = [f"fish/{i:02d}.jpg" for i in range(10)] + [f"monuments/{i:02d}.jpg" for i in range(10)] + \
            [f"renewable/{i:02d}.jpg" for i in range(10)]
    chosen = [names[i] for i in _grid_indices(names, 6)]
    assert {name.split("/")[0] for name in chosen} == {"fish", "monuments", "renewable"}
    assert chosen == sorted(chosen) and len(set(chosen)) == 6
    tiles = [f"astronaut#tile{i:03d}" for i in range(5)] + [f"coffee#tile{i:03d}" for i in range(5)]
    chosen = [tiles[i] for i in _grid_indices(tiles, 4)]
    assert {"astronaut#tile000", "coffee#tile000"} <= set(chosen) and len(chosen) == 4


def _chromium() -> str | None:
    import shutil

    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "headless_shell"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_html_ranking_fits_a_1366_px_screen_in_chromium(finished_run, tmp_path):
    """Rendered in headless Chromium at 1,366 x 768, the page needs no horizontal scrolling and the
    ranking table is no wider than the window (skips where Chromium is not installed)."""
    import subprocess

    browser = _chromium()
    if browser is None:
        pytest.skip("headless Chromium is not installed on this machine")
    probe = ("<script>window.addEventListener('load', () => {"
             "const t = document.querySelector('table.ranking');"
             "document.body.setAttribute('data-page-width', document.documentElement.scrollWidth);"
             "document.body.setAttribute('data-table-width', t ? Math.ceil(t.getBoundingClientRect().width) : 0);"
             "});</script>")
    page = tmp_path / "report.html"
    page.write_text(finished_run["html"].replace("</body>", probe + "</body>"))
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1366,768",
                           "--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    page_width = int(re.search(r'data-page-width="(\d+)"', done.stdout).group(1))
    table_width = int(re.search(r'data-table-width="(\d+)"', done.stdout).group(1))
    assert page_width <= 1366 and 0 < table_width <= 1366, (page_width, table_width)
