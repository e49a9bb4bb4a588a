"""`mlpbench matrix`: several implementations side by side, one table in Markdown and JSON, each with its own
report set; an unavailable implementation is a column saying why, never a pass; a failing one makes exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlpbench.cli import main


def run_matrix(out: Path) -> int:
    return main(["matrix", "--impl", "reference", "--impl", "torch-cpu-fused", "--impl", "torch-cuda-graphs",
                 "--area", "optimizers", "--area", "activations", "--out", str(out)])


@pytest.fixture
def matrix_run(shared_runs) -> tuple[int, Path]:
    """run_matrix once per session (suites/cli/conftest.py); the tests only read what it wrote."""
    pytest.importorskip("torch")
    return shared_runs.once("matrix-run", run_matrix), shared_runs.folder("matrix-run")


def test_matrix_passes_and_writes_one_table(matrix_run: tuple[int, Path]) -> None:
    code, out = matrix_run
    assert code == 0
    data = json.loads((out / "matrix.json").read_text())
    columns = {c["label"]: c for c in data["implementations"]}
    assert list(columns) == ["reference", "torch-cpu-fused", "torch-cuda-graphs"]
    fused = columns["torch-cpu-fused"]
    assert fused["available"] and fused["failed"] == 0 and fused["checks_run"] > 0
    assert set(fused["areas"]) == {"activations", "optimizers"}
    assert fused["areas"]["optimizers"]["verdict"] == "pass"
    assert fused["areas"]["optimizers"]["not_claimed"] > 0  # RMSprop and Adadelta have no fused kernel
    markdown = (out / "matrix.md").read_text()
    assert "| `torch-cpu-fused` | pytorch | " in markdown
    for label in ("reference", "torch-cpu-fused"):
        report = json.loads((out / label / "conformance.json").read_text())
        assert report["verdict"] == "pass"


def test_unavailable_implementation_is_a_column_with_its_reason(matrix_run: tuple[int, Path]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: torch-cuda-graphs is available here")
    code, out = matrix_run
    graphs = {c["label"]: c for c in json.loads((out / "matrix.json").read_text())["implementations"]}[
        "torch-cuda-graphs"]
    assert not graphs["available"] and "CUDA not available" in graphs["reason"] and graphs["checks_run"] == 0
    assert "| `torch-cuda-graphs` | - | unavailable |" in (out / "matrix.md").read_text()


def test_a_failing_implementation_fails_the_matrix(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    code = main(["matrix", "--impl", "reference", "--impl", "mutant-adam-no-bias-correction", "--area", "optimizers",
                 "--out", str(tmp_path)])
    assert code == 1
    data = json.loads((tmp_path / "matrix.json").read_text())
    mutant = data["implementations"][1]
    assert mutant["failed"] > 0 and mutant["areas"]["optimizers"]["verdict"] == "FAIL"
    assert "**FAIL**" in (tmp_path / "matrix.md").read_text()


def test_unknown_implementation_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", "--impl", "reference", "--impl", "no-such-engine", "--out", str(tmp_path)]) == 2
    assert "no-such-engine" in capsys.readouterr().err
