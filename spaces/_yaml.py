"""YAML reading and writing for spaces: safe, strict about duplicate keys, friendly to ``1e-4``.

PyYAML follows YAML 1.1, where ``1e-4`` (no dot) and ``1.0e4`` (unsigned exponent) are *strings*;
a space file that writes a learning rate that way would fail validation with a confusing type
error, so the loader here also reads them as floats.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

__all__ = ["parse_yaml", "dump_yaml", "FlowMap"]


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


class FlowMap(dict):
    """A dict that :func:`dump_yaml` writes on one line (``{choice: [adam, sgd]}``)."""


class _Dumper(yaml.SafeDumper):
    """Block-style mappings, one-line lists and :class:`FlowMap` s."""


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)


def _represent_flow_map(dumper: yaml.SafeDumper, data: FlowMap) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=True)


def _represent_dict(dumper: yaml.SafeDumper, data: dict) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=False)


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(tuple, _represent_list)
_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(FlowMap, _represent_flow_map)


def dump_yaml(data: Any) -> str:
    """YAML keeping the mapping order: block mappings, one-line lists and :class:`FlowMap` s."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
