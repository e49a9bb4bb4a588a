"""Command lines whose outcome several tests read run once per session, in the checkout, as a shell runs them.

`shared_runs.run(line)` runs a README-style line (`.venv/bin/` standing for this interpreter's environment,
`reports/` for one reports folder of this session) with bash and records its exit status and output; every
later call with the same line, in this process or in another pytest-xdist worker of the session, waits for
that run and reads the record instead of running the command again. The README's command block test runs
its lines this way, and the tests that assert on what the same line does (`mlpbench list`, the gate on
torch-cpu) read the same run: the command is run once, as printed, and checked by all of them.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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
        key = hashlib.sha256(command.encode()).hexdigest()[:20]
        record = self.root / f"{key}.json"
        with open(self.root / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not record.exists():
                completed = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True,
                                           timeout=timeout)
                record.write_text(json.dumps({"returncode": completed.returncode, "stdout": completed.stdout,
                                              "stderr": completed.stderr}))
        data = json.loads(record.read_text())
        return Ran(line, command, data["returncode"], data["stdout"], data["stderr"])


@pytest.fixture(scope="session")
def shared_runs(tmp_path_factory: pytest.TempPathFactory) -> SharedRuns:
    base = tmp_path_factory.getbasetemp()
    # under pytest-xdist each worker has basetemp/popen-gwN; the session's folder above it is common to them all
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return SharedRuns(root / "shared-runs")
