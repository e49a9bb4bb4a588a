"""PNG plots of a benchmark result (matplotlib, Agg backend), from the typed records.

throughput.png: samples/s against batch size, one panel per model, one line per (implementation, dtype,
optimizer): batch / median step time, with interquartile bars (batch / third and first quartile). Cells
that were not timed are marked in place, at their batch size in a strip below the data: x in the series'
colour for a cell over the time or memory budget, a grey square for an implementation unavailable here, a
red X for an error or a failed conformance check. Legends sit below the panels, never over the data.
speedup.png: GPU/CPU speedup against batch size with the crossover marked; written only when an accelerator
cell was timed (without one, bench.md says so instead of drawing empty frames).
Only measured cells are drawn; nothing is interpolated or extrapolated. Every label from the records passes
through `mlpbench.report_text.plot_text` (no mathtext, capped).
"""

from __future__ import annotations

import io
import textwrap
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from mlpbench.bench.records import BenchResults, CellKind, CellResult, CellStatus
from mlpbench.bench.speedup import has_accelerator_timings
from mlpbench.output.folder import OwnedFolder, owned_folder
from mlpbench.output.manifest import BENCH
from mlpbench.report_text import plot_text

THROUGHPUT_PNG = "throughput.png"
SPEEDUP_PNG = "speedup.png"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def _panels(plt, n: int):
    fig, axes = plt.subplots(1, max(n, 1), figsize=(5.6 * max(n, 1), 4.4), squeeze=False)
    return fig, list(axes[0])


def _not_timed_kind(cell: CellResult) -> str | None:
    if cell.status is CellStatus.SKIPPED and cell.reason.startswith(("budget", "memory")):
        return "budget"
    if cell.status is CellStatus.UNAVAILABLE:
        return "unavailable"
    if cell.status in (CellStatus.ERROR, CellStatus.NOT_CONFORMING):
        return "failed"
    return None  # not claimed: nothing to mark


def _series_label(cell: CellResult) -> str:
    precision = "" if cell.precision == "ieee" else f" [{cell.precision}]"
    return plot_text(f"{cell.impl}{precision} ({cell.device}) {cell.dtype} {cell.optimizer}")


def _below_legend(ax) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=7, ncol=1,
                  frameon=False)


def throughput_plot(results: BenchResults) -> bytes:
    """throughput.png's content."""
    plt = _pyplot()
    by_model: dict[str, list[CellResult]] = defaultdict(list)
    for cell in results.cells:
        if cell.kind is CellKind.TRAIN_STEP:
            by_model[cell.model].append(cell)
    models = list(by_model)
    fig, axes = _panels(plt, len(models))
    for ax, model in zip(axes, models):
        _throughput_panel(ax, model, by_model[model])
    fig.suptitle("training-step throughput: median samples/s, bars: interquartile range")
    png = _png(fig)
    plt.close(fig)
    return png


def throughput_points(timed: list[CellResult]) -> tuple[list[int], list[float], list[tuple[float, float]]]:
    """Batch sizes, samples/s and interquartile ranges of timed cells: the cells' own fields, so a plot shows
    the number of the tables, the CSV and the JSON."""
    x = [c.batch_size for c in timed]
    y = [c.measured_samples_per_s for c in timed]
    return x, y, [c.samples_per_s_interquartile or (v, v) for c, v in zip(timed, y, strict=True)]


