"""Replace a report directory as one whole set: a reader sees the previous set or the new one, never a mix.

The new set is written into a hidden temporary sibling (``.<name>.new-XXXX``), with its manifest
(`mlpbench.output.manifest`), then swapped with the report directory: on Linux with one atomic
``renameat2(RENAME_EXCHANGE)``, elsewhere by renaming the old directory aside (``.<name>.old-XXXX``) and the new
one into place. The old set is then removed by its manifest, so nothing of it (such as a stale
``repro/*.npz``) survives. If writing fails (a full disk, any OSError) the temporary directory is removed, the
previous set is left untouched and the error is raised again.

The ownership rule (`mlpbench.output.folder`) decides whether a directory may be replaced: only when it is new,
empty, or holds nothing but an earlier report set, unchanged (anything else, at any depth, would be deleted
by the swap): otherwise `OwnershipError`, an OSError, names the first other file and nothing changes. The same
holds for a directory that contains the current working directory. The directory is locked while it is
replaced, so two runs writing one directory take turns.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from mlpbench.atomic import default_dir_mode
from mlpbench.output.folder import OwnedFolder, OwnershipError, discard, preflight
from mlpbench.output.manifest import CHECK, manifest_of, write_manifest

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2

ReportDirError = OwnershipError
"""The report directory cannot be replaced (it holds other files, or is the working directory)."""


def replace_directory(target: str | os.PathLike[str], fill: Callable[[Path], None], kind: str = CHECK) -> Path:
    """Write a new set with `fill(staging_dir)` and swap it in for `target`; return the real target path."""
    with OwnedFolder(target, kind, whole=True) as folder:
        real = folder.real
        staging = Path(tempfile.mkdtemp(prefix=f".{real.name}.new-", dir=real.parent))
        try:
            os.chmod(staging, _mode_for(real))
            fill(staging)
            write_manifest(staging, manifest_of(staging, kind))
            previous = _swap_into_place(staging, real)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)  # only the new set's files, never put in place
            raise
        folder.detach()
        left = discard(previous)
    if left:
        print(f"warning: {previous} is kept: it holds {', '.join(left[:3])}, which appeared while the report set "
              f"was replaced", file=sys.stderr)
    _fsync_directory(real.parent)
    return real


def check_replaceable(target: str | os.PathLike[str], kind: str = CHECK) -> None:
    """Raise `OwnershipError` if `target` exists and must not be replaced: not a directory, holding anything
    but an earlier set of this kind, unchanged, or containing the working directory."""
    preflight(target, kind, whole=True)


def _mode_for(target: Path) -> int:
    """The previous directory's permission bits (those a plain mkdir gives, for one just made)."""
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        return default_dir_mode()


def _swap_into_place(staging: Path, target: Path) -> Path:
    """Put `staging` at `target` (which exists); return where the previous `target` is now."""
    if exchange_paths(staging, target):
        return staging  # now holds the previous set
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.rename(target, aside)  # replaces the empty placeholder directory
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(aside, target)
        raise
    return aside


def exchange_paths(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux renameat2 RENAME_EXCHANGE); False where that is unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # kernel or file system without the flag: fall back to two renames
    raise OSError(code, os.strerror(code), os.fspath(b))


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
