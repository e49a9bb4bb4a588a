"""Runs whose outcome several tests read happen once per session, whichever pytest-xdist worker asks first.

pytest-xdist hands out tests in chunks of consecutive tests; a module whose tests straddle two chunks has them
run in both workers, and a module-scoped fixture then runs once in each: the same bench grid, gate or matrix
twice. And the command-block test (README.md's and docs/'s) runs lines that other tests also need. `shared_runs` keeps
one record per session, in the folder above the workers' own temporary folders, and a lock per run that the
other workers wait on:

- `shared_runs.run(line)` runs a README-style command line (`.venv/bin/` standing for this interpreter's
  environment, `reports/` for one reports folder of this session) with bash in the checkout and records its
  exit status and output. The README's command block test runs its lines this way, and the tests that assert
  on what the same line does (`mlpbench list`, the gate on torch-cpu) read the same run: the command is run
  once, as printed, and checked by all of them.
- `shared_runs.once(name, produce)` calls `produce(folder)` once (a fixture's in-process runs: the bench grid
  of test_cli_bench.py, the two runs of test_cli_report.py, the matrix of test_cli_matrix.py) and gives every
  caller its JSON value; the tests only read what it wrote.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Ran:
    """What one command line did."""

    line: str  # as written, README-style
    command: str  # as run here
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return f"{self.line}\n{self.stdout[-2000:]}\n{self.stderr[-2000:]}"


class SharedRuns:
    """The session's record of command lines run (one folder shared by the session's pytest-xdist workers)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.reports = root / "reports"
        self.reports.mkdir(parents=True, exist_ok=True)

    def as_run_here(self, line: str) -> str:
        """The line with the README's `.venv/bin/` standing for this interpreter's environment and `reports/`
        for this session's reports folder (instead of the checkout's reports/)."""
        return line.replace(".venv/bin/", f"{Path(sys.executable).parent}/").replace("reports/", f"{self.reports}/")

    def run(self, line: str, timeout: float = 600.0) -> Ran:
        """`line` run with bash in the checkout, once per session: the first call runs it (holding a lock the
        other workers wait on), every call returns what that run did."""
        command = self.as_run_here(line)
        key = "run-" + hashlib.sha256(command.encode()).hexdigest()[:20]

        def produce(_: Path) -> dict[str, Any]:
            completed = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True,
                                       timeout=timeout)
            return {"returncode": completed.returncode, "stdout": completed.stdout, "stderr": completed.stderr}

        data = self.once(key, produce)
        return Ran(line, command, data["returncode"], data["stdout"], data["stderr"])

    def once(self, name: str, produce: Callable[[Path], Any]) -> Any:
        """`produce(folder)` (a folder of its own to write in) called once per session: every call with this
        name, in any worker, gets that call's value (JSON: tuples come back as lists, paths must be strings).
        A call that raised leaves no record, so the next caller tries again."""
        record = self.root / f"{name}.json"
        with self._locked(name):
            if not record.exists():
                folder = self.folder(name)
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir()
                record.write_text(json.dumps(produce(folder)))
        return json.loads(record.read_text())

    def folder(self, name: str) -> Path:
        """The folder `once(name, ...)` hands its producer."""
        return self.root / name

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        with open(self.root / f"{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield


@pytest.fixture(scope="session")
def shared_runs(tmp_path_factory: pytest.TempPathFactory) -> SharedRuns:
    base = tmp_path_factory.getbasetemp()
    # under pytest-xdist each worker has basetemp/popen-gwN; the session's folder above it is common to them all
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return SharedRuns(root / "shared-runs")
