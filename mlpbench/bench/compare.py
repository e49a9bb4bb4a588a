"""Comparing two benchmark runs cell by cell, with a test that knows its power.

Per cell, from the per-step times of the blocks (t_i / k) of both runs (ratio = median(new) / median(base)):
  slower        ratio >= threshold and the one-sided Mann-Whitney U test says new > base with p < alpha;
  faster        symmetrically (ratio <= 1 / threshold and new < base with p < alpha);
  unchanged     the data exclude a change as large as the threshold: the distribution-free confidence interval
                of new/base (level 1 - 2 alpha, below) lies strictly inside (1 / threshold, threshold), and so
                does the ratio;
  inconclusive  anything else, with why: a run whose cell was contended (other processes took the cores it
                needed, `mlpbench.bench.contention`), too few blocks for the test to reach p < alpha at all,
                or an interval that reaches past the threshold, with the blocks per run that would resolve it.
So a cell 6 times slower measured with 3 blocks is inconclusive, never unchanged; the ratio alone is not enough
(a noisy cell moves 10 % without any real change), and the test alone is not enough (with many blocks a 1 %
shift is significant but not worth failing a build for).

Mann-Whitney U: U = #{(i, j): new_j > base_i} + 0.5 #{(i, j): new_j = base_i}. Under H0 (same distribution)
every interleaving of the pooled sample is equally likely. Without ties and with n1*n2 <= 2500 the p-value
is exact (count interleavings by dynamic programming); otherwise the normal approximation with tie
correction and continuity correction: mean n1 n2 / 2, variance n1 n2 / 12 * ((n + 1) - sum(t^3 - t) /
(n (n - 1))).

The interval (Moses; Hollander & Wolfe, Nonparametric Statistical Methods, 4.3): the N = n1 n2 differences
d_ij = log new_j - log base_i, sorted, give [d_(k), d_(N + 1 - k)] for the log ratio, where k is the largest
integer with P(U <= k - 1) <= alpha under H0; its exponential bounds new/base. No k (the smallest reachable
P(U <= 0) = 1 / C(n1 + n2, n1) already exceeds alpha) means no interval: too few blocks. The blocks that would
resolve an inconclusive cell: the interval's half-width is about z sigma sqrt(2 / n) sqrt(pi / 3) on n blocks
per run (sigma the robust spread of the log step times, pi / 3 the Hodges-Lehmann estimator's efficiency
against the mean's), set to half the distance between the observed log ratio and the threshold's: then, if the
true ratio is the observed one, the interval fits inside the threshold with probability about 1 - 2 alpha.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from statistics import NormalDist

import numpy as np

from mlpbench.bench.records import BenchResults, CellResult, CellStatus
from mlpbench.bench.timing import Spread

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


@lru_cache(maxsize=64)
def _null_counts(n1: int, n2: int) -> np.ndarray:
    """The number of interleavings giving U = 0 .. n1 n2 under H0 (U = #{new > base}, no ties);
    f(m, n, u) = f(m, n-1, u-m) + f(m-1, n, u)."""
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
    return counts[n1][n2]


def _exact_upper_tail(n1: int, n2: int, u: float) -> float:
    """P(U >= u) under H0."""
    dist = _null_counts(n1, n2)
    start = math.ceil(u - 1e-9)
    return float(dist[start:].sum() / dist.sum())


EXACT_LIMIT = 2500
"""n1 * n2 up to which U's null distribution is counted exactly, beyond which it is approximated as normal."""


def interval_rank(n1: int, n2: int, alpha: float) -> int:
    """The largest k with P(U <= k - 1) <= alpha under H0 (0: no interval exists at this level)."""
    if n1 == 0 or n2 == 0:
        return 0
    if n1 * n2 <= EXACT_LIMIT:
        dist = _null_counts(n1, n2)
        return int((np.cumsum(dist) / dist.sum() <= alpha).sum())
    z = NormalDist().inv_cdf(1.0 - alpha)
    return max(0, math.floor(n1 * n2 / 2.0 - z * math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12.0)))


def ratio_interval(base, new, alpha: float) -> tuple[float, float] | None:
    """The distribution-free interval of new/base at level 1 - 2 alpha (None: too few values for one)."""
    base, new = np.log(np.asarray(base, dtype=np.float64)), np.log(np.asarray(new, dtype=np.float64))
    k = interval_rank(len(base), len(new), alpha)
    if k < 1:
        return None
    differences = np.sort((new[None, :] - base[:, None]).ravel())
    return float(np.exp(differences[k - 1])), float(np.exp(differences[len(differences) - k]))


