"""Repairing what a full disk or a kill left in a run directory, so that Ray can restore the sweep.

Incomplete checkpoints put aside for the last complete one, empty error files removed
(:func:`repair_broken_writes`), checkpoints that Ray's saved state names but a newer one replaced
renamed back (:func:`repair_replaced_checkpoints`), and the trials whose error was never written
(:func:`_trials_with_unwritten_errors`).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from search.records import trial_path
from search.resume_point import checkpoint_complete as _checkpoint_complete
from search.resume_point import resumable_checkpoint
from search.rundir import read_trial_entries
from search.sweep.ray_session import trial_dir_name

def _trials_with_unwritten_errors(run_dir: Path) -> list[str]:
    """Trials whose ``error.txt`` is empty: they failed while the disk was full (resumable)."""
    out = []
    for path in run_dir.glob("trial_*/error.txt"):
        try:
            if path.stat().st_size == 0:
                out.append(path.parent.name[len("trial_"):])
        except OSError:
            continue
    return out


def repair_broken_writes(run_dir: str | os.PathLike) -> list[str]:
    """Undo what a full disk (or a crash mid-write) left in the trial folders; returns a note per fix.

    * A ``checkpoint_*`` folder that is incomplete (its ``last.keras`` cut short, no ``state.json``)
      is renamed ``broken_checkpoint_*`` (kept, not deleted), and the newest complete older one of
      that trial takes its name, so Ray restores the trial from that epoch instead of failing on
      the broken file.
    * Empty ``error.txt`` / ``error.pkl`` files (Ray could not write the error) are removed: they hold
      nothing, and Ray fails reading an empty pickle back.
    """
    run_dir = Path(run_dir)
    notes = []
    for trial_dir in sorted(p for p in run_dir.glob("trial_*") if p.is_dir()):
        for name in ("error.txt", "error.pkl"):
            empty = trial_dir / name
            if empty.is_file() and empty.stat().st_size == 0:
                empty.unlink()
        checkpoints = sorted(trial_dir.glob("checkpoint_*"))
        for index, folder in enumerate(checkpoints):
            if _checkpoint_complete(folder):
                continue
            aside = folder.with_name("broken_" + folder.name)
            os.replace(folder, aside)
            older = [c for c in checkpoints[:index] if c.exists() and _checkpoint_complete(c)]
            if older:
                os.replace(older[-1], folder)
                notes.append(f"{trial_dir.name}: {folder.name} was cut short (kept as {aside.name}); "
                             f"resuming from {older[-1].name}'s epoch")
            else:
                notes.append(f"{trial_dir.name}: {folder.name} was cut short (kept as {aside.name}); no complete "
                             f"checkpoint before it, so the trial starts again")
    return notes


def _restored_checkpoint_name(metadata: dict) -> str | None:
    """The ``checkpoint_*`` folder Ray will restore a trial from: the newest one its checkpoint
    manager holds (Ray saves the manager pickled, as hex, inside the trial's run metadata), else the
    one its last result names. The two differ when the state was saved between a checkpoint's
    registration and its result."""
    names: set[str] = set()
    manager = metadata.get("checkpoint_manager")
    if isinstance(manager, dict) and isinstance(manager.get("value"), str):
        try:
            names.update(m.decode() for m in re.findall(rb"checkpoint_\d{6}", bytes.fromhex(manager["value"])))
        except ValueError:
            pass
    if names:
        return max(names)
    return (metadata.get("last_result") or {}).get("checkpoint_dir_name")


def repair_replaced_checkpoints(run_dir: str | os.PathLike) -> list[str]:
    """Make every checkpoint that Ray's saved experiment state names exist again; returns a note per fix.

    Ray saves its experiment state every few seconds (not at every checkpoint: that rewrite of every
    trial's state costs O(trials) per checkpoint), and the monitor keeps only each trial's newest
    checkpoint folder. A sweep killed between a newer checkpoint and Ray's next save leaves a state
    naming a folder that is gone, and Ray refuses to restore that trial ("Could not recover from
    checkpoint as it does not exist on storage anymore"). The trial's folder of the latest epoch the
    records hold (:func:`resumable_checkpoint`) is then renamed to the name the state expects; the
    trial resumes from that epoch (``fit`` reads the epoch from the checkpoint's ``state.json``, not
    from the folder name). Reads the newest ``experiment_state-*.json``, the one ``Tuner.restore`` uses.
    """
    run_dir = Path(run_dir)
    states = sorted(run_dir.glob("experiment_state-*.json"))
    if not states:
        return []
    try:
        trial_data = json.loads(states[-1].read_text()).get("trial_data", [])
    except (OSError, json.JSONDecodeError):
        return []  # Ray will say what is wrong with its own file
    try:
        recorded = read_trial_entries(run_dir)
    except (OSError, ValueError):
        recorded = {}
    recorded = recorded if isinstance(recorded, dict) else {}
    notes = []
    for entry in trial_data:
        try:
            trial_id = json.loads(entry[0])["trial_id"]
            metadata = json.loads(entry[1])
            named = _restored_checkpoint_name(metadata)
        except (TypeError, IndexError, KeyError, json.JSONDecodeError):
            continue
        trial_dir = trial_path(run_dir, (recorded.get(trial_id) or {}).get("trial_dir") or trial_dir_name(trial_id))
        if not named or not trial_dir.is_dir() or (trial_dir / named).exists():
            continue
        epochs = (recorded.get(trial_id) or {}).get("epochs")
        found = resumable_checkpoint(trial_dir, recorded_elsewhere=epochs if isinstance(epochs, int) else 0)
        if found is not None:
            os.replace(found, trial_dir / named)
            notes.append(f"trial {trial_id}: Ray's saved state names {named}, which {found.name} had replaced "
                         f"when the sweep stopped; resuming from {found.name}'s epoch")
    return notes
