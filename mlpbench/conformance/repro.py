"""Reproduction of a failed check: its inputs as a .npz file and the command that replays the one case.

The file, repro/<case>__<dtype>.npz in the report set (written by `mlpbench.conformance.reports.write_reports`), holds
every array the check handed to the implementation (lists flattened as "params.0", "params.1", ...) and the
case description as JSON text under "case_json"; it is written with `np.savez` and read back with
`allow_pickle=False`. The inputs are regenerated identically by the replay command (the catalogue seeds them),
so the file is for the person debugging: load it and call the adapter by hand.

The replay command runs as printed from any directory, without an activated virtualenv: it starts with this
interpreter's absolute path and ``-m mlpbench``; a `module:factory` plug-in that is not installed gets
``PYTHONPATH=<the folder its top-level package or module is in>`` in front (with this process's own PYTHONPATH
entries, made absolute); every path in it is absolute; and the replay writes its reports into a directory of
its own (``<report dir>-replay/<case>__<dtype>``), never over the full report set.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import shlex
import site
import sys
import sysconfig
from collections.abc import Sequence
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path
from typing import Any

import numpy as np

from mlpbench.atomic import write_bytes_atomic
from mlpbench.catalogue.conformance import CASES_BY_ID
from mlpbench.conformance.results import CheckResult
from mlpbench.impls.targets import is_module_target, search_path
from mlpbench.output.names import COMPONENT_LIMIT, safe_component

REPRO_DIR = "repro"
REPLAY_SUFFIX = "-replay"


def repro_file_name(case_id: str, dtype: str) -> str:
    """'optimizers/adam+amsgrad', 'float32' -> 'optimizers__adam+amsgrad__float32.npz'."""
    return f"{case_dtype_stem(case_id, dtype)}.npz"


def case_dtype_stem(case_id: str, dtype: str) -> str:
    """'optimizers/adam+amsgrad', 'float32' -> 'optimizers__adam+amsgrad__float32': one safe path component
    (`mlpbench.output.names`), whatever the case id and dtype hold."""
    safe = re.sub(r"[^A-Za-z0-9_.+-]", "_", case_id.replace("/", "__"))
    return safe_component(f"{safe}__{re.sub(r'[^A-Za-z0-9_]', '_', dtype)}", limit=COMPONENT_LIMIT - 10)


def repro_bytes(case: dict[str, Any], dtype: str, inputs: dict[str, Any]) -> bytes:
    """The .npz file's content: the (non-object) input arrays and the case description as JSON text."""
    arrays = {name: np.asarray(value) for name, value in inputs.items() if np.asarray(value).dtype != object}
    arrays["case_json"] = np.asarray(json.dumps({**case, "dtype": dtype}, default=str))
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)  # nothing to pickle: object arrays are left out above
    return buffer.getvalue()


def case_description(result: CheckResult) -> dict[str, Any]:
    """The failed case's description: `details["case"]` when the check gave one, else the catalogue's entry."""
    given = result.details.get("case")
    if isinstance(given, dict):
        return {"id": result.case_id, **given}
    case = CASES_BY_ID.get(result.case_id)
    return case.to_dict() if case is not None else {"id": result.case_id, "area": result.area}


def write_repro_files(set_dir: Path, final_dir: Path, results: Sequence[CheckResult]) -> None:
    """For every failed result with inputs: `set_dir`/repro/<case>__<dtype>.npz, and its `repro_path` set to
    where the file will be once the set is in place (`final_dir`/repro/...)."""
    used: set[str] = set()
    for result in results:
        if not result.failed or not result.inputs:
            continue
        name = repro_file_name(result.case_id, result.dtype)
        stem, count = name[: -len(".npz")], 1
        while name in used:  # two results sharing a case and dtype keep a file each
            count += 1
            name = f"{stem}-{count}.npz"
        used.add(name)
        write_bytes_atomic(set_dir / REPRO_DIR / name, repro_bytes(case_description(result), result.dtype,
                                                                    result.inputs))
        result.repro_path = os.fspath(final_dir / REPRO_DIR / name)


