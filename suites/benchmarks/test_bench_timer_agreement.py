"""The harness's block timer against torch.utils.benchmark on the same torch-cpu training step.

mlpbench times every implementation with one block timer (mlpbench.bench.timing) because the NumPy oracle
and plug-ins need not import torch. For a torch step, torch.utils.benchmark.Timer.blocked_autorange does the
same job; this benchmark runs both on one trainer, interleaved, and reports the two medians and their ratio
(printed and in extra_info). Both are measurements, so nothing here asserts a speed.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
benchmark_utils = pytest.importorskip("torch.utils.benchmark")

from mlpbench.bench.measure import make_trainer  # noqa: E402
from mlpbench.bench.timing import time_trainer  # noqa: E402
from mlpbench.catalogue.benchmark import OPTIMIZERS, BenchCase  # noqa: E402
from mlpbench.impls.registry import resolve  # noqa: E402

CASE = BenchCase("mnist-784-256-256-10", 64, "float32", "sgd", dict(OPTIMIZERS["sgd"]))
ROUNDS = 5


def measure_both() -> dict[str, float]:
    trainer = make_trainer(resolve("torch-cpu"), CASE)
    timer = benchmark_utils.Timer(stmt="trainer.step()", globals={"trainer": trainer},
                                  num_threads=torch.get_num_threads())
    ours, theirs = [], []
    for _ in range(ROUNDS):  # interleaved, so that load drifts reach both alike
        ours.append(time_trainer(trainer, min_block_seconds=0.01, blocks=9, max_seconds=1.0).median)
        theirs.append(timer.blocked_autorange(min_run_time=0.2).median)
    return {"harness_median_ms": float(np.median(ours) * 1e3),
            "torch_utils_benchmark_median_ms": float(np.median(theirs) * 1e3),
            "ratio": float(np.median(ours) / np.median(theirs))}


@pytest.mark.benchmark(group="timer-agreement")
def test_block_timer_agrees_with_torch_utils_benchmark(benchmark):
    if benchmark.disabled:
        pytest.skip("benchmarks disabled (--benchmark-disable): the timers are not compared")
    result = benchmark.pedantic(measure_both, rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    print(f"\nper-step median: harness block timer {result['harness_median_ms']:.3f} ms, "
          f"torch.utils.benchmark {result['torch_utils_benchmark_median_ms']:.3f} ms, ratio {result['ratio']:.3f}")
    assert result["harness_median_ms"] > 0 and result["torch_utils_benchmark_median_ms"] > 0
