"""PNG plots of a benchmark result (matplotlib, Agg backend), from the typed records.

throughput.png: samples/s against batch size, one panel per model, one line per (implementation, device,
dtype, optimizer): the median of the blocks' samples/s, with interquartile bars (the tables' numbers). Each
engine has one colour in every plot (`engine_colour`); the optimizer sets the line style and the dtype the
marker. At most MAX_SERIES series per panel, the fastest first; the rest go to throughput-more.png, drawn the
same way, and the panel says how many. Cells that were not timed are marked in a strip of their own below
each panel, not on its axis (so they never stretch the data's scale), at their batch size: x in the series'
colour for a cell over the time or memory budget, a grey square for an implementation unavailable here, a
red X for an error or a failed conformance check. A contended cell (mlpbench.bench.contention) is ringed in red.
Legends sit below the panels, never over the data.
speedup.png: GPU/CPU speedup against batch size with the crossover marked; written only when an accelerator
cell was timed (without one, bench.md says so instead of drawing empty frames).
Only measured cells are drawn; nothing is interpolated or extrapolated. Every label from the records passes
through `mlpbench.report_text.plot_text` (no mathtext, capped).
"""

from __future__ import annotations

import io
import textwrap
import zlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from mlpbench.bench.records import BenchResults, CellKind, CellResult, CellStatus
from mlpbench.bench.speedup import has_accelerator_timings
from mlpbench.output.folder import OwnedFolder, owned_folder
from mlpbench.output.manifest import BENCH
from mlpbench.report_text import plot_text

THROUGHPUT_PNG = "throughput.png"
MORE_PNG = "throughput-more.png"
SPEEDUP_PNG = "speedup.png"
MAX_SERIES = 8
"""Series per throughput panel; further ones are drawn in MORE_PNG."""

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d",
           "#9edae5", "#393b79")
"""matplotlib's tab10 then tab20's light tones: the engines' colours."""
LINE_STYLES = {"sgd": "-", "adam": "--", "adamw": "-.", "rmsprop": ":"}
MARKERS = {"float32": "o", "float64": "s"}


def engine_colour(impl: str) -> str:
    """One colour per engine in every plot: the built-ins in the registry's order take the palette's colours in
    turn; any other name (a plug-in) takes one by a stable hash of its name."""
    from mlpbench.impls.registry import BUILT_INS

    names = [entry.name for entry in BUILT_INS]
    if impl in names:
        return PALETTE[names.index(impl) % len(PALETTE)]
    return PALETTE[zlib.crc32(impl.encode()) % len(PALETTE)]


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


def _panels_with_strips(plt, columns: int, strip_rows: int, legend_rows: int, grid_rows: int = 1):
    """`grid_rows` x `columns` panels, each three axes stacked: the data, the not-timed strip (sharing the
    data's x) and an empty one that holds the legend; returned as three lists indexed [row][column]."""
    columns = max(columns, 1)
    strip = 0.3 + 0.2 * max(strip_rows, 1)
    legend = 0.6 + 0.15 * legend_rows
    fig, axes = plt.subplots(3 * grid_rows, columns, figsize=(5.6 * columns, (4.4 + strip + legend) * grid_rows),
                             squeeze=False, gridspec_kw={"height_ratios": [4.4, strip, legend] * grid_rows,
                                                         "hspace": 0.3})
    data = [list(axes[3 * r]) for r in range(grid_rows)]
    strips = [list(axes[3 * r + 1]) for r in range(grid_rows)]
    legends = [list(axes[3 * r + 2]) for r in range(grid_rows)]
    for r in range(grid_rows):
        for c in range(columns):
            strips[r][c].sharex(data[r][c])
            legends[r][c].axis("off")
    return fig, data, strips, legends


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


def _legend_in(where, *sources) -> None:
    """One legend in the axes `where` for everything drawn on `sources` (a panel and its strip)."""
    handles: list = []
    labels: list[str] = []
    for source in sources:
        more_handles, more_labels = source.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    if handles:
        where.legend(handles, labels, loc="upper center", fontsize=7, ncol=1, frameon=False)


SeriesKey = tuple[str, str, str, str | None]
"""(implementation, device, dtype, optimizer): the cells of one line."""


def _series_key(cell: CellResult) -> SeriesKey:
    return (cell.impl, cell.device, cell.dtype, cell.optimizer)


def ranked_series(cells: list[CellResult]) -> list[SeriesKey]:
    """The series of one panel, fastest first (by their best timed samples/s; never-timed ones last)."""
    best: dict[SeriesKey, float] = {}
    for cell in cells:
        rate = cell.samples_per_s if cell.timed and cell.samples_per_s else 0.0
        best[_series_key(cell)] = max(best.get(_series_key(cell), 0.0), rate)
    return sorted(best, key=lambda key: (-best[key], key[0], key[1], key[2], str(key[3])))


