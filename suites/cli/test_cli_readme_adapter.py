"""The README's adapter example, written to a folder outside the repository, passes `mlpbench check`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_adapter_source() -> str:
    text = README.read_text()
    match = re.search(r"<!-- adapter-example -->\s*```python\n(.*?)```", text, flags=re.DOTALL)
    assert match, "README.md has no adapter example after <!-- adapter-example -->"
    return match.group(1)


def test_readme_adapter_passes_check_as_module_factory(tmp_path: Path) -> None:
    plugin_dir = tmp_path / "outside"
    plugin_dir.mkdir()
    (plugin_dir / "my_mlp.py").write_text(readme_adapter_source())
    report_dir = tmp_path / "reports"
    env = dict(os.environ, PYTHONPATH=str(plugin_dir))
    completed = subprocess.run(
        [sys.executable, "-m", "mlpbench", "check", "--impl", "my_mlp:make", "--report-dir", str(report_dir),
         "--quiet"],
        cwd=plugin_dir, env=env, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report = json.loads((report_dir / "conformance.json").read_text())
    verdicts = {r["case"]: r["verdict"] for r in report["results"]}
    assert verdicts["activations/sigmoid"] == "pass"
    assert verdicts["optimizers/sgd"] == "pass"
    assert verdicts["optimizers/adam"] == "not claimed"
    assert any(case.startswith("model/") and verdict == "pass" for case, verdict in verdicts.items())
