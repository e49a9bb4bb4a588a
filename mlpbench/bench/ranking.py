"""Which of several engines timed on the same cell is the fastest, and whether the data can tell.

The engines of one (model, batch, device, dtype, optimizer) are ordered by their samples/s (the median of the
per-block rates). The fastest is named the *winner* only when it is separated from the runner-up: their
interquartile intervals of the per-block rates do not overlap **and** the one-sided Mann-Whitney U test says
the fastest's per-block rates exceed the runner-up's at level `RANKING_ALPHA` (compare.mann_whitney_greater,
the comparison's own test). Otherwise the cell is a *tie within noise* between the fastest and every engine not
separated from it. A contended cell (contention.py: others took the cores it needed) never wins: its rate says
how fast it ran while others had its cores, not how fast it is, so when any engine of the cell was contended no
winner is named (*no winner*), and the fastest uncontended engine is only reported as such. A cell timed for one
engine alone has nothing to be separated from (*only engine*).

Two runs *agree* when no cell has one winner in the one and another engine as the winner, or outside the tie,
in the other: a tie, no winner and the only engine name nothing to contradict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from mlpbench.bench.compare import DEFAULT_ALPHA, mann_whitney_greater, step_times
from mlpbench.bench.records import CellResult

RANKING_ALPHA = DEFAULT_ALPHA
"""The Mann-Whitney level at which the fastest engine must beat the runner-up to be named."""
SEPARATION_RULE = (f"interquartile intervals of the per-block samples/s disjoint and a one-sided Mann-Whitney U "
                   f"test p < {RANKING_ALPHA:g}")


class Outcome(str, Enum):
    WINNER = "winner"
    TIE = "tie within noise"
    NO_WINNER = "no winner"  # an engine of the cell was contended
    ONLY = "only engine"


@dataclass(frozen=True)
class Ranking:
    """The verdict of one cell's engines."""

    outcome: Outcome
    fastest: CellResult | None  # the fastest uncontended engine (by samples/s); None when every one was contended
    tied: tuple[CellResult, ...] = ()  # for a tie: the fastest and every engine not separated from it
    contended: tuple[CellResult, ...] = ()
    p: float | None = None  # Mann-Whitney p of fastest > runner-up

    @property
    def winner(self) -> str | None:
        return self.fastest.impl if self.outcome is Outcome.WINNER and self.fastest is not None else None

    @property
    def named(self) -> frozenset[str]:
        """The engines this ranking says may be the fastest (none for no winner)."""
        if self.outcome is Outcome.NO_WINNER or self.fastest is None:
            return frozenset()
        if self.outcome is Outcome.TIE:
            return frozenset(c.impl for c in self.tied)
        return frozenset({self.fastest.impl})

    @property
    def text(self) -> str:
        if self.outcome is Outcome.NO_WINNER:
            return "no winner (contended: " + ", ".join(c.impl for c in self.contended) + ")"
        if self.outcome is Outcome.TIE:
            return "tie within noise: " + ", ".join(c.impl for c in self.tied)
        fastest = self.fastest.impl if self.fastest else "-"
        return fastest if self.outcome is Outcome.WINNER else f"{fastest} (only engine)"


def separated(faster: CellResult, slower: CellResult, alpha: float = RANKING_ALPHA) -> tuple[bool, float]:
    """(whether `faster` is separated from `slower`, the Mann-Whitney p): disjoint interquartile intervals of
    the per-block rates and p < alpha. Both cells have one batch size, so a block's rate is batch / step time
    and faster rates are shorter step times."""
    p = mann_whitney_greater(step_times(slower), step_times(faster))
    fast, slow = faster.samples_per_s_interquartile, slower.samples_per_s_interquartile
    disjoint = fast is not None and slow is not None and fast[0] > slow[1]
    return disjoint and p < alpha, p


def rank(cells: Sequence[CellResult], alpha: float = RANKING_ALPHA) -> Ranking:
    """The verdict over the timed cells of one (model, batch, device, dtype, optimizer)."""
    contended = tuple(c for c in cells if c.contended)
    clear = sorted((c for c in cells if not c.contended), key=lambda c: -c.measured_samples_per_s)
    fastest = clear[0] if clear else None
    if contended:
        return Ranking(Outcome.NO_WINNER, fastest, contended=contended)
    if fastest is None or len(clear) == 1:
        return Ranking(Outcome.ONLY, fastest)
    verdicts = [(other, *separated(fastest, other, alpha)) for other in clear[1:]]
    p = verdicts[0][2]
    tied = (fastest, *(other for other, apart, _ in verdicts if not apart))
    if len(tied) == 1:
        return Ranking(Outcome.WINNER, fastest, p=p)
    return Ranking(Outcome.TIE, fastest, tied=tied, p=p)


def disagreements(first: Mapping[tuple, Ranking], second: Mapping[tuple, Ranking]) -> list[str]:
    """The cells (keys of both) where one run names a winner that the other run does not name at all."""
    out = []
    for key in sorted(set(first) & set(second), key=repr):
        a, b = first[key], second[key]
        for one, other in ((a, b), (b, a)):
            if one.winner is not None and other.named and one.winner not in other.named:
                out.append(f"{key}: {one.text} against {other.text}")
                break
    return out
