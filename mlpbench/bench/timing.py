"""Block timing of a device-resident training step, the same code path for every implementation.

A timed block is `synchronize(); t0; k x step(); synchronize(); t1`, so queued device work is inside the block
and timer and launch overheads are amortised over k steps. k grows (1, 2, 5, 10, 20, 50, ...) until one block
takes at least `min_block_seconds` (like `timeit.Timer.autorange` and torch.utils.benchmark's
`blocked_autorange`). Warm-up steps run first and are not recorded. The per-step time of block i is
t_i / k; a cell reports the median and the interquartile range of those per-block values (`Spread`), and every
rate (samples/s, FLOP/s, bytes/s) is that statistic seen through units / t: the median of the per-block rates
and their quartiles, the one statistic of every table, plot, CSV and JSON file.

The first steps of a fresh process can be far slower than the rest (a thread pool starting, lazy
initialisation: 16 to 37 ms against 0.4 ms for torch's first step of a small model), longer than the short
warm-up. A block calibrated on such steps has too small a k and the blocks after it are still cold. So when a
timed block comes out faster than the calibrating block by more than RECALIBRATE_RATIO, the steps so far are
counted as warm-up, their blocks dropped, and k is calibrated again (at most MAX_RECALIBRATIONS times).

torch.utils.benchmark.Timer does the same for torch callables; this module exists so that the NumPy oracle
and any plug-in (which need not import torch) are timed by exactly the same code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypedDict

import numpy as np

from mlpbench.bench.contention import Load

SPREAD_WARNING = 0.10
"""A cell whose interquartile range exceeds this fraction of its median is flagged as noisy."""
RECALIBRATE_RATIO = 2.0
"""A block this many times faster than the calibrating block shows that the calibration ran on cold steps."""
MAX_RECALIBRATIONS = 3


@dataclass(frozen=True)
class Spread:
    """The median and the quartiles of a sample (numpy's linear interpolation between order statistics)."""

    median: float
    q1: float
    q3: float

    @classmethod
    def of(cls, values) -> Spread:
        q1, median, q3 = (float(q) for q in np.percentile(np.asarray(values, dtype=np.float64), [25, 50, 75]))
        return cls(median, q1, q3)

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @property
    def iqr_fraction(self) -> float:
        return self.iqr / self.median

    @property
    def noisy(self) -> bool:
        """IQR > SPREAD_WARNING of the median."""
        return self.iqr > SPREAD_WARNING * self.median

    def per(self, units: float) -> Spread:
        """The same statistic of units / value (a rate from times): a decreasing map takes a median of the
        values to a median of the rates and the third quartile to the first, since order statistics map to order
        statistics (for an even count, units / median lies between the two middle rates: a median of them)."""
        return Spread(units / self.median, units / self.q3, units / self.q1)


@dataclass
class BlockTiming:
    """The measurement record: timed blocks of `steps_per_block` steps (or copies) each, and the statistic every
    report shows (`spread` of the per-step times, `rate` of anything done per step)."""

    steps_per_block: int
    block_seconds: list[float] = field(default_factory=list)
    warmup_steps: int = 0
    calibration_seconds: float = 0.0
    bytes: int | None = None  # bytes per copy, for a host-to-device transfer cell
    compile_s: float | None = None  # compile or jit time spent building the trainer, never in the step time
    load: Load | None = None  # the machine's other load while the blocks (and their warm-up) ran; None: not measured

    @property
    def step_seconds(self) -> np.ndarray:
        """Per-step time of every block: t_i / k."""
        return np.asarray(self.block_seconds, dtype=np.float64) / self.steps_per_block

    @property
    def spread(self) -> Spread:
        """Median and quartiles of the per-step times."""
        return Spread.of(self.step_seconds)

    def rate(self, units_per_step: float) -> Spread:
        """Median and quartiles of the per-block rates, units_per_step * k / t_i (samples/s for a batch)."""
        return self.spread.per(units_per_step)

    @property
    def median(self) -> float:
        return self.spread.median

    @property
    def quartiles(self) -> tuple[float, float]:
        return self.spread.q1, self.spread.q3

    @property
    def iqr(self) -> float:
        return self.spread.iqr

    @property
    def total_steps(self) -> int:
        return self.steps_per_block * len(self.block_seconds)

    @property
    def total_seconds(self) -> float:
        return float(sum(self.block_seconds))

    @property
    def noisy(self) -> bool:
        """IQR > 10 % of the median."""
        return self.spread.noisy


class TimingOptions(TypedDict):
    """The keyword arguments of `time_blocks` that `TimingSettings` sets."""

    min_block_seconds: float
    blocks: int
    min_blocks: int
    max_seconds: float
    warmup_seconds: float


@dataclass(frozen=True)
class TimingSettings:
    """How a cell (or a GEMM size of the peak) is timed; plain data, recorded with the run."""

    min_block_seconds: float = 0.015
    blocks: int = 15
    min_blocks: int = 5
    max_seconds: float = 3.0
    warmup_seconds: float = 0.05

    def options(self) -> TimingOptions:
        return {"min_block_seconds": self.min_block_seconds, "blocks": self.blocks, "min_blocks": self.min_blocks,
                "max_seconds": self.max_seconds, "warmup_seconds": self.warmup_seconds}


def time_block(step: Callable[[], object], synchronize: Callable[[], object], k: int) -> float:
    """Seconds for `synchronize(); k x step(); synchronize()`, the clock read after each synchronize."""
    synchronize()
    start = time.perf_counter()
    for _ in range(k):
        step()
    synchronize()
    return time.perf_counter() - start


def _block_sizes():
    """1, 2, 5, 10, 20, 50, 100, ..."""
    scale = 1
    while True:
        for m in (1, 2, 5):
            yield m * scale
        scale *= 10


def time_blocks(
    step: Callable[[], object],
    synchronize: Callable[[], object] = lambda: None,
    *,
    min_block_seconds: float = 0.015,
    blocks: int = 15,
    min_blocks: int = 5,
    max_seconds: float = 3.0,
    warmup_seconds: float = 0.05,
    min_warmup_steps: int = 2,
) -> BlockTiming:
    """Warm up, calibrate the block size, then time up to `blocks` blocks within `max_seconds` (never fewer
    than `min_blocks`)."""
    began = time.perf_counter()
    warm = 0
    while warm < min_warmup_steps or time.perf_counter() - began < warmup_seconds:
        step()
        warm += 1
    synchronize()
    calibration_start = time.perf_counter()
    k, calibrating = _calibrate(step, synchronize, min_block_seconds)
    timing = BlockTiming(
        steps_per_block=k, warmup_steps=warm, calibration_seconds=time.perf_counter() - calibration_start
    )
    timing.block_seconds.append(calibrating)  # the calibrating block is a full block of k steps
    recalibrations = 0
    while len(timing.block_seconds) < blocks:
        spent = time.perf_counter() - began
        if len(timing.block_seconds) >= min_blocks and spent + timing.block_seconds[-1] > max_seconds:
            break
        block = time_block(step, synchronize, k)
        if block * RECALIBRATE_RATIO < calibrating and recalibrations < MAX_RECALIBRATIONS:
            recalibrations += 1  # the calibration ran on cold steps: all so far was warm-up
            warmed = timing.warmup_steps + timing.total_steps + k
            calibration_start = time.perf_counter()
            k, calibrating = _calibrate(step, synchronize, min_block_seconds)
            timing = BlockTiming(steps_per_block=k, warmup_steps=warmed,
                                 calibration_seconds=time.perf_counter() - calibration_start)
            timing.block_seconds.append(calibrating)
            continue
        timing.block_seconds.append(block)
    return timing


def _calibrate(step: Callable[[], object], synchronize: Callable[[], object], min_block_seconds: float
               ) -> tuple[int, float]:
    """The smallest k in 1, 2, 5, 10, 20, ... whose synchronized block takes >= min_block_seconds, and that
    block's seconds."""
    for k in _block_sizes():
        elapsed = time_block(step, synchronize, k)
        if elapsed >= min_block_seconds:
            return k, elapsed
    raise AssertionError("unreachable")


def time_trainer(trainer, **options) -> BlockTiming:
    """Block timing of `trainer.step` with `trainer.synchronize` around every block."""
    return time_blocks(trainer.step, trainer.synchronize, **options)


def synchronized_timer(synchronize: Callable[[], object]) -> Callable[[], float]:
    """perf_counter after waiting for queued device work: a block timed between two calls contains all of
    its device work."""

    def timer() -> float:
        synchronize()
        return time.perf_counter()

    return timer


def calibrate_block(step: Callable[[], object], synchronize: Callable[[], object], min_block_seconds: float) -> int:
    """The smallest k in 1, 2, 5, 10, 20, ... whose synchronized block takes >= min_block_seconds (after one
    warm-up step)."""
    step()
    synchronize()
    return _calibrate(step, synchronize, min_block_seconds)[0]
