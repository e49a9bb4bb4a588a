"""The gate's fault catalogue: misbehaving implementations (suites/cli/fault_plugins/faulty.py), each pinned to
its exit code, its message and, whenever the gate ran, a whole, parseable report set.

The implementation runs in a supervised worker process, so even faults that end a process (os._exit, a
segfault, sys.exit at import) or hold the GIL forever fail one check and let the run go on; the gate itself
runs in-process here. Usage errors (unknown claim names, nothing to check) exit 2 and write no reports.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mlpbench.cli import main

PLUGINS = Path(__file__).resolve().parent / "fault_plugins"
REPORT_FILES = ("conformance.md", "conformance.json", "conformance.junit.xml")

FAULTS = [
    # factory, exit code, message pattern (stdout or stderr), area that must fail (exit 1)
    ("good", 0, r"PASS: 4 checks conform", None),
    ("raises", 1, r"activation raised RuntimeError: the sigmoid kernel is broken", "activations"),
    ("hangs", 1, r"timed out after 2 s and was killed; traceback: .*_sleep", "activations"),
    ("gil_hang", 1, r"timed out after 2 s and was killed; traceback: .*_gil_hang", "activations"),
    ("nan", 1, r"sigmoid value: .*(NaN|nan)", "activations"),
    ("inf", 1, r"sigmoid value: .*(inf|Inf)", "activations"),
    ("wrong_shape", 1, r"sigmoid value: .*shape", "activations"),
    ("wrong_dtype", 1, r"sigmoid value: .*float32", "activations"),
    ("mutates_input", 1, r"activation modified its input x in place", "activations"),
    ("returns_list", 1, r"sigmoid value: .*list", "activations"),
    ("returns_none", 1, r"sigmoid value: .*NoneType", "activations"),
    ("os_exit_0", 1, r"running 'faulty:os_exit_0' exited with code 0", "activations"),
    ("os_exit_3", 1, r"running 'faulty:os_exit_3' exited with code 3", "activations"),
    ("grad_exits", 1, r"exited with code 0", "activations"),
    ("sys_exit_in_method", 1, r"activation called sys.exit\(0\)", "activations"),
    ("segfault", 1, r"was killed by SIGSEGV; traceback: Fatal Python error: Segmentation fault.*_segfault",
     "activations"),
    ("memory_error", 1, r"activation raised MemoryError", "activations"),
    ("floods_output", 0, r"PASS: 4 checks conform", None),
    ("ansi_message", 1, r"activation raised ValueError", "activations"),
    ("nondeterministic_activation", 0, r"PASS", None),
    ("NondeterministicOptimizer", 1, r"determinism/optimizer", "determinism"),
    ("sys_exit_in_factory", 1, r"called sys.exit\(0\)", "implementation"),
    ("factory_raises", 1, r"ImportError: a dependency of the adapter is missing", "implementation"),
    ("CapabilitiesRaise", 1, r"capabilities\(\) raised RuntimeError", "implementation"),
    ("AvailabilityRaises", 2, r"not available here: availability\(\) raised RuntimeError", None),
    ("unknown_activation", 2, r"unknown activation 'Sigmoid'; did you mean 'sigmoid'", None),
    ("unknown_loss", 2, r"unknown loss 'bce'; did you mean .*'binary_cross_entropy'", None),
    ("unknown_option", 2, r"unknown option 'betas' of optimizer 'adam'; known: weight_decay, amsgrad, maximize", None),
    ("unknown_dtype", 2, r"unknown dtype 'f64'; did you mean 'float64'", None),
    ("unknown_dtype_bfloat16", 2, r"unknown dtype 'bfloat16'", None),
    ("unknown_reduction", 2, r"unknown reduction 'avg' of loss 'mse'", None),
    ("unknown_optimizer", 2, r"unknown optimizer 'adamm'; did you mean 'adam'", None),
    ("empty_claims", 2, r"nothing to check", None),
    ("float32_only_claim", 0, r"PASS: 4 checks conform; .*", None),
    ("no_such_factory", 2, r"has no attribute 'no_such_factory'", None),
    # the trust boundary: the implementation's own process cannot reach the expected values or the verdict
    ("patches_numpy_and_the_oracle", 1, r"activations/sigmoid \[float64\]: first diverging quantity: sigmoid",
     "activations"),
    ("SharedBuffersOptimizer", 1, r"determinism/optimizer", "determinism"),
    ("ForksAChild", 0, r"PASS: 4 checks conform", None),
    ("starts_a_helper_process", 0, r"PASS: 4 checks conform", None),
    ("returns_a_tensor", 1, r"sigmoid value: returned Tensor, expected a NumPy array", "activations"),
    ("OwnResultRecord", 0, r"PASS: \d+ checks conform", None),
]


def run_check(capsys, tmp_path: Path, label: str, *extra: str) -> tuple[int, str, Path]:
    report_dir = tmp_path / "reports"
    code = main(["check", "--impl", label, "--report-dir", str(report_dir), "--timeout", "2", *extra])
    captured = capsys.readouterr()
    return code, captured.out + captured.err, report_dir


def assert_whole_report_set(report_dir: Path) -> dict:
    """The three reports exist, parse, and agree on the number of results."""
    for name in REPORT_FILES:
        assert (report_dir / name).is_file(), f"{name} missing from {sorted(os.listdir(report_dir))}"
    report = json.loads((report_dir / "conformance.json").read_text())
    suite = ET.parse(report_dir / "conformance.junit.xml").getroot()
    cases = sum(1 for _ in suite.iter("testcase"))
    assert cases == len(report["results"]) + (1 if report["interrupted"] else 0)  # + the "interrupted" case
    return report


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(PLUGINS))


@pytest.fixture
def worker_pids(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The process id of every worker the gate starts in this test (each leads its own process group)."""
    from mlpbench.isolation.supervisor import Worker

    started: list[int] = []
    ensure = Worker._ensure_process

    def recording(self: Worker) -> None:
        ensure(self)
        if self._process is not None and self._process.pid not in started:
            started.append(self._process.pid)

    monkeypatch.setattr(Worker, "_ensure_process", recording)
    return started


