"""Where a `package.module:factory` target is imported from, and what a wrong target is told.

The rule (docs/targets.md): a `module:factory` target is imported with the working folder first on the import
path, as `python -m` and `python script.py` do for their own folder, whichever way mlpbench was started (the
`mlpbench` console script puts its own bin folder there instead). The gate computes that path and hands it to
the worker process that imports the module (`mlpbench.isolation.worker.prepare`), so the gate itself never
imports the implementation. Registry names and entry points are looked up with the gate's path unchanged.
"""

from __future__ import annotations

import difflib
import os
import sys
import types
from collections.abc import Iterable, Sequence


def is_module_target(label: str) -> bool:
    """True for "package.module:factory" (a colon, and not a sized built-in such as "torch-ddp:4")."""
    from mlpbench.impls.registry import SIZED_BUILT_INS

    return ":" in label and label.partition(":")[0] not in SIZED_BUILT_INS


def search_path(label: str, path: Sequence[str] | None = None, cwd: str | None = None) -> list[str]:
    """The import path a worker loading `label` uses: `path` (default: this process's sys.path) with its
    empty entry (the working folder, as `python -c` writes it) made absolute, and for a module target the
    working folder first, once."""
    folder = os.path.abspath(cwd if cwd is not None else os.getcwd())
    entries = [folder if entry == "" else entry for entry in (sys.path if path is None else path)]
    if is_module_target(label):
        entries = [folder, *(entry for entry in entries if os.path.abspath(entry) != folder)]
    return entries


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """"; did you mean 'torch-cpu'?" for a close misspelling of a known name (difflib), else ""."""
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.75)
    if not close:
        return ""
    names = [repr(match) for match in close]
    return "; did you mean " + (f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]) + "?"


def describe_object(obj: object) -> str:
    """What a target found, in a few words: "module 'posixpath'", "class 'os.PathLike'", "a str ('x')"."""
    if isinstance(obj, types.ModuleType):
        return f"module {obj.__name__!r}"
    if isinstance(obj, type):
        return f"class '{obj.__module__}.{obj.__qualname__}'"
    text = repr(obj)
    shown = text if len(text) <= 60 else text[:57] + "..."
    return f"a {type(obj).__name__} ({' '.join(shown.split())})"
