"""A workdir's best.keras is a second name of the last.keras written at the best epoch, not a copy."""

from __future__ import annotations

import os

import keras
import pytest

from colorize_core.train import BEST_MODEL, LAST_MODEL, fit
from colorize_core.train.checkpoint import link_model_atomic, save_model_atomic


def test_best_is_linked_to_the_last_model_of_its_epoch_and_outlives_it(demo16, tmp_path):
    improving = []
    workdir = tmp_path / "run"

    def report(epoch, metrics):
        if metrics["best_epoch"] == epoch:
            improving.append(epoch)
            assert os.path.samefile(workdir / BEST_MODEL, workdir / LAST_MODEL)  # no second serialisation

    result = fit(dict(arch="basic", epochs=3, batch_size=8, learning_rate=1e-3, early_stopping_patience=None),
                 demo16, report, workdir=workdir)
    assert improving and improving[0] == 1
    assert result.best_epoch == improving[-1]
    if result.best_epoch < 3:  # a later epoch replaced last.keras; best.keras kept its own file
        assert not os.path.samefile(workdir / BEST_MODEL, workdir / LAST_MODEL)


def test_link_survives_the_source_being_replaced_and_copies_without_hard_links(tmp_path, monkeypatch):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    save_model_atomic(model, tmp_path / "last.keras")
    link_model_atomic(tmp_path / "last.keras", tmp_path / "best.keras")
    first = (tmp_path / "best.keras").read_bytes()
    model.layers[0].kernel.assign([[5.0], [6.0]])
    save_model_atomic(model, tmp_path / "last.keras")  # a new file under the old name
    assert (tmp_path / "best.keras").read_bytes() == first
    assert (tmp_path / "last.keras").read_bytes() != first

    def no_links(*args, **kwargs):
        raise OSError(95, "Operation not supported")

    monkeypatch.setattr(os, "link", no_links)
    link_model_atomic(tmp_path / "last.keras", tmp_path / "best.keras")
    assert (tmp_path / "best.keras").read_bytes() == (tmp_path / "last.keras").read_bytes()
    assert not os.path.samefile(tmp_path / "best.keras", tmp_path / "last.keras")
    assert not list(tmp_path.glob("*.tmp.keras"))
