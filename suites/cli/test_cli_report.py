"""`mlpbench report`: re-rendering a saved run (tables on stdout, files only where --out says, announced),
comparing a run with itself (exit 0) and with a copy of it slowed past its slowest block (exit 1), usage errors, and the
Mann-Whitney U test the comparison rests on."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mlpbench.bench.compare import (
    Change,
    blocks_to_resolve,
    compare_cells,
    interval_rank,
    mann_whitney_greater,
    ratio_interval,
)
from mlpbench.bench.records import CellKind, CellResult, CellStatus
from mlpbench.cli import main

TINY = ["--quick", "--impl", "torch-cpu", "--models", "seed-10-64-32-1", "--batch-sizes", "32,256",
        "--dtypes", "float32", "--optimizers", "sgd", "--max-seconds-per-cell", "2", "--min-block-seconds", "0.005",
        "--blocks", "7", "--threads", "1"]
SLOWDOWN_PER_STEP = 0.002


def slowed_copy(base: Path, slowed: Path) -> Path:
    """`base`'s run with every timed block shifted past the base's slowest block by 2 ms a step: a run slower
    by construction, whatever the load the base run was timed under (a stalled base block cannot overlap the
    slowed ones, so the test sees complete separation and the ratio exceeds 1 + 2 ms / median step).
    Deriving it from the base run's own blocks (instead of timing a sleeping step) keeps the comparison's
    verdict independent of the machine's load while the two runs would be timed."""
    data = json.loads(base.read_text())
    for cell in data["cells"]:
        k = cell.get("steps_per_block") or 1
        blocks = cell.get("block_seconds") or []
        spread = max(blocks) - min(blocks) if blocks else 0.0
        cell["block_seconds"] = [t + spread + SLOWDOWN_PER_STEP * k for t in blocks]
    slowed.write_text(json.dumps(data))
    return slowed


def quiet_copy(base: Path, quiet: Path) -> Path:
    """`base`'s run as if no other process had run while it was timed: every cell's measured other load set to
    none. The comparisons of the slowed copy start from it, so their verdicts (slower, faster) are the rule's
    for uncontended cells whatever load the real run met; a contended cell's verdict has tests of its own."""
    data = json.loads(base.read_text())
    for cell in data["cells"]:
        if cell.get("contended") is not None:
            cell.update(contended=False, contention_share=0.0, others_cores=0.0)
    quiet.write_text(json.dumps(data))
    return quiet


def bench_base_and_slowed(folder):
    base = folder / "base"
    assert main(["bench", *TINY, "--out", str(base)]) == 0
    quiet = quiet_copy(base / "bench.json", folder / "quiet.json")
    return str(base / "bench.json"), str(quiet), str(slowed_copy(quiet, folder / "slowed.json"))


@pytest.fixture
def shared(shared_runs):
    """The base run, its quiet copy and the quiet copy slowed, once per session (suites/cli/conftest.py); the
    tests only read them."""
    return tuple(map(Path, shared_runs.once("report-base-quiet-and-slowed", bench_base_and_slowed)))


@pytest.fixture
def runs(shared):
    """The base run as it was timed, and the slowed copy of its quiet copy."""
    return shared[0], shared[2]


@pytest.fixture
def quiet_runs(shared):
    """The base run's quiet copy and that copy slowed: the comparisons' verdicts do not depend on the load."""
    return shared[1], shared[2]


