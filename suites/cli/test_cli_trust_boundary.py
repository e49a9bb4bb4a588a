"""The gate as a process: what it leaves behind and how it exits, however it ends and whoever reads its output.

Each run here is `python -m mlpbench check` in a subprocess with a marker in its environment, which every
process it starts inherits (the worker server, the workers, whatever an implementation starts); afterwards
`processes_of_run` lists the processes that still carry the marker, and none may be left, nor any of the
run's temporary folders. The cases: SIGTERM and SIGHUP (handled like Ctrl-C: partial reports marked
interrupted, exit 143 and 129), SIGKILL of the gate (the reaper and the kernel's parent-death signal clean
up), an implementation that starts a child process or a helper from its factory, and a reader that closes the
gate's output before the end (`| true`, `| head`), which must not change the exit code.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parent / "fault_plugins"
MARK = "MLPBENCH_TEST_RUN"


def processes_of_run(mark: str) -> list[str]:
    """'pid (command)' of every live process (zombies aside) whose environment carries the run's marker."""
    found = []
    needle = f"{MARK}={mark}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                if needle not in environ.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/stat") as stat:
                state = stat.read().rsplit(") ", 1)[1].split()[0]
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, IndexError):
            continue
        if state != "Z":
            found.append(f"{entry} ({command[:120]})")
    return found


def assert_nothing_left(run: Run, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while (left := processes_of_run(run.mark)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"processes of the run outlived it: {left}"
    folders = sorted(p.name for p in run.tmp.iterdir())
    shutil.rmtree(run.tmp, ignore_errors=True)
    assert not folders, f"the run left temporary folders behind: {folders}"


class Run:
    """One `mlpbench check` in a subprocess, with its own TMPDIR and marker."""

    def __init__(self, tmp_path: Path, label: str, *extra: str, stdout: object = subprocess.PIPE,
                 stderr: object = subprocess.PIPE) -> None:
        self.mark = uuid.uuid4().hex
        # a short TMPDIR of the run's own (the worker server's socket path must stay under AF_UNIX's 108 bytes,
        # which a pytest-xdist tmp_path can exceed); it must be empty again when the run is over
        self.tmp = Path(tempfile.mkdtemp(prefix="mlpb-", dir="/tmp"))
        self.calls = tmp_path / "calls"
        self.report_dir = tmp_path / "reports"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PLUGINS), *sys.path]), TMPDIR=str(self.tmp),
                   FAULTY_CALLS=str(self.calls), **{MARK: self.mark})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mlpbench", "check", "--impl", label, "--report-dir", str(self.report_dir),
             *extra], env=env, stdout=stdout, stderr=stderr, text=True)

    def wait_for_calls(self, count: int, seconds: float = 300.0) -> None:
        """Until the implementation has begun `count` calls (it notes each in FAULTY_CALLS)."""
        deadline = time.monotonic() + seconds
        while not (self.calls.exists() and len(self.calls.read_text().splitlines()) >= count):
            assert self.process.poll() is None, self.process.communicate()
            assert time.monotonic() < deadline, "the run never reached the call to stop it in"
            time.sleep(0.05)

    def finish(self, seconds: float = 300.0) -> tuple[int, str]:
        out, err = self.process.communicate(timeout=seconds)
        return self.process.returncode, (out or "") + (err or "")


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)],
                         ids=["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_write_partial_reports_and_leave_nothing(tmp_path: Path, signum: int, code: int) -> None:
    run = Run(tmp_path, "faulty:SlowEverywhere")
    run.wait_for_calls(3)  # the first check has finished, the second is under way
    run.process.send_signal(signum)  # to the gate alone, as `timeout` and CI cancellation do
    got, output = run.finish()
    assert got == code, output
    assert "INTERRUPTED after 1 checks" in output
    report = json.loads((run.report_dir / "conformance.json").read_text())
    assert report["interrupted"] is True
    assert [r["verdict"] for r in report["results"] if r["verdict"] != "not claimed"] == ["pass"]
    assert (run.report_dir / "conformance.junit.xml").is_file() and (run.report_dir / "conformance.md").is_file()
    assert_nothing_left(run)


def test_sigkill_of_the_gate_leaves_no_process_and_no_folder(tmp_path: Path) -> None:
    run = Run(tmp_path, "faulty:SlowEverywhere")
    run.wait_for_calls(1)  # a worker is busy in a call
    assert len(processes_of_run(run.mark)) >= 3  # the gate, the worker server, the worker (and the reaper)
    run.process.kill()
    run.finish()
    assert_nothing_left(run)


@pytest.mark.parametrize("factory", ["ForksAChild", "starts_a_helper_process"])
def test_what_an_implementation_starts_ends_with_the_run_and_never_holds_its_output(tmp_path: Path,
                                                                                   factory: str) -> None:
    run = Run(tmp_path, f"faulty:{factory}")
    got, output = run.finish(seconds=120)  # returns once the gate's stdout and stderr close: no child holds them
    assert got == 0, output
    assert "PASS: 4 checks conform" in output
    assert_nothing_left(run)


@pytest.mark.parametrize("closed", ["stdout", "stderr", "both"])
def test_a_reader_that_goes_away_does_not_change_the_exit_code(tmp_path: Path, closed: str) -> None:
    """`mlpbench check ... | true`: the pipe's reader is gone before the gate writes; a failing run exits 1."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    streams = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    for name in ("stdout", "stderr") if closed == "both" else (closed,):
        streams[name] = write_end
    try:
        run = Run(tmp_path, "faulty:raises", "--timeout", "60", **streams)
    finally:
        os.close(write_end)
    got, _ = run.finish()
    assert got == 1
    report = json.loads((run.report_dir / "conformance.json").read_text())
    assert report["verdict"] == "fail"
    assert_nothing_left(run)
