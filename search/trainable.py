"""The Ray Tune trainable: one trial = ``colorize_core.train.fit`` on the sweep's prepared data.

The data set arrives through Ray's object store (``tune.with_parameters``), decoded once by the
driver: no trial reads an image file. Every epoch is reported to Tune with a checkpoint folder
holding ``best.keras``, ``last.keras`` (with optimizer state) and ``state.json``; a trial restored
from such a checkpoint continues from its last epoch.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["colorize_trial"]


def colorize_trial(config: dict, *, data, settings: dict) -> None:
    """Train the configuration ``config`` (the sampled hyperparameters) and report each epoch.

    ``settings`` holds the sweep-level values every trial shares: the space (as a dict),
    ``max_epochs``, ``seed``, ``metric`` and ``cpus_per_trial``.
    """
    threads = str(max(1, int(settings.get("cpus_per_trial", 1))))
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", threads)
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

    import ray
    from ray import tune

    from colorize_core.train import fit
    from spaces import space_from_dict

    space = space_from_dict(settings["space"])
    params = {key: value for key, value in config.items() if key in space.params}
    train_config = space.trial_config(
        params, max_epochs=settings["max_epochs"], seed=settings["seed"], monitor=settings["metric"]
    )
    if settings.get("inject_error") and params.get(settings["inject_error"][0]) == settings["inject_error"][1]:
        raise RuntimeError(f"injected failure for testing: {settings['inject_error'][0]}={settings['inject_error'][1]!r}")

    node_id = ray.get_runtime_context().get_node_id()
    workdir = Path(tempfile.mkdtemp(prefix="colorsweep-trial-"))
    try:
        checkpoint = tune.get_checkpoint()
        if checkpoint is not None:
            checkpoint.to_directory(str(workdir))

        def report(epoch: int, metrics: dict) -> None:
            metrics = {**metrics, "node_id": node_id}
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(str(workdir)))

        fit(train_config, data, report, workdir=workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
