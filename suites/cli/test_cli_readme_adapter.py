"""The README's adapter example, written to a folder outside the repository (beside decoy modules), passes
`mlpbench check --impl my_mlp:make` run there with no PYTHONPATH pointing at it (suites/cli/author_folder.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from author_folder import author_env, make_author_folder, mlpbench_command


def test_readme_adapter_passes_check_as_module_factory(tmp_path: Path) -> None:
    plugin_dir = make_author_folder(tmp_path / "outside")
    report_dir = tmp_path / "reports"
    completed = subprocess.run(
        [*mlpbench_command(), "check", "--impl", "my_mlp:make", "--report-dir", str(report_dir), "--quiet"],
        cwd=plugin_dir, env=author_env(), capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report = json.loads((report_dir / "conformance.json").read_text())
    verdicts = {r["case"]: r["verdict"] for r in report["results"]}
    assert verdicts["activations/sigmoid"] == "pass"
    assert verdicts["optimizers/sgd"] == "pass"
    assert verdicts["optimizers/adam"] == "not claimed"
    assert any(case.startswith("model/") and verdict == "pass" for case, verdict in verdicts.items())
