"""pytest-benchmark with the harness's timing discipline, so --benchmark-json, --benchmark-compare and
--benchmark-compare-fail work on device-correct numbers.

pytest-benchmark times a round as `t0 = timer(); iterations x target(); t1 = timer()` and reports
(t1 - t0) / iterations. With the fixture's timer replaced by `synchronize(); perf_counter()`, a round is
exactly a synchronized block of k training steps, and the reported time is per step whatever k is (so
runs with different k compare). k is calibrated like the harness does (a block >= min_block_seconds);
warm-up rounds are excluded.
"""

from __future__ import annotations

from mlpbench.bench.timing import calibrate_block, synchronized_timer


def benchmark_trainer(benchmark, trainer, *, batch_size: int, rounds: int = 10, min_block_seconds: float = 0.01,
                      **extra_info) -> None:
    """Time trainer.step with `benchmark` (the pytest-benchmark fixture), per step, device-synchronized."""
    if not hasattr(benchmark, "_timer"):
        raise RuntimeError("this pytest-benchmark has no fixture timer to replace; cannot time device work")
    benchmark._timer = synchronized_timer(trainer.synchronize)
    enabled = getattr(benchmark, "enabled", True)
    k = calibrate_block(trainer.step, trainer.synchronize, min_block_seconds) if enabled else 1
    benchmark.extra_info.update(extra_info, batch_size=batch_size, steps_per_round=k)
    benchmark.pedantic(trainer.step, rounds=rounds if enabled else 1, iterations=k, warmup_rounds=1 if enabled else 0)
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(stats, "stats", None) is not None and stats.stats.median > 0:
        benchmark.extra_info["samples_per_s_median"] = batch_size / stats.stats.median
