"""YAML reading and writing for spaces: safe, strict about duplicate keys, friendly to ``1e-4``.

PyYAML follows YAML 1.1, where ``1e-4`` (no dot) and ``1.0e4`` (unsigned exponent) are *strings*;
a space file that writes a learning rate that way would fail validation with a confusing type
error, so the loader here also reads them as floats.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

__all__ = ["parse_yaml", "dump_yaml"]


class _Loader(yaml.SafeLoader):
    """SafeLoader + scientific floats without a dot + an error on duplicate mapping keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # unhashable key: let the base class report it
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"found duplicate key {key!r}", key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_yaml(text: str) -> Any:
    """Parse one YAML document (raises ``yaml.YAMLError`` on bad syntax or duplicate keys)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader


def dump_yaml(data: Any) -> str:
    """Block-style YAML keeping the mapping order (plain Python data only)."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, allow_unicode=True)
