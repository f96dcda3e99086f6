"""Ctrl-C and SIGTERM stop a sweep cleanly: trials checkpointed, state saved, report written, exit 130 / 143.

Ray Tune stops its loop gracefully on SIGUSR1 (``ray.tune.tune._setup_signal_catching``): it saves
the experiment state one last time and returns. :class:`StopSignals` routes SIGINT and SIGTERM
there while the tuning loop runs (Ray's own SIGINT handler is switched off with
``TUNE_DISABLE_SIGINT_HANDLER`` so that the two signals behave the same, and Ray's SIGTERM handler,
which kills its processes and exits 1 mid-write, is replaced). Outside the loop (data loading, the
report) the first signal raises :class:`Interrupted`. A second signal always stops at once.
"""

from __future__ import annotations

import os
import signal
import threading

__all__ = ["Interrupted", "StopSignals", "exit_status"]

os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")


class Interrupted(KeyboardInterrupt):
    """The user (SIGINT) or the system (SIGTERM) asked the sweep to stop."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_status(signum: int) -> int:
    """The shell's exit status for a process ended by ``signum``: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + int(signum)


class StopSignals:
    """Context manager: SIGINT/SIGTERM stop the sweep gracefully; ``received`` is the first signal."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.in_loop = False
        self.forwarded = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            signals = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGUSR1] if hasattr(signal, "SIGUSR1") else [])
            for sig in signals:
                self._previous[sig] = signal.getsignal(sig)
            signal.signal(signal.SIGINT, self._handle)
            signal.signal(signal.SIGTERM, self._handle)
            if hasattr(signal, "SIGUSR1"):  # until Ray's loop installs its own: no stale handler of an earlier run
                signal.signal(signal.SIGUSR1, self._not_ray)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def request(self, signum: int) -> None:
        """Ask the running loop to stop (as a signal would), e.g. when the disk is full."""
        if self.received is None:
            self._handle(signum, None)

    def _not_ray(self, signum, frame) -> None:
        """SIGUSR1 before Ray's loop installed its handler: stop like SIGTERM."""
        self._handle(signal.SIGTERM, frame)

    def _handle(self, signum, frame) -> None:
        if self.received is not None:
            raise Interrupted(self.received)  # second signal: stop now
        self.received = signum
        if self.in_loop:
            self.forward()  # now, or at the loop's next step (SweepMonitor.on_step_begin)
            return
        raise Interrupted(signum)

    def forward(self) -> None:
        """Hand a received stop to Ray Tune's loop once its SIGUSR1 handler is installed (graceful stop:
        trials checkpointed, experiment state saved, ``Tuner.fit`` returns)."""
        if self.received is None or self.forwarded or not hasattr(signal, "SIGUSR1"):
            return
        ray_handler = signal.getsignal(signal.SIGUSR1)
        if callable(ray_handler) and ray_handler != self._not_ray:
            self.forwarded = True
            ray_handler(signal.SIGUSR1, None)
