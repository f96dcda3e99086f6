"""Choosing a trial of a run directory and its checkpoint: by rank, by id, or by a ``--pick`` rule.

Run directory layout read here (see :mod:`search.sweep` and :mod:`search.records`): ``sweep.json``,
``trials.json`` and Ray trial folders holding ``checkpoint_NNNNNN/`` with ``best.keras``,
``last.keras`` and ``state.json``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colorize_core.errors import InvalidValueError
from colorize_core.train import BEST_MODEL, LAST_MODEL, STATE_FILE
from search.records import TrialRecord, load_records, load_sweep_info, rank_records, trial_path
from search.rundir import newest_checkpoint
from search.sweep_info import SweepInfo

__all__ = ["TrialCheckpoint", "select_trial"]

_BEST, _LAST, _STATE = BEST_MODEL, LAST_MODEL, STATE_FILE


def _check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


@dataclass
class TrialCheckpoint:
    """A ranked trial of a run directory and its newest checkpoint folder."""

    run_dir: Path
    info: SweepInfo
    record: TrialRecord
    rank: int
    metric: str
    mode: str
    trial_dir: Path
    checkpoint_dir: Path
    state: dict = field(default_factory=dict)
    picked_by: str | None = None  # the rule that chose it (--pick, --trial), or None for --rank

    @property
    def best_model(self) -> Path:
        return self.checkpoint_dir / _BEST

    @property
    def last_model(self) -> Path | None:
        path = self.checkpoint_dir / _LAST
        return path if path.exists() and (self.checkpoint_dir / _STATE).exists() else None

    @property
    def history(self) -> list[dict]:
        """Per-epoch validation metrics up to this checkpoint (``state.json``; else ``result.json``)."""
        return list(self.state.get("history") or self.record.history)

    @property
    def epochs(self) -> int:
        return int(self.state.get("epoch", len(self.history)))

    @property
    def best_epoch(self) -> int | None:
        """The epoch whose weights ``best.keras`` holds."""
        if self.state.get("best_epoch"):
            return int(self.state["best_epoch"])
        row = self.record.best(self.info.metric or self.metric, self.info.mode or self.mode)
        return int(row["epoch"]) if row else None

    def config(self) -> dict:
        """The trial's full :class:`~colorize_core.train.TrainConfig` as a dict."""
        from colorize_core.train import TrainConfig

        if self.state.get("config"):
            return TrainConfig.from_dict(self.state["config"]).to_dict()
        from spaces import space_from_dict

        space = space_from_dict(self.info.space)
        values = space.trial_config(self.record.params, max_epochs=int(self.info.max_epochs or 1),
                                    seed=int(self.info.seed or 0), monitor=self.info.metric or "delta_e")
        return TrainConfig.from_dict(values).to_dict()


def select_trial(run_dir: str | os.PathLike, *, rank: int = 1, metric: str | None = None,
                 trial_id: str | None = None, pick: str | None = None) -> TrialCheckpoint:
    """A trial of a run directory with its newest checkpoint: the ``rank``-th best by validation
    ``metric`` (default the sweep's; trials that violate the sweep's constraints rank after all that
    meet them), or the trial ``trial_id`` (its id, or a unique prefix), or the one rule ``pick``
    chooses (:func:`spaces.objectives.parse_pick`: ``knee``, ``"min delta_e where
    colorfulness_gap<=5"``). ValueError when it does not exist or has no checkpoint."""
    from colorize_core.metrics import metric_mode
    from search.records import constraints_of

    run_dir = Path(run_dir)
    info = load_sweep_info(run_dir)
    rank = _check_positive_int("rank", rank)
    metric = metric or info.metric or "delta_e"
    mode = info.mode if metric == info.metric and info.mode else metric_mode(metric)
    records = load_records(run_dir)
    ranked = [r for r in rank_records(records, metric=metric, mode=mode, constraints=constraints_of(info))
              if r.best_value(metric, mode) is not None]
    if not ranked:
        raise InvalidValueError(
            f"no trial of {run_dir} has reported a validation {metric} yet ({len(records)} trial(s) recorded); "
            f"wait for the sweep to finish an epoch, or resume it with `colorsweep resume {run_dir}`"
        )
    picked_by = None
    if trial_id is not None or pick is not None:
        chosen = _chosen_trial(run_dir, info, records, trial_id=trial_id, pick=pick)
        position = next((i for i, r in enumerate(ranked) if r.trial_id == chosen), None)
        if position is None:
            raise InvalidValueError(f"trial {chosen} has no validation {metric} value: it cannot be exported")
        rank, picked_by = position + 1, (f"trial {chosen}" if pick is None else pick)
    if rank > len(ranked):
        raise InvalidValueError(
            f"rank {rank} does not exist: {run_dir} has {len(ranked)} ranked trial(s) by validation {metric} "
            f"(ranks 1..{len(ranked)}); see them with `colorsweep report {run_dir}`"
        )
    record = ranked[rank - 1]
    folder = trial_path(run_dir, record.trial_dir)
    checkpoint = newest_checkpoint(folder)
    if checkpoint is None:
        with_ckpt = [f"rank {i} ({r.trial_id})" for i, r in enumerate(ranked, start=1)
                     if newest_checkpoint(trial_path(run_dir, r.trial_dir)) is not None]
        raise InvalidValueError(
            f"trial {record.trial_id} (rank {rank} by {metric}) has no checkpoint with {_BEST} in "
            f"{folder or '(no trial folder recorded)'}; trials with checkpoints: "
            f"{', '.join(with_ckpt) if with_ckpt else 'none'}. Pass --rank with one of those"
        )
    state = {}
    if (checkpoint / _STATE).exists():
        try:
            state = json.loads((checkpoint / _STATE).read_text())
        except json.JSONDecodeError:
            state = {}
    return TrialCheckpoint(run_dir=run_dir, info=info, record=record, rank=rank, metric=metric, mode=mode,
                           trial_dir=folder, checkpoint_dir=checkpoint, state=state, picked_by=picked_by)


def _chosen_trial(run_dir: Path, info: SweepInfo, records: list[TrialRecord], *, trial_id: str | None,
                  pick: str | None) -> str:
    """The id of the trial ``--trial`` names (an id or a unique prefix) or ``--pick`` chooses."""
    if trial_id is not None and pick is not None:
        raise InvalidValueError("give --trial or --pick, not both")
    if trial_id is not None:
        matches = [r.trial_id for r in records if r.trial_id == trial_id] or \
                  [r.trial_id for r in records if r.trial_id.startswith(str(trial_id))]
        if len(matches) != 1:
            known = ", ".join(sorted(r.trial_id for r in records)[:12])
            raise InvalidValueError(f"{'no' if not matches else 'more than one'} trial of {run_dir} matches {trial_id!r}; "
                                    f"trials: {known}{' ...' if len(records) > 12 else ''}")
        return matches[0]
    from search import pareto
    from search.records import constraints_of, objectives_of
    from spaces.objectives import choose, parse_pick

    rule = parse_pick(pick)
    objectives, constraints = objectives_of(info), constraints_of(info)
    standing = pareto.standings(records, objectives, constraints)
    rows = [{**s.values, "trial_id": s.trial_id, "pareto_rank": s.pareto_rank,
             "feasible": s.meets_constraints is not False} for s in standing.values() if s.values]
    return str(choose(rows, rule, objectives)["trial_id"])
