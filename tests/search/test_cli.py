"""The command line's shared pieces: the table layout, --json output, argument types, exit statuses."""

from __future__ import annotations

import argparse
import json

import pytest

from search.cli import build_parser, main
from search.cli._output import (UserError, apply_max_megapixels, clip, count, duration, emit, int_at_least,
                                param_count, unit_interval)
from search.tables import format_table, format_value


def test_format_table_pads_columns_and_writes_values_plainly():
    text = format_table([{"name": "unet", "loss": 0.123456, "ok": True}, {"name": "basic", "loss": None, "ok": False}])
    lines = text.splitlines()
    assert lines[0].split() == ["name", "loss", "ok"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].split() == ["unet", "0.1235", "yes"] and lines[3].split() == ["basic", "-", "no"]
    column = lines[0].index("loss")  # every row's value starts under its header
    assert lines[2][column:].startswith("0.1235") and lines[3][column:].startswith("-")
    assert lines[1].index(" ") == len("basic")  # the first column is as wide as its widest cell
    assert format_table([]) == "(nothing to show)"
    assert format_table([], ["a", "b"], empty=None).splitlines()[0].split() == ["a", "b"]


def test_format_table_takes_the_callers_cell_format():
    text = format_table([{"lr": 0.001}], cell=lambda value, column: f"<{column}={value}>")
    assert "<lr=0.001>" in text


@pytest.mark.parametrize("value, text", [(None, "-"), (True, "yes"), (12.3456, "12.35"), (0.5, "0.5"),
                                         (1e-5, "1e-05"), (123456.0, "1.23e+05"), (float("nan"), "nan"), (7, "7")])
def test_format_value(value, text):
    assert format_value(value) == text


def test_emit_prints_json_or_text(capsys):
    emit(argparse.Namespace(json=True), {"a": 1}, "text")
    assert json.loads(capsys.readouterr().out) == {"a": 1}
    emit(argparse.Namespace(json=False), {"a": 1}, "text")
    assert capsys.readouterr().out == "text\n"


def test_small_formatters():
    assert clip("abcdefgh", 5) == "abcd…" and clip("abc", 5) == "abc" and clip(None, 5) is None
    assert param_count(46_700) == "46.7 k" and param_count(1_930_000) == "1.93 M" and param_count(12) == "12"
    assert duration(42) == "42 s" and duration(750) == "12.5 min" and duration(7560) == "2.1 h"
    assert count(1, "trial") == "1 trial" and count(3, "trial") == "3 trials"


def test_argument_types_say_what_was_wrong():
    at_least_2 = int_at_least(2)
    assert at_least_2("3") == 3
    with pytest.raises(argparse.ArgumentTypeError, match="whole number"):
        at_least_2("x")
    with pytest.raises(argparse.ArgumentTypeError, match="2 or more"):
        at_least_2("1")
    assert unit_interval("0.25") == 0.25
    with pytest.raises(argparse.ArgumentTypeError, match=r"\[0, 1\]"):
        unit_interval("1.5")


def test_max_megapixels_must_be_positive(monkeypatch):
    from colorize_core.data import MAX_PIXELS_ENV

    monkeypatch.delenv(MAX_PIXELS_ENV, raising=False)
    with pytest.raises(UserError, match="positive"):
        apply_max_megapixels(argparse.Namespace(max_megapixels=0))
    apply_max_megapixels(argparse.Namespace(max_megapixels=2.5))
    import os

    assert os.environ[MAX_PIXELS_ENV] == "2500000"


def test_every_command_group_is_registered():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == {"run", "resume", "train", "models", "data", "spaces", "report", "plan", "export",
                                "colorize", "finetune"}


def test_a_user_error_is_one_line_and_exit_2(capsys):
    assert main(["spaces", "show"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("colorsweep: error: usage: colorsweep spaces show") and err.count("\n") == 1


def test_a_bad_argument_is_argparses_exit_2(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["models", "--size", "zero"])
    assert stop.value.code == 2 and "whole number" in capsys.readouterr().err


def test_a_bug_is_a_traceback_not_a_user_error(monkeypatch):
    """Only errors in what the user asked for become one line and exit 2; anything else propagates."""
    from search.cli import catalog

    def broken(args):
        raise KeyError("a bug")

    monkeypatch.setattr(catalog, "cmd_spaces", broken)
    with pytest.raises(KeyError):
        main(["spaces"])


def test_a_plain_value_error_is_a_bug_not_a_user_error(monkeypatch):
    """A ValueError that colorsweep did not raise on purpose (a library's, a bug's) keeps its traceback."""
    from search.cli import catalog

    def broken(args):
        raise ValueError("math domain error deep inside")

    monkeypatch.setattr(catalog, "cmd_spaces", broken)
    with pytest.raises(ValueError, match="math domain"):
        main(["spaces"])


def test_every_error_colorsweep_raises_on_purpose_is_a_colorsweep_error():
    from colorize_core.data import ImageError
    from colorize_core.errors import ColorsweepError, ExistingFileError, InvalidValueError, MissingFileError
    from search.rundir import RunLockedError
    from spaces import SpaceError
    from spaces.objectives import ObjectiveError

    for error in (ImageError, SpaceError, ObjectiveError, RunLockedError, UserError, InvalidValueError,
                  MissingFileError, ExistingFileError):
        assert issubclass(error, ColorsweepError), error
    assert issubclass(InvalidValueError, ValueError) and issubclass(MissingFileError, FileNotFoundError)


def test_the_project_raises_no_bare_builtin_errors_for_bad_input():
    """Bad input is raised as a colorize_core.errors type (exit 2 with one line), never as a bare ValueError,
    FileNotFoundError or FileExistsError, which the command line would show as a bug."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    bare = [f"{path.relative_to(root)}:{n}" for package in ("colorize_core", "spaces", "search")
            for path in (root / package).rglob("*.py")
            for n, line in enumerate(path.read_text().splitlines(), start=1)
            if re.search(r"raise (ValueError|FileNotFoundError|FileExistsError)\(", line)]
    assert not bare, bare


def test_a_space_error_is_one_line_and_exit_2(capsys):
    assert main(["spaces", "show", "no-such-space"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("colorsweep: error: unknown space 'no-such-space'") and err.count("\n") == 1