def _by_model(results: BenchResults) -> dict[str, list[CellResult]]:
    by_model: dict[str, list[CellResult]] = defaultdict(list)
    for cell in results.cells:
        if cell.kind is CellKind.TRAIN_STEP:
            by_model[cell.model].append(cell)
    return by_model


@dataclass(frozen=True)
class Panel:
    """One panel of a throughput figure: a model's cells of at most MAX_SERIES series."""

    model: str
    cells: list[CellResult]
    note: str = ""  # e.g. where the other series are


def throughput_panels(results: BenchResults, appendix: bool = False) -> list[Panel]:
    """The main figure: per model, its MAX_SERIES fastest series (and the marks of the implementations
    unavailable here). The appendix: per model, the other series that were timed, MAX_SERIES a panel."""
    panels = []
    for model, cells in _by_model(results).items():
        ranked = ranked_series(cells)
        chunks = [ranked[i:i + MAX_SERIES] for i in range(0, len(ranked), MAX_SERIES)]
        if not appendix:
            keep = set(chunks[0])
            shown = [c for c in cells if _series_key(c) in keep or _not_timed_kind(c) == "unavailable"]
            more = len(ranked) - len(keep)
            panels.append(Panel(model, shown, f"{more} more series in {MORE_PNG}" if more else ""))
            continue
        timed = {_series_key(c) for c in cells if c.timed}
        for number, chunk in enumerate(chunks[1:], start=2):
            keep = set(chunk) & timed  # a never-timed series is one mark row of the main figure's strip
            if not keep:
                continue
            panels.append(Panel(model, [c for c in cells if _series_key(c) in keep],
                                f"series {MAX_SERIES * (number - 1) + 1} to {MAX_SERIES * (number - 1) + len(chunk)}"))
    return panels


def throughput_plot(results: BenchResults, appendix: bool = False) -> bytes | None:
    """throughput.png's content (with `appendix`, throughput-more.png's, one row of panels per model; None
    when no model has more than MAX_SERIES series)."""
    panels = throughput_panels(results, appendix)
    if not panels:
        return None
    plt = _pyplot()
    models = list(dict.fromkeys(p.model for p in panels))
    columns = max(sum(p.model == model for p in panels) for model in models) if appendix else len(panels)
    grid_rows = len(models) if appendix else 1
    strip_rows = max(len({m.row for m in not_timed_marks(p.cells)}) for p in panels)
    legend_rows = max(len({_series_label(c) for c in p.cells if c.timed}) + len(MARK_STYLE) for p in panels)
    fig, axes, strips, legends = _panels_with_strips(plt, columns, strip_rows, legend_rows, grid_rows)
    placed: dict[str, int] = defaultdict(int)
    used: set[tuple[int, int]] = set()
    for panel in panels:
        row = models.index(panel.model) if appendix else 0
        column = placed[panel.model] if appendix else len(used)
        placed[panel.model] += 1
        used.add((row, column))
        _throughput_panel(axes[row][column], strips[row][column], panel)
        _legend_in(legends[row][column], axes[row][column], strips[row][column])
    for row in range(grid_rows):
        for column in range(columns):
            if (row, column) not in used:
                for unused in (axes[row][column], strips[row][column], legends[row][column]):
                    unused.set_visible(False)
    suffix = f" (the series beyond the fastest {MAX_SERIES} of each model)" if appendix else ""
    fig.suptitle("training-step throughput: median of the blocks' samples/s, bars: interquartile range" + suffix)
    png = _png(fig)
    plt.close(fig)
    return png


def throughput_points(timed: list[CellResult]) -> tuple[list[int], list[float], list[tuple[float, float]]]:
    """Batch sizes, samples/s and interquartile ranges of timed cells: the cells' own fields, so a plot shows
    the number of the tables, the CSV and the JSON."""
    x = [c.batch_size for c in timed]
    y = [c.measured_samples_per_s for c in timed]
    return x, y, [c.samples_per_s_interquartile or (v, v) for c, v in zip(timed, y, strict=True)]


