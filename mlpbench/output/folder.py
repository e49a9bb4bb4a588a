"""The ownership rule, the same for every command that writes a folder:

    mlpbench writes into an output folder only when the folder is new, empty, or holds nothing but files that
    mlpbench wrote there for the same kind of output (listed in the folder's manifest, unchanged since);
    otherwise the command exits 2 naming the first other file, and changes nothing. Replacing or clearing
    removes only such files.

Every entry counts, at any depth: a file that is not in the manifest, a file changed since it was written, a
folder or symbolic link mlpbench did not make, a file written for another kind of output (a check's
``conformance.json`` in a folder given to `mlpbench bench`). A folder given as a symbolic link is the folder it
points to.

`preflight` applies the rule without creating anything (commands call it with their other usage checks, before
any work); `OwnedFolder` applies it again when the folder is opened for writing, under an exclusive lock on the
folder (two commands writing one folder take turns; one that waits more than `LOCK_WAIT_S` seconds gives up
with exit 2), and then writes, replaces and removes files, keeping the manifest (`mlpbench.output.manifest`).
"""

from __future__ import annotations

import errno
import os
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlpbench.atomic import json_text, write_bytes_atomic
from mlpbench.output.manifest import (
    KINDS,
    MANIFEST_NAME,
    MANIFEST_TEMP,
    FileEntry,
    Manifest,
    ManifestError,
    PendingWrite,
    digest_bytes,
    file_entry,
    read_manifest,
    valid_relative_path,
    write_manifest,
)

try:
    import fcntl
except ImportError:  # not POSIX: no lock (one command at a time per folder is then up to the user)
    fcntl = None  # type: ignore[assignment]

LOCK_WAIT_S = 30.0
"""How long a command waits for another command writing the same folder before it gives up (exit 2)."""

RULE = ("mlpbench writes only into a new or empty folder or one holding nothing but its own output of the same "
        "kind (listed in the folder's .mlpbench-manifest.json, unchanged since), and removes or replaces only "
        "those files")
"""The rule in one sentence, for --help texts."""


class OwnershipError(OSError):
    """The folder cannot be written under the ownership rule; the message is one line naming why."""

    def __init__(self, message: str, path: str | os.PathLike[str] = "") -> None:
        super().__init__(errno.EPERM, message, os.fspath(path))

    def __str__(self) -> str:
        return str(self.strerror)


@dataclass(frozen=True)
class Foreign:
    """The first entry of a folder that is not mlpbench's own output: its path inside the folder, and why."""

    path: str
    why: str


def describe(folder: str | os.PathLike[str], foreign: Foreign) -> str:
    return (f"output folder {os.fspath(folder)!r} holds {foreign.path!r}, {foreign.why}; nothing was changed: "
            f"mlpbench writes only into a folder that is new, empty or holds nothing but its own output of the same "
            f"kind (docs/output-folders.md): choose another folder, or move that file away")


# -- the rule ---------------------------------------------------------------------------------------------------


def find_foreign(folder: Path, kind: str) -> Foreign | None:
    """The first entry (depth first, in name order) of the existing folder `folder` that a command writing
    output of `kind` there must leave alone, or None when there is none."""
    try:
        manifest = read_manifest(folder)
    except ManifestError as error:
        return Foreign(MANIFEST_NAME, f"which cannot be read as a manifest ({error})")
    if manifest is not None and manifest.kind != kind:
        named = [n for n in sorted([*manifest.files, *manifest.sets]) if os.path.lexists(folder / n)]
        return Foreign((named or [MANIFEST_NAME])[0], f"which is part of {KINDS[manifest.kind]}, not of {KINDS[kind]}")
    return _Scan(folder, manifest).visit("")


