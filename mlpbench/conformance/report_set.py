"""Replace a report directory as one whole set: a reader sees the previous set or the new one, never a mix.

The new set is written into a hidden temporary sibling (``.<name>.new-XXXX``), then swapped with the report
directory: on Linux with one atomic ``renameat2(RENAME_EXCHANGE)``, elsewhere by renaming the old directory
aside (``.<name>.old-XXXX``) and the new one into place. The old set is then removed, so nothing of it (such
as a stale ``repro/*.npz``) survives. If writing fails (a full disk, any OSError) the temporary directory is
removed, the previous set is left untouched and the error is raised again.

A directory that holds anything other than a report set's own entries is never swapped (that would delete
the other files): `ReportDirError`, an OSError, says so. The same holds for a directory that contains the
current working directory.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Collection
from pathlib import Path

from mlpbench.atomic import default_dir_mode

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


class ReportDirError(OSError):
    """The report directory cannot be replaced (it holds other files, or is the working directory)."""


def replace_directory(target: str | os.PathLike[str], fill: Callable[[Path], None], owned: Collection[str]
                      ) -> Path:
    """Write a new set with `fill(staging_dir)` and swap it in for `target`; return the real target path.

    owned: the names a set may hold at its top level; anything else in an existing `target` is refused.
    """
    real = Path(os.path.realpath(target))
    check_replaceable(real, owned)
    real.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{real.name}.new-", dir=real.parent))
    try:
        os.chmod(staging, _mode_for(real))
        fill(staging)
        _swap_into_place(staging, real)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _fsync_directory(real.parent)
    return real


def check_replaceable(target: str | os.PathLike[str], owned: Collection[str]) -> None:
    """Raise `ReportDirError` if `target` exists and must not be replaced: not a directory, holding names
    other than `owned`, or containing the working directory."""
    target = Path(os.path.realpath(target))
    if not os.path.lexists(target):
        return
    if not target.is_dir():
        raise ReportDirError(errno.ENOTDIR, f"{str(target)!r} is not a directory", str(target))
    try:
        cwd = Path.cwd()
    except FileNotFoundError:  # the working directory was removed: it cannot be inside `target`
        cwd = Path("/")
    if cwd == target or target in cwd.parents:
        raise ReportDirError(errno.EBUSY, f"{str(target)!r} contains the working directory; it cannot be "
                                          f"replaced as a report set (choose a dedicated directory)", str(target))
    foreign = sorted(name for name in os.listdir(target) if not _is_ours(name, owned))
    if foreign:
        raise ReportDirError(
            errno.ENOTEMPTY,
            f"{str(target)!r} holds files that are not part of a report set ({', '.join(map(repr, foreign[:3]))}"
            f"{', ...' if len(foreign) > 3 else ''}); the whole directory is replaced on every run, so choose an "
            f"empty or dedicated directory",
            str(target),
        )


def _is_ours(name: str, owned: Collection[str]) -> bool:
    """A set's own entry, or a hidden temporary file of an atomic write or a writability probe."""
    return name in owned or name.startswith(".write-test-") or any(name.startswith(f".{o}.") for o in owned)


def _mode_for(target: Path) -> int:
    """The previous directory's permission bits, or those a plain mkdir would give."""
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        return default_dir_mode()


def _swap_into_place(staging: Path, target: Path) -> None:
    """Put `staging` at `target`; the previous `target` (if any) is removed afterwards."""
    if not os.path.lexists(target):
        os.rename(staging, target)
        return
    if exchange_paths(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # now holds the previous set
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.rename(target, aside)  # replaces the empty placeholder directory
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(aside, target)
        raise
    shutil.rmtree(aside, ignore_errors=True)


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
