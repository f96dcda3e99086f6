"""`colorsweep plan`'s table: every configuration of a space, its estimate and whether it fits a GPU."""

from __future__ import annotations

from search._optuna_space import discrete_values
from search.memory.estimate import optimizer_slots
from search.memory.planner import TrialPlanner, _memory_relevant, _train_defaults, fit_batch_size, gpu_share

__all__ = ["plan_space"]


def _plan_configs(space) -> list[dict]:
    """TrainConfig dicts to plan: a grid's every configuration; for a sampled space every
    architecture × batch size × precision it can pick (optimizer: the one with most slots)."""
    base = lambda params: space.trial_config(params, max_epochs=1, seed=0, monitor="delta_e")  # noqa: E731
    if space.is_grid:
        return [{"_params": combo, **base(combo)} for combo in space.grid()]

    def values(name):
        p = space.params.get(name)
        if p is None:
            return None
        if p.kind in ("choice", "pow2", "value"):
            return discrete_values(p)
        if p.kind == "int":
            return [int(p.low), int(p.high)]
        return [p.high]

    one = {}
    for name, p in space.params.items():  # a representative in-space value of every param
        if p.values is not None:
            one[name] = p.values[-1]
        elif p.kind == "int":
            one[name] = int(p.high)
        else:
            one[name] = p.high
    if "optimizer" in space.params:
        one["optimizer"] = max(space.params["optimizer"].values, key=optimizer_slots)
    archs = values("arch") or [None]
    batches = values("batch_size") or [None]
    precisions = values("precision") or [None]
    configs = []
    for arch in archs:
        for bs in batches:
            for prec in precisions:
                params = dict(one)
                for key, value in (("arch", arch), ("batch_size", bs), ("precision", prec)):
                    if value is not None or key in space.params:
                        params[key] = value
                shown = {k: params[k] for k in ("arch", "batch_size", "precision") if k in space.params}
                configs.append({"_params": shown, **base(params)})
    return configs


def plan_space(space, *, size: int | None = None, gpu_memory: int | None = None,
               gpus_per_trial: float = 0.0) -> list[dict]:
    """One row per configuration of ``space`` (see :func:`_plan_configs`): its estimate, whether it
    fits ``gpu_memory`` (bytes per GPU; None: no limit), the largest power-of-two batch that fits and
    the GPU share a trial would ask for."""
    from spaces import SearchSpace, load_space

    space = space if isinstance(space, SearchSpace) else load_space(space)
    size = int(size or space.defaults.get("size", 128))
    defaults = _train_defaults()
    planner = TrialPlanner(space=space.to_dict(), size=size, budget=gpu_memory,
                           gpus_per_trial=gpus_per_trial or (1.0 if gpu_memory else 0.0))
    rows = []
    for i, config in enumerate(_plan_configs(space), start=1):
        shown = config.pop("_params")
        rel = _memory_relevant(config, defaults)
        est = planner.estimate(rel, rel["batch_size"])
        budget = planner.trial_budget
        fits = None if budget is None else est.total <= budget
        largest = None
        if budget is not None:
            largest = fit_batch_size(lambda b: planner.estimate(rel, b).total <= budget, rel["batch_size"])
        row = {"#": i, **{k: v for k, v in shown.items() if k not in ("arch", "batch_size", "precision", "optimizer")},
               "arch": rel["arch"], "batch_size": rel["batch_size"], "precision": rel["precision"] or "float32",
               "optimizer": rel["optimizer"], "estimate_gib": round(est.gib, 2),
               "verdict": "no limit" if fits is None else ("fits" if fits else "does not fit"),
               "fits": fits, "largest_fitting_batch": largest,
               "gpu_share": gpu_share(est.total, gpu_memory) if gpu_memory and fits else None,
               "calibration": est.calibrated_by}
        rows.append(row)
    return rows
