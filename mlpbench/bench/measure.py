"""Measuring one cell: plain data in (the implementation's name, the cell's kind and case, the timing
settings, the thread count), plain timings out, so that a cell can be measured in this process or in a
worker process alike. Deriving throughput, FLOP/s and efficiency from those timings is `derive.py`'s job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from mlpbench.bench.contention import LoadMeter
from mlpbench.bench.records import CellKind
from mlpbench.bench.timing import BlockTiming, TimingSettings, time_blocks, time_trainer
from mlpbench.catalogue.benchmark import SEED, BenchCase
from mlpbench.reference.optim import limit_threads
from mlpbench.reference.spec import MLPSpec

# -- inputs of a cell -------------------------------------------------------------------------------------------


def initial_params(spec: MLPSpec, dtype: str, seed: int = SEED) -> list[np.ndarray]:
    """nn.Linear's default initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases, drawn
    by the suite in float64 and cast to the benchmark dtype."""
    from mlpbench.reference.model import init_params

    rng = np.random.default_rng(seed)
    return [p.astype(dtype) for p in init_params(spec, rng)]


def batch_data(spec: MLPSpec, batch_size: int, dtype: str, loss: str, seed: int = SEED):
    """x ~ N(0, 1) of shape (batch, in); targets: class indices (int64) for cross_entropy, {0, 1} of shape
    (batch, 1) in the dtype for binary_cross_entropy_with_logits."""
    rng = np.random.default_rng([seed, batch_size])
    x = rng.standard_normal((batch_size, spec.sizes[0])).astype(dtype)
    if loss == "cross_entropy":
        target = rng.integers(0, spec.sizes[-1], size=batch_size, dtype=np.int64)
    else:
        target = rng.integers(0, 2, size=(batch_size, spec.sizes[-1])).astype(dtype)
    return x, target


def make_trainer(impl, case: BenchCase):
    spec = case.spec
    x, target = batch_data(spec, case.batch_size, case.dtype, case.loss)
    params = initial_params(spec, case.dtype)
    return impl.make_trainer(spec, params, x, target, case.loss, case.optimizer, dict(case.hyper))


def set_threads(threads: int) -> Callable[[], None]:
    """Use `threads` CPU threads in torch, in the oracle's elementwise updates (mlpbench.reference.optim._chunks) and in
    the BLAS pools threadpoolctl can reach; returns a function that restores the previous settings."""
    previous_limit = limit_threads(threads)
    restores: list[Callable[[], object]] = [lambda: limit_threads(previous_limit)]
    try:
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        restores.append(lambda: torch.set_num_threads(previous))
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(threads)
        restores.append(limiter.restore_original_limits)
    except ImportError:
        pass

    def restore() -> None:
        for undo in reversed(restores):
            undo()

    return restore


# -- one cell ---------------------------------------------------------------------------------------------------


def time_cell(impl: Any, kind: CellKind, case: BenchCase, timing: TimingSettings, threads: int) -> BlockTiming:
    """Time one cell of `impl` at `threads` CPU threads. Runs inside the implementation's supervised worker
    (mlpbench.bench.isolated); an exception of the implementation propagates to become an error cell. The
    machine's other load is measured over the warm-up and the timed blocks (contention.LoadMeter), in the
    worker, so its own CPU time is the engine's."""
    restore = set_threads(threads)
    try:
        if kind is CellKind.H2D_TRANSFER:
            x, target = batch_data(case.spec, case.batch_size, case.dtype, case.loss)
            with LoadMeter() as meter:
                blocks = time_blocks(lambda: impl.transfer_to_device([x, target]), **timing.options())
            nbytes = int(x.nbytes + target.nbytes)
            compile_s = None
        else:
            trainer = make_trainer(impl, case)
            compile_s = getattr(trainer, "compile_s", None)  # measured by the engine when it built the trainer
            with LoadMeter() as meter:
                blocks = time_trainer(trainer, **timing.options())
            nbytes = None
    finally:
        restore()
    return replace(blocks, bytes=nbytes, compile_s=compile_s, load=meter.load)
