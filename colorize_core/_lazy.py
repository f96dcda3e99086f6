"""``keras``, imported on first use: modules that only *name* models, losses and optimizers (the
registries, which search spaces and ``colorsweep spaces`` / ``models`` read) then load without the
backend (TensorFlow takes seconds to import and prints its start-up lines)."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["keras"]


class LazyModule:
    """Stands for the module ``name`` and imports it at the first attribute access."""

    def __init__(self, name: str) -> None:
        self._name = name

    def _load(self) -> ModuleType:
        return importlib.import_module(self._name)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._load(), attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


keras: Any = LazyModule("keras")
