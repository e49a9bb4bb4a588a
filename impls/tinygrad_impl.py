"""tinygrad on the CPU as an engine: here, its availability only.

tinygrad's CPU device compiles every kernel, and already the small signalling programs it builds when the device
is opened, by running a C compiler: `tinygrad.runtime.support.compiler_cpu.ClangCompiler.compile` calls
`subprocess.check_output([getenv("CC", "clang"), ...])`. Without that executable, opening `Device["CPU"]` raises
FileNotFoundError for it, and tinygrad's automatic device choice ends in "no usable devices". `availability()`
opens the device exactly as a first tensor operation would and reports that failure, with the executable tinygrad
looked for; it never falls back to tinygrad's PYTHON emulator device, which is not its CPU backend.

No adapter is claimed: a claim is what the gate has seen pass, and no tinygrad run was possible where this engine
was written (no `clang` there). Where tinygrad's CPU device opens, the engine says so and claims nothing until its
adapter has been measured.

This module imports without tinygrad installed; the implementation then reports itself unavailable with the
command that installs it.
"""

from __future__ import annotations

import os
import shutil
from importlib import metadata

from mlpbench.impls.interface import Capabilities, Implementation

try:
    import tinygrad

    TINYGRAD_IMPORT_ERROR: str | None = None
except ImportError as error:  # pragma: no cover - exercised only where tinygrad is missing
    tinygrad = None  # type: ignore[assignment]
    TINYGRAD_IMPORT_ERROR = f"{type(error).__name__}: {error}"

INSTALL = "pip install 'mlpbench[tinygrad]'"


def compiler_executable() -> str:
    """The C compiler tinygrad's CPU device runs: $CC, else `clang` (tinygrad's `getenv("CC", "clang")`)."""
    return os.environ.get("CC") or "clang"


def open_cpu_device() -> str | None:
    """Open tinygrad's CPU device as its first operation would; None when it opens, else the one-line error."""
    from tinygrad import Device

    try:
        Device["CPU"]
    except Exception as error:  # tinygrad raises FileNotFoundError without the compiler, others for other causes
        return f"{type(error).__name__}: {' '.join(str(error).split())[:200]}"
    return None


class TinygradImplementation(Implementation):
    """tinygrad's CPU device (availability; no claim yet)."""

    kind = "built-in"
    device = "cpu"

    def __init__(self, name: str = "tinygrad-cpu") -> None:
        self.name = name
        version = metadata.version("tinygrad") if tinygrad is not None else "not installed"
        self.description = f"tinygrad {version} on its CPU device (compiles kernels with clang); no claim yet"

    def availability(self) -> tuple[bool, str]:
        if tinygrad is None:
            return False, f"tinygrad is not importable ({TINYGRAD_IMPORT_ERROR}); install with: {INSTALL}"
        compiler = compiler_executable()
        failure = open_cpu_device()
        if failure is not None:
            found = shutil.which(compiler)
            where = f"{compiler!r} is {found}" if found else f"no {compiler!r} executable on PATH"
            return False, (f"tinygrad's CPU device compiles its kernels with {compiler!r} ($CC or clang) and did not "
                           f"open: {failure} ({where}); install clang (e.g. apt-get install clang)")
        return False, ("tinygrad's CPU device opens here, but this engine has no measured adapter yet, so it "
                       "claims nothing")

    def capabilities(self) -> Capabilities:
        return Capabilities(dtypes=frozenset())  # nothing measured, nothing claimed
