"""The reaper: a small process that outlives the gate only to clean up after it, however the gate ends.

The gate starts one (`Reaper.ensure()`) before its first worker, in a session of its own, and tells it on a pipe
which process groups (each worker leads one, with everything the implementation started in it) and which
temporary folders are the run's, and which are gone again. When the pipe closes (the gate exited, returned,
raised, or was SIGKILLed: the kernel closes its end either way), the reaper SIGKILLs every group still listed,
removes every folder still listed, and exits. It imports nothing but the standard library.

    python -m mlpbench.isolation.reaper      # reads "group N", "ungroup N", "dir PATH", "undir PATH" lines
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from typing import IO


def serve(commands: IO[str]) -> None:
    groups: set[int] = set()
    folders: set[str] = set()
    for line in commands:
        verb, _, value = line.rstrip("\n").partition(" ")
        if verb == "group":
            groups.add(int(value))
        elif verb == "ungroup":
            groups.discard(int(value))
        elif verb == "dir":
            folders.add(value)
        elif verb == "undir":
            folders.discard(value)
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


class Reaper:
    """The gate's side: one reaper process for the gate's lifetime."""

    _instance: Reaper | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "mlpbench.isolation.reaper"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, text=True, start_new_session=True, close_fds=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
        )
        self._pid = os.getpid()

    @classmethod
    def ensure(cls) -> Reaper:
        with cls._lock:
            if cls._instance is None or cls._instance._pid != os.getpid():
                cls._instance = cls()
            return cls._instance

    def tell(self, verb: str, value: object) -> None:
        stdin = self._process.stdin
        if stdin is None:
            return
        try:
            stdin.write(f"{verb} {value}\n")
            stdin.flush()
        except (BrokenPipeError, ValueError):  # the reaper is gone: cleanup stays with the gate's own hooks
            pass


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the gate's; the reaper waits for it to end
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    serve(sys.stdin)