class _Scan:
    """A walk of one folder against its manifest (None: a folder without one, which must then be empty)."""

    def __init__(self, root: Path, manifest: Manifest | None) -> None:
        self.root = root
        self.manifest = manifest or Manifest(kind="")
        self.temps = {p.temp for p in self.manifest.pending.values()}
        known = [*self.manifest.files, *self.manifest.pending, *self.temps, *self.manifest.sets]
        self.dirs = {ancestor for path in known for ancestor in ancestors(path)}

    def visit(self, directory: str) -> Foreign | None:
        try:
            entries = sorted(os.scandir(self.root / directory), key=lambda e: e.name)
        except OSError as error:
            return Foreign(directory or ".", f"which cannot be read ({error.strerror or error})")
        for entry in entries:
            found = self.check(f"{directory}/{entry.name}" if directory else entry.name, entry)
            if found is not None:
                return found
        return None

    def check(self, relative: str, entry: os.DirEntry[str]) -> Foreign | None:
        if entry.is_symlink():
            return Foreign(relative, "a symbolic link mlpbench did not make")
        if entry.is_dir(follow_symlinks=False):
            if relative in self.manifest.sets:
                found = find_foreign(self.root / relative, self.manifest.sets[relative])
                return None if found is None else Foreign(f"{relative}/{found.path}", found.why)
            if relative in self.dirs:
                return self.visit(relative)
            inside = _first_inside(self.root / relative)
            if inside is None:
                return Foreign(relative, "a folder mlpbench did not make")
            return Foreign(f"{relative}/{inside}", "which mlpbench did not write")
        if not entry.is_file(follow_symlinks=False):
            return Foreign(relative, "which is not a regular file")
        if relative in (MANIFEST_NAME, MANIFEST_TEMP) or relative in self.temps:
            return None
        recorded = [e for e in (self.manifest.files.get(relative), self.manifest.pending.get(relative)) if e]
        if not recorded:
            return Foreign(relative, "which mlpbench did not write")
        if not _matches(self.root / relative, recorded):
            return Foreign(relative, "which was changed since mlpbench wrote it")
        return None


