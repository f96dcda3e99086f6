"""Ray processes do not outlive their driver: a watchdog that ends them when the driver dies.

``ray.init()`` without an address starts a local Ray (GCS, raylet, agents, trial workers) as
children of the driver. When the driver is killed (``kill -9``, the OOM killer) the GCS and raylet
follow within seconds, but Ray's per-node agents wait minutes for a GCS that is gone, and a trial
worker could still write into the run directory. :func:`start_watchdog` forks a small process that
notes the driver's descendants every half second and, once the driver is gone (the pipe it holds
closes), sends them SIGTERM and, two seconds later, SIGKILL. Linux only (it reads ``/proc``);
elsewhere it does nothing. A cluster joined with ``--address`` is not ours to stop and is not watched.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

__all__ = ["start_watchdog"]

_PROC = "/proc"
_watchdog: subprocess.Popen | None = None


def start_watchdog() -> subprocess.Popen | None:
    """Start (once per driver process) the watchdog of this process's descendants; None off Linux."""
    global _watchdog
    if _watchdog is not None and _watchdog.poll() is None:
        return _watchdog
    if not os.path.isdir(os.path.join(_PROC, str(os.getpid()))):
        return None
    _watchdog = subprocess.Popen(
        [sys.executable, "-m", "search.watchdog", str(os.getpid())],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C to the terminal's process group must not end it first
    )
    return _watchdog


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time in clock ticks) of ``pid``, or None when it is gone."""
    try:
        with open(f"{_PROC}/{pid}/stat", "rb") as handle:
            text = handle.read().decode(errors="replace")
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()
    return int(fields[1]), int(fields[19])


def _descendants(root: int) -> dict[int, int]:
    """{pid: start time} of every living descendant of ``root``."""
    parents: dict[int, tuple[int, int]] = {}
    for name in os.listdir(_PROC):
        if name.isdigit():
            info = _stat(int(name))
            if info:
                parents[int(name)] = info
    found: dict[int, int] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, start) in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = start
                frontier.append(pid)
    return found


def _signal_alive(known: dict[int, int], sig: int) -> int:
    alive = 0
    for pid, start in known.items():
        info = _stat(pid)
        if info is None or info[1] != start:  # gone, or the pid now belongs to another process
            continue
        try:
            os.kill(pid, sig)
            alive += 1
        except OSError:
            pass
    return alive


def watch(driver: int, *, interval_s: float = 0.5, grace_s: float = 2.0) -> None:
    """Note ``driver``'s descendants until stdin closes, then end those still alive."""
    known: dict[int, int] = {}
    me = os.getpid()
    while True:
        ready, _, _ = select.select([sys.stdin], [], [], interval_s)
        if ready and not os.read(sys.stdin.fileno(), 4096):
            break  # the driver is gone: its end of the pipe closed
        if _stat(driver) is None:
            break
        known.update({pid: start for pid, start in _descendants(driver).items() if pid != me})
    if _signal_alive(known, signal.SIGTERM):
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(
                (_stat(pid) or (0, -1))[1] == start for pid, start in known.items()):
            time.sleep(0.1)
        _signal_alive(known, signal.SIGKILL)


if __name__ == "__main__":  # pragma: no cover - run as a subprocess by start_watchdog
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch(int(sys.argv[1]))
