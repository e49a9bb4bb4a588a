"""What `mlpbench report` prints: a run's tables, or a comparison, in at most WIDTH columns.

The Markdown report (tables.py) keeps every column; a terminal gets the same numbers pivoted: one heading per
model, dtype and optimizer, a narrow table under it, long texts (reasons, notes) wrapped in their own column or
listed below the table. Every text from the records passes through `mlpbench.report_text.terminal_text`.
"""

from __future__ import annotations

import textwrap
from collections import defaultdict
from collections.abc import Sequence

from tabulate import tabulate

from mlpbench.bench.compare import CellComparison, Change
from mlpbench.bench.records import BenchResults, CellKind, CellResult, CellStatus
from mlpbench.bench.tables import efficiency_text, seconds, series_rows, si, status_text, warning_lines
from mlpbench.report_text import terminal_text

WIDTH = 100
"""The widest line the terminal renderings print."""

_THROUGHPUT_COLUMNS = (("impl", 20), ("batch", 9), ("samples/s", 9), ("IQR", 17), ("step", 8), ("eff.", 6),
                       ("note", 20))
"""(header, widest cell) of the terminal throughput table: with two spaces between columns, WIDTH at most."""


def text(value: object) -> str:
    return terminal_text(str(value), 4000)


def wrapped(line: str, indent: str = "  ") -> str:
    """One logical line in lines of at most WIDTH columns, continuation lines indented."""
    return "\n".join(textwrap.wrap(line, WIDTH, subsequent_indent=indent, break_long_words=True,
                                   break_on_hyphens=False)) or line


def narrow_table(rows: Sequence[Sequence[str]], columns: Sequence[tuple[str, int]]) -> str:
    """tabulate's plain table with every column wrapped at its width."""
    return tabulate([[text(value) for value in row] for row in rows], headers=[name for name, _ in columns],
                    tablefmt="simple", disable_numparse=True, maxcolwidths=[width for _, width in columns])


def _throughput_row(cell: CellResult, batch: str) -> tuple[str, ...]:
    label = cell.impl + ("" if cell.precision == "ieee" else f" [{cell.precision}]")
    if cell.status is not CellStatus.OK or not cell.timed:
        return (label, batch, "-", "-", "-", "-", status_text(cell))
    low, high = cell.samples_per_s_interquartile or (None, None)
    return (label, batch, si(cell.samples_per_s), f"{si(low)} to {si(high)}", seconds(cell.median_s),
            efficiency_text(cell) if not cell.efficiency_problem else "> peak",
            ", ".join(flag for flag, on in (("contended", cell.contended), ("noisy", cell.noisy)) if on))


def throughput(results: BenchResults) -> str:
    """Per model, dtype and optimizer: each implementation's samples/s (the median of its blocks' rates), their
    interquartile range, the median step and the efficiency."""
    groups: dict[tuple[str, str, str | None], list[CellResult]] = defaultdict(list)
    for cell in results.cells:
        if cell.kind is CellKind.TRAIN_STEP:
            groups[(cell.model, cell.dtype, cell.optimizer)].append(cell)
    parts = []
    for (model, dtype, optimizer), cells in groups.items():
        first = cells[0]
        heading = (f"{model} ({'-'.join(map(str, first.sizes))}, {first.parameters:,} parameters), {dtype}, "
                   f"{optimizer}, loss {first.loss}")
        rows = series_rows(sorted(cells, key=lambda c: (c.impl, c.batch_size)), _throughput_row)
        parts.append(wrapped(text(heading)) + "\n" + narrow_table(rows, _THROUGHPUT_COLUMNS))
    return "\n\n".join(parts) or "No training-step cell."


def peaks(results: BenchResults) -> str:
    lines = []
    for peak in results.peaks.values():
        passes = ", ".join(f"{p.label} {si(p.flop_per_s, 'FLOP/s')}" for p in peak.passes)
        found = si(peak.flop_per_s, "FLOP/s") if peak.flop_per_s else f"not measured ({peak.error})"
        lines.append(wrapped(text(f"GEMM peak {peak.key}: {found}" + (f" (passes: {passes})" if passes else ""))))
    return "\n".join(lines) or "No GEMM peak measured."


def warnings(results: BenchResults) -> str:
    found = warning_lines(results)
    if not found:
        return "Measurement warnings: none."
    return "\n".join([f"Measurement warnings ({len(found)}):", *(wrapped(text(f"- {line}")) for _, line in found)])


def crossovers(results: BenchResults) -> str:
    """One line per accelerator and finding: series with the same text (e.g. one reason it is unavailable)
    share a line."""
    series: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in results.crossovers:
        series[(r.impl, r.text)].append(f"{r.model} {r.dtype} {r.optimizer}")
    lines = [f"crossover {impl} {names[0]}: {found}" if len(names) == 1 else
             f"crossover {impl}, {len(names)} model/dtype/optimizer series: {found}"
             for (impl, found), names in series.items()]
    return "\n".join(wrapped(text(line)) for line in lines)


def summary(results: BenchResults) -> str:
    """What `mlpbench report FILE` prints: the peaks, the warnings, the throughput tables and the crossovers."""
    parts = [peaks(results), warnings(results), throughput(results), crossovers(results)]
    return "\n\n".join(part for part in parts if part) + "\n"


_COMPARISON_COLUMNS = (("cell", 44), ("verdict", 12), ("new/base", 8), ("interval", 11), ("p (slower)", 10))


def comparison(comparisons: Sequence[CellComparison], threshold: float, alpha: float, notes: Sequence[str]) -> str:
    """What `mlpbench report BASE NEW` prints: the rule, the compared cells in a narrow table, then each
    cell's note and the configuration differences as wrapped lines (comparison.md keeps every column)."""
    compared = [c for c in comparisons if c.verdict is not Change.NOT_COMPARED]
    rows = [(c.id, c.verdict.value, "-" if c.ratio is None else f"{c.ratio:.3f}",
             "-" if c.ratio_low is None else f"{c.ratio_low:.3f}-{c.ratio_high:.3f}",
             "-" if c.p_slower is None else f"{c.p_slower:.2g}") for c in compared]
    lines = [wrapped(f"slower: new/base >= {threshold:g} and Mann-Whitney p < {alpha:g}; unchanged: the "
                     f"interval of new/base (level {1 - 2 * alpha:g}) inside {1 / threshold:.3g} to "
                     f"{threshold:g}; inconclusive: neither, with why.")]
    lines += [wrapped(text(f"configuration differs: {note}")) for note in notes]
    lines += ["", narrow_table(rows, _COMPARISON_COLUMNS) if rows else "No cell compared."]
    lines += [wrapped(text(f"- {c.id}: {c.note}")) for c in comparisons if c.note]
    return "\n".join(lines)
