"""The oracle is pure NumPy: nothing under reference/ imports PyTorch, and it works where torch cannot load."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REFERENCE = Path(__file__).resolve().parents[2] / "reference"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_module_under_reference_imports_torch() -> None:
    sources = sorted(REFERENCE.rglob("*.py"))
    assert len(sources) >= 10
    offenders = [str(p.relative_to(REFERENCE)) for p in sources if "torch" in imported_modules(p)]
    assert offenders == []


def test_oracle_trains_with_torch_import_blocked() -> None:
    program = """
import sys
sys.modules["torch"] = None  # any `import torch` now raises ImportError
import numpy as np
from mlpbench.reference.model import init_params
from mlpbench.reference.spec import MLPSpec
from mlpbench.reference.training import make_batch_orders, train
from mlpbench.reference.optim import Adam
spec = MLPSpec((2, 4, 1), activation="tanh")
rng = np.random.default_rng(0)
x = rng.normal(size=(16, 2)); y = (x[:, :1] > 0).astype(float)
result = train(spec, init_params(spec, rng), x, y, loss="binary_cross_entropy_with_logits", optimizer="adam",
               hyper=Adam(lr=0.05), epochs=5, batch_size=4, batch_orders=make_batch_orders(16, 5, 1))
assert len(result.train_loss) == 5 and result.train_loss[-1] < result.train_loss[0]
print("ok")
"""
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "ok"
