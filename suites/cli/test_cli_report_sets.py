"""Report sets: whole-set replacement, stale reproduction files, file modes, XML-safe text, interrupted runs,
diagnostics at the worst element, and replay commands that work as printed."""

from __future__ import annotations

import errno
import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from author_folder import mlpbench_root

import mlpbench.conformance.report_set
import mlpbench.conformance.reports
from mlpbench.cli import main
from mlpbench.conformance.compare import compare_arrays, compare_exact
from mlpbench.conformance.reports import JSON_NAME, JUNIT_NAME, MARKDOWN_NAME, check_report_dir, write_reports
from mlpbench.conformance.repro import load_repro, repro_file_name
from mlpbench.conformance.results import FAIL, PASS, CheckResult
from mlpbench.conformance.tolerances import Tolerance
from mlpbench.output.manifest import MANIFEST_NAME

META = {"impl": "example", "label": "example", "dtypes": ["float64"]}


def failing(case_id: str = "activations/relu", message: str = "relu value differs") -> CheckResult:
    x = np.linspace(-2.0, 2.0, 8)
    return CheckResult("activations", case_id, "example", "float64", FAIL, message, inputs={"x": x})


def passing(case_id: str = "activations/tanh") -> CheckResult:
    return CheckResult("activations", case_id, "example", "float64", PASS, "worst headroom 0.1")


def snapshot(directory: Path) -> dict[str, bytes | None]:
    """Every entry under `directory` (relative path -> bytes, None for directories)."""
    return {str(p.relative_to(directory)): (None if p.is_dir() else p.read_bytes())
            for p in sorted(directory.rglob("*"))}


@pytest.fixture
def umask() -> Iterator[None]:
    previous = os.umask(0o022)
    os.umask(previous)
    yield
    os.umask(previous)


# -- whole sets ------------------------------------------------------------------------------------------------


def test_a_new_set_replaces_the_old_one_and_stale_repro_files_go(tmp_path: Path) -> None:
    report_dir = tmp_path / "reports"
    first = failing()
    write_reports(report_dir, [first], META)
    repro = report_dir / "repro" / repro_file_name("activations/relu", "float64")
    assert first.repro_path == str(repro) and repro.exists()
    case, arrays = load_repro(repro)
    assert case["id"] == "activations/relu" and case["kind"] == "activation" and case["dtype"] == "float64"
    np.testing.assert_array_equal(arrays["x"], first.inputs["x"])

    write_reports(report_dir, [passing()], META)
    assert not (report_dir / "repro").exists()
    assert sorted(p.name for p in report_dir.iterdir()) == sorted([MARKDOWN_NAME, JSON_NAME, JUNIT_NAME, MANIFEST_NAME])
    assert json.loads((report_dir / JSON_NAME).read_text())["verdict"] == "pass"
    assert os.listdir(tmp_path) == ["reports"]  # no temporary directory left beside it


def test_the_set_is_swapped_by_two_renames_where_no_atomic_exchange_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report_dir = tmp_path / "reports"
    write_reports(report_dir, [failing()], META)
    monkeypatch.setattr(mlpbench.conformance.report_set, "exchange_paths", lambda a, b: False)
    write_reports(report_dir, [passing()], META)
    assert not (report_dir / "repro").exists()
    assert json.loads((report_dir / JSON_NAME).read_text())["counts"] == {"total": 1, "failed": 0}
    assert os.listdir(tmp_path) == ["reports"]


def test_atomic_exchange_swaps_two_directories(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "from-a").write_text("a")
    (b / "from-b").write_text("b")
    if not mlpbench.conformance.report_set.exchange_paths(a, b):
        pytest.skip("no renameat2(RENAME_EXCHANGE) here: the two-rename fallback is used")
    assert os.listdir(a) == ["from-b"] and os.listdir(b) == ["from-a"]


@pytest.mark.parametrize("failing_writer", ["write_json_atomic", "write_text_atomic"])
def test_a_failed_write_leaves_the_previous_set_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing_writer: str
) -> None:
    report_dir = tmp_path / "reports"
    write_reports(report_dir, [failing()], META)
    before = snapshot(report_dir)

    def disk_full(*args: object, **kwargs: object) -> Path:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(mlpbench.conformance.reports, failing_writer, disk_full)
    second = failing("activations/sigmoid")
    with pytest.raises(OSError) as caught:
        write_reports(report_dir, [second, passing()], META)
    assert caught.value.errno == errno.ENOSPC
    assert snapshot(report_dir) == before
    assert os.listdir(tmp_path) == ["reports"]
    assert second.repro_path is None  # it would point at a file that was never put in place


