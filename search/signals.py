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
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.getsignal(sig)
                signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def request(self, signum: int) -> None:
        """Ask the running loop to stop (as a signal would), e.g. when the disk is full."""
        self._handle(signum, None)

    def _handle(self, signum, frame) -> None:
        if self.received is not None:
            raise Interrupted(self.received)  # second signal: stop now
        self.received = signum
        ray_handler = signal.getsignal(signal.SIGUSR1) if hasattr(signal, "SIGUSR1") else None
        if self.in_loop and callable(ray_handler):
            ray_handler(signal.SIGUSR1, frame)  # Ray Tune's graceful stop: save state, return from fit()
            return
        raise Interrupted(signum)