def _throughput_panel(ax, strip, panel: Panel) -> None:
    series: dict[str, list[CellResult]] = defaultdict(list)
    for cell in panel.cells:
        series[_series_label(cell)].append(cell)
    colours: dict[str, str] = {}
    for label, members in series.items():
        timed = sorted((c for c in members if c.timed), key=lambda c: c.batch_size)
        if not timed:
            continue
        x, y, spread = throughput_points(timed)
        below = [max(v - low, 0.0) for v, (low, _) in zip(y, spread, strict=True)]
        above = [max(high - v, 0.0) for v, (_, high) in zip(y, spread, strict=True)]
        first = timed[0]
        colour = engine_colour(first.impl)
        ax.errorbar(x, y, yerr=[below, above], color=colour, linestyle=LINE_STYLES.get(first.optimizer or "", ":"),
                    marker=MARKERS.get(first.dtype, "^"), markersize=4, capsize=3, label=label)
        colours[label] = colour
    contended = [c for c in panel.cells if c.timed and c.contended]
    if contended:  # ringed: other processes took the cores these cells needed (never ranked)
        ax.plot([c.batch_size for c in contended], [c.measured_samples_per_s for c in contended], linestyle="none",
                marker="o", markersize=10, markerfacecolor="none", markeredgecolor="red",
                label="contended: others took the cores it needed (never ranked)")
    _mark_not_timed(strip, panel.cells, colours)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_ylabel("samples/s")
    ax.tick_params(labelbottom=False)
    title = f"{panel.model} ({panel.cells[0].parameters:,} parameters)"
    ax.set_title(plot_text(title) + (f"\n{plot_text(panel.note)}" if panel.note else ""), fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    strip.set_xlabel("batch size")


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


def _mark_not_timed(strip, cells: list[CellResult], colours: dict[str, str]) -> None:
    """The strip below a panel's data, its own axes: one row of marks per series (and one for unavailable
    implementations), at their batch sizes; an empty strip says that every cell was timed or not claimed."""
    marks = not_timed_marks(cells)
    strip.set_yticks([])
    strip.grid(True, axis="x", alpha=0.3)
    if not marks:
        strip.text(0.5, 0.5, "every cell timed (or not claimed)", transform=strip.transAxes, ha="center",
                   va="center", fontsize=7, color="grey")
        return
    unavailable = sorted({c.impl for c in cells if _not_timed_kind(c) == "unavailable"})
    reasons = sorted({c.reason.split(":")[0] for c in cells if _not_timed_kind(c) == "unavailable"})
    rows = list(dict.fromkeys(m.row for m in marks))
    for level, row in enumerate(reversed(rows)):
        for kind, (marker, _) in MARK_STYLE.items():
            xs = [m.batch_size for m in marks if m.row == row and m.kind == kind]
            if not xs:
                continue
            colour = {"budget": colours.get(row, "black"), "failed": "red", "unavailable": "grey"}[kind]
            strip.plot(xs, [level] * len(xs), linestyle="none", marker=marker, markersize=6, color=colour,
                       markerfacecolor="none" if kind == "unavailable" else colour)
    strip.set_ylim(-0.7, len(rows) - 0.3)
    strip.set_ylabel("not timed", fontsize=7)
    for kind, (marker, text) in MARK_STYLE.items():  # one legend entry per kind of mark
        if not any(m.kind == kind for m in marks):
            continue
        if kind == "unavailable":
            text = "\n".join(textwrap.wrap(plot_text(
                f"{text}: {', '.join(unavailable)} ({textwrap.shorten(reasons[0], 40)})", 160), 64))
        elif kind == "budget":
            text += " (colour: its series)"
        untimed = sorted({m.row for m in marks if m.kind == kind and m.row not in colours} - {UNAVAILABLE_ROW})
        if untimed:  # series without any timed cell have no line to lend a colour: name them
            text = "\n".join(textwrap.wrap(text + plot_text("; never timed: " + ", ".join(untimed), 160), 64))
        colour = {"budget": "black", "failed": "red", "unavailable": "grey"}[kind]
        strip.plot([], [], linestyle="none", marker=marker, markersize=6, color=colour,
                   markerfacecolor="none" if kind == "unavailable" else colour, label=text)


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
            (line,) = ax.plot(*zip(*points), color=engine_colour(impl), marker=MARKERS.get(dtype, "^"),
                              linestyle=LINE_STYLES.get(optimizer or "", ":"),
                              label=plot_text(f"{impl} {dtype} {optimizer}"))
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
    """throughput.png; throughput-more.png when a panel has more than MAX_SERIES series; speedup.png when an
    accelerator cell was timed (a file of an earlier render that this one does not write, one the folder's
    manifest lists, is removed); returns the names written."""
    with owned_folder(run_dir, BENCH) as folder:
        main = throughput_plot(results)
        more = throughput_plot(results, appendix=True)
        speedup = speedup_plot(results) if has_accelerator_timings(results.speedups) else None
        written = []
        for name, png in ((THROUGHPUT_PNG, main), (MORE_PNG, more), (SPEEDUP_PNG, speedup)):
            if png is None:
                folder.remove(name)
            else:
                folder.write_bytes(name, png)
                written.append(name)
    return written
