"""`mlpbench check`: exit codes, the three reports, plug-ins that claim a subset, and broken plug-ins."""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from mlpbench.cli import main
from mlpbench.conformance.repro import load_repro

REPORTS = ("conformance.md", "conformance.json", "conformance.junit.xml")


CHECK_TORCH_CPU = ".venv/bin/mlpbench check --impl torch-cpu --report-dir reports/check-torch-cpu"
"""The README's CI-gate line: run once per session as printed (the console script, in a subprocess; see
suites/cli/conftest.py), read by the README's command-block test and the three report tests here."""


@pytest.fixture
def torch_cpu_run(shared_runs) -> tuple[int, Path]:
    pytest.importorskip("torch")
    ran = shared_runs.run(CHECK_TORCH_CPU)
    return ran.returncode, shared_runs.reports / "check-torch-cpu"


def test_torch_cpu_conforms_and_writes_three_reports(torch_cpu_run: tuple[int, Path]) -> None:
    code, report_dir = torch_cpu_run
    assert code == 0
    for name in REPORTS:
        assert (report_dir / name).stat().st_size > 0, name
    report = json.loads((report_dir / "conformance.json").read_text())
    assert report["verdict"] == "pass"
    verdicts = {r["verdict"] for r in report["results"]}
    assert verdicts <= {"pass", "not claimed", "skipped"}
    assert report["summary"]["optimizers"]["passed"] > 0
    assert all(r["worst_headroom"] <= 1.0 for r in report["results"] if r["verdict"] == "pass" and
               r["worst_headroom"] is not None)


def test_junit_has_a_testsuite_per_area_and_skips_not_claimed(torch_cpu_run: tuple[int, Path]) -> None:
    _, report_dir = torch_cpu_run
    root = ET.parse(report_dir / "conformance.junit.xml").getroot()
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    assert {"activations", "losses", "model", "optimizers", "devices"} <= set(suites)
    assert root.get("failures") == "0"
    devices = suites["devices"]
    assert all(case.find("skipped") is not None for case in devices.iter("testcase"))


def test_markdown_has_the_area_matrix(torch_cpu_run: tuple[int, Path]) -> None:
    _, report_dir = torch_cpu_run
    text = (report_dir / "conformance.md").read_text()
    assert "## Summary by area" in text and "| optimizers" in text and "worst headroom" in text
    assert "adam+amsgrad" in text


