"""``colorsweep models``, ``colorsweep spaces`` and ``colorsweep data inspect``: what there is to choose from."""

from __future__ import annotations

import json

from search.cli._output import (DESCRIPTION_WIDTH, UserError, add_json_flag, apply_max_megapixels, clip, data_arg,
                                emit, format_table, format_value, param_count, positive_int)

__all__ = ["add_parsers", "cmd_models", "cmd_spaces", "cmd_data_inspect"]


def cmd_models(args) -> int:
    """List the architectures with their parameter counts at ``--size``."""
    from colorize_core.models import default_param_count, list_models, model_info

    rows = []
    for name in list_models():
        info = model_info(name)
        rows.append({
            "name": name,
            "params": default_param_count(name, args.size),
            "family": getattr(info, "family", None),
            "output": getattr(info, "default_output_activation", getattr(info, "output_activation", None)),
            "description": info.description,
        })
    shown = [{**row, "params": param_count(row["params"]),
              "description": clip(row["description"].replace("``", ""), DESCRIPTION_WIDTH)} for row in rows]
    emit(args, rows, f"architectures (parameters at {args.size}x{args.size}):\n" + format_table(shown))
    return 0


def cmd_data_inspect(args) -> int:
    """Counts, sizes and every skipped file of a data set, with its reason."""
    from colorize_core.data import inspect_data

    apply_max_megapixels(args)
    summary = inspect_data(data_arg(args.path), size=args.size)
    if args.json:
        print(json.dumps(summary, indent=1, default=str))
        return 0
    skipped = summary.get("skipped", [])
    ignored = summary.get("ignored") or {}
    lines = [f"{k}: {v}" for k, v in summary.items() if k != "skipped" and not isinstance(v, (list, dict))]
    for key, value in summary.items():
        if key == "ignored":
            lines.append("ignored (not image files searched): " + (
                ", ".join(f"{n} {ext}" for ext, n in ignored.items()) if ignored else "none"))
        elif key == "original_size" and isinstance(value, dict):
            lines.append("original size (px): " + ", ".join(
                f"{axis} {r.get('min'):g}–{r.get('max'):g} (median {r.get('median'):g})"
                for axis, r in value.items() if isinstance(r, dict) and r.get("min") is not None))
        elif key == "pool" and isinstance(value, dict):
            lines.append(f"training photos kept whole for random crops: {value.get('photos')}, short side shrunk to "
                         f"at most {value.get('short_side')} px ({value.get('megabytes', 0):.1f} MB)")
        elif isinstance(value, dict):
            lines.append(f"{key}: " + ", ".join(f"{k}={format_value(v)}" for k, v in value.items()))
    if skipped:
        lines.append(f"skipped {len(skipped)} file(s):")
        lines += [f"  {s['path']}: {s['reason']}" for s in skipped]
    else:
        lines.append("skipped: none")
    print("\n".join(lines))
    return 0


def cmd_spaces(args) -> int:
    """List the search spaces, or show one whole."""
    from spaces import describe_space, load_space, space_summary_rows

    if args.action == "show":
        if not args.space:
            raise UserError("usage: colorsweep spaces show NAME_OR_YAML")
        space = load_space(args.space)
        emit(args, space.to_dict(), describe_space(space))
        return 0
    rows = space_summary_rows()
    shown = [{**row, "description": clip(row.get("description"), DESCRIPTION_WIDTH)} for row in rows]
    emit(args, rows, format_table(shown) + "\n\nshow one (its whole description) with: colorsweep spaces show NAME")
    return 0


def add_parsers(sub) -> None:
    """Register ``models``, ``data inspect`` and ``spaces``."""
    p = sub.add_parser("models", help="list architectures with parameter counts")
    p.add_argument("--size", type=positive_int, default=128, help="image size in px (default 128)")
    add_json_flag(p)
    p.set_defaults(func=cmd_models, needs_backend=False)

    p = sub.add_parser("data", help="inspect a data set")
    dsub = p.add_subparsers(dest="data_command", required=True)
    pi = dsub.add_parser("inspect", help="counts, sizes and every skipped file with its reason")
    pi.add_argument("path", nargs="+", help="image folder(s) or 'demo'")
    pi.add_argument("--size", type=positive_int, default=128, help="image size in px (default 128)")
    pi.add_argument("--max-megapixels", type=float, help="skip images larger than this (default 50; checked before decoding)")
    add_json_flag(pi)
    pi.set_defaults(func=cmd_data_inspect, needs_backend=False)

    p = sub.add_parser("spaces", help="list search spaces, or `spaces show NAME`")
    p.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    p.add_argument("space", nargs="?")
    add_json_flag(p)
    p.set_defaults(func=cmd_spaces, needs_backend=False)
