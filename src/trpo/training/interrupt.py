"""Ctrl-C and SIGTERM during training: finish the env step under way, save, and say how to resume.

A signal handler that raised at an arbitrary point could land inside a checkpoint write or a
jitted call. Instead `StopOnSignal` only records the signal; the sampler and the training loop
look at it between env steps and raise `TrainingInterrupted` there. A second Ctrl-C while the
checkpoint is written falls back to Python's default (KeyboardInterrupt): the write is atomic.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(Exception):
    """Training stopped on a signal between two env steps. The exit status is 128 + signum
    (130 for Ctrl-C, 143 for SIGTERM)."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class StopOnSignal:
    """Context manager: while inside, SIGINT and SIGTERM set `signum` instead of stopping the
    process. In a thread other than the main one (where handlers cannot be set) it does nothing."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # asked twice: stop now
        self.signum = signum

    def check(self) -> None:
        """Raise TrainingInterrupted if a signal arrived."""
        if self.signum is not None:
            raise TrainingInterrupted(self.signum)