def load_repro(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(case description, inputs) from a reproduction file, without unpickling anything."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    case = json.loads(str(arrays.pop("case_json")))
    return case, arrays


def replay_command(
    impl: str, case_id: str, dtype: str, report_dir: str | Path | None = None, *, replay_dir: str | Path | None = None
) -> str:
    """The shell command that re-runs exactly this case for this implementation and dtype.

    report_dir: the full run's report directory; the replay writes to `replay_report_dir(report_dir, ...)`.
    replay_dir: where the replay writes its reports, overriding that.
    """
    target = Path(replay_dir) if replay_dir is not None else replay_report_dir(report_dir, case_id, dtype, impl)
    parts = [*mlpbench_command(), "check", "--impl", impl, "--case", glob_literal(case_id), "--dtype", dtype,
             "--report-dir", os.path.abspath(target)]
    command = shlex.join(parts)
    pythonpath = replay_pythonpath(impl)
    return f"PYTHONPATH={shlex.quote(pythonpath)} {command}" if pythonpath else command


def mlpbench_command() -> list[str]:
    """How a printed command starts: this interpreter's absolute path and `-m mlpbench`, which runs from any
    folder and needs no activated virtualenv (a bare `mlpbench` does)."""
    return [os.path.abspath(sys.executable), "-m", "mlpbench"]


def replay_pythonpath(impl: str) -> str | None:
    """The PYTHONPATH a replay needs, absolute: the folder of a `module:factory` target's module when it is not
    installed, then this process's own PYTHONPATH entries (which may be how mlpbench itself is found); None
    when neither is needed."""
    own = [os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    module_root = plugin_pythonpath(impl)
    entries = [*([module_root] if module_root else []), *own]
    return os.pathsep.join(dict.fromkeys(entries)) or None


def replay_report_dir(report_dir: str | Path | None, case_id: str, dtype: str, impl: str = "impl") -> Path:
    """<report dir>-replay/<case>__<dtype> beside the full report directory, as an absolute path (a replay of
    a replay reuses its own directory); <working folder>/reports/replay-<impl>/<case>__<dtype> when no directory
    is known (a check run from pytest)."""
    stem = case_dtype_stem(case_id, dtype)
    if report_dir is None:
        return Path(os.path.abspath("reports")) / safe_component(f"replay-{impl}") / stem
    full = Path(os.path.abspath(report_dir))
    if full.name == stem and full.parent.name.endswith(REPLAY_SUFFIX):
        return full
    return full.parent / safe_component(full.name or "reports", suffix=REPLAY_SUFFIX) / stem


def glob_literal(text: str) -> str:
    """`text` as an fnmatch pattern that matches only itself ('[' -> '[[]', '*' -> '[*]', '?' -> '[?]')."""
    return re.sub(r"([*?[])", r"[\1]", text)


def plugin_pythonpath(impl: str) -> str | None:
    """For 'module:factory' whose module is not installed: the folder holding its top-level package or module,
    found on the path its worker imports it from (`mlpbench.impls.targets.search_path`); None otherwise."""
    if not is_module_target(impl):
        return None
    top = impl.split(":", 1)[0].split(".", 1)[0]
    try:
        spec = PathFinder.find_spec(top, search_path(impl)) or importlib.util.find_spec(top)  # nothing imported
    except (ImportError, ValueError):
        return None
    root = _import_root(spec)
    if root is None or _is_installed_location(root):
        return None
    return root


def _import_root(spec: ModuleSpec | None) -> str | None:
    if spec is None:
        return None
    if spec.submodule_search_locations:  # a package (regular or namespace): the folder holding it
        return os.path.dirname(os.path.abspath(list(spec.submodule_search_locations)[0]))
    if spec.origin and os.path.isabs(spec.origin):
        return os.path.dirname(spec.origin)
    return None  # built-in or frozen


def _is_installed_location(folder: str) -> bool:
    """True for site-packages and the standard library, which every `mlpbench` can import from anyway."""
    paths = sysconfig.get_paths()
    candidates = [paths.get(key, "") for key in ("purelib", "platlib", "stdlib", "platstdlib")]
    candidates += [*site.getsitepackages(), site.getusersitepackages()]
    real = os.path.realpath(folder)
    return any(c and os.path.realpath(c) == real for c in candidates)