def _throughput_panel(ax, model: str, cells: list[CellResult]) -> None:
    series: dict[str, list[CellResult]] = defaultdict(list)
    for cell in cells:
        series[_series_label(cell)].append(cell)
    colours: dict[str, str] = {}
    lowest = []
    for label, members in series.items():
        timed = sorted((c for c in members if c.timed), key=lambda c: c.batch_size)
        if not timed:
            continue
        x, y, spread = throughput_points(timed)
        below = [max(v - low, 0.0) for v, (low, _) in zip(y, spread)]
        above = [max(high - v, 0.0) for v, (_, high) in zip(y, spread)]
        style = "-" if timed[0].device == "cpu" else "--"
        line = ax.errorbar(x, y, yerr=[below, above], fmt=style, marker="o", markersize=4, capsize=3, label=label)
        colours[label] = line[0].get_color()
        lowest.append(min(low for low, _ in spread))
    floor = min(lowest) if lowest else 1.0
    _mark_not_timed(ax, cells, colours, floor)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch size")
    ax.set_ylabel("samples/s")
    ax.set_title(plot_text(f"{model} ({cells[0].parameters:,} parameters)"), fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    _below_legend(ax)


@dataclass(frozen=True)
class Mark:
    """A cell that was not timed, drawn at its batch size in the strip below a panel's data."""

    row: str  # the series label, or UNAVAILABLE_ROW for the implementations unavailable here
    batch_size: int
    kind: str  # "budget" | "failed" | "unavailable"


UNAVAILABLE_ROW = "unavailable here"


def not_timed_marks(cells: list[CellResult]) -> list[Mark]:
    """The marks of one panel: over-budget and failed cells in their series' row, unavailable cells in one row
    (their implementations are named in the legend); cells skipped as not claimed get no mark."""
    marks = []
    for cell in cells:
        kind = _not_timed_kind(cell)
        if kind is not None:
            row = UNAVAILABLE_ROW if kind == "unavailable" else _series_label(cell)
            marks.append(Mark(row, cell.batch_size, kind))
    return sorted(set(marks), key=lambda m: (m.row == UNAVAILABLE_ROW, m.row, m.batch_size, m.kind))


MARK_STYLE = {
    "budget": ("x", "not timed: over the time or memory budget"),
    "failed": ("X", "not timed: error or failed conformance check"),
    "unavailable": ("s", "unavailable here"),
}


def _mark_not_timed(ax, cells: list[CellResult], colours: dict[str, str], floor: float) -> None:
    """The strip below the data, one row of marks per series (and one for unavailable implementations)."""
    marks = not_timed_marks(cells)
    if not marks:
        return
    unavailable = sorted({c.impl for c in cells if _not_timed_kind(c) == "unavailable"})
    reasons = sorted({c.reason.split(":")[0] for c in cells if _not_timed_kind(c) == "unavailable"})
    level = floor / 3.0
    for row in dict.fromkeys(m.row for m in marks):
        for kind, (marker, _) in MARK_STYLE.items():
            xs = [m.batch_size for m in marks if m.row == row and m.kind == kind]
            if not xs:
                continue
            colour = {"budget": colours.get(row, "black"), "failed": "red", "unavailable": "grey"}[kind]
            ax.plot(xs, [level] * len(xs), linestyle="none", marker=marker, markersize=7, color=colour,
                    markerfacecolor="none" if kind == "unavailable" else colour)
        level /= 2.0
    for kind, (marker, text) in MARK_STYLE.items():  # one legend entry per kind of mark
        if not any(m.kind == kind for m in marks):
            continue
        if kind == "unavailable":
            text = plot_text(f"{text}: {', '.join(unavailable)} ({textwrap.shorten(reasons[0], 40)})", 160)
        elif kind == "budget":
            text += " (colour: its series)"
        untimed = sorted({m.row for m in marks if m.kind == kind and m.row not in colours} - {UNAVAILABLE_ROW})
        if untimed:  # series without any timed cell have no line to lend a colour: name them
            text += plot_text("; never timed: " + ", ".join(untimed), 160)
        colour = {"budget": "black", "failed": "red", "unavailable": "grey"}[kind]
        ax.plot([], [], linestyle="none", marker=marker, markersize=7, color=colour,
                markerfacecolor="none" if kind == "unavailable" else colour, label=text)
    ax.axhline(floor / 1.7, color="grey", linewidth=0.6, linestyle=":")
    ax.set_ylim(bottom=level * 1.2)


def speedup_plot(results: BenchResults) -> bytes:
    """speedup.png's content."""
    plt = _pyplot()
    series: dict[str, dict[tuple, list]] = defaultdict(lambda: defaultdict(list))
    for row in results.speedups:
        if row.speedup is not None:
            series[row.model][(row.impl, row.dtype, row.optimizer)].append((row.batch_size, row.speedup))
    crossover = {(c.impl, c.model, c.dtype, c.optimizer): c for c in results.crossovers}
    models = list(series)
    fig, axes = _panels(plt, len(models))
    for ax, model in zip(axes, models):
        for (impl, dtype, optimizer), points in series[model].items():
            points.sort()
            (line,) = ax.plot(*zip(*points), marker="o", label=plot_text(f"{impl} {dtype} {optimizer}"))
            c = crossover.get((impl, model, dtype, optimizer))
            if c is not None and c.crossover is not None:
                ax.axvline(c.crossover, color=line.get_color(), linestyle=":",
                           label=f"crossover at batch {c.crossover}")
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("batch size")
        ax.set_ylabel("speedup (accelerator / best CPU)")
        ax.set_title(plot_text(model), fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        _below_legend(ax)
    fig.suptitle("GPU/CPU speedup")
    png = _png(fig)
    plt.close(fig)
    return png


def write_plots(run_dir: Path | OwnedFolder, results: BenchResults) -> list[str]:
    """throughput.png, and speedup.png when an accelerator cell was timed (a speedup.png of an earlier render,
    one the folder's manifest lists, is removed otherwise); returns the names written."""
    with owned_folder(run_dir, BENCH) as folder:
        folder.write_bytes(THROUGHPUT_PNG, throughput_plot(results))
        written = [THROUGHPUT_PNG]
        if has_accelerator_timings(results.speedups):
            folder.write_bytes(SPEEDUP_PNG, speedup_plot(results))
            written.append(SPEEDUP_PNG)
        else:
            folder.remove(SPEEDUP_PNG)
    return written
