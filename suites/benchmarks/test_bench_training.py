"""Training-step throughput under pytest-benchmark, timed the way `mlpbench bench` times it.

Every round is one synchronized block of k steps (the fixture's timer waits for the device before reading
the clock, see mlpbench/bench/pytest_timer.py); results are per step, so

    pytest suites/benchmarks/test_bench_training.py --benchmark-only --benchmark-json=base.json
    pytest suites/benchmarks/test_bench_training.py --benchmark-only --benchmark-compare=0001 \
        --benchmark-compare-fail=median:10%

store, compare and gate runs. CUDA cases are skipped with the reason where no GPU is present.
"""

from __future__ import annotations

import pytest

from mlpbench.bench.measure import make_trainer
from mlpbench.bench.pytest_timer import benchmark_trainer
from mlpbench.bench.timing import synchronized_timer
from mlpbench.catalogue.benchmark import OPTIMIZERS, BenchCase
from mlpbench.impls.registry import resolve

CASES = [
    # (model, batch size, dtype, optimizer)
    ("seed-10-64-32-1", 256, "float32", "sgd"),
    ("mnist-784-256-256-10", 64, "float32", "adam"),
]
IMPLEMENTATIONS = ["torch-cpu", "reference", "torch-cuda"]


def _trainer(impl_name: str, model: str, batch: int, dtype: str, optimizer: str):
    impl = resolve(impl_name)
    available, reason = impl.availability()
    if not available:
        pytest.skip(f"{impl_name}: {reason}")
    case = BenchCase(model, batch, dtype, optimizer, dict(OPTIMIZERS[optimizer]))
    return make_trainer(impl, case)


@pytest.mark.benchmark(group="training-step")
@pytest.mark.parametrize("impl_name", IMPLEMENTATIONS)
@pytest.mark.parametrize(("model", "batch", "dtype", "optimizer"), CASES, ids=[f"{c[0]}-b{c[1]}-{c[3]}" for c in CASES])
def test_training_step_throughput(benchmark, impl_name, model, batch, dtype, optimizer):
    trainer = _trainer(impl_name, model, batch, dtype, optimizer)
    benchmark_trainer(benchmark, trainer, batch_size=batch, rounds=5, impl=impl_name, model=model, dtype=dtype,
                      optimizer=optimizer)
    stats = getattr(benchmark, "stats", None)
    if stats is not None and stats.stats is not None:
        assert stats.stats.median > 0
        assert benchmark.extra_info["steps_per_round"] >= 1


def test_synchronized_timer_waits_for_device_work():
    """The replacement timer calls synchronize before reading the clock, so queued work is inside a round."""
    calls = []
    timer = synchronized_timer(lambda: calls.append("sync"))
    first = timer()
    second = timer()
    assert calls == ["sync", "sync"]
    assert second >= first
