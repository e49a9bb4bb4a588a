"""Reproduction of a failed check: its inputs as a .npz file and the command that replays the one case.

The file holds every array the check handed to the implementation (lists flattened as "params.0",
"params.1", ...) and the case description as JSON text under "case_json"; it is read back with
`allow_pickle=False`. The inputs are regenerated identically by the replay command (the catalogue seeds them),
so the file is for the person debugging: load it and call the adapter by hand.
"""

from __future__ import annotations

import io
import json
import re
import shlex
from pathlib import Path
from typing import Any

import numpy as np

from mlpbench.atomic import write_bytes_atomic


def repro_file_name(case_id: str, dtype: str) -> str:
    """'optimizers/adam+amsgrad', 'float32' -> 'optimizers__adam+amsgrad__float32.npz'."""
    safe = re.sub(r"[^A-Za-z0-9_.+-]", "_", case_id.replace("/", "__"))
    return f"{safe}__{dtype}.npz"


def save_repro(
    report_dir: str | Path, case: dict[str, Any], dtype: str, inputs: dict[str, np.ndarray]
) -> Path:
    """Write DIR/repro/<case>__<dtype>.npz with the inputs and the case description; return its path."""
    path = Path(report_dir) / "repro" / repro_file_name(case["id"], dtype)
    arrays = {name: np.asarray(value) for name, value in inputs.items() if np.asarray(value).dtype != object}
    arrays["case_json"] = np.asarray(json.dumps({**case, "dtype": dtype}, default=str))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return write_bytes_atomic(path, buffer.getvalue())


def load_repro(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(case description, inputs) from a reproduction file, without unpickling anything."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    case = json.loads(str(arrays.pop("case_json")))
    return case, arrays


def replay_command(impl: str, case_id: str, dtype: str, report_dir: str | Path | None = None) -> str:
    """The shell command that re-runs exactly this case for this implementation and dtype."""
    parts = ["mlpbench", "check", "--impl", impl, "--case", case_id, "--dtype", dtype]
    if report_dir is not None:
        parts += ["--report-dir", str(report_dir)]
    return shlex.join(parts)