def blocks_to_resolve(base, new, ratio: float, threshold: float, alpha: float) -> int:
    """About how many blocks per run would make the interval's half-width half the distance between the
    observed log ratio and the threshold's (see the module docstring)."""
    logs = [np.log(np.asarray(sample, dtype=np.float64)) for sample in (base, new)]
    centred = np.concatenate([sample - np.median(sample) for sample in logs])
    q1, q3 = np.percentile(centred, [25, 75])
    sigma = max(float(q3 - q1) / 1.349, 1e-12)
    margin = abs(math.log(threshold) - abs(math.log(ratio)))
    z = NormalDist().inv_cdf(1.0 - alpha)
    if margin < 1e-9:
        return 10**9
    return max(math.ceil(2.0 * (math.pi / 3.0) * (2.0 * z * sigma / margin) ** 2), len(base) + 1, len(new) + 1)


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
    if not ties and n1 * n2 <= EXACT_LIMIT:
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


class Change(str, Enum):
    """What a comparison concludes about one cell (the strings are the reports' and comparison.json's)."""

    SLOWER = "slower"
    FASTER = "faster"
    UNCHANGED = "unchanged"
    INCONCLUSIVE = "inconclusive"
    NOT_COMPARED = "not compared"


@dataclass
class CellComparison:
    id: str
    verdict: Change
    base_median_s: float | None = None
    new_median_s: float | None = None
    ratio: float | None = None
    p_slower: float | None = None
    p_faster: float | None = None
    ratio_low: float | None = None  # the interval of new/base at level 1 - 2 alpha (None: too few blocks)
    ratio_high: float | None = None
    note: str = ""

    def to_dict(self) -> dict:
        return {**self.__dict__, "verdict": self.verdict.value}


def _inconclusive_note(a: np.ndarray, b: np.ndarray, ratio: float, interval: tuple[float, float] | None,
                       threshold: float, alpha: float) -> str:
    if interval is None:
        smallest = 1.0 / math.comb(len(a) + len(b), len(a))
        return (f"too few blocks: with {len(a)} and {len(b)} the test's smallest p is {smallest:.2g}, not below "
                f"alpha {alpha:g}; time more blocks (bench --blocks)")
    needed = blocks_to_resolve(a, b, ratio, threshold, alpha)
    wanted = "more than 10000" if needed > 10_000 else f"about {needed}"
    return (f"new/base within {interval[0]:.3g} to {interval[1]:.3g} (level {1 - 2 * alpha:g}) reaches past "
            f"{threshold:g}; {wanted} blocks per run would resolve it")


def compare_cells(base: CellResult, new: CellResult, threshold: float, alpha: float) -> CellComparison:
    if not (base.status is CellStatus.OK and new.status is CellStatus.OK and base.timed and new.timed):
        return CellComparison(base.id, Change.NOT_COMPARED, note=f"base {base.status.value}, new {new.status.value}")
    a, b = step_times(base), step_times(new)
    base_median, new_median = Spread.of(a).median, Spread.of(b).median
    ratio = new_median / base_median
    p_slower = mann_whitney_greater(b, a)
    p_faster = mann_whitney_greater(a, b)
    interval = ratio_interval(a, b, alpha)
    low, high = interval if interval is not None else (None, None)
    found = CellComparison(base.id, Change.INCONCLUSIVE, base_median, new_median, ratio, p_slower, p_faster, low,
                           high)
    disturbed = [f"{run} {cell.load_text}" for run, cell in (("base", base), ("new", new)) if cell.contended]
    if disturbed:  # other processes took the cores a run needed: its blocks measure the machine, not the engine
        found.note = "; ".join(disturbed) + "; re-time it on a quieter machine"
    elif ratio >= threshold and p_slower < alpha:
        found.verdict = Change.SLOWER
    elif ratio <= 1.0 / threshold and p_faster < alpha:
        found.verdict = Change.FASTER
    elif interval is not None and 1.0 / threshold < min(interval[0], ratio) <= max(interval[1], ratio) < threshold:
        found.verdict = Change.UNCHANGED
    else:
        found.note = _inconclusive_note(a, b, ratio, interval, threshold, alpha)
    return found


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
            out.append(CellComparison(ident, Change.NOT_COMPARED, note="only in base"))
    for ident in new_cells:
        if ident not in base_cells:
            out.append(CellComparison(ident, Change.NOT_COMPARED, note="only in new"))
    return out


def environment_differences(base: BenchResults, new: BenchResults) -> list[str]:
    """Settings that differ between the runs apart from the grid's extent (the comparison is still made, but
    flagged): threads, timing caps, library versions, device."""
    extent = {"implementations", "models", "batch_sizes", "dtypes", "optimizers"}
    return [d for d in base.settings.differences(new.settings) if d.split(":", 1)[0] not in extent]
