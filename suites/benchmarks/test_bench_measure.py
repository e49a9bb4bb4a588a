"""Measuring a cell runs in the implementation's supervised worker (mlpbench.bench.isolated): plain data in,
plain data out, the quick conformance check there too, and a step that hangs is killed at the cell's limit."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from mlpbench.bench.isolated import CellFailed, IsolatedCalls, cell_time_limit
from mlpbench.bench.records import CellKind
from mlpbench.bench.timing import BlockTiming, TimingSettings
from mlpbench.catalogue.benchmark import OPTIMIZERS, BenchCase

CASE = BenchCase("seed-10-64-32-1", 16, "float32", "sgd", dict(OPTIMIZERS["sgd"]))
TIMING = TimingSettings(min_block_seconds=0.002, blocks=3, min_blocks=3, max_seconds=1.0, warmup_seconds=0.0)
PLUGINS = Path(__file__).resolve().parents[1] / "cli" / "fault_plugins"


HANG_STEP_TIMEOUT = 2.0
"""The step limit of the hang test: short, since the hanging step is killed at the cell's limit."""
LOADED_STEP_TIMEOUT = 120.0
"""The step limit of measurements that must finish: far above what a first step takes on a machine at any load
(a torch worker's first step on a 2-core machine with a CPU hog on each core takes seconds), so these tests
do not depend on the machine's load."""


@pytest.fixture
def calls():
    isolated = IsolatedCalls(step_timeout=LOADED_STEP_TIMEOUT)
    yield isolated
    isolated.close()


@pytest.mark.parametrize("impl_name", ["reference", "torch-cpu"])
def test_a_cell_is_measured_in_the_worker(calls: IsolatedCalls, impl_name: str) -> None:
    if impl_name == "torch-cpu":
        pytest.importorskip("torch")
    info, caps, unknown = calls.load(impl_name)
    assert info.unavailable is None and caps is not None and not unknown
    timing = calls.measure(impl_name, CellKind.TRAIN_STEP, CASE, TIMING, 1)
    assert isinstance(timing, BlockTiming)
    assert pickle.loads(pickle.dumps(timing)) == timing
    assert len(timing.block_seconds) == 3 and timing.block_seconds[0] >= 0.002  # the calibrating block
    assert timing.steps_per_block >= 1 and timing.bytes is None


def test_the_quick_check_names_the_first_failing_check(calls: IsolatedCalls) -> None:
    pytest.importorskip("torch")
    calls.load("reference")
    calls.load("mutant-loss-sum-not-mean")
    assert calls.conformance("reference", "float64") is None
    failure = calls.conformance("mutant-loss-sum-not-mean", "float32")
    assert failure and "loss" in failure.lower()


def test_a_hanging_step_is_killed_at_the_cell_limit(calls: IsolatedCalls, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(PLUGINS))
    calls.step_timeout = HANG_STEP_TIMEOUT
    calls.load("faulty:HangingStep")
    limit = cell_time_limit(TIMING, calls.step_timeout)
    with pytest.raises(CellFailed, match=rf"timed out after {limit:g} s and was killed; traceback: .*step"):
        calls.measure("faulty:HangingStep", CellKind.TRAIN_STEP, CASE, TIMING, 1)
    # the next call gets a fresh worker
    calls.step_timeout = LOADED_STEP_TIMEOUT
    info, caps, _ = calls.load("reference")
    assert calls.measure("reference", CellKind.TRAIN_STEP, CASE, TIMING, 1).steps_per_block >= 1


def test_an_unknown_name_is_reported_for_a_usage_error(calls: IsolatedCalls) -> None:
    info, caps, unknown = calls.load("no-such-engine")
    assert caps is None and "unknown implementation 'no-such-engine'" in unknown


def test_threads_setting_reaches_the_oracle_and_is_restored() -> None:
    """`--threads N` bounds the oracle's elementwise threads as it bounds torch's and the BLAS pools'."""
    from mlpbench.bench.measure import set_threads
    from mlpbench.reference.optim import _chunks

    before = _chunks.threads()
    restore = set_threads(1)
    try:
        assert _chunks.threads() == 1
    finally:
        restore()
    assert _chunks.threads() == before