def live_processes_in_groups(groups: list[int]) -> list[str]:
    """'pid (name)' of every process, zombies aside, whose process group is one of `groups`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                name, rest = stat.read().rsplit(") ", 1)
        except (OSError, ValueError):
            continue
        fields = rest.split()
        if fields[0] != "Z" and int(fields[2]) in groups:
            found.append(f"{entry} ({name.split('(', 1)[1]})")
    return found


def assert_no_process_left(groups: list[int], seconds: float = 30.0) -> None:
    """Every process of these worker groups (the workers and all the implementation started) is gone."""
    deadline = time.monotonic() + seconds
    while (left := live_processes_in_groups(groups)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"processes of the run outlived it: {left}"


@pytest.mark.parametrize(("factory", "code", "pattern", "area"), FAULTS, ids=[f[0] for f in FAULTS])
def test_fault(plugins, worker_pids, capsys, tmp_path: Path, factory: str, code: int, pattern: str,
               area: str | None) -> None:
    got, output, report_dir = run_check(capsys, tmp_path, f"faulty:{factory}")
    assert got == code, output
    assert worker_pids, "the implementation ran in no worker"
    assert_no_process_left(worker_pids)
    import re

    assert re.search(pattern, output), output
    assert len(output) < 20_000, "the implementation's output leaked into the gate's"
    if code == 2:
        assert "\n" not in output.strip(), "a usage error is one line"
        assert not any((report_dir / name).exists() for name in REPORT_FILES)
        return
    report = assert_whole_report_set(report_dir)
    failed = {a for a, counts in report["summary"].items() if counts["failed"]}
    assert failed == ({area} if area else set()), output
    if code == 1 and area == "activations":  # the run went on after the fault: tanh was still checked
        verdicts = {r["case"]: r["verdict"] for r in report["results"]}
        assert verdicts["activations/tanh"] == "pass", verdicts


def test_a_module_that_exits_at_import_fails_the_gate(plugins, capsys, tmp_path: Path) -> None:
    code, output, report_dir = run_check(capsys, tmp_path, "exits_at_import:make")
    assert code == 1, output
    assert "called sys.exit(0)" in output
    report = assert_whole_report_set(report_dir)
    assert report["summary"]["implementation"]["failed"] == 1


def test_an_unknown_module_is_a_usage_error(plugins, capsys, tmp_path: Path) -> None:
    code, output, _ = run_check(capsys, tmp_path, "no_such_plugin_module:make")
    assert code == 2
    assert "no module named 'no_such_plugin_module'" in output


def test_a_dtype_that_is_not_claimed_leaves_nothing_to_check(plugins, capsys, tmp_path: Path) -> None:
    code, output, report_dir = run_check(capsys, tmp_path, "faulty:float32_only_claim", "--dtype", "float64")
    assert code == 2
    assert "nothing to check" in output and "claimed dtypes: float32" in output
    assert not any((report_dir / name).exists() for name in REPORT_FILES)


def test_summary_states_how_many_checks_ran(plugins, capsys, tmp_path: Path) -> None:
    code, output, _ = run_check(capsys, tmp_path, "faulty:raises")
    assert code == 1
    assert "4 checks ran (2 passed, 2 failed)" in output.splitlines()[0]


def wait_for(condition, process: subprocess.Popen, seconds: float = 300.0) -> None:
    """Poll `condition` until it holds (an event of the run, not a guess of how long the run takes)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never reached the point to interrupt"
        time.sleep(0.05)


def test_ctrl_c_writes_partial_reports_marked_interrupted(tmp_path: Path) -> None:
    report_dir, calls = tmp_path / "reports", tmp_path / "calls"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PLUGINS), *sys.path]), FAULTY_CALLS=str(calls))
    process = subprocess.Popen(
        [sys.executable, "-m", "mlpbench", "check", "--impl", "faulty:SlowEverywhere", "--report-dir",
         str(report_dir)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    # the first check (two calls of 2 s) has finished and the second is under way: its first call has begun
    wait_for(lambda: calls.exists() and len(calls.read_text().splitlines()) >= 3, process)
    os.killpg(process.pid, signal.SIGINT)  # what a terminal sends to the foreground process group
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, out + err
    assert "INTERRUPTED" in out
    report = assert_whole_report_set(report_dir)
    assert report["meta"]["interrupted"] is True