def test_a_full_disk_exits_2_with_one_line_and_keeps_the_previous_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    report_dir = tmp_path / "reports"
    argv = ["check", "--impl", "reference", "--case", "activations/relu", "--report-dir", str(report_dir), "--quiet"]
    assert main(argv) == 0
    before = snapshot(report_dir)
    capsys.readouterr()

    def disk_full(*args: object, **kwargs: object) -> Path:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(mlpbench.conformance.reports, "write_json_atomic", disk_full)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and os.strerror(errno.ENOSPC) in err
    assert snapshot(report_dir) == before
    assert os.listdir(tmp_path) == ["reports"]


def test_a_directory_holding_other_files_is_refused_and_left_alone(tmp_path: Path) -> None:
    report_dir = tmp_path / "mixed"
    report_dir.mkdir()
    (report_dir / "notes.txt").write_text("keep me")
    before = snapshot(report_dir)
    with pytest.raises(OSError, match="holds 'notes.txt', which mlpbench did not write"):
        check_report_dir(report_dir)
    with pytest.raises(OSError, match="holds 'notes.txt', which mlpbench did not write"):
        write_reports(report_dir, [passing()], META)
    assert snapshot(report_dir) == before
    assert os.listdir(tmp_path) == ["mixed"]


def test_the_working_directory_is_never_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report_dir = tmp_path / "reports"
    write_reports(report_dir, [passing()], META)
    before = snapshot(report_dir)
    monkeypatch.chdir(report_dir)
    with pytest.raises(OSError, match="working directory"):
        write_reports(".", [failing()], META)
    assert snapshot(report_dir) == before
    check_report_dir(tmp_path / "not yet there")  # a directory still to be made is fine


def test_a_symlinked_report_dir_stays_a_link_to_the_new_set(tmp_path: Path) -> None:
    real = tmp_path / "real"
    write_reports(real, [failing()], META)
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    write_reports(link, [passing()], META)
    assert link.is_symlink() and not (real / "repro").exists()
    assert json.loads((link / JSON_NAME).read_text())["verdict"] == "pass"


# -- file modes ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_files_and_folders_follow_the_umask(tmp_path: Path, umask: None, mask: int) -> None:
    os.umask(mask)
    report_dir = tmp_path / "new" / "reports"
    write_reports(report_dir, [failing()], META)
    entries = [report_dir, *report_dir.rglob("*")]
    assert {str(p.relative_to(report_dir)) for p in entries} == {
        ".", MARKDOWN_NAME, JSON_NAME, JUNIT_NAME, MANIFEST_NAME, "repro",
        f"repro/{repro_file_name('activations/relu', 'float64')}"
    }
    for path in entries:
        mode = stat.S_IMODE(path.stat().st_mode)
        expected = (0o777 if path.is_dir() else 0o666) & ~mask
        assert mode == expected, f"{path}: {oct(mode)} != {oct(expected)}"


# -- text that every reader can take ---------------------------------------------------------------------------

NASTY = "\x1b[31mred\x1b[0m \x00nul \x07bell \x08\x0b\x0c\x1f \x7fdel \x85 \ud800lone < & > \" ' end"


def test_junit_parses_whatever_the_messages_hold(tmp_path: Path) -> None:
    bad = failing(message=NASTY)
    comparison = compare_arrays(f"relu {NASTY}", np.ones(3), np.zeros(3), Tolerance(0.0, 1e-9, NASTY))
    bad.comparisons = [comparison]
    skipped = CheckResult("devices", "devices/cuda", "example", "float64", "skipped", NASTY)
    paths = write_reports(tmp_path / "reports", [bad, skipped], {**META, "impl": f"impl {NASTY}"})
    root = ET.parse(paths["junit"]).getroot()
    failure = root.find(".//failure")
    assert failure is not None
    assert failure.get("message", "").startswith("\\x1b[31mred\\x1b[0m \\x00nul \\x07bell")
    assert "\\ud800lone < & > \" ' end" in failure.get("message", "")
    assert "\\x7fdel \\x85" in (failure.text or "")
    skip = root.find(".//skipped")
    assert skip is not None and "\\x1b[31m" in skip.get("message", "")
    markdown = paths["markdown"].read_text(encoding="utf-8")
    assert "\x1b" not in markdown and "\\x1b\\[31mred" in markdown  # visible, and "[" escaped for Markdown
    report = json.loads(paths["json"].read_text())
    assert report["results"][0]["message"] == NASTY  # JSON escapes by itself: the message stays exact


# -- interrupted runs ------------------------------------------------------------------------------------------


