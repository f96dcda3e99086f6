"""The Pareto front of a several-objective sweep, from its trial records (no Ray, no Keras).

Each trial's point is its values at its best epoch on the first objective (the model its
``best.keras`` holds, the one ``export`` hands out; :func:`search.records.trial_point`). Trials that
violate a constraint, or have no finite value on every objective, are not on any front.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from search.records import TrialRecord, trial_point
from spaces.objectives import Constraint, Objective, is_feasible, knee_index, pareto_ranks

__all__ = ["TrialStanding", "standings", "front", "knee"]


@dataclass
class TrialStanding:
    """Where one trial stands: its point (one value per objective, or None), whether it meets the
    constraints (None when it has no finished epoch), and its Pareto rank (1 = on the front; None when
    infeasible or without a point)."""

    trial_id: str
    point: list[float] | None
    meets_constraints: bool | None
    pareto_rank: int | None
    values: dict


def standings(records: Sequence[TrialRecord], objectives: Sequence[Objective],
              constraints: Sequence[Constraint] = ()) -> dict[str, TrialStanding]:
    """Trial id → :class:`TrialStanding`, for every record."""
    first = objectives[0]
    out: dict[str, TrialStanding] = {}
    for record in records:
        values = trial_point(record, first.metric, first.mode)
        point = [values.get(o.metric) for o in objectives] if values else None
        if point is not None and not all(isinstance(v, (int, float)) and math.isfinite(v) for v in point):
            point = None
        meets = (is_feasible(values, constraints) if values else None) if constraints else (True if values else None)
        out[record.trial_id] = TrialStanding(record.trial_id, point, meets, None, values)
    ids = list(out)
    ranks = pareto_ranks([out[i].point if out[i].meets_constraints else None for i in ids], [o.mode for o in objectives])
    for trial_id, rank in zip(ids, ranks):
        out[trial_id].pareto_rank = rank
    return out


def front(standing: dict[str, TrialStanding], objectives: Sequence[Objective]) -> list[TrialStanding]:
    """The front (rank 1), best first on the first objective."""
    on_front = [s for s in standing.values() if s.pareto_rank == 1]
    sign = 1 if objectives[0].mode == "min" else -1
    return sorted(on_front, key=lambda s: (sign * s.point[0], s.trial_id))


def knee(standing: dict[str, TrialStanding], objectives: Sequence[Objective]) -> TrialStanding | None:
    """The front's knee (:func:`spaces.objectives.knee_index`), or None without a front."""
    members = front(standing, objectives)
    if not members:
        return None
    return members[knee_index([s.point for s in members], [o.mode for o in objectives])]


def as_dict(standing: TrialStanding) -> dict[str, Any]:
    return {"trial_id": standing.trial_id, "point": standing.point, "meets_constraints": standing.meets_constraints,
            "pareto_rank": standing.pareto_rank}
