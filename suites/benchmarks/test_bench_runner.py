"""The run's peak logic on synthetic measurements: a start and an end pass, a recheck right after a cell that
came out faster than the peak allows, every efficiency against the best pass, and a flag when even the best
pass is below a cell. The measurement functions are replaced by fakes that return chosen rates, so these
tests time nothing."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest

from mlpbench.bench.flops import training_step_flops
from mlpbench.bench.plan import ImplInfo
from mlpbench.bench.records import CellStatus, GemmRate, PeakPass
from mlpbench.bench.runner import MAX_PEAK_RECHECKS, BenchRun
from mlpbench.bench.timing import BlockTiming
from mlpbench.catalogue.benchmark import QUICK
from mlpbench.catalogue.models import MODELS
from mlpbench.impls.registry import resolve

GRID = replace(QUICK, implementations=("torch-cpu",), models=("seed-10-64-32-1",), batch_sizes=(16, 64))
STEP_FLOP_PER_S = 1e10  # what the fake cells achieve


def fake_pass(rates: dict[str, list[float]]):
    """A peak pass whose rate is the next one listed for its label."""
    def measure_peak(target, sizes, timing, label):
        n = 100
        rate = rates[label].pop(0)
        return PeakPass(label, "t", (GemmRate(n, 2 * n**3 / rate, 2 * n**3 / rate, 8),))
    return measure_peak


def fake_cell(impl_name, kind, case, timing, threads) -> BlockTiming:
    seconds = training_step_flops(MODELS[case.model], case.batch_size) / STEP_FLOP_PER_S
    return BlockTiming(steps_per_block=1, block_seconds=(seconds,) * 5, warmup_steps=1)


def run(tmp_path: Path, rates: dict[str, list[float]]):
    implementations = [(ImplInfo("torch-cpu", "torch-cpu", "cpu", "ieee"), resolve("torch-cpu").capabilities())]
    bench = BenchRun(GRID, implementations, tmp_path, threads=1, progress=io.StringIO(),
                     conformance=lambda name, dtype: None, measure=fake_cell, measure_peak=fake_pass(rates))
    return bench.run(), bench.progress.getvalue()


def test_a_cell_above_a_low_start_peak_triggers_a_recheck_and_counts_against_the_best_pass(tmp_path) -> None:
    results, _ = run(tmp_path, {"start": [1e9], "recheck": [4e10], "end": [2e10]})
    (peak,) = results.peaks.values()
    assert [p.label for p in peak.passes] == ["start", "recheck", "end"]
    assert peak.flop_per_s == pytest.approx(4e10)
    for cell in results.cells:
        assert cell.status is CellStatus.OK
        assert cell.efficiency == pytest.approx(STEP_FLOP_PER_S / 4e10)
        assert cell.efficiency_problem == ""


def test_a_cell_above_every_pass_is_flagged_and_rechecks_are_bounded(tmp_path) -> None:
    low = [1e9] * (MAX_PEAK_RECHECKS + 1)
    results, progress = run(tmp_path, {"start": [1e9], "recheck": low, "end": [1e9]})
    (peak,) = results.peaks.values()
    labels = [p.label for p in peak.passes]
    assert labels.count("recheck") <= MAX_PEAK_RECHECKS and labels[0] == "start" and labels[-1] == "end"
    for cell in results.cells:
        assert cell.efficiency == pytest.approx(10.0)
        assert cell.efficiency_problem.startswith("measurement problem")
        assert f"warning: {cell.id}: measurement problem" in progress