def test_console_script_runs_in_a_subprocess(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("mlpbench")
    command = [str(script)] if script.exists() else [shutil.which("mlpbench") or "mlpbench"]
    completed = subprocess.run(
        [*command, "check", "--impl", "reference", "--area", "activations", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "activations" in completed.stdout and "total time" in completed.stdout
    assert (tmp_path / "conformance.json").exists()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["check", "--impl", "no-such-thing"], "no-such-thing"),
        (["check", "--impl", "reference", "--bogus-option"], "unrecognized arguments"),
        (["check", "--impl", "reference", "--timeout", "-1"], "must be a finite number > 0"),
        (["check", "--impl", "reference", "--area", "nowhere"], "invalid choice"),
        (["check", "--impl", "reference", "--case", "no/such*case"], "no conformance case matches"),
        (["check"], "--impl"),
    ],
)
def test_usage_errors_exit_2_with_one_line(argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert expected in err


def test_unwritable_report_dir_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert main(["check", "--impl", "reference", "--area", "activations", "--report-dir",
                 str(blocker / "reports")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "not writable" in err


def test_unavailable_implementation_exits_2_with_the_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    from mlpbench.impls.registry import resolve

    impl = resolve("torch-cuda")
    available, reason = impl.availability()
    if available:
        pytest.skip("CUDA is available here: torch-cuda is checked like any other implementation")
    assert main(["check", "--impl", "torch-cuda", "--report-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "implementation 'torch-cuda' is not available here" in err and len(err.strip().splitlines()) == 1


PLUGIN = '''
"""A learner's network: sigmoid, MSE and plain SGD only, written with NumPy."""

import time

import numpy as np

from mlpbench.impls.interface import Capabilities, Implementation, ModelResult


def sigmoid(x):
    return np.exp(-np.logaddexp(0.0, -x))  # 1 / (1 + exp(-x)), accurate in both tails


class Learner(Implementation):
    name = "learner"
    failure = None  # which bug to have: raise, nan, shape, hang, mutate

    def capabilities(self):
        return Capabilities(activations=frozenset({"sigmoid"}), losses=frozenset({"mse"}),
                            optimizers={"sgd": frozenset()}, dtypes=frozenset({"float64"}), model=True,
                            deterministic=False)

    def activation(self, name, x, params):
        if self.failure == "raise":
            raise RuntimeError("sigmoid is broken")
        if self.failure == "hang":
            time.sleep(30)
        if self.failure == "mutate":
            x[...] = 0.0
            return sigmoid(x)
        y = sigmoid(x)
        if self.failure == "nan":
            y[0, 0] = np.nan
        if self.failure == "shape":
            return y.ravel()
        return y

    def activation_grad(self, name, x, grad_y, params):
        y = sigmoid(x)
        return grad_y * y * (1.0 - y)

    def loss(self, name, pred, target, reduction, params):
        diff = pred - target
        if reduction == "none":
            return diff**2, 2.0 * diff
        scale = 1.0 / diff.size if reduction == "mean" else 1.0
        return np.asarray((diff**2).sum() * scale), 2.0 * diff * scale

    def forward_backward(self, spec, params, x, target, loss, *, reduction="mean", loss_params=None,
                         training=False, dropout_seed=None):
        inputs, pre = [], []
        a = x
        for layer in range(spec.n_layers):
            inputs.append(a)
            z = a @ params[2 * layer].T + params[2 * layer + 1]
            pre.append(z)
            a = sigmoid(z) if layer < spec.n_layers - 1 else z
        value, grad = self.loss("mse", a, target, reduction, {})
        grads = [None] * len(params)
        delta = grad
        for layer in reversed(range(spec.n_layers)):
            grads[2 * layer] = delta.T @ inputs[layer]
            grads[2 * layer + 1] = delta.sum(axis=0)
            grad_a = delta @ params[2 * layer]
            if layer:
                s = sigmoid(pre[layer - 1])
                delta = grad_a * s * (1.0 - s)
        return ModelResult(output=a, loss=value, param_grads=grads, input_grad=grad_a)

    def optimizer_run(self, name, hyper, params, grads_per_step):
        params = [p.copy() for p in params]
        for grads in grads_per_step:
            for p, g in zip(params, grads):
                p -= hyper.get("lr", 1e-3) * g
        return params, {"step": len(grads_per_step), "momentum_buffer": [None] * len(params)}


def make():
    return Learner()


def broken(failure):
    def factory():
        learner = Learner()
        learner.failure = failure
        return learner
    return factory


raises, nan, shape, hang, mutate = (broken(f) for f in ("raise", "nan", "shape", "hang", "mutate"))
'''


@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    module_dir = tmp_path / "plugin_src"
    module_dir.mkdir()
    (module_dir / "learner_plugin.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(module_dir))
    return "learner_plugin"


def plugin_dir(module: str) -> str:
    """The folder the plug-in module was written to (what a replay command's PYTHONPATH must name)."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    return str(Path(spec.origin).parent)


def test_partial_plugin_conforms_and_the_rest_is_not_claimed(plugin_module: str, tmp_path: Path) -> None:
    report_dir = tmp_path / "reports"
    code = main(["check", "--impl", f"{plugin_module}:make", "--report-dir", str(report_dir), "--quiet"])
    report = json.loads((report_dir / "conformance.json").read_text())
    failures = [r["message"] for r in report["results"] if r["verdict"] in ("fail", "error")]
    assert code == 0, failures
    by_case = {r["case"]: r["verdict"] for r in report["results"]}
    assert by_case["activations/sigmoid"] == "pass"
    assert by_case["model/act-sigmoid"] == "pass"
    assert by_case["optimizers/sgd"] == "pass"
    assert by_case["activations/relu"] == "not claimed"
    assert by_case["optimizers/adam"] == "not claimed"
    assert by_case["optimizers/sgd+momentum"] == "not claimed"
    assert report["summary"]["training"]["not_claimed"] == report["summary"]["training"]["passed"] + \
        report["summary"]["training"]["not_claimed"]


@pytest.mark.parametrize(
    ("factory", "expected"),
    [
        ("raises", "activation raised RuntimeError: sigmoid is broken"),
        ("nan", "NaN where the oracle is finite"),
        ("shape", "wrong shape (64,), expected (8, 8)"),
        ("hang", "timed out after 0.5 s"),
        ("mutate", "activation modified its input x in place"),
    ],
)
def test_broken_plugin_fails_with_a_message_naming_the_problem(
    plugin_module: str, tmp_path: Path, factory: str, expected: str
) -> None:
    report_dir = tmp_path / "reports"
    code = main(["check", "--impl", f"{plugin_module}:{factory}", "--area", "activations", "--timeout", "0.5",
                 "--case", "activations/sigmoid", "--report-dir", str(report_dir), "--quiet"])
    assert code == 1
    for name in REPORTS:
        assert (report_dir / name).exists(), name
    report = json.loads((report_dir / "conformance.json").read_text())
    failed = [r for r in report["results"] if r["verdict"] == "fail"]
    assert [r["case"] for r in failed] == ["activations/sigmoid"]
    assert expected in failed[0]["message"]
    replay = shlex.split(failed[0]["message"].split("; reproduce: ", 1)[1])
    assert replay[0].startswith("PYTHONPATH=")
    assert replay[0].split("=", 1)[1].split(os.pathsep)[0] == plugin_dir(plugin_module)
    assert replay[1:7] == [sys.executable, "-m", "mlpbench", "check", "--impl", f"{plugin_module}:{factory}"]
    assert expected in (report_dir / "conformance.md").read_text()
    junit = ET.parse(report_dir / "conformance.junit.xml").getroot()
    assert junit.get("failures") == "1"


def test_failure_leaves_a_reproduction_file(plugin_module: str, tmp_path: Path) -> None:
    report_dir = tmp_path / "reports"
    assert main(["check", "--impl", f"{plugin_module}:nan", "--case", "activations/sigmoid",
                 "--report-dir", str(report_dir), "--quiet"]) == 1
    result = json.loads((report_dir / "conformance.json").read_text())["results"][0]
    case, arrays = load_repro(result["repro_path"])
    assert case["id"] == "activations/sigmoid" and case["dtype"] == "float64"
    assert arrays["x"].shape == (8, 8) and np.isfinite(arrays["x"]).all()
    replay = shlex.split(result["repro_command"])
    assert replay[0].split("=", 1)[1].split(os.pathsep)[0] == plugin_dir(plugin_module)
    assert replay[1:9] == [sys.executable, "-m", "mlpbench", "check", "--impl", f"{plugin_module}:nan", "--case",
                           "activations/sigmoid"]
