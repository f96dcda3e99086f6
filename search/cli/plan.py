"""``colorsweep plan``: each configuration's estimated peak GPU memory and whether it fits a budget."""

from __future__ import annotations

import json

from search.cli._output import UserError, add_json_flag, format_table

__all__ = ["add_parsers", "cmd_plan"]


def cmd_plan(args) -> int:
    """Print every configuration of a space with its memory estimate against ``--gpu-memory``."""
    from colorize_core.models import INPUT_MULTIPLE
    from search.memory import detect_gpu_memory, format_bytes, parse_memory, plan_space
    from spaces import load_space

    if args.gpu_memory:
        budget, source = parse_memory(args.gpu_memory), "given"
    else:
        budget, source = detect_gpu_memory(), "detected with nvidia-smi"
    if args.size is not None and (args.size <= 0 or args.size % INPUT_MULTIPLE):
        raise UserError(f"--size must be a positive multiple of {INPUT_MULTIPLE}, got {args.size}")
    rows = plan_space(args.space, size=args.size, gpu_memory=budget)
    space = load_space(args.space)
    size = args.size or space.defaults.get("size", 128)
    n_fit = sum(1 for r in rows if r["fits"])
    payload = {"space": space.name, "size": size, "gpu_memory_bytes": budget,
               "gpu_memory": format_bytes(budget) if budget else None, "budget_source": source if budget else None,
               "configurations": rows, "fit": n_fit if budget else None}
    if getattr(args, "json", False):
        print(json.dumps(payload, indent=1, default=str))
        return 0
    head = (f"space {space.name} at {size}x{size}: budget {format_bytes(budget)} per GPU ({source})"
            if budget else f"space {space.name} at {size}x{size}: no GPU found and no --gpu-memory: no limit")
    columns = [c for c in rows[0] if c not in ("fits", "calibration")] if rows else None
    text = head + "\n" + format_table(rows, columns)
    if budget:
        text += f"\n\n{n_fit} of {len(rows)} configurations fit."
        shrinkable = sum(1 for r in rows if not r["fits"] and r["largest_fitting_batch"])
        hopeless = sum(1 for r in rows if not r["fits"] and not r["largest_fitting_batch"])
        if n_fit < len(rows):
            text += " 'colorsweep run --gpu-memory' records the others as infeasible"
            text += (f"; --fit-batch would run {shrinkable} of them at the largest fitting batch size." if shrinkable
                     else ".")
        if hopeless:
            text += (f" {hopeless} do not fit even at batch size 1: use a smaller --size, smaller models, "
                     "or a GPU with more memory.")
    text += ("\nEstimates: analytic (weights, gradients, optimizer slots, activations kept for the backward pass, "
             "workspace) calibrated on measured peaks of Keras 3 on JAX on an H200.")
    print(text)
    return 0


def add_parsers(sub) -> None:
    """Register ``plan``."""
    p = sub.add_parser(
        "plan", help="estimate each configuration's peak GPU memory and whether it fits a budget",
        description="Print every configuration of a space (a grid's all; a sampled space's every architecture x "
                    "batch size x precision) with its estimated peak GPU memory and whether it fits.",
    )
    p.add_argument("space", help="built-in space name or a YAML file")
    p.add_argument("--gpu-memory",
                   help="memory of one GPU, e.g. 4GiB, 4GB, 4096MiB (default: detected; none: no limit)")
    p.add_argument("--size", type=int, help="training image size in px (default: the space's)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plan)
