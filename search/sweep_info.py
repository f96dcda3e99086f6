"""``sweep.json`` as one typed, versioned record: :class:`SweepInfo`, its one reader and its one writer.

``sweep.json`` says how a sweep was launched (space, data, budget, metric, scheduler, resources,
versions, command line) and how it went on (finished or interrupted, extended, resumed, wall time).
:meth:`SweepInfo.load` reads it and :meth:`SweepInfo.save` is the only code that writes it (atomic,
:func:`search.rundir.write_json_atomic`).

Versions: a file records ``"format": FORMAT``. Files written before the format existed (no
``format``) are read the way the code always read them: a key they lack gets the value its readers
assumed (``lab_mode`` ``"float"``, ``pool_side`` None, no objectives or constraints, ...). Keys this
version does not know are kept in ``extra`` (also inside ``data``, ``scheduler`` and ``resources``)
and written back, so a rewrite loses nothing. A file of a newer format is refused (ValueError).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Mapping

from colorize_core.errors import InvalidValueError, MissingFileError
from search.rundir import SWEEP_FILE, read_json_file, write_json_atomic

__all__ = ["FORMAT", "SweepInfo", "DataInfo", "SchedulerInfo", "Resources"]

#: The ``sweep.json`` format this version writes (and the newest it reads).
FORMAT = 1


class _Record:
    """A JSON object as a dataclass: the fields in file order, unknown keys kept in ``extra``.

    Fields named in ``_OPTIONAL`` are written only when set (not None): the file has those keys only
    when they apply. Nested records are read and written with their own ``from_dict``/``to_dict``.
    """

    _OPTIONAL: ClassVar[frozenset[str]] = frozenset()
    _NESTED: ClassVar[dict[str, type]] = {}
    _WHAT: ClassVar[str] = "sweep.json"
    _RESERVED: ClassVar[frozenset[str]] = frozenset()  # keys read and written by the record itself

    @classmethod
    def _values(cls, d: Any) -> tuple[dict, dict]:
        """(known field values, unknown keys) of a JSON object; None or a missing object reads as ``{}``."""
        if d is None:
            d = {}
        if not isinstance(d, Mapping):
            raise InvalidValueError(f"{cls._WHAT} should be a JSON object, not {type(d).__name__}: {d!r:.80}")
        names = [f.name for f in fields(cls) if f.name != "extra"]
        values = {}
        for name in names:
            if name not in d:
                continue
            nested = cls._NESTED.get(name)
            values[name] = nested.from_dict(d[name]) if nested is not None else d[name]
        for name, nested in cls._NESTED.items():
            if name not in values:
                values[name] = nested()
        return values, {k: v for k, v in d.items() if k not in names and k not in cls._RESERVED}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None):
        values, extra = cls._values(d)
        return cls(**values, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if value is None and f.name in self._OPTIONAL:
                continue
            out[f.name] = value.to_dict() if isinstance(value, _Record) else value
        out.update({k: v for k, v in self.extra.items() if k not in out})
        return out


@dataclass
class DataInfo(_Record):
    """``sweep.json``'s ``data``: where the images came from and how they were prepared and split."""

    _WHAT: ClassVar[str] = "sweep.json's data"

    source: Any = None            # "demo", one folder, or a list of folders (records.data_source reads it)
    fingerprint: str | None = None
    size: int | None = None       # the crop side in pixels
    pool_side: int | None = None  # None: a run made before photo pools (reloaded without one)
    lab_mode: str = "float"       # runs made before lab modes were float
    split: list[int] | None = None  # [train, val, test] image counts
    skipped: int | None = None    # unreadable files skipped
    cache_path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class SchedulerInfo(_Record):
    """``sweep.json``'s ``scheduler``: ASHA on epochs (``name`` ``"asha"``) or none (``"none"``)."""

    _WHAT: ClassVar[str] = "sweep.json's scheduler"
    _OPTIONAL: ClassVar[frozenset[str]] = frozenset({"metric"})

    name: str = "asha"            # runs made before --scheduler used ASHA
    time_attr: str = "epoch"
    grace_period: int = 1
    reduction_factor: int = 2
    max_t: int | None = None      # the sweep's max_epochs
    metric: str | None = None     # "tradeoff" for a several-objective sweep; else not written
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Resources(_Record):
    """``sweep.json``'s ``resources``: what one trial asks of Ray, and how many run at once."""

    _WHAT: ClassVar[str] = "sweep.json's resources"

    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    concurrency: int | None = None  # None: as many as the resources allow
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class SweepInfo(_Record):
    """A run directory's ``sweep.json``: how the sweep was launched and how it went on.

    Fields are in the file's key order. The last seven are written only when set: ``objectives``
    (a several-objective sweep), ``constraints`` (when any), ``finished`` / ``interrupted`` (how
    the last loop ended), ``wall_time_s`` (of the first run), ``extensions`` (``resume --trials +N``)
    and ``resumed`` (how many resumes). ``space``, ``memory`` and ``versions`` stay plain dicts
    (a space is read with :func:`spaces.space_from_dict`).
    """

    FORMAT: ClassVar[int] = FORMAT
    _RESERVED: ClassVar[frozenset[str]] = frozenset({"format"})
    _OPTIONAL: ClassVar[frozenset[str]] = frozenset(
        {"objectives", "constraints", "finished", "interrupted", "wall_time_s", "extensions", "resumed"})
    _NESTED: ClassVar[dict[str, type]] = {"data": DataInfo, "scheduler": SchedulerInfo, "resources": Resources}

    name: str | None = None
    run_dir: str | None = None
    space: dict[str, Any] = field(default_factory=dict)        # SearchSpace.to_dict()
    data: DataInfo = field(default_factory=DataInfo)
    trials: int | None = None          # trials planned; None: as many as the time budget allows
    time_budget_s: float | None = None
    max_epochs: int | None = None
    metric: str | None = None          # the first objective's metric, which ranks trials
    mode: str | None = None            # "min" or "max"
    seed: int = 0
    scheduler: SchedulerInfo = field(default_factory=SchedulerInfo)
    searcher: str | None = None        # "optuna-tpe", "optuna-random" or "grid"
    resources: Resources = field(default_factory=Resources)
    memory: dict[str, Any] = field(default_factory=dict)       # the memory plan: budget_bytes, fit_batch, ...
    address: str | None = None         # the Ray cluster joined, if any
    versions: dict[str, Any] = field(default_factory=dict)     # package versions of the run
    command_line: str | None = None
    created: str | None = None
    objectives: list[dict] | None = None    # [{"metric", "mode"}, ...] of a several-objective sweep
    constraints: list[dict] | None = None   # spaces.objectives.Constraint.to_dict() of each
    finished: str | None = None             # when the last loop ended on its own
    interrupted: dict | None = None         # {"at", "why"} when the last loop was stopped
    wall_time_s: float | None = None
    extensions: list[dict] | None = None    # {"extra_trials", "warm_start", "at"} per resume --trials +N
    resumed: int | None = None              # how many resumes ran
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "SweepInfo":
        """A ``sweep.json`` object of this format or an older one (ValueError for a newer one)."""
        version = (d or {}).get("format", 0) if isinstance(d, Mapping) else 0
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise InvalidValueError(f"sweep.json has an unreadable format {version!r} (expected a whole number up to "
                                    f"{FORMAT}); restore it from a backup")
        if version > FORMAT:
            raise InvalidValueError(f"sweep.json has format {version}: it was written by a newer colorsweep (this one reads "
                                    f"formats up to {FORMAT}); upgrade colorsweep to use this run directory")
        values, extra = cls._values(d)
        return cls(**values, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        """The ``sweep.json`` object: ``format`` first, then the keys in their order (unknown ones last)."""
        return {"format": FORMAT, **super().to_dict()}

    @classmethod
    def load(cls, run_dir: str | os.PathLike) -> "SweepInfo":
        """``RUN_DIR/sweep.json``; FileNotFoundError that says what a run directory is, ValueError when the
        file is damaged or of a newer format."""
        path = Path(run_dir) / SWEEP_FILE
        if not path.exists():
            raise MissingFileError(
                f"{run_dir} is not a colorsweep run directory (no {SWEEP_FILE}); "
                "pass the folder `colorsweep run` printed, e.g. ./colorsweep-runs/<name>"
            )
        try:
            return cls.from_dict(read_json_file(path, "how the sweep was launched"))
        except ValueError as exc:  # name the file: "RUN/sweep.json has format 2: ..."
            message = str(exc)
            if message.startswith(SWEEP_FILE):
                message = f"{path}{message[len(SWEEP_FILE):]}"
            raise InvalidValueError(message if message.startswith(str(path)) else f"{path}: {message}") from None

    def save(self, run_dir: str | os.PathLike) -> None:
        """Write ``RUN_DIR/sweep.json`` atomically (the one writer of that file)."""
        write_json_atomic(Path(run_dir) / SWEEP_FILE, self.to_dict())
