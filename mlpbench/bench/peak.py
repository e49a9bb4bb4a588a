"""The GEMM peak an implementation's achieved FLOP/s is compared with, measured in the same run.

A pass times C = A @ B with square n x n operands in the benchmark dtype, on the device of the
implementation, at the run's thread count, for each n of a few sizes (a small product does not reach the
machine's peak), by the same block timer as the training steps, with many blocks; a size's rate is
2 n^3 / t_fastest, t_fastest being the fastest block's time per product. The run measures a pass before
its first cell of that (backend, device, dtype, precision), another after its last cell and, when a cell
comes out faster than the peak allows, a recheck right after it; the peak is the best rate of all passes:
background load can only lower a rate, so the best one seen is the closest to the machine's. The NumPy
oracle is compared with numpy.matmul (its BLAS); every other implementation with torch.matmul on its device
(TF32 enabled only for the labelled tf32 mode).
efficiency = achieved FLOP/s / peak, and a value above 1 is flagged as a measurement problem.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mlpbench.bench.records import GemmRate, PeakPass
from mlpbench.bench.timing import TimingSettings, time_blocks

NUMPY_IMPLEMENTATIONS = frozenset({"reference"})


@dataclass(frozen=True)
class PeakTarget:
    backend: str  # "numpy" | "torch"
    device: str
    dtype: str
    precision: str

    @property
    def key(self) -> str:
        return f"{self.backend}-{self.device}-{self.dtype}-{self.precision}"


def peak_target(impl_name: str, device: str, precision: str, dtype: str) -> PeakTarget:
    backend = "numpy" if impl_name in NUMPY_IMPLEMENTATIONS else "torch"
    return PeakTarget(backend, device, dtype, precision)


def _numpy_gemm(n: int, dtype: str):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty((n, n), dtype=dtype)
    return (lambda: np.matmul(a, b, out=out)), (lambda: None)


def _torch_gemm(n: int, dtype: str, device: str):
    import torch

    torch_dtype = getattr(torch, dtype)
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=generator, dtype=torch_dtype).to(device)
    b = torch.randn(n, n, generator=generator, dtype=torch_dtype).to(device)
    out = torch.empty(n, n, dtype=torch_dtype, device=device)
    sync: Callable[[], object] = torch.cuda.synchronize if device.startswith("cuda") else _no_sync
    return (lambda: torch.matmul(a, b, out=out)), sync


def _no_sync() -> None:
    return None


def measure_gemm_rate(target: PeakTarget, n: int, timing: TimingSettings) -> GemmRate:
    """Time C = A @ B for one size n."""
    restore = None
    if target.backend == "torch":
        import torch

        restore = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = target.precision == "tf32"
        step, sync = _torch_gemm(n, target.dtype, target.device)
    else:
        step, sync = _numpy_gemm(n, target.dtype)
    try:
        blocks = time_blocks(step, sync, **timing.options())
    finally:
        if restore is not None:
            torch.backends.cuda.matmul.allow_tf32 = restore
    return GemmRate(n, float(blocks.step_seconds.min()), blocks.median, len(blocks.block_seconds))


def measure_peak_pass(target: PeakTarget, sizes: tuple[int, ...], timing: TimingSettings, label: str) -> PeakPass:
    """One pass over `sizes`; the caller has set the thread count of the run. Plain data in and out, so it can
    run in a worker process."""
    utc = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return PeakPass(label, utc, tuple(measure_gemm_rate(target, n, timing) for n in sizes))
