"""Text for the command line: :func:`describe_space` and :func:`space_summary_rows`."""

from __future__ import annotations

from typing import Any

from ._builtin import list_spaces, load_space
from ._param import _fmt
from ._space import SearchSpace

__all__ = ["describe_space", "space_summary_rows"]




def describe_space(space: SearchSpace) -> str:
    """A readable multi-line description: name, description, grid size or trials, each param
    with its kind and range, the fixed values and the defaults."""
    lines = [f"space: {space.name}"]
    if space.description:
        lines.append(f"description: {space.description}")
    if space.is_grid:
        lines.append(f"grid: {space.grid_size} configurations, each run once")
    else:
        trials, budget = space.defaults.get("trials"), space.defaults.get("time_budget")
        if trials:
            what = f"{trials} trials by default"
        elif budget:
            what = f"as many trials as a {budget} time budget allows"
        else:
            what = "number of trials set by the sweep"
        lines.append(f"search: {what}")
    for i, config in enumerate(space.start_with):
        lines.append(("start with: " if i == 0 else "            ") + ", ".join(f"{k}={v}" for k, v in config.items()))
    lines.append("params:" if space.params else "params: none (every trial is the same configuration)")
    width = max((len(k) for k in [*space.params, *space.fixed]), default=0)
    for name, p in space.params.items():
        lines.append(f"  {name:<{width}}  {p.describe()}")
    if space.fixed:
        lines.append("fixed:")
        for name, value in space.fixed.items():
            lines.append(f"  {name:<{width}}  {_fmt(value)}")
    if space.defaults:
        parts = []
        for key, value in space.defaults.items():
            if key == "size":
                parts.append(f"size {value} px")
            elif isinstance(value, (list, tuple)):  # metrics, constraints
                parts.append(f"{key} [{', '.join(map(str, value))}]")
            else:
                parts.append(f"{key} {value}")
        lines.append("defaults: " + ", ".join(parts))
    return "\n".join(lines)


def space_summary_rows() -> list[dict[str, Any]]:
    """One row per built-in space, for ``colorsweep spaces``: ``name``, ``description``, ``grid``
    (bool), ``grid_size`` (None unless grid), ``size``, ``max_epochs``, ``trials`` (the space's
    defaults, None when unset) and ``searched`` (how many hyperparameters it searches)."""
    rows = []
    for name in list_spaces():
        space = load_space(name)
        rows.append({
            "name": space.name,
            "description": space.description,
            "grid": space.is_grid,
            "grid_size": space.grid_size,
            "size": space.defaults.get("size"),
            "max_epochs": space.defaults.get("max_epochs"),
            "trials": space.defaults.get("trials"),
            "searched": len(space.params),
        })
    return rows