def _first_inside(folder: Path) -> str | None:
    """The first entry under `folder`, depth first in name order ('a/b/c'), or None when it is empty."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return None
    if not entries:
        return None
    first = entries[0]
    if first.is_dir(follow_symlinks=False):
        deeper = _first_inside(folder / first.name)
        return f"{first.name}/{deeper}" if deeper else first.name
    return first.name


def _matches(path: Path, recorded: Sequence[FileEntry | PendingWrite]) -> bool:
    try:
        size = path.stat().st_size
        if not any(r.size == size for r in recorded):
            return False
        digest = file_entry(path).sha256
    except OSError:
        return False
    return any(r.sha256 == digest for r in recorded)


def ancestors(relative: str) -> list[str]:
    """'a/b/c' -> ['a', 'a/b']."""
    parts = relative.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def preflight(path: str | os.PathLike[str], kind: str, *, whole: bool = False) -> None:
    """Raise OwnershipError when a command could not write output of `kind` into `path`; creates nothing.

    whole: the folder is replaced as a whole (a report set), so it must not hold the working directory."""
    target = Path(path)
    real = Path(os.path.realpath(target))
    if os.path.lexists(real):
        if not real.is_dir():
            raise OwnershipError(f"output folder {str(target)!r} is not writable: it is a file, not a folder", target)
        fd = _lock(real, target, LOCK_WAIT_S, shared=True)  # not in the middle of another command's write
        try:
            foreign = find_foreign(real, kind) if os.path.isdir(real) else None
        finally:
            _unlock(fd)
        if foreign is not None:
            raise OwnershipError(describe(target, foreign), target)
        if whole:
            _refuse_working_directory(real, target)
        if not os.access(real, os.W_OK | os.X_OK):
            raise OwnershipError(f"output folder {str(target)!r} is not writable: permission denied", target)
        return
    ancestor = real.parent
    while not os.path.lexists(ancestor):
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OwnershipError(f"output folder {str(target)!r} is not writable: {str(ancestor)!r} is not a folder",
                             target)
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OwnershipError(f"output folder {str(target)!r} is not writable: cannot create it in "
                             f"{str(ancestor)!r} (permission denied)", target)


def _refuse_working_directory(real: Path, shown: Path) -> None:
    try:
        cwd = Path.cwd()
    except FileNotFoundError:  # the working directory was removed: it cannot be inside `real`
        return
    if cwd == real or real in cwd.parents:
        raise OwnershipError(f"{str(shown)!r} contains the working directory; it cannot be replaced as a report "
                             f"set (choose a dedicated directory)", shown)


# -- writing ----------------------------------------------------------------------------------------------------


class OwnedFolder:
    """An output folder opened for writing: created if needed (only now), locked, checked against the rule,
    then written file by file, each write recorded in the manifest before it is made.

        with OwnedFolder(out, BENCH) as folder:
            folder.write_text("bench.md", text)
    """

    def __init__(self, path: str | os.PathLike[str], kind: str, *, whole: bool = False,
                 lock_wait: float | None = None) -> None:
        self.path = Path(path)
        self.kind = kind
        self.whole = whole
        self.lock_wait = lock_wait
        self.real = Path(os.path.realpath(self.path))
        self.manifest = Manifest(kind)
        self._fd: int | None = None
        self._dirty = False
        self._detached = False

    # -- opening and closing -------------------------------------------------------------------------------
    def __enter__(self) -> OwnedFolder:
        preflight(self.path, self.kind, whole=self.whole)
        try:
            self.real.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OwnershipError(f"output folder {str(self.path)!r} is not writable: "
                                 f"{error.strerror or error}", self.path) from None
        self._fd = _lock(self.real, self.path, LOCK_WAIT_S if self.lock_wait is None else self.lock_wait)
        try:
            foreign = find_foreign(self.real, self.kind)
            if foreign is not None:
                raise OwnershipError(describe(self.path, foreign), self.path)
            self.manifest = read_manifest(self.real) or Manifest(self.kind)
            self._settle()
        except BaseException:
            self._unlock()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._dirty and not self._detached:
                self._save()
        finally:
            self._unlock()

    def detach(self) -> None:
        """The folder was replaced as a whole (`mlpbench.conformance.report_set`): write nothing more here."""
        self._detached = True

    def _unlock(self) -> None:
        _unlock(self._fd)
        self._fd = None

    def _settle(self) -> None:
        """Writes a killed run left under way: the temporary files go; the target keeps whichever recorded
        content it has; files that are gone leave the manifest."""
        for relative, pending in list(self.manifest.pending.items()):
            temp = self.real / pending.temp
            if os.path.lexists(temp):
                temp.unlink()
            if _matches(self.real / relative, [pending]):
                self.manifest.files[relative] = FileEntry(pending.sha256, pending.size)
            del self.manifest.pending[relative]
            self._dirty = True
        for relative in [r for r in self.manifest.files if not os.path.lexists(self.real / r)]:
            del self.manifest.files[relative]
            self._dirty = True

    def _save(self) -> None:
        write_manifest(self.real, self.manifest)
        self._dirty = False

    # -- files ---------------------------------------------------------------------------------------------
    def owned(self) -> list[str]:
        """The files this folder's manifest lists, by their path inside it."""
        return sorted(self.manifest.files)

    def write_bytes(self, relative: str, data: bytes) -> Path:
        return self.write_many({relative: data})[0]

    def write_text(self, relative: str, text: str) -> Path:
        return self.write_bytes(relative, text.encode("utf-8"))

    def write_json(self, relative: str, obj: Any) -> Path:
        return self.write_text(relative, json_text(obj))

    def write_many(self, contents: Mapping[str, bytes]) -> list[Path]:
        """Write several files (each atomically); the manifest records them all before the first is made."""
        for relative in contents:
            self._check_replaceable(relative)
        for relative, data in contents.items():
            temp = "/".join([*ancestors(relative)[-1:], f".{relative.rsplit('/', 1)[-1]}.{secrets.token_hex(4)}.tmp"])
            self.manifest.pending[relative] = PendingWrite(digest_bytes(data), len(data), temp)
        self._save()
        for relative, data in contents.items():
            pending = self.manifest.pending[relative]
            write_bytes_atomic(self.real / relative, data, temp=self.real / pending.temp)
            self.manifest.files[relative] = FileEntry(pending.sha256, pending.size)
            del self.manifest.pending[relative]
            self._dirty = True  # recorded as pending on disk until the next save, which is as good
        return [self.path / relative for relative in contents]

    def remove(self, relative: str) -> None:
        """Remove a file this folder's manifest lists (unchanged since it was written), and the folders it
        leaves empty; nothing when it is already gone."""
        if relative not in self.manifest.files:
            return
        target = self.real / relative
        if os.path.lexists(target):
            self._check_replaceable(relative)
            target.unlink()
        del self.manifest.files[relative]
        self._dirty = True
        self._prune(relative)

    def remove_where(self, wanted: Callable[[str], bool]) -> list[str]:
        """Remove every file of the manifest whose path `wanted` accepts; return their paths."""
        chosen = [relative for relative in self.owned() if wanted(relative)]
        for relative in chosen:
            self.remove(relative)
        if self._dirty:
            self._save()
        return chosen

    def add_set(self, name: str, kind: str) -> Path:
        """Record the subfolder `name` as an output folder of its own (of `kind`) before it is made."""
        if not valid_relative_path(name) or "/" in name:
            raise ValueError(f"not one path component: {name!r}")
        if name in self.manifest.files or name in self.manifest.pending:
            raise OwnershipError(f"{name!r} is a file of {str(self.path)!r}, not a folder", self.path)
        if self.manifest.sets.get(name) != kind:
            self.manifest.sets[name] = kind
            self._save()
        return self.path / name

    def _check_replaceable(self, relative: str) -> None:
        """`relative` may be (re)written: a path inside the folder, absent or this manifest's unchanged file,
        under folders that are not files or links."""
        if not valid_relative_path(relative):
            raise ValueError(f"not a path inside the output folder: {relative!r}")
        for ancestor in ancestors(relative):
            path = self.real / ancestor
            if os.path.islink(path) or (os.path.lexists(path) and not path.is_dir()):
                raise OwnershipError(describe(self.path, Foreign(ancestor, "which is not a folder mlpbench made")),
                                     self.path)
        target = self.real / relative
        if not os.path.lexists(target):
            return
        recorded = [e for e in (self.manifest.files.get(relative),) if e]
        if target.is_symlink() or not target.is_file() or not recorded:
            raise OwnershipError(describe(self.path, Foreign(relative, "which mlpbench did not write")), self.path)
        if not _matches(target, recorded):
            raise OwnershipError(describe(self.path, Foreign(relative, "which was changed since mlpbench wrote it")),
                                 self.path)

    def _prune(self, relative: str) -> None:
        """Remove the folders above `relative` that are left empty and hold nothing the manifest knows."""
        known = {a for path in [*self.manifest.files, *self.manifest.sets] for a in ancestors(path)}
        for ancestor in reversed(ancestors(relative)):
            if ancestor in known:
                return
            try:
                (self.real / ancestor).rmdir()
            except OSError:  # not empty: what is in it stays
                return


