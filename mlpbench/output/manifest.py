"""The manifest of an output folder: which files mlpbench wrote there, with their SHA-256 digests.

It is the JSON file ``.mlpbench-manifest.json`` at the top of the folder::

    {"format": "mlpbench-manifest/1", "kind": "bench",
     "files": {"bench.json": {"sha256": "…", "size": 1234}, "cells/step_….json": {...}},
     "pending": {"bench.json": {"sha256": "…", "size": 1300, "temp": ".bench.json.1f2e3d4c.tmp"}},
     "sets": {"reference": "check"}}

- kind: which command's output the folder holds (`KINDS`); a command writes only into a folder of its kind.
- files: every file written, by its path inside the folder (``/``-separated), with the digest and size it was
  written with.
- pending: writes that were under way: the new content's digest and the temporary file it goes to first. Each
  write is recorded here before anything is created, so that a run killed at any moment leaves nothing that
  the next run cannot tell apart from a user's file.
- sets: subfolders that are output folders of their own, with their own manifest, and their kind (the
  per-implementation report sets of `mlpbench matrix`).

The manifest is written atomically through the fixed temporary name ``.mlpbench-manifest.json.tmp`` (one
writer at a time: the folder is locked while it is written).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlpbench.atomic import write_bytes_atomic

MANIFEST_NAME = ".mlpbench-manifest.json"
MANIFEST_TEMP = MANIFEST_NAME + ".tmp"
FORMAT = "mlpbench-manifest/1"

CHECK = "check"
MATRIX = "matrix"
BENCH = "bench"
COMPARISON = "comparison"
SCALING = "scaling"
KINDS = {
    CHECK: "the report set of `mlpbench check`",
    MATRIX: "the conformance matrix of `mlpbench matrix`",
    BENCH: "a benchmark run of `mlpbench bench` (or its tables re-rendered by `mlpbench report`)",
    COMPARISON: "a comparison of two runs by `mlpbench report BASE NEW`",
    SCALING: "the scaling table of `mlpbench scaling`",
}
"""Every kind of output folder, and what it holds."""

MAX_MANIFEST_BYTES = 64 * 2**20


class ManifestError(ValueError):
    """A manifest that cannot be read or does not have the documented shape."""


@dataclass(frozen=True)
class FileEntry:
    """A file as mlpbench wrote it."""

    sha256: str
    size: int


@dataclass(frozen=True)
class PendingWrite:
    """A write under way: the new content's digest and size, and the temporary file it is written to first."""

    sha256: str
    size: int
    temp: str


@dataclass
class Manifest:
    kind: str
    files: dict[str, FileEntry] = field(default_factory=dict)
    pending: dict[str, PendingWrite] = field(default_factory=dict)
    sets: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "kind": self.kind,
            "files": {path: {"sha256": e.sha256, "size": e.size} for path, e in sorted(self.files.items())},
            "pending": {path: {"sha256": p.sha256, "size": p.size, "temp": p.temp}
                        for path, p in sorted(self.pending.items())},
            "sets": dict(sorted(self.sets.items())),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ManifestError(f"not a manifest of format {FORMAT!r}")
        kind = data.get("kind")
        if kind not in KINDS:
            raise ManifestError(f"unknown kind {kind!r}")
        return cls(
            kind=kind,
            files={path: FileEntry(*_record(entry, ("sha256", "size"), path))
                   for path, entry in _mapping(data.get("files", {}), "files").items()},
            pending={path: PendingWrite(*_record(entry, ("sha256", "size", "temp"), path))
                     for path, entry in _mapping(data.get("pending", {}), "pending").items()},
            sets={name: _kind(value, name) for name, value in _mapping(data.get("sets", {}), "sets").items()},
        )


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ManifestError(f"{where}: expected an object")
    for key in value:
        if not valid_relative_path(key):
            raise ManifestError(f"{where}: {key!r} is not a path inside the folder")
    return value


def _record(entry: Any, names: tuple[str, ...], where: str) -> tuple[Any, ...]:
    types = {"sha256": str, "size": int, "temp": str}
    if not isinstance(entry, dict) or any(not isinstance(entry.get(n), types[n]) for n in names):
        raise ManifestError(f"{where!r}: expected an object with {', '.join(names)}")
    if "temp" in names and not valid_relative_path(entry["temp"]):
        raise ManifestError(f"{where!r}: temp {entry['temp']!r} is not a path inside the folder")
    return tuple(entry[n] for n in names)


def _kind(value: Any, where: str) -> str:
    if value not in KINDS:
        raise ManifestError(f"set {where!r}: unknown kind {value!r}")
    return value


def valid_relative_path(path: Any) -> bool:
    """A ``/``-separated path of plain components inside a folder: no ``..``, ``.``, empty or absolute parts,
    no NUL or backslash."""
    if not isinstance(path, str) or not path or "\x00" in path or "\\" in path:
        return False
    return all(part not in ("", ".", "..") for part in path.split("/"))


def read_manifest(folder: Path) -> Manifest | None:
    """The manifest of `folder`; None when it has none; ManifestError when it cannot be read."""
    path = folder / MANIFEST_NAME
    try:
        if not path.is_file() or path.is_symlink():
            if os.path.lexists(path):
                raise ManifestError(f"{MANIFEST_NAME} is not a regular file")
            return None
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise ManifestError(f"{MANIFEST_NAME} is larger than {MAX_MANIFEST_BYTES} bytes")
        return Manifest.from_dict(json.loads(path.read_bytes()))
    except (OSError, ValueError, RecursionError) as error:
        if isinstance(error, ManifestError):
            raise
        raise ManifestError(f"{MANIFEST_NAME} cannot be read: {error}") from None


def write_manifest(folder: Path, manifest: Manifest) -> None:
    data = (json.dumps(manifest.to_dict(), indent=1) + "\n").encode()
    write_bytes_atomic(folder / MANIFEST_NAME, data, temp=folder / MANIFEST_TEMP)


def digest_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_entry(path: Path) -> FileEntry:
    """Digest and size of the file at `path` (read in chunks)."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return FileEntry(digest.hexdigest(), size)


def manifest_of(folder: Path, kind: str) -> Manifest:
    """A manifest listing every regular file under `folder` (a set just written into a fresh folder)."""
    manifest = Manifest(kind)
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            path = Path(root) / name
            relative = path.relative_to(folder).as_posix()
            if relative not in (MANIFEST_NAME, MANIFEST_TEMP):
                manifest.files[relative] = file_entry(path)
    return manifest