def test_an_interrupted_run_is_marked_in_every_report_and_never_passes(tmp_path: Path) -> None:
    paths = write_reports(tmp_path / "reports", [passing()], {**META, "interrupted": True})
    markdown = paths["markdown"].read_text()
    title, *_ = markdown.splitlines()
    assert "INTERRUPTED (partial)" in title
    assert "**INTERRUPTED**" in markdown and "PASS" not in markdown
    report = json.loads(paths["json"].read_text())
    assert report["interrupted"] is True and report["verdict"] == "interrupted"
    root = ET.parse(paths["junit"]).getroot()
    assert root.get("interrupted") == "true"
    assert root.get("errors") == "1" and root.get("tests") == "2"
    run_suite = root.find("testsuite[@name='run']")
    assert run_suite is not None
    assert run_suite.find("properties/property[@name='interrupted']").get("value") == "true"
    assert run_suite.find("testcase/error") is not None


def test_a_complete_run_says_it_was_not_interrupted(tmp_path: Path) -> None:
    paths = write_reports(tmp_path / "reports", [passing()], META)
    report = json.loads(paths["json"].read_text())
    assert report["interrupted"] is False and report["verdict"] == "pass"
    assert ET.parse(paths["junit"]).getroot().get("interrupted") is None
    assert "INTERRUPTED" not in paths["markdown"].read_text()


# -- diagnostics at the worst element --------------------------------------------------------------------------


def test_a_comparison_names_the_values_and_inputs_at_its_worst_element() -> None:
    x = np.array([[-3.0, -1.0], [0.5, 2.0]])
    expected = np.maximum(x, 0.0)
    actual = np.abs(x)  # wrong for negative x, worst (relative to the tolerance) at the most negative one
    tol = Tolerance(1e-12, 1e-12, "test")
    comparison = compare_arrays("relu value", actual, expected, tol, inputs={"x": x, "other": np.zeros(3)})
    worst = np.unravel_index(np.argmax(np.abs(actual - expected) / (tol.atol + tol.rtol * np.abs(expected))),
                             x.shape)
    assert comparison.worst_index == tuple(int(i) for i in worst)
    assert comparison.actual_at_worst == actual[worst] and comparison.expected_at_worst == expected[worst]
    assert comparison.inputs_at_worst == {"x": x[worst]}  # "other" has another shape: not an elementwise input
    line = comparison.describe()
    assert f"at index {comparison.worst_index}" in line
    values = (float(actual[worst]), float(expected[worst]), float(x[worst]))
    assert "actual {!r}, expected {!r}, inputs x={!r}".format(*values) in line
    as_dict = comparison.to_dict()
    assert as_dict["actual_at_worst"] == actual[worst] and as_dict["inputs_at_worst"] == {"x": x[worst]}


def test_nan_where_the_oracle_is_finite_names_the_element_too() -> None:
    x = np.array([1.0, 2.0, 3.0])
    actual = x.copy()
    actual[1] = np.nan
    comparison = compare_arrays("value", actual, x, Tolerance(1e-12, 1e-12, "test"), inputs={"x": x})
    assert not comparison.passed and comparison.worst_index == (1,)
    assert np.isnan(comparison.actual_at_worst) and comparison.expected_at_worst == x[1]
    assert comparison.inputs_at_worst == {"x": x[1]}


def test_a_bitwise_comparison_names_the_values_at_its_worst_element() -> None:
    expected = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    actual = expected.copy()
    actual[2] = np.nextafter(expected[2], np.float32(4.0))
    comparison = compare_exact("dropout mask", actual, expected)
    assert not comparison.passed and comparison.worst_index == (2,)
    assert comparison.actual_at_worst == float(actual[2]) and comparison.expected_at_worst == float(expected[2])
    assert f"at index (2,): actual {float(actual[2])!r}, expected {float(expected[2])!r}" in comparison.describe()


BROKEN_RELU = '''
"""A relu that returns |x|: right for x >= 0, wrong below."""

import numpy as np

from mlpbench.impls.interface import Capabilities, Implementation


class BrokenRelu(Implementation):
    name = "broken-relu"

    def capabilities(self):
        return Capabilities(activations=frozenset({"relu"}), dtypes=frozenset({"float64"}), deterministic=False)

    def activation(self, name, x, params):
        return np.abs(x)

    def activation_grad(self, name, x, grad_y, params):
        return grad_y * (x > 0)


def make():
    return BrokenRelu()
'''


@pytest.fixture
def broken_plugin(tmp_path: Path) -> Path:
    """A folder outside the repository holding broken_relu_plugin.py."""
    folder = tmp_path / "plugin folder"  # a space: the printed command must quote it
    folder.mkdir()
    (folder / "broken_relu_plugin.py").write_text(textwrap.dedent(BROKEN_RELU))
    return folder


