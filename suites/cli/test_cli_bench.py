"""`mlpbench bench` on a tiny grid: the files it writes, what the Markdown shows, the peaks, --resume (same
settings: continues; other settings: exit 2 naming the difference), exit codes, usage errors."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shlex
import statistics
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from mlpbench.bench import timing as timing_module
from mlpbench.bench.budget import estimated_step_seconds
from mlpbench.bench.flops import training_step_flops
from mlpbench.bench.isolated import IsolatedCalls
from mlpbench.bench.records import csv_columns
from mlpbench.bench.results import SCHEMA
from mlpbench.bench.timing import time_blocks
from mlpbench.catalogue.models import MODELS
from mlpbench.cli import main
from mlpbench.impls.registry import resolve
from mlpbench.output.folder import OwnedFolder
from mlpbench.output.manifest import BENCH

# The per-cell cap is generous so that a loaded machine does not skip a cell (budget); --blocks bounds the time.
# One thread: on a shared machine a multi-thread OpenMP pool can stall for tens of ms when a core is taken.
TINY = ["--quick", "--models", "seed-10-64-32-1", "--dtypes", "float32", "--optimizers", "sgd",
        "--max-seconds-per-cell", "2", "--min-block-seconds", "0.005", "--blocks", "6", "--threads", "1"]
GRID = ["--impl", "torch-cpu", "--impl", "torch-cuda", "--batch-sizes", "32,256", *TINY]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
B256 = "step_torch-cpu_seed-10-64-32-1_float32_sgd_b256.json"
B32 = "step_torch-cpu_seed-10-64-32-1_float32_sgd_b32.json"
NO_GPU = not resolve("torch-cuda").availability()[0]


def resume_a_run(out):
    """A run of batches 32 and 256 whose batch-256 cell is then lost (as if the run had been interrupted
    before it), resumed with the same settings; with what the first run printed on stdout and stderr (the
    bench's own lines, all printed by this process: its workers write to log files)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        first = main(["bench", *GRID, "--out", str(out)])
    before = json.loads((out / "cells" / B32).read_text())
    peaks_before = json.loads((out / "peaks" / "torch-cpu-float32-ieee.json").read_text())
    (out / "cells" / B256).unlink()
    second = main(["bench", *GRID, "--out", str(out), "--resume"])
    return str(out), first, second, before, peaks_before, (stdout.getvalue(), stderr.getvalue())


@pytest.fixture
def resumed_run(shared_runs):
    """resume_a_run, once per session (suites/cli/conftest.py): out, exit codes of the run and of its resumption,
    the batch-32 cell and the peaks before the resumption, (stdout, stderr) of the first run."""
    out, first, second, before, peaks_before, printed = shared_runs.once("bench-resumed-run", resume_a_run)
    return Path(out), first, second, before, peaks_before, tuple(printed)


def test_bench_writes_markdown_json_csv_png(resumed_run):
    out, first, second, _, _, _ = resumed_run
    assert (first, second) == (0, 0)
    results = json.loads((out / "bench.json").read_text())
    assert results["schema"] == SCHEMA
    assert "2*B*in_l*out_l (input gradient, every layer but the first)" in results["flop_formula"]
    assert "hostname" not in json.dumps(results["environment"]).lower()
    assert (out / "throughput.png").read_bytes().startswith(PNG_MAGIC)
    if NO_GPU:  # no empty speedup frames without an accelerator
        assert not (out / "speedup.png").exists()
    rows = list(csv.DictReader((out / "bench.csv").open()))
    assert tuple(rows[0]) == csv_columns()
    assert {r["id"] for r in rows} == {c["id"] for c in results["cells"]}
    timed = [c for c in results["cells"] if c["impl"] == "torch-cpu"]
    assert [c["batch_size"] for c in timed] == [32, 256]
    spec = MODELS["seed-10-64-32-1"]
    for cell in timed:
        assert cell["status"] == "ok", cell["reason"]
        assert cell["blocks"] == len(cell["block_seconds"]) >= 5
        per_step = [t / cell["steps_per_block"] for t in cell["block_seconds"]]
        assert cell["median_s"] == pytest.approx(statistics.median(per_step))
        assert cell["samples_per_s"] == pytest.approx(cell["batch_size"] / cell["median_s"])  # the median rate
        assert cell["flop_per_step"] == training_step_flops(spec, cell["batch_size"])
        assert cell["flop_per_s"] == pytest.approx(cell["flop_per_step"] * cell["samples_per_s"] / cell["batch_size"])
        assert cell["efficiency"] == pytest.approx(cell["flop_per_s"] / cell["peak_flop_per_s"])
        assert cell["efficiency"] <= 1.0 or cell["efficiency_problem"].startswith("measurement problem")
        assert cell["threads"] == 1


def test_bench_peak_is_the_best_of_a_start_and_an_end_pass_at_the_run_threads(resumed_run):
    out, _, _, _, peaks_before, _ = resumed_run
    assert [p["label"] for p in peaks_before["passes"]] == ["start", "end"]
    results = json.loads((out / "bench.json").read_text())
    peak = results["peaks"]["torch-cpu-float32-ieee"]
    assert peak["threads"] == 1
    # the resumed run timed one cell, so it measured its own start and end passes; earlier passes are kept
    assert [p["label"] for p in peak["passes"]] == ["start", "end", "start", "end"]
    assert peak["flop_per_s"] == max(p["flop_per_s"] for p in peak["passes"])
    for p in peak["passes"]:
        assert p["flop_per_s"] == max(r["flop_per_s"] for r in p["rates"])
        for r in p["rates"]:
            assert r["flop_per_s"] == pytest.approx(2 * r["n"] ** 3 / r["fastest_s"])
    for cell in results["cells"]:
        if cell["status"] == "ok":
            assert cell["peak_flop_per_s"] == peak["flop_per_s"]  # every efficiency against the final peak


def test_bench_markdown_shows_throughput_flops_efficiency_and_unavailable_cuda(resumed_run):
    out = resumed_run[0]
    text = (out / "bench.md").read_text()
    for heading in ("samples/s", "FLOP/s", "efficiency", "GEMM peak", "start of run", "end of run", "Crossover",
                    "input gradient, every layer but the first"):
        assert heading in text
    results = json.loads((out / "bench.json").read_text())
    cuda = [c for c in results["cells"] if c["impl"] == "torch-cuda"]
    assert cuda
    if NO_GPU:
        assert all(c["status"] == "unavailable" and c["reason"] for c in cuda)
        assert f"unavailable: {cuda[0]['reason']}" in text
        assert "No accelerator on this machine" in text
        assert "speedup.png" not in text
        assert all(r["speedup"] is None for r in results["speedups"])
        assert all(r["text"].startswith("unavailable: ") for r in results["crossovers"])


def test_bench_resume_keeps_finished_cells_and_reruns_the_lost_one(resumed_run):
    out, _, _, before, _, _ = resumed_run
    after = json.loads((out / "cells" / B32).read_text())
    assert after["block_seconds"] == before["block_seconds"]  # not re-timed
    assert json.loads((out / "cells" / B256).read_text())["status"] == "ok"
    results = json.loads((out / "bench.json").read_text())
    assert results["conformance"] == [{"impl": "torch-cpu", "dtype": "float32", "conforming": True,
                                       "first_failure": None}]


def test_bench_resume_with_other_settings_exits_2_naming_the_difference(resumed_run, capsys):
    out = resumed_run[0]
    cells_before = sorted(p.read_bytes() for p in (out / "cells").glob("*.json"))
    changed = [a if a != "6" else "7" for a in GRID]  # --blocks 6 -> 7
    assert main(["bench", *changed, "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")
    assert "blocks: 6 -> 7" in err[0]
    assert sorted(p.read_bytes() for p in (out / "cells").glob("*.json")) == cells_before


def test_bench_resume_of_cells_without_recorded_settings_exits_2(tmp_path, capsys):
    with OwnedFolder(tmp_path, BENCH) as folder:  # a cell file of mlpbench's own, but no settings.json
        folder.write_json(f"cells/{B32}", {"id": "step/torch-cpu/seed-10-64-32-1/float32/sgd/b32"})
    assert main(["bench", *GRID, "--out", str(tmp_path), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no recorded settings" in err[0]


def test_bench_prints_one_unavailable_line_per_implementation_and_the_summary_on_stdout(resumed_run):
    """What the module's first run (a fresh `bench` of the grid, torch-cuda in it) printed."""
    if not NO_GPU:
        pytest.skip("CUDA is available here: torch-cuda is not unavailable")
    out, code, _, _, _, (stdout, stderr) = resumed_run
    assert code == 0
    assert sum("torch-cuda: unavailable here" in line for line in stderr.splitlines()) == 1
    assert not any(line.startswith("[") and "torch-cuda" in line for line in stderr.splitlines())
    assert "cells (" in stdout and f"report: {out / 'bench.md'}" in stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["bench", "--impl", "no-such-implementation"],
        ["bench", "--batch-sizes", "32,x"],
        ["bench", "--batch-sizes", "0"],
        ["bench", "--batch-sizes", str(2**40)],
        ["bench", "--dtypes", "float16"],
        ["bench", "--optimizers", "lbfgs"],
        ["bench", "--model", "not-a-model"],
        ["bench", "--min-block-seconds", "nan"],
        ["bench", "--min-block-seconds", "inf"],
        ["bench", "--min-block-seconds", "-1"],
        ["bench", "--max-seconds-per-cell", "nan"],
        ["bench", "--max-seconds-per-cell", "0"],
        ["bench", "--blocks", "0"],
        ["bench", "--blocks", "1000000"],
        ["bench", "--threads", "0"],
        ["bench", "--threads", "100000"],
    ],
)
def test_bench_usage_errors_exit_2(argv, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")
    assert not list(tmp_path.iterdir())  # nothing was run or written


def test_bench_only_unavailable_implementations_exit_2(tmp_path, capsys):
    if not NO_GPU:
        pytest.skip("CUDA is available here: torch-cuda can run")
    assert main(["bench", "--impl", "torch-cuda", *TINY, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "none of the requested implementations is available" in err[0]
    assert "torch-cuda" in err[0]


def test_bench_not_conforming_exits_1_reported_not_timed(tmp_path):
    code = main(["bench", "--impl", "mutant-loss-sum-not-mean", "--batch-sizes", "16", *TINY, "--out", str(tmp_path)])
    assert code == 1
    results = json.loads((tmp_path / "bench.json").read_text())
    (cell,) = results["cells"]
    assert cell["status"] == "not_conforming"
    assert cell["block_seconds"] == []
    assert "not conforming: " in (tmp_path / "bench.md").read_text()


def failing_torch_cpu():
    """torch-cpu (conforming) whose benchmark trainer cannot be built."""
    impl = resolve("torch-cpu")

    def make_trainer(*args, **kwargs):
        raise RuntimeError("no trainer today")

    impl.make_trainer = make_trainer
    return impl


def test_bench_every_cell_an_error_exits_1(tmp_path):
    code = main(["bench", "--impl", f"{__name__}:failing_torch_cpu", "--batch-sizes", "16,32", *TINY,
                 "--out", str(tmp_path)])
    assert code == 1
    results = json.loads((tmp_path / "bench.json").read_text())
    assert [c["status"] for c in results["cells"]] == ["error", "error"]
    assert all("no trainer today" in c["reason"] for c in results["cells"])


def test_block_timer_grows_blocks_and_excludes_warmup(monkeypatch):
    """Steps of 2**-12 s (0.24 ms, exact in binary) on a fake clock: blocks of 1, 2 and 5 steps are shorter than
    2 ms, 10 steps take 2.44 ms, so k = 10; the 3 warm-up steps and the short calibration blocks are not
    recorded, the calibrating block is the first of the 5 blocks."""
    step_cost = 2.0**-12
    calls, step = _clocked_steps(monkeypatch, lambda n: step_cost)
    timing = time_blocks(step, min_block_seconds=0.002, blocks=5, min_blocks=5, warmup_seconds=0.0,
                         min_warmup_steps=3)
    assert timing.steps_per_block == 10
    assert timing.block_seconds == [10 * step_cost] * 5
    assert timing.warmup_steps == 3
    assert len(calls) == 3 + (1 + 2 + 5) + timing.total_steps  # warm-up, short calibration blocks, the blocks


def _clocked_steps(monkeypatch, costs) -> list[int]:
    """Steps that take `costs(n)` seconds of a fake clock (n = 1, 2, ...), which the block timer reads."""
    now = [0.0]
    calls: list[int] = []
    monkeypatch.setattr(timing_module, "time", SimpleNamespace(perf_counter=lambda: now[0]))

    def step() -> None:
        calls.append(1)
        now[0] += costs(len(calls))

    return calls, step


def test_block_timer_recalibrates_after_cold_first_steps(monkeypatch):
    """A fresh process's first steps can be 40 times slower than the rest: the blocks timed on them are
    warm-up, and k is calibrated again on warm steps (the torch-cpu seed-10-64-32-1 @ 32 cell of one run had
    steps of 16, 20 and 8 ms before 0.4 ms ones, and reported 9,591 samples/s for about 70,000)."""
    calls, step = _clocked_steps(monkeypatch, lambda n: 0.02 if n <= 6 else 0.0004)
    timing = time_blocks(step, min_block_seconds=0.015, blocks=5, min_blocks=5, warmup_seconds=0.0,
                         min_warmup_steps=2)
    assert timing.steps_per_block == 50  # calibrated on 0.4 ms steps, not on a 20 ms one
    assert timing.step_seconds == pytest.approx([0.0004] * 5)  # no cold step inside a recorded block
    assert timing.warmup_steps == 7  # the six cold steps and the warm one that showed them, all dropped
    assert len(calls) >= timing.warmup_steps + timing.total_steps


def test_block_timer_keeps_a_calibration_that_was_warm(monkeypatch):
    calls, step = _clocked_steps(monkeypatch, lambda n: 0.002)
    timing = time_blocks(step, min_block_seconds=0.005, blocks=5, min_blocks=5, warmup_seconds=0.0,
                         min_warmup_steps=2)
    assert timing.steps_per_block == 5 and timing.warmup_steps == 2
    assert timing.step_seconds == pytest.approx([0.002] * 5)


def test_budget_estimate_extrapolates_from_the_two_largest_batches():
    # t = 1 ms + 0.01 ms per sample, measured at 16 and 256: at 4096 it is 1 + 40.96 ms
    points = [(16, 1e-3 + 16e-5), (256, 1e-3 + 256e-5)]
    assert estimated_step_seconds(points, 4096, None) == pytest.approx(1e-3 + 4096e-5)
    assert estimated_step_seconds(points, 4096, 1.0) == 1.0  # never faster than the GEMM peak allows
    assert estimated_step_seconds([], 4096, None) is None


def test_interrupted_bench_prints_the_resume_command_that_continues_it(tmp_path, monkeypatch, capsys):
    """Ctrl-C after the first cell: exit 130 and one line naming the command that continues the run; that
    command, run as printed from another folder with no activated virtualenv, keeps the finished cell and runs
    the rest."""
    measured = IsolatedCalls.measure
    calls = []

    def measure_then_stop(self, *args, **kwargs):
        calls.append(args[0])
        if len(calls) > 1:
            raise KeyboardInterrupt
        return measured(self, *args, **kwargs)

    monkeypatch.setattr(IsolatedCalls, "measure", measure_then_stop)
    out = tmp_path / "run"
    assert main(["bench", "--impl", "torch-cpu", "--batch-sizes", "32,256", *TINY, "--out", str(out)]) == 130
    lines = [line for line in capsys.readouterr().err.splitlines() if "--resume" in line]
    assert len(lines) == 1 and lines[0].startswith(f"interrupted: the finished cells are kept in {out}")
    command = lines[0].split("continue with: ", 1)[1]
    words = shlex.split(command)
    assert words[:4] == [sys.executable, "-m", "mlpbench", "bench"] and words[-3:] == ["--out", str(out), "--resume"]
    assert sorted(p.name for p in (out / "cells").iterdir()) == [B32]
    kept = json.loads((out / "cells" / B32).read_text())["block_seconds"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(words, cwd=elsewhere, capture_output=True, text=True, timeout=300,
                          env={k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert sorted(p.name for p in (out / "cells").iterdir()) == [B256, B32]
    assert json.loads((out / "cells" / B32).read_text())["block_seconds"] == kept  # not re-timed
    assert list(elsewhere.iterdir()) == []


def test_tables_plots_csv_and_json_show_one_number_per_cell(resumed_run):
    """samples/s is the median of the per-block rates, computed once: the JSON's value is batch over the median
    of the blocks' step times, a median of batch k / t_i, and the CSV, the Markdown table, the plot's points
    and the fastest-engine table show that same value."""
    from mlpbench.bench.engines import fastest_engines
    from mlpbench.bench.plots import throughput_points
    from mlpbench.bench.records import CellResult
    from mlpbench.bench.tables import si

    out = resumed_run[0]
    saved = json.loads((out / "bench.json").read_text())
    timed = [CellResult.from_dict(c) for c in saved["cells"] if c["status"] == "ok" and c["block_seconds"]]
    assert timed
    csv_rows = {row["id"]: row for row in csv.DictReader(io.StringIO((out / "bench.csv").read_text()))}
    markdown = (out / "bench.md").read_text()
    for cell in timed:
        rates = sorted(cell.batch_size * cell.steps_per_block / t for t in cell.block_seconds)
        middle = len(rates) // 2
        assert rates[(len(rates) - 1) // 2] <= cell.samples_per_s <= rates[middle]  # a median of the rates
        assert cell.samples_per_s == pytest.approx(cell.batch_size / cell.median_s, rel=1e-12)
        assert float(csv_rows[cell.id]["samples_per_s"]) == pytest.approx(cell.samples_per_s, rel=1e-12)
        row = next(line for line in markdown.splitlines()
                   if line.startswith(f"| {cell.impl} ") and f"| {cell.batch_size} " in line)
        assert si(cell.samples_per_s) in [field.strip() for field in row.split("|")]
        _, y, spread = throughput_points([cell])
        assert y == [cell.samples_per_s] and spread[0][0] <= cell.samples_per_s <= spread[0][1]
    from mlpbench.bench.results import load_results

    rows = fastest_engines(load_results(out / "bench.json"))
    assert rows
    for row in rows:
        for impl, shown in row["engines"].items():
            cell = next(c for c in timed if c.impl == impl and c.batch_size == row["batch_size"])
            assert shown["samples_per_s"] == cell.samples_per_s
            if impl == row["fastest"]:
                assert row["samples_per_s"] == cell.samples_per_s

