"""What the plots mark: cells that were not timed appear in place (at their batch size) with their kind;
without an accelerator timing there is no speedup plot (bench.md says why instead)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlpbench.bench.plots import SPEEDUP_PNG, THROUGHPUT_PNG, UNAVAILABLE_ROW, Mark, not_timed_marks, write_plots
from mlpbench.bench.records import BenchResults, CellKind, CellResult, CellStatus, RunSettings
from mlpbench.bench.results import SCHEMA
from mlpbench.bench.speedup import crossovers, speedups
from mlpbench.output.folder import OwnedFolder, OwnershipError
from mlpbench.output.manifest import BENCH

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def cell(impl: str, device: str, batch: int, status: CellStatus, reason: str = "", **timed) -> CellResult:
    return CellResult(f"step/{impl}/m/float32/sgd/b{batch}", CellKind.TRAIN_STEP, impl, device, "ieee", "m", (4, 2),
                      10, batch, "float32", "sgd", "cross_entropy", 1, status, reason, **timed)


def ok(impl: str, batch: int) -> CellResult:
    return cell(impl, "cpu", batch, CellStatus.OK, steps_per_block=1, blocks=3, median_s=1e-3 * batch,
                q1_s=0.9e-3 * batch, q3_s=1.2e-3 * batch, samples_per_s=1000.0, block_seconds=(1e-3 * batch,) * 3)


def cells() -> list[CellResult]:
    return [
        ok("cpu-a", 1), ok("cpu-a", 16),
        cell("cpu-a", "cpu", 256, CellStatus.SKIPPED, "budget (estimated 2 s/step x 7 steps > 3 s per cell)"),
        cell("cpu-a", "cpu", 4096, CellStatus.SKIPPED, "budget (a smaller batch of this series already exceeded it)"),
        cell("gpu", "cuda", 1, CellStatus.UNAVAILABLE, "CUDA not available: no GPU"),
        cell("gpu", "cuda", 16, CellStatus.UNAVAILABLE, "CUDA not available: no GPU"),
        cell("cpu-b", "cpu", 1, CellStatus.SKIPPED, "not claimed: dtype float32"),
        cell("cpu-c", "cpu", 16, CellStatus.ERROR, "RuntimeError: boom"),
    ]


def test_cells_not_timed_are_marked_at_their_batch_size_and_not_claimed_ones_are_not() -> None:
    a = "cpu-a (cpu) float32 sgd"
    assert not_timed_marks(cells()) == [
        Mark(a, 256, "budget"), Mark(a, 4096, "budget"),
        Mark("cpu-c (cpu) float32 sgd", 16, "failed"),
        Mark(UNAVAILABLE_ROW, 1, "unavailable"), Mark(UNAVAILABLE_ROW, 16, "unavailable"),
    ]


def results(all_cells: list[CellResult]) -> BenchResults:
    settings = RunSettings({}, 1, {}, {})
    return BenchResults(SCHEMA, "", "", settings, "", "", {}, [], {}, all_cells, speedups(all_cells),
                        crossovers(all_cells))


def test_without_accelerator_timings_only_the_throughput_plot_is_written(tmp_path: Path) -> None:
    with OwnedFolder(tmp_path, BENCH) as folder:  # a speedup.png of an earlier render, mlpbench's own
        folder.write_bytes(SPEEDUP_PNG, b"stale")
    assert write_plots(tmp_path, results(cells())) == [THROUGHPUT_PNG]
    assert (tmp_path / THROUGHPUT_PNG).read_bytes().startswith(PNG_MAGIC)
    assert not (tmp_path / SPEEDUP_PNG).exists()


def test_a_speedup_png_mlpbench_did_not_write_is_refused_and_kept(tmp_path: Path) -> None:
    (tmp_path / SPEEDUP_PNG).write_bytes(b"the user's own")
    with pytest.raises(OwnershipError, match="holds 'speedup.png', which mlpbench did not write"):
        write_plots(tmp_path, results(cells()))
    assert sorted(p.name for p in tmp_path.iterdir()) == [SPEEDUP_PNG]
    assert (tmp_path / SPEEDUP_PNG).read_bytes() == b"the user's own"
