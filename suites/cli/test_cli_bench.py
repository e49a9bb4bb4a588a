"""`mlpbench bench` on a tiny grid: the files it writes, what the Markdown shows, --resume, usage errors."""

from __future__ import annotations

import csv
import json

import pytest

from mlpbench.bench.results import SCHEMA
from mlpbench.bench.runner import estimated_step_seconds
from mlpbench.bench.timing import time_blocks
from mlpbench.cli import main

# The per-cell cap is generous so that a loaded machine does not skip a cell (budget); --blocks bounds the time.
# One thread: on a shared machine a multi-thread OpenMP pool can stall for tens of ms when a core is taken.
TINY = ["--quick", "--models", "seed-10-64-32-1", "--dtypes", "float32", "--optimizers", "sgd",
        "--max-seconds-per-cell", "2", "--min-block-seconds", "0.005", "--blocks", "6", "--threads", "1"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def resumed_run(tmp_path_factory):
    """A first run with batch 32, then --resume with batches 32 and 256 (only 256 is new)."""
    out = tmp_path_factory.mktemp("bench")
    first = main(["bench", "--impl", "torch-cpu", "--impl", "torch-cuda", "--batch-sizes", "32", *TINY,
                  "--out", str(out)])
    before = json.loads((out / "cells" / "step_torch-cpu_seed-10-64-32-1_float32_sgd_b32.json").read_text())
    second = main(["bench", "--impl", "torch-cpu", "--impl", "torch-cuda", "--batch-sizes", "32,256", *TINY,
                   "--out", str(out), "--resume"])
    return out, first, second, before


def test_bench_writes_markdown_json_csv_png(resumed_run):
    out, first, second, _ = resumed_run
    assert (first, second) == (0, 0)
    results = json.loads((out / "bench.json").read_text())
    assert results["schema"] == SCHEMA
    assert "6 * batch * parameters" in results["flop_formula"]
    assert "hostname" not in json.dumps(results["environment"]).lower()
    for name in ("throughput.png", "speedup.png"):
        assert (out / name).read_bytes().startswith(PNG_MAGIC)
    rows = list(csv.DictReader((out / "bench.csv").open()))
    assert {r["id"] for r in rows} == {c["id"] for c in results["cells"]}
    timed = [c for c in results["cells"] if c["impl"] == "torch-cpu"]
    assert [c["batch_size"] for c in timed] == [32, 256]
    for cell in timed:
        assert cell["status"] == "ok", cell["reason"]
        assert len(cell["block_seconds"]) >= 5
        steps = cell["steps_per_block"] * len(cell["block_seconds"])
        assert cell["samples_per_s"] == pytest.approx(32 * steps / sum(cell["block_seconds"]) if
                                                      cell["batch_size"] == 32 else
                                                      256 * steps / sum(cell["block_seconds"]))
        assert cell["flop_per_s"] == pytest.approx(6 * cell["parameters"] * cell["samples_per_s"])
        assert cell["efficiency"] == pytest.approx(cell["flop_per_s"] / cell["peak_flop_per_s"])
        assert cell["threads"] == 1


def test_bench_markdown_shows_throughput_flops_efficiency_and_unavailable_cuda(resumed_run):
    out = resumed_run[0]
    text = (out / "bench.md").read_text()
    for heading in ("samples/s", "FLOP/s", "efficiency", "GEMM peak", "Crossover", "6 * batch * parameters"):
        assert heading in text
    results = json.loads((out / "bench.json").read_text())
    cuda = [c for c in results["cells"] if c["impl"] == "torch-cuda"]
    assert cuda
    if results["environment"]["torch"].get("gpu") is None:
        assert all(c["status"] == "unavailable" and c["reason"] for c in cuda)
        assert "unavailable: CUDA" in text or f"unavailable: {cuda[0]['reason']}" in text
        assert all(r["speedup"] is None for r in results["speedups"])
        assert all(r["text"].startswith("unavailable: ") for r in results["crossovers"])


def test_bench_resume_keeps_finished_cells(resumed_run):
    out, _, _, before = resumed_run
    after = json.loads((out / "cells" / "step_torch-cpu_seed-10-64-32-1_float32_sgd_b32.json").read_text())
    assert after["block_seconds"] == before["block_seconds"]  # not re-timed
    assert (out / "cells" / "step_torch-cpu_seed-10-64-32-1_float32_sgd_b256.json").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["bench", "--impl", "no-such-implementation"],
        ["bench", "--batch-sizes", "32,x"],
        ["bench", "--batch-sizes", "0"],
        ["bench", "--dtypes", "float16"],
        ["bench", "--optimizers", "lbfgs"],
        ["bench", "--model", "not-a-model"],
    ],
)
def test_bench_usage_errors_exit_2(argv, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")


def test_bench_not_conforming_is_reported_not_timed(tmp_path):
    code = main(["bench", "--impl", "mutant-loss-sum-not-mean", "--batch-sizes", "16", *TINY, "--out", str(tmp_path)])
    assert code == 0
    results = json.loads((tmp_path / "bench.json").read_text())
    (cell,) = results["cells"]
    assert cell["status"] == "not_conforming"
    assert "block_seconds" not in cell
    assert "not conforming: " in (tmp_path / "bench.md").read_text()


def test_block_timer_grows_blocks_and_excludes_warmup():
    calls = []
    timing = time_blocks(lambda: calls.append(1), min_block_seconds=0.002, blocks=5, min_blocks=5,
                         warmup_seconds=0.0, min_warmup_steps=3)
    assert timing.steps_per_block > 1  # a no-op step needs many per block to reach 2 ms
    assert len(timing.block_seconds) == 5
    assert timing.block_seconds[0] >= 0.002  # the calibrating block, the first that reached the minimum
    assert timing.warmup_steps == 3
    assert len(calls) >= 3 + timing.total_steps


def test_budget_estimate_extrapolates_from_the_two_largest_batches():
    # t = 1 ms + 0.01 ms per sample, measured at 16 and 256: at 4096 it is 1 + 40.96 ms
    points = [(16, 1e-3 + 16e-5), (256, 1e-3 + 256e-5)]
    assert estimated_step_seconds(points, 4096, None) == pytest.approx(1e-3 + 4096e-5)
    assert estimated_step_seconds(points, 4096, 1.0) == 1.0  # never faster than the GEMM peak allows
    assert estimated_step_seconds([], 4096, None) is None
