"""Built-in spaces (YAML files shipped inside this package) and loading spaces by name or path."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import yaml

from ._errors import SpaceError
from ._space import SearchSpace
from ._validate import space_from_dict
from ._yaml import parse_yaml
from colorize_core.suggest import did_you_mean

__all__ = ["list_spaces", "load_space", "space_from_yaml"]

_SUFFIXES = (".yaml", ".yml")


def _package_files():
    return resources.files(__package__)


def list_spaces() -> list[str]:
    """Names of the built-in spaces, sorted (the ``*.yaml`` files of this package)."""
    return sorted(
        entry.name[: -len(".yaml")]
        for entry in _package_files().iterdir()
        if entry.is_file() and entry.name.endswith(".yaml") and not entry.name.startswith(("_", "."))
    )


def space_from_yaml(text: str, *, name: str | None = None, source: str = "<string>") -> SearchSpace:
    """Parse and validate a space written in YAML; ``name`` is used when the text sets none.

    Errors name ``source`` (a file path or built-in name) before the offending key.
    """
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as exc:
        raise SpaceError(f"{source}: not valid YAML: {exc}") from None
    if data is None:
        raise SpaceError(f"{source}: the space is empty; it needs at least params or fixed with an arch")
    try:
        return space_from_dict(data, name=name)
    except SpaceError as exc:
        raise SpaceError(f"{source}: {exc}") from None


def load_space(name_or_path: str | os.PathLike | SearchSpace) -> SearchSpace:
    """A built-in space by name (see :func:`list_spaces`) or a space file (``.yaml`` / ``.yml``).

    A file's name defaults to its stem. A :class:`SearchSpace` is returned unchanged. Raises
    :class:`SpaceError` for an unknown name (listing the built-in ones), a missing or unreadable
    file, or an invalid space.
    """
    if isinstance(name_or_path, SearchSpace):
        return name_or_path
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise SpaceError(f"space must be a built-in name or a path to a .yaml/.yml file, got {name_or_path!r}")
    text = os.fspath(name_or_path)
    builtins = list_spaces()
    if isinstance(name_or_path, str) and text in builtins:
        resource = _package_files() / f"{text}.yaml"
        return space_from_yaml(resource.read_text(encoding="utf-8"), name=text, source=f"built-in space {text!r}")
    path = Path(text).expanduser()
    looks_like_path = path.suffix.lower() in _SUFFIXES or os.sep in text or (os.altsep or os.sep) in text
    if not looks_like_path and not path.is_file():
        raise SpaceError(
            f"unknown space {text!r}{did_you_mean(text, builtins)}; built-in spaces: {', '.join(builtins)}; "
            f"or pass a path to a .yaml/.yml space file"
        )
    if path.suffix.lower() not in _SUFFIXES:
        raise SpaceError(f"space file {text!r} must end in .yaml or .yml; built-in spaces: {', '.join(builtins)}")
    if not path.is_file():
        raise SpaceError(f"space file {text!r} does not exist; built-in spaces: {', '.join(builtins)}")
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpaceError(f"space file {text!r} cannot be read: {exc}") from None
    return space_from_yaml(content, name=path.stem, source=str(path))
