"""(being written)"""


def add_commands(subparsers) -> None:
    """Register this module's `colorsweep` subcommands."""
