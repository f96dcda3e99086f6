"""Where compiled programs are kept between processes: one persistent compilation cache per machine.

A sweep's trials are processes that compile the same few programs again and again (one structure —
architecture, optimizer, loss, batch size, precision — gives the same programs whatever the learning
rate or seed: :mod:`colorize_core.compilation`). Kept in the user's cache folder, a program compiled
once is loaded by every later trial of every run on that machine (a cluster node keeps its own):

    ~/.cache/colorsweep/compile/<backend and versions>/      ($COLORSWEEP_CACHE moves ~/.cache/colorsweep)

The folder is chosen by ``--compile-cache DIR|off`` or the environment variable
``COLORSWEEP_COMPILE_CACHE`` (the same values; ``off`` switches it off). A chosen DIR gets the same
version-named sub-folder, so a program is never served to another JAX, jaxlib, TensorFlow or Keras
version (JAX's own cache key adds the XLA flags, compile options and device kind).

A compiled program is code the process runs. Like a run's pickles (``search.rundir.check_trusted``),
the cache is refused when it, its parent or a file in it belongs to another user or is writable by
group or others (:func:`prepare_compile_cache` names the folder and the fix). Entries are written
whole or not at all (a temporary file renamed into place, see :func:`colorize_core._backend.use_compilation_cache`),
so concurrent writers and a writer killed mid-write leave no truncated program behind.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from colorize_core.errors import InvalidValueError

__all__ = ["COMPILE_CACHE_ENV", "MACHINE_CACHE", "UntrustedCompileCache", "resolve_compile_cache",
           "compile_cache_folder", "prepare_compile_cache", "version_tag"]

COMPILE_CACHE_ENV = "COLORSWEEP_COMPILE_CACHE"
#: The value that means "this machine's default folder" (each node resolves it for itself).
MACHINE_CACHE = "machine"
_OFF = ("off", "0", "false", "no", "none")


class UntrustedCompileCache(InvalidValueError):
    """The compilation cache folder could be written by someone else: refusing to run its programs."""


def resolve_compile_cache(choice: str | os.PathLike | None = None) -> str | None:
    """The compilation cache a run uses: ``choice`` (``--compile-cache``), else ``$COLORSWEEP_COMPILE_CACHE``,
    else :data:`MACHINE_CACHE`. Returns None for ``off``, :data:`MACHINE_CACHE`, or an absolute folder
    (before its version sub-folder, see :func:`compile_cache_folder`)."""
    value = os.fspath(choice).strip() if choice is not None else os.environ.get(COMPILE_CACHE_ENV, "").strip()
    if not value or value == MACHINE_CACHE:
        return MACHINE_CACHE
    if value.lower() in _OFF:
        return None
    return str(Path(value).expanduser().resolve())


def version_tag(backend: str | None = None) -> str:
    """The sub-folder name that keeps programs of one set of versions apart, e.g.
    ``jax-0.10.2-jaxlib-0.10.2-keras-3.15.1`` or ``tensorflow-2.21.0-keras-3.15.1``. Reads versions
    from package metadata (nothing is imported)."""
    from importlib import metadata

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "none"

    backend = backend or os.environ.get("KERAS_BACKEND", "tensorflow")
    parts = {"jax": ["jax", "jaxlib"], "tensorflow": ["tensorflow"]}.get(backend, [backend])
    return "-".join(f"{name}-{version(name)}" for name in parts + ["keras"])


def compile_cache_folder(resolved: str | None, backend: str | None = None) -> Path | None:
    """The folder programs go in for ``resolved`` (:func:`resolve_compile_cache`'s answer) under
    ``backend`` (default: ``$KERAS_BACKEND``): the version sub-folder of the chosen folder, or of
    ``~/.cache/colorsweep/compile`` for :data:`MACHINE_CACHE`; None when off."""
    if resolved is None:
        return None
    if resolved == MACHINE_CACHE:
        from colorize_core.data.cache import default_cache_dir

        root = default_cache_dir() / "compile"
    else:
        root = Path(resolved)
    return root / version_tag(backend)


def prepare_compile_cache(folder: str | os.PathLike) -> Path:
    """Create ``folder`` (only its owner may write it: mode 0700) and check that it can be trusted:
    the folder, its parent and every file in it belong to this user and are not writable by group or
    others. Raises :class:`UntrustedCompileCache` naming the path and the fix; :class:`OSError`
    when it cannot be created. Removes the temporary files of writers that were killed mid-write."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.mkdir(exist_ok=True, mode=0o700)
    me = os.geteuid()
    for item in [folder.parent, folder, *sorted(folder.iterdir())]:
        info = item.lstat()
        if info.st_uid != me:
            raise UntrustedCompileCache(
                f"the compilation cache {item} belongs to another user (uid {info.st_uid}); compiled programs are "
                f"code this process would run. Use a folder of your own (--compile-cache DIR or "
                f"{COMPILE_CACHE_ENV}=DIR), or --compile-cache off")
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not stat.S_ISLNK(info.st_mode):
            raise UntrustedCompileCache(
                f"the compilation cache {item} is writable by other users; compiled programs are code this process "
                f"would run, so anyone who can write them could run code as you. If you trust it, fix with: "
                f"chmod go-w {item} (or use --compile-cache off)")
    from colorize_core.files import remove_stale_temporaries

    remove_stale_temporaries(folder)
    return folder
