"""The benchmark's "fastest conforming engine" table: only timed, conforming IEEE cells compete, the speedup is
over torch eager on the same device, compile time is reported apart from the step's samples/s, a winner is
named only when separated from the runner-up (otherwise a tie within noise), and a contended cell never wins."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from mlpbench.bench.contention import Load
from mlpbench.bench.derive import with_timing
from mlpbench.bench.engines import engines_table, fastest_engines, rankings
from mlpbench.bench.ranking import Outcome, disagreements, rank, separated
from mlpbench.bench.records import CellKind, CellResult, CellStatus
from mlpbench.bench.timing import BlockTiming

STATUS = {"ok": CellStatus.OK, "not_conforming": CellStatus.NOT_CONFORMING}
BATCH = 32
JITTER = (1.00, 1.01, 0.99, 1.02, 0.98, 1.005, 0.995, 1.015, 0.985)
"""Per-block factors of the step time: a spread of +-2 % around the median (IQR about 1.5 %)."""


def _cell(impl: str, samples: float, status: str = "ok", compile_s: float | None = None, device: str = "cpu",
          precision: str = "ieee", contended: bool = False, jitter=JITTER) -> CellResult:
    """A timed cell whose blocks (10 steps each) run at `samples` samples/s times the jitter; contended: the
    others took every core the cell needed."""
    cell = CellResult(id=f"step/{impl}", kind=CellKind.TRAIN_STEP, impl=impl, device=device, precision=precision,
                      model="seed-10-64-32-1", sizes=(10, 64, 32, 1), parameters=2817, batch_size=BATCH,
                      dtype="float32", optimizer="adam", loss="binary_cross_entropy_with_logits",
                      threads=1 if device == "cpu" else None, status=STATUS[status])
    if status != "ok":
        return replace(cell, samples_per_s=samples)
    step = BATCH / samples
    load = Load(0.5, 2, 2.0 if contended else 0.0, 1.0, 3)
    timing = BlockTiming(steps_per_block=10, block_seconds=[10 * step * f for f in jitter], compile_s=compile_s,
                         load=load)
    return with_timing(cell, timing)


def test_fastest_conforming_engine_and_its_speedup_over_torch_eager() -> None:
    cells = [
        _cell("torch-cpu", 1000.0),
        _cell("torch-cpu-compile", 3000.0, compile_s=17.0),
        _cell("jax-cpu", 2000.0, compile_s=0.4),
        _cell("keras", 9000.0, status="not_conforming"),  # failed its quick check: never the fastest
    ]
    (row,) = fastest_engines(SimpleNamespace(cells=cells))
    assert row["fastest"] == row["winner"] == "torch-cpu-compile" and row["outcome"] == "winner"
    assert row["speedup"] == pytest.approx(3000.0 / 1000.0)
    assert row["compile_s"] == 17.0 and row["samples_per_s"] == pytest.approx(3000.0)  # compile apart
    assert set(row["engines"]) == {"torch-cpu", "torch-cpu-compile", "jax-cpu"}
    table = engines_table(SimpleNamespace(cells=cells))
    assert "torch-cpu-compile" in table and "3x" in table and "17 s" in table


def test_devices_and_reduced_precision_are_kept_apart() -> None:
    cells = [_cell("torch-cpu", 1000.0), _cell("torch-cuda", 5000.0, device="cuda"),
             _cell("torch-cuda-tf32", 9000.0, device="cuda", precision="tf32"),
             _cell("jax-cuda", 6000.0, device="cuda")]
    rows = {r["device"]: r for r in fastest_engines(SimpleNamespace(cells=cells))}
    assert rows["cpu"]["fastest"] == "torch-cpu" and rows["cpu"]["speedup"] == 1.0
    assert rows["cpu"]["outcome"] == "only engine" and rows["cpu"]["winner"] is None
    assert rows["cuda"]["winner"] == "jax-cuda" and rows["cuda"]["speedup"] == pytest.approx(6000.0 / 5000.0)


def test_no_baseline_means_no_speedup() -> None:
    (row,) = fastest_engines(SimpleNamespace(cells=[_cell("jax-cpu", 2000.0)]))
    assert row["speedup"] is None and row["baseline"] is None
    assert engines_table(SimpleNamespace(cells=[])) == "No timed, conforming cell."


def test_engines_within_noise_tie_and_both_are_listed() -> None:
    """1 % apart with a 2 % spread: the interquartile intervals overlap, so neither is named."""
    cells = [_cell("torch-cpu", 1000.0), _cell("torch-cpu-fused", 1010.0)]
    (row,) = fastest_engines(SimpleNamespace(cells=cells))
    assert row["outcome"] == "tie within noise" and row["winner"] is None
    assert row["tied"] == ["torch-cpu-fused", "torch-cpu"]
    assert "tie within noise: torch-cpu-fused, torch-cpu" in engines_table(SimpleNamespace(cells=cells))


def test_a_winner_needs_disjoint_quartiles_and_the_test() -> None:
    apart = separated(_cell("a", 1100.0), _cell("b", 1000.0))  # 10 % apart, 2 % spread: every block faster
    assert apart[0] and apart[1] < 0.01
    # three blocks each: complete separation, but the test's smallest p is 1 / C(6, 3) = 0.05
    few = separated(_cell("a", 2000.0, jitter=JITTER[:3]), _cell("b", 1000.0, jitter=JITTER[:3]))
    assert not few[0] and few[1] == pytest.approx(0.05)
    assert rank([_cell("a", 2000.0, jitter=JITTER[:3]), _cell("b", 1000.0, jitter=JITTER[:3])]).outcome is Outcome.TIE


def test_a_contended_cell_never_wins_and_the_cell_names_no_winner() -> None:
    cells = [_cell("torch-cpu", 1000.0), _cell("reference", 5000.0, contended=True)]
    (row,) = fastest_engines(SimpleNamespace(cells=cells))
    assert row["winner"] is None and row["outcome"] == "no winner" and row["contended"] == ["reference"]
    assert row["fastest"] == "torch-cpu"  # the fastest uncontended engine, reported as such, not as the winner
    table = engines_table(SimpleNamespace(cells=cells))
    assert "no winner (contended: reference)" in table and "reference 5e+03 (contended)" in table
    (everything,) = fastest_engines(SimpleNamespace(cells=[replace(cells[0], contended=True), cells[1]]))
    assert everything["fastest"] is None and everything["samples_per_s"] is None
    slow_baseline = [_cell("torch-cpu", 1000.0, contended=True), _cell("jax-cpu", 3000.0), _cell("keras", 900.0)]
    (row,) = fastest_engines(SimpleNamespace(cells=slow_baseline))
    assert row["speedup"] is None  # no speedup over a contended torch eager


def test_runs_agree_unless_one_names_a_winner_the_other_rules_out() -> None:
    def ranked(*cells: CellResult):
        return rankings(SimpleNamespace(cells=list(cells)))

    a_wins = ranked(_cell("a", 1500.0), _cell("b", 1000.0))
    b_wins = ranked(_cell("a", 1000.0), _cell("b", 1500.0))
    tie = ranked(_cell("a", 1000.0), _cell("b", 1005.0))
    contended = ranked(_cell("a", 1000.0, contended=True), _cell("b", 1500.0))
    assert disagreements(a_wins, a_wins) == [] and disagreements(a_wins, tie) == []
    assert disagreements(a_wins, contended) == [] and disagreements(contended, b_wins) == []
    (problem,) = disagreements(a_wins, b_wins)
    assert "a against b" in problem
    third = ranked(_cell("a", 1000.0), _cell("b", 1004.0), _cell("c", 3000.0))
    assert disagreements(a_wins, third) and disagreements(third, tie)  # c alone against a tie of a and b
