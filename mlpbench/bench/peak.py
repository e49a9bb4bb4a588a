"""The GEMM peak an implementation's achieved FLOP/s is compared with, measured in the same run.

peak = max over a few sizes n of 2 n^3 / t_fastest for C = A @ B with square n x n operands in the benchmark
dtype, on the device of the implementation, timed by the same block timer as the training steps; t_fastest is
the fastest timed block's time per product (a peak is the best rate the device was seen to reach, and
background load can only lower a rate). The NumPy oracle is compared with numpy.matmul (its BLAS); every
other implementation with torch.matmul on its device (TF32 enabled only for the labelled tf32 mode).
efficiency = achieved FLOP/s / peak.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlpbench.bench.flops import gemm_flops
from mlpbench.bench.timing import time_blocks

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


def peak_target(impl, dtype: str) -> PeakTarget:
    backend = "numpy" if impl.name in NUMPY_IMPLEMENTATIONS else "torch"
    return PeakTarget(backend, impl.device, dtype, getattr(impl, "precision", "ieee"))


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
    if device.startswith("cuda"):
        sync = torch.cuda.synchronize
    else:
        def sync():
            return None
    return (lambda: torch.matmul(a, b, out=out)), sync


def measure_gemm_rate(target: PeakTarget, n: int, **timing_options) -> dict:
    """Time C = A @ B for one size n; FLOP/s = 2 n^3 / fastest block's time per product (and / median)."""
    tf32 = target.precision == "tf32"
    restore = None
    if target.backend == "torch":
        import torch

        restore = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = tf32
        step, sync = _torch_gemm(n, target.dtype, target.device)
    else:
        step, sync = _numpy_gemm(n, target.dtype)
    try:
        timing = time_blocks(step, sync, **timing_options)
    finally:
        if restore is not None:
            torch.backends.cuda.matmul.allow_tf32 = restore
    q1, q3 = timing.quartiles
    fastest = float(timing.step_seconds.min())
    return {
        "n": n,
        "flop": gemm_flops(n),
        "median_s": timing.median,
        "q1_s": q1,
        "q3_s": q3,
        "fastest_s": fastest,
        "flop_per_s": gemm_flops(n) / fastest,
        "median_flop_per_s": gemm_flops(n) / timing.median,
        "steps_per_block": timing.steps_per_block,
        "block_seconds": timing.block_seconds,
    }


def measure_gemm_peak(target: PeakTarget, sizes: tuple[int, ...], **timing_options) -> dict:
    """The fastest square-GEMM rate over `sizes` (a small GEMM does not reach the device's peak, so the peak
    is the best of a few sizes); every size's measurement is kept under "sizes"."""
    rates = [measure_gemm_rate(target, n, **timing_options) for n in sizes]
    best = max(rates, key=lambda r: r["flop_per_s"])
    return {
        "key": target.key,
        "backend": target.backend,
        "device": target.device,
        "dtype": target.dtype,
        "precision": target.precision,
        **best,
        "sizes": [{k: r[k] for k in ("n", "median_s", "fastest_s", "flop_per_s", "median_flop_per_s")} for r in rates],
    }
