"""Speedup, crossover, FLOP counts and the rendering of accelerator rows, on synthetic cells.

On a machine without a GPU no accelerator cell is ever timed, so the code that turns accelerator timings into
speedups, crossover batch sizes, tables and the speedup plot would otherwise never run here. These tests feed
it hand-made cells (built in the test, written only to tmp_path, never to reports/) and check the derived
numbers against values computed in the test from the definitions.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlpbench.bench.flops import gemm_flops, training_step_flops
from mlpbench.bench.render import render_run
from mlpbench.bench.speedup import crossovers, speedups
from mlpbench.catalogue.models import MODELS

SAMPLE = Path(__file__).resolve().parents[2] / "reports" / "sample" / "bench.json"


def cell(impl: str, device: str, batch: int, samples_per_s: float | None, status: str = "ok", reason: str = "",
         model: str = "m", dtype: str = "float32", optimizer: str = "sgd") -> dict:
    return {"id": f"step/{impl}/{model}/{dtype}/{optimizer}/b{batch}", "kind": "train_step", "impl": impl,
            "device": device, "model": model, "dtype": dtype, "optimizer": optimizer, "batch_size": batch,
            "status": status, "reason": reason, "samples_per_s": samples_per_s}


def series(gpu_rates: list[float], cpu_rates: list[float], batches=(1, 16, 256, 4096)) -> list[dict]:
    cells = [cell("gpu", "cuda", b, r) for b, r in zip(batches, gpu_rates)]
    return cells + [cell("cpu", "cpu", b, r) for b, r in zip(batches, cpu_rates)]


def test_training_step_flops_is_six_times_batch_times_parameters() -> None:
    spec = MODELS["mnist-784-256-256-10"]
    parameters = 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
    assert spec.n_params == parameters == 269_322
    assert training_step_flops(spec, 256) == 6 * 256 * parameters
    assert gemm_flops(1024) == 2 * 1024**3


def test_speedup_is_over_the_fastest_cpu_implementation_of_the_same_cell() -> None:
    cells = [cell("gpu", "cuda", 64, 900.0), cell("slow-cpu", "cpu", 64, 100.0), cell("fast-cpu", "cpu", 64, 300.0),
             cell("fast-cpu", "cpu", 128, 5000.0)]
    (row,) = speedups(cells)
    assert row["cpu_impl"] == "fast-cpu"
    assert row["speedup"] == pytest.approx(900.0 / 300.0)


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
    assert result["crossover"] == expected
    assert result["text"] == (f"batch {expected}" if expected is not None else "none in range")


def test_unavailable_accelerator_has_no_numbers_and_says_why() -> None:
    reason = "CUDA not available: torch.cuda.is_available() is False"
    cells = [cell("gpu", "cuda", b, None, status="unavailable", reason=reason) for b in (1, 16)]
    cells += [cell("cpu", "cpu", b, 100.0 * b) for b in (1, 16)]
    assert all(row["speedup"] is None and reason in row["reason"] for row in speedups(cells))
    (result,) = crossovers(cells)
    assert result["crossover"] is None and result["text"] == f"unavailable: {reason}"


def test_accelerator_rows_render_into_tables_and_a_speedup_plot(tmp_path: Path) -> None:
    results = json.loads(SAMPLE.read_text())
    cpu_cells = [c for c in results["cells"] if c["kind"] == "train_step" and c["status"] == "ok"
                 and c["impl"] == "torch-cpu"]
    assert cpu_cells, "the committed sample run has no timed torch-cpu cell"
    synthetic = []
    for c in cpu_cells:  # an accelerator that is 4x slower at batch 1 and gains 4x per size step
        factor = 0.25 * 4 ** sorted({x["batch_size"] for x in cpu_cells}).index(c["batch_size"])
        synthetic.append({**c, "id": c["id"].replace("torch-cpu", "synthetic-gpu"), "impl": "synthetic-gpu",
                          "device": "cuda", "samples_per_s": c["samples_per_s"] * factor})
    results["cells"] = [c for c in results["cells"] if c["device"] == "cpu"] + synthetic
    results["speedups"], results["crossovers"] = speedups(results["cells"]), crossovers(results["cells"])
    timed = [c for c in results["crossovers"] if c["impl"] == "synthetic-gpu"]
    assert timed and all(c["crossover"] is not None for c in timed)
    written = render_run(tmp_path, results)
    markdown = (tmp_path / "bench.md").read_text()
    assert "synthetic-gpu" in markdown
    for c in timed:
        assert f"batch {c['crossover']}" in markdown
    assert {p.name for p in written} >= {"bench.md", "bench.csv", "throughput.png", "speedup.png"}
    assert (tmp_path / "speedup.png").stat().st_size > 10_000
