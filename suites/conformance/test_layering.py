"""The layers import downwards only: the isolation layer (what runs implementations) imports nothing of the
conformance layer (what judges them), and no implementation module imports the tool."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_isolation_imports_without_conformance() -> None:
    code = ("import sys, mlpbench.isolation.supervisor, mlpbench.isolation.worker, mlpbench.isolation.calls, "
            "mlpbench.isolation.wire, mlpbench.isolation.reaper; "
            "print(sorted(m for m in sys.modules if m.startswith(('mlpbench.conformance', 'mlpbench.commands', "
            "'mlpbench.bench', 'mlpbench.cli'))))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_implementation_module_imports_the_tool() -> None:
    offenders = {path.name: sorted(m for m in imported_modules(path) if m.split(".")[0] == "mlpbench")
                 for path in sorted((ROOT / "impls").rglob("*.py"))}
    assert {name: found for name, found in offenders.items() if found} == {}
