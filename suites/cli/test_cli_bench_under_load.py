"""`mlpbench bench` while a CPU hog spins on every core (suites/under_load.py's hog, one process a core, killed
at the end): the run warns that the machine is busy, every timed cell measures the saturated cores and is
contended when others took more than CONTENDED_SHARE of its core, the fastest-engine table names no winner
from a contended cell, and two such runs agree on their winners or ties (mlpbench.bench.ranking).

This measures the real machine: two tiny runs of `mlpbench bench --quick` (reference and torch-cpu, one model,
two batch sizes, --threads 1, 5 blocks), driven as command.run drives them but with one worker per engine for
both runs (its quick conformance check run once) and a small real GEMM peak, so that the hogs' time goes into
the cells. It takes about 25 s on 2 busy cores, and is marked slow.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest

from mlpbench.bench.command import add_arguments, build_grid, choose_threads, command_line, resolve_implementations
from mlpbench.bench.contention import CONTENDED_SHARE
from mlpbench.bench.engines import fastest_engines, rankings
from mlpbench.bench.isolated import IsolatedCalls
from mlpbench.bench.peak import PeakTarget, measure_peak_pass
from mlpbench.bench.ranking import disagreements
from mlpbench.bench.records import BenchResults, PeakPass
from mlpbench.bench.render import render_run
from mlpbench.bench.results import load_results
from mlpbench.bench.runner import BenchRun
from mlpbench.bench.timing import TimingSettings

SUITES = Path(__file__).resolve().parents[1]
HOG = f"import os, sys; sys.path.insert(0, {str(SUITES)!r}); from under_load import hog; hog(os.getppid())"
ARGS = ["bench", "--quick", "--impl", "reference", "--impl", "torch-cpu", "--models", "seed-10-64-32-1",
        "--batch-sizes", "16,256", "--threads", "1", "--blocks", "5", "--min-block-seconds", "0.02",
        "--max-seconds-per-cell", "3"]


@contextlib.contextmanager
def hogs(count: int) -> Iterator[list[subprocess.Popen]]:
    """`count` busy-loop processes (each also stops when its parent, this process, is gone), killed at the end."""
    processes = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(count)]
    try:
        time.sleep(0.5)  # spinning before the run measures the load
        yield processes
    finally:
        for process in processes:
            process.kill()
        for process in processes:
            process.wait(timeout=30)


def small_peak(target: PeakTarget, sizes: tuple[int, ...], timing: TimingSettings, label: str) -> PeakPass:
    """A real GEMM peak pass at n = 256 only, a few blocks (the peak is not what this test is about)."""
    return measure_peak_pass(target, (256,), replace(timing, blocks=3, min_blocks=3, max_seconds=0.3), label)


def _bench(calls: IsolatedCalls, implementations, out: Path) -> tuple[BenchResults, str]:
    """What `mlpbench bench ARGS --out out` does (command.run), with the workers (and their quick conformance
    verdicts) of `calls` kept from one run to the next and a small GEMM peak."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([*ARGS[1:], "--out", str(out)])
    threads, note, busy = choose_threads(args, out, os.cpu_count() or 1)
    progress = io.StringIO()
    run = BenchRun(grid=build_grid(args), implementations=implementations, out_dir=out,
                   conformance=calls_conformance(calls), measure=calls.measure, threads=threads,
                   threads_note=note, busy_warning=busy, progress=progress, measure_peak=small_peak,
                   command_line=command_line(args), render=render_run)
    return run.run(), progress.getvalue()


def calls_conformance(calls: IsolatedCalls):
    verdicts: dict[tuple[str, str], str | None] = {}

    def conformance(name: str, dtype: str) -> str | None:
        if (name, dtype) not in verdicts:
            verdicts[(name, dtype)] = calls.conformance(name, dtype)
        return verdicts[(name, dtype)]

    return conformance


@pytest.mark.slow
def test_bench_under_a_hog_on_every_core_marks_cells_contended_and_two_runs_agree(tmp_path):
    began = time.monotonic()
    with closing(IsolatedCalls(step_timeout=120.0)) as calls:
        implementations = resolve_implementations(("reference", "torch-cpu"), explicit=True, calls=calls)
        with hogs(os.cpu_count() or 1) as running:
            runs = [_bench(calls, implementations, tmp_path / "first"),
                    _bench(calls, implementations, tmp_path / "second")]
            assert all(process.poll() is None for process in running)  # the hogs spun through both runs
    cpus = len(os.sched_getaffinity(0))
    ticks = os.sysconf("SC_CLK_TCK")
    ranked = []
    for (results, printed), name in zip(runs, ("first", "second")):
        assert printed.startswith("warning: the machine is busy"), printed[:500]
        timed = [c for c in results.cells if c.timed]
        assert len(timed) == 4, printed[-3000:]  # 2 engines x 2 batch sizes
        for cell in timed:
            # the hogs were seen: the cores were saturated (others + the engine) to the counters' resolution
            assert cell.others_cores is not None and cell.own_cores is not None and cell.load_seconds is not None
            resolution = (cpus + 1) / (ticks * cell.load_seconds)
            assert cell.others_cores + cell.own_cores >= cpus - resolution, cell.load_text
            assert cell.engine_threads is not None and cell.engine_threads >= 1
            assert cell.contended is (cell.contention_share is not None and cell.contention_share > CONTENDED_SHARE)
        # the scheduler may leave the engine a core to itself for a short cell (the hogs sharing the other):
        # that cell had its core and is measured so; most do not
        assert any(c.contended for c in timed), [c.load_text for c in timed]
        saved = load_results(tmp_path / name / "bench.json")
        contended = {c.id for c in saved.cells if c.contended}
        assert contended == {c.id for c in timed if c.contended}  # the JSON says what was measured
        for row in fastest_engines(saved):
            if row["contended"]:
                assert row["winner"] is None and row["outcome"] == "no winner"
            assert row["winner"] is None or not row["engines"][row["winner"]]["contended"]
        assert "no winner (contended: " in (tmp_path / name / "bench.md").read_text()
        ranked.append(rankings(saved))
    assert set(ranked[0]) == set(ranked[1])
    assert disagreements(ranked[0], ranked[1]) == []
    print(f"two runs under {os.cpu_count()} hogs in {time.monotonic() - began:.0f} s")