def test_reports_carry_the_values_and_inputs_at_the_worst_element(
    broken_plugin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(broken_plugin))
    report_dir = tmp_path / "reports"
    assert main(["check", "--impl", "broken_relu_plugin:make", "--case", "activations/relu",
                 "--report-dir", str(report_dir), "--quiet"]) == 1
    result = json.loads((report_dir / JSON_NAME).read_text())["results"][0]
    value = next(c for c in result["comparisons"] if c["quantity"] == "relu value")
    x = value["inputs_at_worst"]["x"]
    assert x < 0 and value["actual_at_worst"] == abs(x) and value["expected_at_worst"] == 0.0
    assert f"actual {abs(x)!r}, expected 0.0, inputs x={x!r}" in result["message"]
    _, arrays = load_repro(result["repro_path"])
    assert x in arrays["x"]


# -- replay commands -------------------------------------------------------------------------------------------


def console_script() -> Path:
    script = Path(sys.executable).with_name("mlpbench")
    if not script.exists():
        pytest.skip("no mlpbench console script beside this Python")
    return script


def test_the_printed_replay_command_reproduces_the_failure_and_leaves_the_report_set_alone(
    broken_plugin: Path, tmp_path: Path
) -> None:
    script = console_script()
    if shutil.which("bash") is None:
        pytest.skip("no bash here")
    report_dir = tmp_path / "out dir" / "reports"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    first = subprocess.run(
        [str(script), "check", "--impl", "broken_relu_plugin:make", "--area", "activations",
         "--report-dir", str(report_dir), "--quiet"],
        cwd=broken_plugin, env={**env, "PYTHONPATH": os.pathsep.join([str(broken_plugin), str(mlpbench_root())])},
        capture_output=True, text=True,
        timeout=300,
    )
    assert first.returncode == 1, first.stdout + first.stderr
    failed = [r for r in json.loads((report_dir / JSON_NAME).read_text())["results"] if r["verdict"] == "fail"]
    assert [r["case"] for r in failed] == ["activations/relu"]
    command = failed[0]["repro_command"]
    assert failed[0]["message"].endswith(f"; reproduce: {command}")
    before = snapshot(report_dir)

    # as printed, from another folder, with neither PYTHONPATH nor the plug-in's folder as working directory, and
    # no virtualenv on PATH (the command names its interpreter)
    interpreter, *module = shlex.split(command)[1:4]
    assert Path(interpreter).is_absolute() and Path(interpreter).exists() and module == ["-m", "mlpbench"]
    replay = subprocess.run([str(shutil.which("bash")), "-c", command], cwd=elsewhere,
                            env={**env, "PATH": os.defpath}, capture_output=True, text=True, timeout=300)
    assert replay.returncode == 1, replay.stdout + replay.stderr
    assert snapshot(report_dir) == before
    replay_dir = Path(shlex.split(command)[-1])
    assert report_dir not in (replay_dir, *replay_dir.parents)
    replayed = json.loads((replay_dir / JSON_NAME).read_text())
    assert [(r["case"], r["dtype"], r["verdict"]) for r in replayed["results"]] == [
        ("activations/relu", "float64", "fail")
    ]
    # the replay's own replay command names its own directory again
    assert Path(shlex.split(replayed["results"][0]["repro_command"])[-1]) == replay_dir


def test_a_registry_name_needs_no_pythonpath(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlpbench.conformance.repro import replay_command

    monkeypatch.delenv("PYTHONPATH", raising=False)
    command = replay_command("torch-cpu", "optimizers/adam+amsgrad", "float32", tmp_path / "reports")
    assert shlex.split(command) == [
        sys.executable, "-m", "mlpbench", "check", "--impl", "torch-cpu", "--case", "optimizers/adam+amsgrad",
        "--dtype", "float32", "--report-dir", str(tmp_path / "reports-replay" / "optimizers__adam+amsgrad__float32"),
    ]


def test_the_replay_command_carries_this_process_pythonpath_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkout run with PYTHONPATH=. finds mlpbench through it: the printed command keeps it, absolute, and
    names its report folder absolutely, so it runs as printed from any other folder."""
    from mlpbench.conformance.repro import replay_command

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(["src", str(tmp_path / "lib")]))
    words = shlex.split(replay_command("reference", "activations/relu", "float64"))
    assert words[0] == "PYTHONPATH=" + os.pathsep.join([str(tmp_path / "src"), str(tmp_path / "lib")])
    assert words[1:4] == [sys.executable, "-m", "mlpbench"]
    assert Path(words[-1]).is_absolute() and Path(words[-1]).is_relative_to(tmp_path)
