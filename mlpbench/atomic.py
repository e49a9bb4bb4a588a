"""Atomic file writes: write to a temporary file in the same directory, then `os.replace` it into place.

A reader never sees a half-written report, and an interrupted run leaves the previous file intact. Files get
the mode an ordinary `open()` would give them (0o666 less the process's umask), not the 0o600 of `mkstemp`.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's umask (read by setting it and restoring it at once, under a lock)."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def default_file_mode() -> int:
    """The mode `open(path, "w")` would create a file with: 0o666 less the umask."""
    return 0o666 & ~current_umask()


def default_dir_mode() -> int:
    """The mode `os.mkdir(path)` would create a directory with: 0o777 less the umask."""
    return 0o777 & ~current_umask()


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `path` atomically (creating parent directories); return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), default_file_mode())
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    return target


def write_text_atomic(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write `text` to `path` atomically."""
    return write_bytes_atomic(path, text.encode(encoding))


def write_json_atomic(path: str | os.PathLike[str], obj: Any, *, indent: int = 2) -> Path:
    """Write `obj` as strict JSON to `path` atomically.

    NumPy scalars and arrays become numbers and lists; non-finite floats become the strings "nan", "inf" and
    "-inf" so that the file stays valid JSON for every reader.
    """
    text = json.dumps(to_jsonable(obj), indent=indent, allow_nan=False)
    return write_text_atomic(path, text + "\n")


def to_jsonable(value: Any) -> Any:
    """A copy of `value` made of dict, list, str, int, float (finite), bool and None."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (str, bool, int)) or value is None:
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "tolist"):
        return to_jsonable(value.tolist())
    raise TypeError(f"object of type {type(value).__name__} is not JSON serialisable")

