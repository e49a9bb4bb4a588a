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


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, *, temp: str | os.PathLike[str] | None = None
                       ) -> Path:
    """Write `data` to `path` atomically (creating parent directories); return the path.

    temp: the temporary file to write first (in the same folder; replaced if it exists, never followed if it is
    a symbolic link); default a fresh ``.<name>.XXXXXXXX.tmp``.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if temp is None:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    else:
        tmp_name = os.fspath(temp)
        fd = os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
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
    """Write `obj` as strict JSON to `path` atomically (see `json_text`)."""
    return write_text_atomic(path, json_text(obj, indent=indent))


def json_text(obj: Any, *, indent: int = 2) -> str:
    """`obj` as strict JSON text ending in a newline.

    NumPy scalars and arrays become numbers and lists; non-finite floats become the strings "nan", "inf" and
    "-inf" so that the file stays valid JSON for every reader.
    """
    return json.dumps(to_jsonable(obj), indent=indent, allow_nan=False) + "\n"


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