@contextmanager
def owned_folder(target: str | os.PathLike[str] | OwnedFolder, kind: str) -> Iterator[OwnedFolder]:
    """`target` itself when it is an open OwnedFolder (of `kind`), else the folder at that path, opened."""
    if isinstance(target, OwnedFolder):
        if target.kind != kind:
            raise ValueError(f"an output folder of kind {target.kind!r} where {kind!r} was expected")
        yield target
        return
    with OwnedFolder(target, kind) as folder:
        yield folder


def discard(folder: Path) -> list[str]:
    """Remove a folder of mlpbench's output that was moved aside (the previous report set after a swap): its
    manifest's files that are unchanged, the manifest, and the folders left empty. Returns what stays (a
    file someone put there in the meantime), relative to `folder`."""
    try:
        manifest = read_manifest(folder) or Manifest(kind="")
    except ManifestError:
        manifest = Manifest(kind="")
    for relative, entry in manifest.files.items():
        path = folder / relative
        if not path.is_symlink() and path.is_file() and _matches(path, [entry]):
            path.unlink()
    for name in (MANIFEST_NAME, MANIFEST_TEMP):
        if (folder / name).is_file():
            (folder / name).unlink()
    return _remove_empty_folders(folder)


def _remove_empty_folders(folder: Path) -> list[str]:
    """Remove `folder` and the folders under it that hold no file; return the files that stay."""
    left: list[str] = []
    for root, dirs, names in os.walk(folder, topdown=False):
        left += [(Path(root) / name).relative_to(folder).as_posix() for name in names]
        for name in dirs:
            with suppress(OSError):
                (Path(root) / name).rmdir()
    with suppress(OSError):
        folder.rmdir()
    return sorted(left)


def _lock(real: Path, shown: Path, wait: float, *, shared: bool = False) -> int | None:
    """An open descriptor of the folder `real`, locked (flock: exclusive to write, shared to read); the folder
    may be replaced while we wait (a report set is swapped in whole), so the lock is taken again until it holds
    the folder that is at the path now. An exclusive lock makes the folder when it is missing; a shared one
    gives None then (there is nothing to read)."""
    if fcntl is None:
        return None
    deadline = time.monotonic() + wait
    while True:
        try:
            if not shared:
                real.mkdir(parents=True, exist_ok=True)
            fd = os.open(real, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except FileNotFoundError:  # moved away between the two calls (a swap of a whole set): again
            if shared and not os.path.lexists(real):
                return None
            continue
        try:
            _flock_until(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX, deadline, shown)
            if _same_folder(fd, real):
                return fd
        except BaseException:
            os.close(fd)
            raise
        _unlock(fd)


def _flock_until(fd: int, mode: int, deadline: float, shown: Path) -> None:
    """flock(fd, mode), waiting until `deadline` at most (OwnershipError then)."""
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise OwnershipError(f"output folder {str(shown)!r} is being written by another mlpbench command; "
                                     f"nothing was changed: try again when it has finished", shown) from None
            time.sleep(0.05)


def _same_folder(fd: int, real: Path) -> bool:
    """The locked descriptor is still the folder at `real` (not one swapped away while we waited)."""
    try:
        here, now = os.fstat(fd), os.stat(real)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (now.st_dev, now.st_ino)


def _unlock(fd: int | None) -> None:
    if fd is not None:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
