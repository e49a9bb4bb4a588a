"""The oracle's in-place Adam on 2.1 million parameters (the 1024-1024-1024-10 network), in one thread and
shared among the cores (mlpbench.reference.optim._chunks), straight after a matrix product and with none before it.

NumPy's OpenBLAS keeps its idle worker threads spinning for a while after every product, so right after one the
second core is not free for the chunk threads: the two "after a product" timings come out about equal, the two
"no product before" ones differ by about the number of cores. With OPENBLAS_THREAD_TIMEOUT=4 in the environment
the workers sleep at once and the threads pay off after a product too.

    pytest suites/benchmarks/test_bench_oracle_chunks.py --benchmark-only --benchmark-columns=median,iqr,rounds
"""

from __future__ import annotations

import numpy as np
import pytest

from mlpbench.reference.optim import Adam, _chunks, adam

ROUNDS = 15
SHAPES = [(1024, 1024), (1024,), (1024, 1024), (1024,), (10, 1024), (10,)]


@pytest.mark.benchmark
@pytest.mark.parametrize("after_product", [True, False], ids=["after-a-product", "no-product-before"])
@pytest.mark.parametrize("threaded", [False, True], ids=["one-thread", "all-cores"])
def test_adam_update_in_chunks(benchmark, monkeypatch, threaded: bool, after_product: bool) -> None:
    if not threaded:
        monkeypatch.setattr(_chunks, "PARALLEL_MIN", float("inf"))
    rng = np.random.default_rng(0)
    params = [rng.standard_normal(shape) for shape in SHAPES]
    grads = [rng.standard_normal(shape) for shape in SHAPES]
    x, out = rng.standard_normal((256, 1024)), np.empty((256, 1024))
    hyper, state = Adam(), {}

    calls: list[int] = []

    def setup() -> None:
        if after_product:
            np.matmul(x, params[0].T, out=out)

    def update() -> None:
        adam(params, grads, state, hyper, inplace=True)
        calls.append(1)

    benchmark.group = "oracle Adam in place, 2.1M float64 parameters"
    benchmark.extra_info.update(threads=_chunks.threads() if threaded else 1, after_product=after_product)
    benchmark.pedantic(update, setup=setup, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    # every call is one Adam step of finite parameters, whether or not pytest-benchmark timed it
    assert calls and state["step"] == len(calls)
    assert all(np.isfinite(p).all() for p in params)
    if benchmark.enabled:  # timed (not under --benchmark-disable or xdist): the warm-up round and every round
        assert len(calls) == ROUNDS + 1 and len(benchmark.stats.stats.data) == ROUNDS
