"""The errors colorsweep raises on purpose: what was asked for or given cannot be done, and the message says what to do.

Every one is a :class:`ColorsweepError`; the command line prints its message as one line and exits 2.
Anything else that escapes is a bug and shows its traceback. Each class is also the built-in
exception it refines (``InvalidValueError`` is a ``ValueError``, ``MissingFileError`` a
``FileNotFoundError``), so ``except ValueError`` and callers written against the built-ins keep working.
"""

from __future__ import annotations

__all__ = ["ColorsweepError", "InvalidValueError", "MissingFileError", "ExistingFileError"]


class ColorsweepError(Exception):
    """Base of the errors colorsweep raises on purpose (bad input, a missing or existing file)."""


class InvalidValueError(ColorsweepError, ValueError):
    """A value (argument, setting, file content) that colorsweep cannot use; the message names it and what is allowed."""


class MissingFileError(ColorsweepError, FileNotFoundError):
    """A file or folder colorsweep needs is not there (a run directory, a model, an image folder)."""


class ExistingFileError(ColorsweepError, FileExistsError):
    """Something is already where colorsweep would write, and it will not overwrite it unasked."""
