"""Whether a cell fits the run's caps: estimated memory and estimated time (never reported as results).

Memory: activations, pre-activations and their gradients (4 numbers per unit per sample), parameters,
gradients and optimizer state (counted as 2 buffers) in the cell's dtype, against half the available host
memory (CPU) or 80 % of the device's memory (CUDA).
Time: the step time extrapolated from the two largest timed batches of the same series (never below the time
the step would take at the measured GEMM peak) times (2 warm-up + min_blocks) steps, against the per-cell cap.
Once a batch of a series is over the time cap, its larger batches are skipped too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from mlpbench.reference.spec import MLPSpec


def estimated_bytes(spec: MLPSpec, batch_size: int, dtype: str) -> int:
    item = np.dtype(dtype).itemsize
    units = batch_size * sum(spec.sizes)
    return item * (4 * units + (2 + 2) * spec.n_params)


def memory_cap_bytes(device: str) -> int | None:
    """Half the available host memory for the CPU; 80 % of the device memory for CUDA."""
    if device.startswith("cuda"):
        try:
            import torch

            return int(0.8 * torch.cuda.get_device_properties(0).total_memory)
        except Exception:
            return None
    try:
        return int(0.5 * os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def estimated_step_seconds(points: Sequence[tuple[int, float]], batch_size: int,
                           at_peak: float | None) -> float | None:
    """From the two largest timed batches of the same series, t(b) = t1 + s (b - b1) with the slope
    s = (t1 - t0) / (b1 - b0) >= 0 (per-step overhead plus per-sample cost); from one, t(b) >= t1; never
    below the time at the measured GEMM peak, flops(b) / peak."""
    candidates = [at_peak] if at_peak else []
    ordered = sorted(points)
    if ordered:
        b1, t1 = ordered[-1]
        candidates.append(t1)
        if len(ordered) >= 2:
            b0, t0 = ordered[-2]
            slope = max((t1 - t0) / (b1 - b0), 0.0) if b1 != b0 else 0.0
            candidates.append(t1 + slope * (batch_size - b1))
    return max(candidates) if candidates else None


class Budget:
    """The caps of one run and what it has learned about each series so far."""

    def __init__(self, max_seconds_per_cell: float, min_blocks: int) -> None:
        self.max_seconds_per_cell = max_seconds_per_cell
        self.min_steps = 2 + min_blocks
        self._points: dict[tuple, list[tuple[int, float]]] = {}
        self._over: set[tuple] = set()

    def record(self, series: tuple, batch_size: int, median_s: float) -> None:
        self._points.setdefault(series, []).append((batch_size, median_s))

    def problem(self, series: tuple, spec: MLPSpec, batch_size: int, dtype: str, device: str,
                seconds_at_peak: float | None) -> str | None:
        """Why the cell does not fit (starting "memory" or "budget"), or None."""
        cap = memory_cap_bytes(device)
        need = estimated_bytes(spec, batch_size, dtype)
        if cap is not None and need > cap:
            return f"memory (estimated {need / 2**30:.1f} GiB > cap {cap / 2**30:.1f} GiB)"
        if series in self._over:
            return "budget (a smaller batch of this series already exceeded it)"
        estimate = estimated_step_seconds(self._points.get(series, []), batch_size, seconds_at_peak)
        if estimate is not None and estimate * self.min_steps > self.max_seconds_per_cell:
            self._over.add(series)
            return (f"budget (estimated {estimate:.3g} s/step x {self.min_steps} steps > "
                    f"{self.max_seconds_per_cell:g} s per cell)")
        return None
