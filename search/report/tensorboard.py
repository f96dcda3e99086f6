"""TensorBoard logs of a sweep: one run per trial, with the HParams plugin's data and per-epoch curves.

The HParams summaries come from TensorBoard's own plugin: ``tensorboard.plugins.hparams.summary_v2``
(its ``HParam``/``Discrete``/``RealInterval``/``Metric`` classes and ``hparams_pb``) and its
``metadata`` module, which import without TensorFlow. ``tensorboard.plugins.hparams.api`` and
``.summary`` (the v1 helpers) import TensorFlow, which is absent where Keras runs on JAX, so they are
not used. The events are written with tensorboardX's ``SummaryWriter`` (no TensorFlow either); its
protobuf classes are its own copies of TensorBoard's, so each summary crosses over as its bytes.
"""

from __future__ import annotations

import os
import shlex
import shutil
import time
from pathlib import Path
from typing import Any, Sequence

from colorize_core import metrics as metric_defs
from search._optuna_space import discrete_values
from search.report.rows import _STATUS_ORDER, REPORT_DIR, TENSORBOARD_DIR, is_finite, _Report


def tensorboard_commands(run_dir: str | os.PathLike) -> dict[str, str]:
    """The commands that open a sweep in TensorBoard.

    ``"hparams"``: the report's logs (``RUN_DIR/report/tensorboard``), one run per trial whatever its
    status, with its hyperparameters, status and best-epoch metrics in the HParams tab and its
    per-epoch validation curves (``val/<metric>``, ``loss/train``, ``loss/val``, ``learning_rate``) in
    Scalars. They are the only TensorBoard logs in a run directory (Ray's own logger is off, trials
    write none), so ``tensorboard --logdir RUN_DIR`` shows the same runs.
    """
    run_dir = Path(run_dir)
    return {"hparams": f"tensorboard --logdir {shlex.quote(str(run_dir / REPORT_DIR / TENSORBOARD_DIR))}"}


_TB_STATUS = {"completed": "STATUS_SUCCESS", "stopped": "STATUS_SUCCESS", "running": "STATUS_RUNNING",
              "error": "STATUS_FAILURE", "oom": "STATUS_FAILURE", "infeasible": "STATUS_FAILURE"}
_TB_TYPES = {"bool": bool, "number": float, "string": str}


def _tb_kind(values: Sequence[Any]) -> str:
    values = [v for v in values if v is not None]
    if values and all(isinstance(v, bool) for v in values):
        return "bool"
    if values and all(is_finite(v) for v in values):
        return "number"
    return "string"


def _plugin_summary(tag: str, data):
    """A summary holding HParams plugin data, built as ``summary_v2`` builds its own (whose helper for
    it is private): for the experiment (``summary_v2.hparams_config_pb`` has no name or description)
    and the session end (``summary_v2`` has none; the v1 ``session_end_pb`` needs TensorFlow)."""
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.plugins.hparams import metadata

    return Summary(value=[Summary.Value(tag=tag, metadata=metadata.create_summary_metadata(data),
                                        tensor=metadata.NULL_TENSOR)])


def _add_summary(writer, summary) -> None:
    """Write a TensorBoard ``Summary`` with tensorboardX's writer (which takes its own copy of the class)."""
    from tensorboardX.proto.summary_pb2 import Summary

    writer.file_writer.add_summary(Summary.FromString(summary.SerializeToString()))


