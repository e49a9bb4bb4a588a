"""Comparing two benchmark runs cell by cell.

A cell is *slower* when both hold:
  ratio = median(new) / median(base) >= threshold, and
  the one-sided Mann-Whitney U test on the per-step times of the blocks (t_i / k) says new > base with
  p < alpha.
*faster* symmetrically (ratio <= 1 / threshold and new < base significant). The ratio alone is not enough:
a noisy cell can move by 10 % without any real change; the test alone is not enough either: with many
blocks a 1 % shift is significant but not worth failing a build for.

Mann-Whitney U: U = #{(i, j): new_j > base_i} + 0.5 #{(i, j): new_j = base_i}. Under H0 (same distribution)
every interleaving of the pooled sample is equally likely. Without ties and with n1*n2 <= 2500 the p-value
is exact (count interleavings by dynamic programming); otherwise the normal approximation with tie
correction and continuity correction: mean n1 n2 / 2, variance n1 n2 / 12 * ((n + 1) - sum(t^3 - t) /
(n (n - 1))).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mlpbench.bench.records import BenchResults, CellResult, CellStatus

DEFAULT_THRESHOLD = 1.10
DEFAULT_ALPHA = 0.01


def _midranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    sorted_values = values[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i : j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    return ranks


def _exact_upper_tail(n1: int, n2: int, u: float) -> float:
    """P(U >= u) under H0, U = #{new > base}; f(m, n, u) = f(m, n-1, u-m) + f(m-1, n, u)."""
    # counts[m][n] is the distribution of U for m base and n new values
    counts: list[list[np.ndarray]] = []
    for m in range(n1 + 1):
        row: list[np.ndarray] = []
        for n in range(n2 + 1):
            if m == 0 or n == 0:
                row.append(np.array([1.0]))
                continue
            dist = np.zeros(m * n + 1)
            a = row[n - 1]  # the largest value is a new one: it beats all m base values
            dist[m : m + len(a)] += a
            b = counts[m - 1][n]  # the largest value is a base one
            dist[: len(b)] += b
            row.append(dist)
        counts.append(row)
    dist = counts[n1][n2]
    start = math.ceil(u - 1e-9)
    return float(dist[start:].sum() / dist.sum())


def mann_whitney_greater(new, base) -> float:
    """One-sided p-value of H1: values of `new` tend to be larger than those of `base`."""
    new = np.asarray(new, dtype=np.float64)
    base = np.asarray(base, dtype=np.float64)
    n1, n2 = len(base), len(new)
    if n1 == 0 or n2 == 0:
        return 1.0
    pooled = np.concatenate([base, new])
    ranks = _midranks(pooled)
    u = float(ranks[n1:].sum() - n2 * (n2 + 1) / 2)
    _, tie_counts = np.unique(pooled, return_counts=True)
    ties = bool((tie_counts > 1).any())
    if not ties and n1 * n2 <= 2500:
        return _exact_upper_tail(n1, n2, u)
    n = n1 + n2
    tie_term = float(((tie_counts**3) - tie_counts).sum()) / (n * (n - 1))
    variance = n1 * n2 / 12.0 * ((n + 1) - tie_term)
    if variance <= 0:
        return 1.0
    z = (u - n1 * n2 / 2.0 - 0.5) / math.sqrt(variance)
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def step_times(cell: CellResult) -> np.ndarray:
    return np.asarray(cell.block_seconds, dtype=np.float64) / max(cell.steps_per_block or 1, 1)


@dataclass
class CellComparison:
    id: str
    verdict: str  # "slower" | "faster" | "unchanged" | "not compared"
    base_median_s: float | None = None
    new_median_s: float | None = None
    ratio: float | None = None
    p_slower: float | None = None
    p_faster: float | None = None
    note: str = ""

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def compare_cells(base: CellResult, new: CellResult, threshold: float, alpha: float) -> CellComparison:
    if not (base.status is CellStatus.OK and new.status is CellStatus.OK and base.timed and new.timed):
        return CellComparison(base.id, "not compared", note=f"base {base.status.value}, new {new.status.value}")
    a, b = step_times(base), step_times(new)
    base_median, new_median = float(np.median(a)), float(np.median(b))
    ratio = new_median / base_median
    p_slower = mann_whitney_greater(b, a)
    p_faster = mann_whitney_greater(a, b)
    verdict = "unchanged"
    if ratio >= threshold and p_slower < alpha:
        verdict = "slower"
    elif ratio <= 1.0 / threshold and p_faster < alpha:
        verdict = "faster"
    return CellComparison(base.id, verdict, base_median, new_median, ratio, p_slower, p_faster)


def compare_runs(base: BenchResults, new: BenchResults, threshold: float = DEFAULT_THRESHOLD,
                 alpha: float = DEFAULT_ALPHA) -> list[CellComparison]:
    """Comparisons of every cell id in either run, base order first."""
    base_cells = {c.id: c for c in base.cells}
    new_cells = {c.id: c for c in new.cells}
    out = []
    for ident, cell in base_cells.items():
        if ident in new_cells:
            out.append(compare_cells(cell, new_cells[ident], threshold, alpha))
        else:
            out.append(CellComparison(ident, "not compared", note="only in base"))
    for ident in new_cells:
        if ident not in base_cells:
            out.append(CellComparison(ident, "not compared", note="only in new"))
    return out


def environment_differences(base: BenchResults, new: BenchResults) -> list[str]:
    """Settings that differ between the runs apart from the grid's extent (the comparison is still made, but
    flagged): threads, timing caps, library versions, device."""
    extent = {"implementations", "models", "batch_sizes", "dtypes", "optimizers"}
    return [d for d in base.settings.differences(new.settings) if d.split(":", 1)[0] not in extent]
