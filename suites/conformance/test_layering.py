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


def tool_imports(path: Path) -> list[str]:
    """The mlpbench modules `path` imports that are not the oracle or the implementations."""
    return sorted(m for m in imported_modules(path) if m.split(".")[0] == "mlpbench"
                  and not m.startswith(("mlpbench.reference", "mlpbench.impls")))


def test_no_implementation_module_imports_the_tool() -> None:
    offenders = {path.name: tool_imports(path) for path in sorted((ROOT / "impls").rglob("*.py"))}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_oracle_imports_nothing_above_it() -> None:
    offenders = {path.name: sorted(m for m in imported_modules(path) if m.split(".")[0] == "mlpbench"
                                   and not m.startswith("mlpbench.reference"))
                 for path in sorted((ROOT / "reference").rglob("*.py"))}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_one_import_namespace() -> None:
    """Everything is imported as mlpbench.*: the repository's top-level folders reference/ and impls/ are
    mlpbench.reference and mlpbench.impls (links in mlpbench/), never top-level packages, so a user's own
    reference.py or impls.py in the working folder shadows nothing."""
    assert (ROOT / "mlpbench" / "reference").resolve() == ROOT / "reference"
    assert (ROOT / "mlpbench" / "impls").resolve() == ROOT / "impls"
    sources = [path for folder in ("mlpbench", "reference", "impls", "suites")
               for path in sorted((ROOT / folder).rglob("*.py")) if ".venv" not in path.parts]
    offenders = {str(path.relative_to(ROOT)): found for path in sources
                 if (found := sorted(m for m in imported_modules(path) if m.split(".")[0] in ("reference", "impls")))}
    assert offenders == {}