def test_report_prints_tables_and_writes_only_where_out_says(runs, tmp_path, capsys):
    base, _ = runs
    source_files = sorted(p.name for p in base.parent.iterdir())
    out = tmp_path / "rendered"
    assert main(["report", str(base), "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "samples/s" in stdout and "GEMM peak" in stdout  # the tables
    for name in ("bench.md", "bench.csv", "throughput.png"):
        assert (out / name).stat().st_size > 0
        assert str(out / name) in stdout  # announced
    assert sorted(p.name for p in base.parent.iterdir()) == source_files  # nothing written beside the source
    saved = json.loads(base.read_text())
    text = (out / "bench.md").read_text()
    assert saved["environment"]["cpu_model"] in text
    assert all(c["id"].split("/")[1] in text for c in saved["cells"])


def test_report_without_out_writes_beside_the_file_and_says_so(runs, tmp_path, capsys):
    base, _ = runs
    run_dir = tmp_path / "run"
    shutil.copytree(base.parent, run_dir)  # a run folder of mlpbench's own, its manifest with it
    for name in ("bench.md", "bench.csv", "throughput.png"):
        (run_dir / name).unlink()
    assert main(["report", str(run_dir / "bench.json")]) == 0
    stdout = capsys.readouterr().out
    for name in ("bench.md", "bench.csv", "throughput.png"):
        assert (run_dir / name).exists() and str(run_dir / name) in stdout


def test_report_beside_a_file_in_a_folder_mlpbench_does_not_own_exits_2_and_writes_nothing(runs, tmp_path, capsys):
    base, _ = runs
    copy = tmp_path / "bench.json"
    copy.write_bytes(base.read_bytes())
    assert main(["report", str(copy)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds 'bench.json', which mlpbench did not write" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.json"]
    assert main(["report", str(copy), "--out", str(tmp_path / "rendered")]) == 0  # what the message suggests


def test_report_run_against_itself_exits_0(runs, tmp_path):
    base, _ = runs
    assert main(["report", str(base), str(base), "--out", str(tmp_path)]) == 0
    comparison = json.loads((tmp_path / "comparison.json").read_text())
    assert [c["ratio"] for c in comparison["cells"]] == [1.0, 1.0]
    # unchanged exactly when the run's own spread excludes a 10 % change and the machine's other load did not
    # contend the cell while it was timed (a contended cell is inconclusive whatever its spread)
    contended = {c["id"] for c in json.loads(base.read_text())["cells"] if c.get("contended")}
    for cell in comparison["cells"]:
        low, high = cell["ratio_low"], cell["ratio_high"]
        assert low <= 1.0 <= high
        fits = 1 / 1.10 < low and high < 1.10 and cell["id"] not in contended
        assert cell["verdict"] == ("unchanged" if fits else "inconclusive"), cell


def test_report_slowed_run_exits_1(quiet_runs, capsys, tmp_path):
    base, slowed = quiet_runs
    assert main(["report", str(base), str(slowed), "--threshold", "1.10", "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "slower" in out
    comparison = json.loads((tmp_path / "comparison.json").read_text())
    verdicts = {c["id"]: c["verdict"] for c in comparison["cells"]}
    # complete separation of at least 5 blocks a run (p <= 1 / C(10, 5) < 0.01) with a ratio above 1.10, in
    # cells no other load contended (the quiet copy's)
    assert verdicts["step/torch-cpu/seed-10-64-32-1/float32/sgd/b32"] == "slower"
    # and the reverse comparison finds it faster, not slower (written apart: the runs are shared by the session's
    # pytest-xdist workers, and writing beside them would race another worker's reading)
    assert main(["report", str(slowed), str(base), "--out", str(tmp_path / "reverse")]) == 0
    reverse = json.loads((tmp_path / "reverse" / "comparison.json").read_text())
    assert {c["id"]: c["verdict"] for c in reverse["cells"]} == dict.fromkeys(verdicts, "faster")


@pytest.mark.parametrize(
    "argv",
    [["report", "does-not-exist.json"], ["report", "a.json", "b.json", "c.json"],
     ["report", "a.json", "b.json", "--threshold", "nan"], ["report", "a.json", "b.json", "--alpha", "nan"]],
)
def test_report_usage_errors_exit_2(argv, capsys):
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("error:")


def test_report_rejects_a_file_that_is_not_a_result(tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"schema": "something-else", "cells": []}))
    assert main(["report", str(path)]) == 2


def _exact_by_enumeration(new, base) -> float:
    """P(U >= u_obs) by enumerating every split of the pooled values (H0: all splits equally likely)."""
    pooled = list(base) + list(new)

    def u_of(new_values, base_values):
        return sum((b > a) + 0.5 * (b == a) for a in base_values for b in new_values)

    observed = u_of(new, base)
    count = total = 0
    for chosen in itertools.combinations(range(len(pooled)), len(new)):
        n = [pooled[i] for i in chosen]
        a = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        total += 1
        count += u_of(n, a) >= observed - 1e-12
    return count / total


@pytest.mark.parametrize("seed", range(4))
def test_mann_whitney_exact_matches_enumeration(seed):
    rng = np.random.default_rng(seed)
    base = rng.normal(0.0, 1.0, 5)
    new = rng.normal(0.7, 1.0, 6)
    assert mann_whitney_greater(new, base) == pytest.approx(_exact_by_enumeration(new, base))


def test_mann_whitney_separated_samples():
    # 5 and 5 values, all of new above all of base: exactly one of C(10, 5) = 252 splits is as extreme
    assert mann_whitney_greater([6, 7, 8, 9, 10], [1, 2, 3, 4, 5]) == pytest.approx(1 / 252)
    assert mann_whitney_greater([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == pytest.approx(1.0)


def test_mann_whitney_normal_approximation_agrees_with_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(7)
    base = np.round(rng.normal(10.0, 1.0, 60), 1)  # ties: normal approximation with tie correction
    new = np.round(rng.normal(10.4, 1.0, 70), 1)
    expected = stats.mannwhitneyu(new, base, alternative="greater", method="asymptotic").pvalue
    assert mann_whitney_greater(new, base) == pytest.approx(expected, rel=1e-6)


def timed_cell(block_seconds: list[float]) -> CellResult:
    return CellResult("c", CellKind.TRAIN_STEP, "impl", "cpu", "ieee", "m", (2, 1), 3, 1, "float32", "sgd",
                      "mse", 1, CellStatus.OK, steps_per_block=1, block_seconds=tuple(block_seconds))


def test_slower_needs_both_ratio_and_significance():
    times = [1.0, 1.01, 0.99, 1.02, 0.98]
    base = timed_cell(times)
    assert compare_cells(base, timed_cell([t * 1.5 for t in times]), 1.10, 0.01).verdict == "slower"
    # a large ratio of medians with overlapping samples is not significant, and not unchanged either
    noisy = compare_cells(base, timed_cell([0.5, 1.5, 0.6, 3.0, 1.6]), 1.10, 0.01)
    assert noisy.verdict is Change.INCONCLUSIVE and "reaches past 1.1" in noisy.note
    # a significant but small shift is below the threshold
    assert compare_cells(base, timed_cell([t * 1.05 + 0.05 for t in times]), 1.20, 0.01).verdict == "unchanged"


def test_six_times_slower_with_few_blocks_is_inconclusive_never_unchanged():
    """With 3 blocks a run the smallest p the exact test can give is 1 / C(6, 3) = 0.05: no verdict at
    alpha 0.01, and the note says so; with 5 (1 / 252) the same slowdown is slower."""
    few = compare_cells(timed_cell([1.0, 1.02, 0.98]), timed_cell([6.0, 6.1, 5.9]), 1.10, 0.01)
    assert few.verdict is Change.INCONCLUSIVE and few.ratio == pytest.approx(6.0)
    assert few.ratio_low is None and "too few blocks" in few.note and "0.05" in few.note
    enough = compare_cells(timed_cell([1.0, 1.02, 0.98, 1.01, 0.99]), timed_cell([6.0, 6.1, 5.9, 6.05, 5.95]),
                           1.10, 0.01)
    assert enough.verdict is Change.SLOWER


@pytest.mark.parametrize(("n1", "n2", "alpha"), [(3, 3, 0.05), (4, 5, 0.01), (5, 5, 0.01), (6, 4, 0.05)])
def test_interval_rank_from_counted_interleavings(n1, n2, alpha):
    """k, the interval's order statistic, from U's null distribution counted over every interleaving."""
    us = []
    for new_positions in itertools.combinations(range(n1 + n2), n2):
        new = set(new_positions)
        us.append(sum(1 for j in new for i in range(n1 + n2) if i not in new and j > i))
    total = len(us)
    expected = max((k for k in range(1, n1 * n2 + 1) if sum(u <= k - 1 for u in us) / total <= alpha), default=0)
    assert interval_rank(n1, n2, alpha) == expected


def test_ratio_interval_covers_the_true_ratio_at_its_level():
    """Over many pairs of samples with a known ratio 1.3, the level-0.9 interval (alpha 0.05 a side) holds
    it about 90 % of the time (binomial sd at 400 trials: 1.5 %)."""
    rng = np.random.default_rng(11)
    trials = 400
    held = 0
    for _ in range(trials):
        base = np.exp(rng.normal(0.0, 0.2, 9))
        new = 1.3 * np.exp(rng.normal(0.0, 0.2, 8))
        low, high = ratio_interval(base, new, 0.05)
        held += low <= 1.3 <= high
    assert 0.85 <= held / trials <= 0.97


def test_blocks_to_resolve_resolve_an_unchanged_cell():
    """A same-speed cell with 10 % noise, inconclusive at 8 blocks, is unchanged in most runs with the number
    of blocks the note suggests (the estimate aims at probability 1 - 2 alpha = 0.98)."""
    rng = np.random.default_rng(5)
    base, new = np.exp(rng.normal(0.0, 0.1, 8)), np.exp(rng.normal(0.0, 0.1, 8))
    first = compare_cells(timed_cell(list(base)), timed_cell(list(new)), 1.10, 0.01)
    assert first.verdict is Change.INCONCLUSIVE
    needed = blocks_to_resolve(base, new, first.ratio, 1.10, 0.01)
    assert f"about {needed} blocks per run would resolve it" in first.note
    assert 8 < needed < 1000
    verdicts = [compare_cells(timed_cell(list(np.exp(rng.normal(0.0, 0.1, needed)))),
                              timed_cell(list(np.exp(rng.normal(0.0, 0.1, needed)))), 1.10, 0.01).verdict
                for _ in range(30)]
    assert verdicts.count(Change.UNCHANGED) >= 24, (needed, verdicts)



ROOT = Path(__file__).resolve().parents[2]


def test_terminal_tables_fit_100_columns(quiet_runs, tmp_path, capsys):
    """`report FILE` on the committed full-grid sample (578 cells, every engine, long unavailable reasons) and
    `report BASE NEW` print no line wider than 100 columns, and still show every cell."""
    from mlpbench.bench.results import load_results
    from mlpbench.bench.terminal import WIDTH, summary

    sample = load_results(ROOT / "reports" / "sample" / "bench.json")
    printed = summary(sample)
    assert WIDTH == 100 and max(map(len, printed.splitlines())) <= WIDTH
    timed = [c for c in sample.cells if c.timed and c.kind.value == "train_step"]
    assert len(timed) > 100
    assert all(c.impl in printed for c in timed)
    base, slowed = quiet_runs
    assert main(["report", str(base), str(slowed), "--out", str(tmp_path / "comparison")]) == 1
    out = capsys.readouterr().out
    assert max(map(len, out.splitlines())) <= WIDTH
    assert "slower" in out and "step/torch-cpu/seed-10-64-32-1/float32/sgd/b32" in out


def test_bench_md_leads_with_the_answers(runs, tmp_path):
    """bench.md: after its title, the answers (fastest conforming engine per cell, the crossover, the warnings
    as counts pointing at their list); the method, environment and warnings' list after the results."""
    base, _ = runs
    assert main(["report", str(base), "--out", str(tmp_path / "rendered")]) == 0
    text = (tmp_path / "rendered" / "bench.md").read_text()
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings[:2] == ["## Answers", "## Training-step throughput"]
    assert headings.index("## Measurement warnings") > headings.index("## Training-step throughput")
    assert headings[-2:] == ["## Environment", "## Method"]
    answers = text.split("## Answers", 1)[1].split("\n## ", 1)[0]
    assert "### Fastest conforming engine per cell" in answers and "| torch-cpu" in answers
    assert "Measurement warnings: " in answers
    assert "none" in answers or "(#measurement-warnings)" in answers


def test_a_contended_cell_is_inconclusive_whatever_its_ratio():
    """Blocks timed while other processes held the cores measure the machine: even a complete separation is
    not called slower, and the note says which run was contended."""
    from dataclasses import replace

    base = timed_cell([1.0, 1.01, 0.99, 1.02, 0.98])
    slowed = timed_cell([3.0, 3.1, 2.9, 3.05, 2.95])
    assert compare_cells(base, slowed, 1.10, 0.01).verdict is Change.SLOWER
    busy = replace(slowed, contended=True, contention_share=0.6, others_cores=1.9, own_cores=2, engine_threads=1)
    found = compare_cells(base, busy, 1.10, 0.01)
    assert found.verdict is Change.INCONCLUSIVE
    assert found.note.startswith("new contended: ") and "quieter machine" in found.note
