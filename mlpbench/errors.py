"""The errors every command shares: a usage error (exit 2) and an interruption by a signal (exit 128 + signal).

Commands import these from here, never from `mlpbench.cli`, so nothing below the command line depends on it.
"""

from __future__ import annotations

import signal


class UsageError(Exception):
    """A problem with how the command was called; reported in one line with exit code 2."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, handled like Ctrl-C: the command stops, writes what it has marked interrupted, and
    exits 128 + the signal's number (143, 129). Ctrl-C itself stays a plain KeyboardInterrupt (130)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def interrupted_exit_code(stop: BaseException) -> int:
    """128 + the signal that stopped the run: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP."""
    return 128 + int(getattr(stop, "signum", signal.SIGINT))
