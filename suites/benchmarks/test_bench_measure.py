"""Measuring one cell takes plain data and returns plain data (so that it can run in a worker process): the
implementation is resolved by name inside, the arguments and the result survive a pickle round trip."""

from __future__ import annotations

import pickle

import pytest

from mlpbench.bench.measure import CellTiming, conformance_failure, measure_cell
from mlpbench.bench.records import CellKind
from mlpbench.bench.timing import TimingSettings
from mlpbench.catalogue.benchmark import OPTIMIZERS, BenchCase

CASE = BenchCase("seed-10-64-32-1", 16, "float32", "sgd", dict(OPTIMIZERS["sgd"]))
TIMING = TimingSettings(min_block_seconds=0.002, blocks=3, min_blocks=3, max_seconds=1.0, warmup_seconds=0.0)


@pytest.mark.parametrize("impl_name", ["reference", "torch-cpu"])
def test_measure_cell_takes_and_returns_plain_data(impl_name: str) -> None:
    if impl_name == "torch-cpu":
        pytest.importorskip("torch")
    arguments = (impl_name, CellKind.TRAIN_STEP, CASE, TIMING, 1)
    function, arguments = pickle.loads(pickle.dumps((measure_cell, arguments)))
    timing = function(*arguments)
    assert isinstance(timing, CellTiming)
    assert pickle.loads(pickle.dumps(timing)) == timing
    assert len(timing.block_seconds) == 3 and timing.block_seconds[0] >= 0.002  # the calibrating block
    assert timing.steps_per_block >= 1 and timing.bytes is None


def test_conformance_failure_names_the_first_failing_check() -> None:
    assert conformance_failure("reference", "float64") is None
    failure = conformance_failure("mutant-loss-sum-not-mean", "float32")
    assert failure and "loss" in failure.lower()
