"""An adapter author's own folder, outside the repository, for the tests that run mlpbench as its users do.

The folder holds the README's adapter example as `my_mlp.py` and, beside it, decoys a learner may well have:
`reference.py`, `impls.py` and `mlpbench_foo.py`, each raising on import, so a command that imports any of them
instead of mlpbench's own modules fails loudly. Commands run with the console script beside this interpreter
(whose folder, not the working folder, heads its import path), or `python -P -m mlpbench` where there is none,
and with PYTHONPATH naming only the folder this mlpbench is imported from, never the author's folder.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

import mlpbench

README = Path(__file__).resolve().parents[2] / "README.md"

DECOYS = ("reference.py", "impls.py", "mlpbench_foo.py")
"""A user's own modules whose names an older layout of mlpbench imported (or might): each raises on import."""

SIGMOID_GRAD = "return grad_y * y * (1.0 - y)"
"""The README adapter's sigmoid derivative; the one-bug copy drops its (1 - y) factor."""


def readme_adapter_source() -> str:
    """The README's adapter example (the Python block after `<!-- adapter-example -->`)."""
    text = README.read_text()
    match = re.search(r"<!-- adapter-example -->\s*```python\n(.*?)```", text, flags=re.DOTALL)
    assert match, "README.md has no adapter example after <!-- adapter-example -->"
    return match.group(1)


def one_bug_source() -> str:
    """The README adapter with one bug: sigmoid's derivative without its (1 - y) factor."""
    source = readme_adapter_source()
    assert SIGMOID_GRAD in source, "the README adapter's sigmoid derivative changed; update SIGMOID_GRAD"
    return source.replace(SIGMOID_GRAD, "return grad_y * y")


def make_author_folder(folder: Path, adapter_source: str | None = None) -> Path:
    """`folder` holding my_mlp.py (the README adapter, or `adapter_source`) and the decoys."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "my_mlp.py").write_text(adapter_source if adapter_source is not None else readme_adapter_source())
    for name in DECOYS:
        (folder / name).write_text(f"raise ImportError('the user\\'s own {name} was imported by mlpbench')\n")
    return folder


def mlpbench_root() -> Path:
    """The folder this interpreter imports `mlpbench` from (a checkout, or site-packages)."""
    return Path(mlpbench.__file__).resolve().parents[1]


def author_env(**extra: str) -> dict[str, str]:
    """The environment of an author's shell: PYTHONPATH names only where mlpbench is, never the working folder."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return {**env, "PYTHONPATH": str(mlpbench_root()), **extra}


def mlpbench_command() -> list[str]:
    """The `mlpbench` console script beside this interpreter, else `python -P -m mlpbench` (no working folder
    on the path, as with the console script)."""
    script = Path(sys.executable).with_name("mlpbench")
    if script.exists():
        return [str(script)]
    if sys.version_info < (3, 11):
        pytest.skip("no mlpbench console script and no `python -P` here")
    return [sys.executable, "-P", "-m", "mlpbench"]


def listing(folder: Path) -> list[str]:
    """Every path under `folder`, relative, sorted: what a command left behind."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def pytest_command(*argv: str) -> list[str]:
    """pytest with mlpbench's plugin loaded (by its entry point where installed, else `-p`), no cache folder."""
    from mlpbench.plugin_loading import plugin_args

    return [sys.executable, "-m", "pytest", *plugin_args(), "-p", "no:cacheprovider", *argv]
