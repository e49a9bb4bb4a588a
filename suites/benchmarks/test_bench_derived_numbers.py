"""FLOP counts, efficiency and its flag, speedup, crossover, CSV and the rendering of accelerator rows, on
synthetic records.

On a machine without a GPU no accelerator cell is ever timed, so the code that turns accelerator timings into
speedups, crossover batch sizes, tables and the speedup plot would otherwise never run here. These tests feed
it hand-made records (built in the test, written only to tmp_path, never to reports/) and check the derived
numbers against values computed in the test from the definitions.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path

import pytest

from mlpbench.bench.derive import with_peak, with_timing
from mlpbench.bench.flops import gemm_flops, layer_flops, training_step_flops
from mlpbench.bench.records import (
    BenchResults,
    CellKind,
    CellResult,
    CellStatus,
    GemmRate,
    Peak,
    PeakPass,
    RunSettings,
)
from mlpbench.bench.render import render_run
from mlpbench.bench.results import SCHEMA, csv_text
from mlpbench.bench.speedup import crossovers, speedups
from mlpbench.bench.tables import markdown_report, throughput_tables
from mlpbench.bench.timing import BlockTiming
from mlpbench.catalogue.models import MODELS


def cell(impl: str, device: str, batch: int, samples_per_s: float | None, status: CellStatus = CellStatus.OK,
         reason: str = "", model: str = "m", dtype: str = "float32", optimizer: str = "sgd") -> CellResult:
    return CellResult(f"step/{impl}/{model}/{dtype}/{optimizer}/b{batch}", CellKind.TRAIN_STEP, impl, device, "ieee",
                      model, (4, 2), 10, batch, dtype, optimizer, "cross_entropy", None, status, reason,
                      samples_per_s=samples_per_s)


def series(gpu_rates: list[float], cpu_rates: list[float], batches=(1, 16, 256, 4096)) -> list[CellResult]:
    cells = [cell("gpu", "cuda", b, r) for b, r in zip(batches, gpu_rates)]
    return cells + [cell("cpu", "cpu", b, r) for b, r in zip(batches, cpu_rates)]


# -- FLOPs --------------------------------------------------------------------------------------------------------

# Hand count, B = 1: per layer in x out products, forward + weight gradient for every layer (2 x 2 x in x out) and
# the input gradient for every layer but the first (2 x in x out).
HAND_COUNT = {
    # 10x64, 64x32, 32x1
    "seed-10-64-32-1": 2 * 2 * (10 * 64 + 64 * 32 + 32 * 1) + 2 * (64 * 32 + 32 * 1),
    # 784x256, 256x256, 256x10
    "mnist-784-256-256-10": 2 * 2 * (784 * 256 + 256 * 256 + 256 * 10) + 2 * (256 * 256 + 256 * 10),
    # 1024x1024 three times, 1024x10
    "wide-4x1024": 2 * 2 * (3 * 1024 * 1024 + 1024 * 10) + 2 * (2 * 1024 * 1024 + 1024 * 10),
}


@pytest.mark.parametrize("model", sorted(HAND_COUNT))
def test_training_step_flops_match_a_hand_count(model: str) -> None:
    spec = MODELS[model]
    assert training_step_flops(spec, 1) == HAND_COUNT[model]
    assert training_step_flops(spec, 256) == 256 * HAND_COUNT[model]
    first, *rest = layer_flops(spec, 3)
    assert first.input_gradient == 0  # no step computes the gradient with respect to the network's input
    assert all(layer.input_gradient == layer.forward == 2 * 3 * layer.fan_in * layer.fan_out for layer in rest)
    assert gemm_flops(1024) == 2 * 1024**3


def test_six_times_parameters_overcounts_the_mnist_model_by_about_a_third() -> None:
    spec = MODELS["mnist-784-256-256-10"]
    ratio = 6 * spec.n_params / training_step_flops(spec, 1)
    assert ratio == pytest.approx(6 * 269_322 / HAND_COUNT["mnist-784-256-256-10"])
    assert 1.3 < ratio < 1.4


# -- efficiency and its flag ------------------------------------------------------------------------------------


def peak_of(rate: float) -> Peak:
    n = 1000
    fastest = 2 * n**3 / rate
    return Peak("torch-cpu-float32-ieee", "torch", "cpu", "float32", "ieee", 1,
                [PeakPass("start", "t0", (GemmRate(n, fastest * 1.25, fastest * 1.3, 8),)),
                 PeakPass("end", "t1", (GemmRate(n, fastest, fastest * 1.1, 8),))])


def timed(batch: int, seconds_per_step: float) -> CellResult:
    base = cell("torch-cpu", "cpu", batch, None, model="mnist-784-256-256-10")
    base = replace(base, sizes=(784, 256, 256, 10))
    return with_timing(base, BlockTiming(steps_per_block=4, block_seconds=(4 * seconds_per_step,) * 5,
                                        warmup_steps=2))


def test_efficiency_is_against_the_best_pass_and_above_one_is_flagged_never_printed_as_a_fact() -> None:
    flop = training_step_flops(MODELS["mnist-784-256-256-10"], 1024)
    peak = peak_of(1e11)
    assert peak.flop_per_s == pytest.approx(1e11)  # the end pass was the faster one
    sound = with_peak(timed(1024, flop / 5e10), peak)  # half the peak
    assert sound.efficiency == pytest.approx(0.5)
    assert sound.efficiency_problem == ""
    impossible = with_peak(timed(1024, flop / 1.5e11), peak)  # 1.5 x the peak
    assert impossible.efficiency == pytest.approx(1.5)
    assert impossible.efficiency_problem.startswith("measurement problem")
    results = synthetic_results([sound, impossible], {peak.key: peak})
    table = throughput_tables(results)
    assert "50.0%" in table and "150.0%" not in table
    assert "MEASUREMENT PROBLEM (1.50 x peak)" in table
    markdown = markdown_report(results)
    assert f"{impossible.id}: measurement problem" in markdown
    rows = list(csv.DictReader(io.StringIO(csv_text([sound, impossible]))))
    assert rows[0]["efficiency_problem"] == "" and rows[1]["efficiency_problem"].startswith("measurement problem")


def test_csv_neutralises_text_a_spreadsheet_would_run_as_a_formula() -> None:
    cells = [cell("x", "cpu", 1, None, CellStatus.ERROR, reason=start + "1+1") for start in "=+-@"]
    cells.append(cell("x", "cpu", 1, None, CellStatus.ERROR, reason="plain"))
    rows = list(csv.DictReader(io.StringIO(csv_text(cells))))
    assert [r["reason"] for r in rows] == ["'=1+1", "'+1+1", "'-1+1", "'@1+1", "plain"]


def test_records_round_trip_through_json() -> None:
    peak = peak_of(2e11)
    one = with_peak(timed(64, 1e-3), peak)
    results = synthetic_results([one], {peak.key: peak})
    again = BenchResults.from_dict(results.to_dict())
    assert again.cells == [one]
    assert again.peaks[peak.key].flop_per_s == peak.flop_per_s
    assert again.settings == results.settings


# -- speedups ----------------------------------------------------------------------------------------------------


def test_speedup_is_over_the_fastest_cpu_implementation_of_the_same_cell() -> None:
    cells = [cell("gpu", "cuda", 64, 900.0), cell("slow-cpu", "cpu", 64, 100.0), cell("fast-cpu", "cpu", 64, 300.0),
             cell("fast-cpu", "cpu", 128, 5000.0)]
    (row,) = speedups(cells)
    assert row.cpu_impl == "fast-cpu"
    assert row.speedup == pytest.approx(900.0 / 300.0)


@pytest.mark.parametrize(
    ("gpu", "cpu", "expected"),
    [
        ([1, 10, 300, 4000], [5, 20, 200, 1000], 256),  # faster from 256 on
        ([1, 30, 150, 4000], [5, 20, 200, 1000], 4096),  # faster at 16 but not at 256: crossover is 4096
        ([1, 2, 3, 4], [5, 20, 200, 1000], None),  # never faster
        ([10, 30, 300, 4000], [5, 20, 200, 1000], 1),  # faster everywhere
    ],
)
def test_crossover_is_the_smallest_batch_from_which_the_gpu_stays_faster(gpu, cpu, expected) -> None:
    (result,) = crossovers(series(gpu, cpu))
    assert result.crossover == expected
    assert result.text == (f"batch {expected}" if expected is not None else "none in range")


def test_unavailable_accelerator_has_no_numbers_and_says_why() -> None:
    reason = "CUDA not available: torch.cuda.is_available() is False"
    cells = [cell("gpu", "cuda", b, None, status=CellStatus.UNAVAILABLE, reason=reason) for b in (1, 16)]
    cells += [cell("cpu", "cpu", b, 100.0 * b) for b in (1, 16)]
    assert all(row.speedup is None and reason in row.reason for row in speedups(cells))
    (result,) = crossovers(cells)
    assert result.crossover is None and result.text == f"unavailable: {reason}"


def synthetic_results(cells: list[CellResult], peaks: dict[str, Peak]) -> BenchResults:
    settings = RunSettings({"peak_blocks": 8}, 1, {"numpy": "x"}, {"cpu_model": "synthetic"})
    return BenchResults(SCHEMA, "2025-01-01T00:00:00Z", "synthetic", settings, "flops", "gemm",
                        {"torch": {"gpu": None, "gpu_unavailable_reason": "synthetic"}}, [], peaks, cells,
                        speedups(cells), crossovers(cells))


def test_accelerator_rows_render_into_tables_and_a_speedup_plot(tmp_path: Path) -> None:
    peak = peak_of(2e11)
    cpu_cells = [with_peak(timed(b, 1e-4 * b), peak) for b in (1, 16, 256, 4096)]
    # an accelerator that is 2x slower at batch 1 and gains 4x per size step
    gpu_cells = [replace(c, id=c.id.replace("torch-cpu", "synthetic-gpu"), impl="synthetic-gpu", device="cuda",
                         samples_per_s=c.samples_per_s * 0.5 * 4**i) for i, c in enumerate(cpu_cells)]
    results = synthetic_results(cpu_cells + gpu_cells, {peak.key: peak})
    (crossover,) = results.crossovers
    assert crossover.crossover == 16
    written = render_run(tmp_path, results)
    markdown = (tmp_path / "bench.md").read_text()
    assert "synthetic-gpu" in markdown and "batch 16" in markdown and "No accelerator on this machine" not in markdown
    assert {p.name for p in written} == {"bench.md", "bench.csv", "throughput.png", "speedup.png"}
    assert (tmp_path / "speedup.png").stat().st_size > 10_000