def _write_tensorboard(rep: _Report) -> None:
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
    from tensorboard.plugins.hparams import summary_v2 as hp
    from tensorboardX import SummaryWriter

    from spaces import space_from_dict

    logdir = rep.out_dir / TENSORBOARD_DIR
    shutil.rmtree(logdir, ignore_errors=True)
    logdir.mkdir(parents=True)

    space_params = space_from_dict(rep.info.space).params if (rep.info.space or {}).get("params") else {}
    names = list(space_params) + [k for r in rep.records for k in r.params if k not in space_params]
    names = list(dict.fromkeys(names))
    kinds = {}
    hparam_infos = []
    for name in names:
        param = space_params.get(name)
        kind = param.kind if param is not None else None
        observed = [r.params.get(name) for r in rep.records]
        domain = discrete_values(param) if kind in ("choice", "pow2", "value") else None
        kinds[name] = _tb_kind((domain or []) + observed)
        dtype = _TB_TYPES[kinds[name]]
        info = api_pb2.HParamInfo(name=name)
        if kind in ("uniform", "loguniform", "int") and kinds[name] == "number":
            hp.RealInterval(float(param.low), float(param.high)).update_hparam_info(info)
        elif domain:
            hp.Discrete([dtype(v) for v in domain], dtype=dtype).update_hparam_info(info)
        else:  # no domain: the type alone (a Domain sets both)
            info.type = {bool: api_pb2.DATA_TYPE_BOOL, float: api_pb2.DATA_TYPE_FLOAT64,
                         str: api_pb2.DATA_TYPE_STRING}[dtype]
        hparam_infos.append(info)
    status_info = api_pb2.HParamInfo(name="status")
    hp.Discrete(list(_STATUS_ORDER), dtype=str).update_hparam_info(status_info)
    hparam_infos.append(status_info)
    metrics = []
    for name, spec in metric_defs.METRICS.items():
        arrow = "↓" if spec.mode == "min" else "↑"
        metrics.append(hp.Metric(f"best/{name}", display_name=f"{name} {arrow}",
                                 description=f"validation {name} at the best epoch (on {rep.metric}); {spec.description}",
                                 dataset_type=hp.Metric.VALIDATION))
    metrics.append(hp.Metric("epochs", display_name="epochs", description="epochs trained"))
    experiment = api_pb2.Experiment(name=str(rep.info.name or rep.run_dir.name),
                                    description=f"colorsweep sweep {rep.run_dir}", time_created_secs=time.time(),
                                    hparam_infos=hparam_infos, metric_infos=[m.as_proto() for m in metrics])
    now = time.time()
    rows = {row["trial_id"]: row for row in rep.rows}
    for record in rep.records:
        row = rows[record.trial_id]
        values = {name: _TB_TYPES[kinds[name]](record.params[name]) for name in names
                  if record.params.get(name) is not None}
        start = hp.hparams_pb({**values, "status": record.status}, trial_id=record.trial_id, start_time_secs=now)
        with SummaryWriter(str(logdir / f"trial_{record.trial_id}")) as writer:
            if record is rep.records[0]:  # TensorBoard finds the experiment in any run: no extra run for it
                _add_summary(writer, _plugin_summary(metadata.EXPERIMENT_TAG,
                                                     plugin_data_pb2.HParamsPluginData(experiment=experiment)))
            _add_summary(writer, start)
            for epoch_row in record.history:
                epoch = int(epoch_row["epoch"])
                for name in metric_defs.METRICS:
                    if is_finite(epoch_row.get(name)):
                        writer.add_scalar(f"val/{name}", epoch_row[name], epoch)
                for key, tag in (("train_loss", "loss/train"), ("val_loss", "loss/val"), ("lr", "learning_rate")):
                    if is_finite(epoch_row.get(key)):
                        writer.add_scalar(tag, epoch_row[key], epoch)
            if row["best_epoch"] is not None:
                for name in metric_defs.METRICS:
                    if row[name] is not None:
                        writer.add_scalar(f"best/{name}", row[name], int(row["best_epoch"]))
            writer.add_scalar("epochs", record.epochs, max(record.epochs, 0))
            end = plugin_data_pb2.SessionEndInfo(
                status=api_pb2.Status.Value(_TB_STATUS.get(record.status, "STATUS_UNKNOWN")), end_time_secs=now)
            _add_summary(writer, _plugin_summary(metadata.SESSION_END_INFO_TAG,
                                                 plugin_data_pb2.HParamsPluginData(session_end_info=end)))
    rep.tensorboard_dir = logdir
