"""Markdown rendering of a benchmark result (tabulate, GitHub pipe tables), from the typed records.

Every text from the records (names, reasons, ids, environment values) passes through
`mlpbench.report_text.markdown_text`: every table cell in `_table`, everything else where it is written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from itertools import groupby

from tabulate import tabulate

from mlpbench.bench.contention import CONTENDED_SHARE
from mlpbench.bench.engines import engines_table
from mlpbench.bench.ranking import SEPARATION_RULE
from mlpbench.bench.records import BenchResults, CellKind, CellResult, CellStatus
from mlpbench.bench.speedup import has_accelerator_timings
from mlpbench.report_text import MESSAGE_LIMIT, markdown_text


class Markdown(str):
    """Text that is Markdown already (escaped where it had to be): `_table` puts it in as it is."""


def md(value: object, limit: int = MESSAGE_LIMIT) -> str:
    """A value from the records as Markdown text."""
    return value if isinstance(value, Markdown) else markdown_text(value, limit)


def _table(rows, headers) -> str:
    cells = [[md(value) for value in row] for row in rows]
    return tabulate(cells, headers=headers, tablefmt="github", disable_numparse=True)


def si(value: float | None, unit: str = "") -> str:
    """3 significant digits with an SI prefix: 12300 -> '12.3 k'."""
    if value is None:
        return "-"
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}".rstrip()


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    for factor, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if value >= factor:
            return f"{value / factor:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def efficiency_text(cell: CellResult) -> str:
    """The efficiency, or, above 1, a flag instead of a number that would read as a fact."""
    if cell.efficiency_problem:
        return f"MEASUREMENT PROBLEM ({cell.efficiency:.2f} x peak)"
    return percent(cell.efficiency)


def status_text(cell: CellResult) -> str:
    return cell.status.text if cell.status is CellStatus.OK else f"{cell.status.text}: {cell.reason}"


def accelerator_note(results: BenchResults) -> str | None:
    """Why there are no GPU/CPU numbers, or None when there are."""
    if has_accelerator_timings(results.speedups):
        return None
    torch = results.environment.get("torch", {})
    if torch.get("gpu") is None:
        why = torch.get("gpu_unavailable_reason") or torch.get("reason") or "no GPU found"
        return f"No accelerator on this machine ({md(why)}): no GPU/CPU speedup, no crossover, no speedup plot."
    return "No accelerator cell was timed in this run: no GPU/CPU speedup, no crossover, no speedup plot."


def environment_section(results: BenchResults) -> str:
    env = results.environment
    torch = env.get("torch", {})
    gpu = torch.get("gpu")
    if gpu:
        gpu_text = (f"{gpu['name']} (driver {gpu.get('driver') or 'unknown'}, CUDA {gpu.get('cuda_runtime')}, "
                    f"compute capability {gpu.get('capability')})")
    else:
        gpu_text = f"none — {torch.get('gpu_unavailable_reason', torch.get('reason', 'unknown'))}"
    git = env.get("git", {})
    flags = torch.get("precision_flags", {})
    rows = [
        ("created (UTC)", results.created_utc),
        ("command", Markdown(markdown_text(results.command, MESSAGE_LIMIT, code=True))),
        ("CPU", f"{env.get('cpu_model')} ({env.get('cpu_cores')} logical cores)"),
        ("CPU threads used", f"{results.threads}" + (f" ({results.threads_note})" if results.threads_note else "")),
        ("GPU", gpu_text),
        ("torch", f"{torch.get('version', 'not installed')} (CUDA build: {torch.get('cuda_build')})"),
        ("numpy", env.get("numpy", "")),
        ("python / OS", f"{env.get('python')} / {env.get('platform')}"),
        ("precision flags", ", ".join(f"{k}={v}" for k, v in flags.items()) or "-"),
        ("git commit", f"{git.get('commit')}" + (" (uncommitted changes)" if git.get("dirty") else "")),
    ]
    return _table(rows, ["environment", ""])


def method_section(results: BenchResults) -> str:
    grid = {key: md(value) for key, value in results.grid.items()}
    return "\n".join([
        f"- {md(results.flop_formula)}. Achieved FLOP/s = FLOPs per step x steps / time.",
        "- samples/s = the median of the blocks' samples/s (batch x steps / block time), with their "
        "interquartile range; the same number in every table, plot, CSV and JSON file (FLOP/s likewise).",
        f"- efficiency = achieved FLOP/s / GEMM peak of the same device, dtype and thread count, measured in this "
        f"run before the first timed cell and again after the last, and again right after a cell that came out "
        f"faster than the peak allows (recheck) ({md(results.gemm_formula)}; torch.matmul, "
        f"numpy.matmul for the NumPy reference; {grid.get('peak_blocks')} blocks per size, the fastest counts; "
        f"the best of all passes is the peak). It cannot exceed 100%: a cell above it is flagged as a "
        f"measurement problem, never reported as a result.",
        f"- A step = forward, loss, backward and optimizer step on data already on the device. Each timed "
        f"block is synchronize, k steps, synchronize; k grows until a block takes >= "
        f"{grid.get('min_block_seconds')} s; up to {grid.get('blocks')} blocks per cell after "
        f"{grid.get('warmup_seconds')} s of warm-up (a block more than twice as fast as the calibrating one "
        f"means the calibration ran on cold steps: those blocks become warm-up and k is calibrated again); "
        f"median and IQR of the per-step times of the blocks; "
        f"cells whose IQR exceeds 10% of the median are marked (noisy).",
        f"- Other load: during each cell the CPU time of every other process is measured (/proc/stat busy time "
        f"minus the worker's own); a cell is contended when the others took more than {CONTENDED_SHARE:.0%} of "
        f"the cores it needed (its threads on the CPU, one on an accelerator). A contended cell never wins a "
        f"ranking. The fastest engine is named only when it is separated from the runner-up "
        f"({md(SEPARATION_RULE)}); otherwise the table says tie within noise and lists them.",
        f"- Cells estimated to need more than {grid.get('max_seconds_per_cell')} s are skipped (budget). "
        f"Only configurations that pass the quick conformance check are timed. Host-to-device copies are "
        f"timed separately.",
    ])


def peaks_table(results: BenchResults) -> str:
    rows = []
    for peak in results.peaks.values():
        if not peak.passes:
            rows.append((peak.key, str(peak.threads or "-"), "-", "-", "-", f"not measured: {peak.error}", ""))
            continue
        start, end = peak.pass_rate("start"), peak.pass_rate("end")
        rechecks = ", ".join(si(p.flop_per_s, "FLOP/s") for p in peak.passes if p.label == "recheck") or "-"
        best = max(peak.passes, key=lambda p: p.flop_per_s)
        sizes = ", ".join(f"{r.n}: {si(r.flop_per_s, 'FLOP/s')}" for r in best.rates)
        rows.append((peak.key, str(peak.threads or "-"), si(start, "FLOP/s"), si(end, "FLOP/s"), rechecks,
                     si(peak.flop_per_s, "FLOP/s"), sizes))
    return _table(rows, ["GEMM peak (backend-device-dtype-precision)", "threads", "start of run", "end of run",
                         "rechecks", "peak (best)", "best pass per size"])


def conformance_table(results: BenchResults) -> str:
    rows = [(f"{v.impl}/{v.dtype}", "conforming" if v.conforming else f"not conforming: {v.first_failure}")
            for v in results.conformance]
    return _table(rows, ["implementation/dtype", "quick conformance check"])


def series_rows(cells: Sequence[CellResult], value_row: Callable[[CellResult, str], tuple]) -> list[tuple]:
    """Rows per cell; a series whose cells all share one non-ok status collapses into one row."""
    rows = []
    for _, series in groupby(cells, key=lambda c: (c.impl, c.dtype, c.optimizer)):
        group = list(series)
        if len({status_text(c) for c in group}) == 1 and group[0].status is not CellStatus.OK:
            batches = f"{group[0].batch_size}..{group[-1].batch_size}" if len(group) > 1 else str(group[0].batch_size)
            rows.append(value_row(group[0], batches))
        else:
            rows.extend(value_row(c, str(c.batch_size)) for c in group)
    return rows


def throughput_tables(results: BenchResults) -> str:
    by_model: dict[str, list[CellResult]] = defaultdict(list)
    for cell in results.cells:
        if cell.kind is CellKind.TRAIN_STEP:
            by_model[cell.model].append(cell)

    def row(c: CellResult, batch: str) -> tuple:
        label = c.impl + ("" if c.precision == "ieee" else f" [{c.precision}]")
        if c.status is not CellStatus.OK:
            return (label, c.dtype, c.optimizer, batch, status_text(c), "", "", "", "", "", "")
        low, high = c.samples_per_s_interquartile or (None, None)
        iqr = percent(c.iqr_fraction) + (" (noisy)" if c.noisy else "")
        return (label, c.dtype, c.optimizer, batch, si(c.samples_per_s), f"{si(low)} to {si(high)}",
                seconds(c.median_s), iqr, si(c.flop_per_s, "FLOP/s"), efficiency_text(c), c.load_text)

    parts = []
    headers = ["impl", "dtype", "optimizer", "batch", "samples/s", "samples/s IQR", "median step", "IQR",
               "FLOP/s", "efficiency", "other load"]
    for model, cells in by_model.items():
        first = cells[0]
        sizes = "-".join(map(str, first.sizes))
        parts.append(f"### {md(model)} ({sizes}, {first.parameters:,} parameters, loss {md(first.loss)})\n")
        parts.append(_table(series_rows(cells, row), headers))
    return "\n\n".join(parts)


def transfer_table(results: BenchResults) -> str:
    cells = [c for c in results.cells if c.kind is CellKind.H2D_TRANSFER]
    if not cells:
        return "No accelerator implementation in this run."

    def row(c: CellResult, batch: str) -> tuple:
        if c.status is not CellStatus.OK:
            return (c.impl, c.model, c.dtype, batch, status_text(c), "", "")
        return (c.impl, c.model, c.dtype, batch, si(c.bytes, "B"), seconds(c.median_s), si(c.bytes_per_s, "B/s"))

    rows = []
    for _, group in groupby(cells, key=lambda c: c.model):
        rows.extend(series_rows(list(group), row))
    return _table(rows, ["impl", "model", "dtype", "batch", "bytes", "median copy", "bandwidth"])


def speedup_tables(results: BenchResults) -> str:
    note = accelerator_note(results)
    if note:
        unavailable = sorted({f"{r.impl}: {r.reason}" for r in results.speedups})
        return note + "".join(f"\n- {md(line)}" for line in unavailable)
    rows = []
    for _, series in groupby(results.speedups, key=lambda r: (r.impl, r.model, r.dtype, r.optimizer)):
        group = list(series)
        if all(r.speedup is None for r in group) and len({r.reason for r in group}) == 1:
            r = group[0]
            rows.append((r.impl, r.model, r.dtype, r.optimizer, "all", "-", r.reason))
            continue
        for r in group:
            value = f"{r.speedup:.3g}x" if r.speedup is not None else "-"
            rows.append((r.impl, r.model, r.dtype, r.optimizer, str(r.batch_size), value,
                         r.reason or f"vs {r.cpu_impl}"))
    return _table(rows, ["accelerator", "model", "dtype", "optimizer", "batch", "speedup", "note"])


def crossover_table(results: BenchResults) -> str:
    note = accelerator_note(results)
    if note:
        return note
    rows = [(r.impl, r.model, r.dtype, r.optimizer, r.text) for r in results.crossovers]
    return _table(rows, ["accelerator", "model", "dtype", "optimizer", "crossover batch size (GPU faster from)"])


def warning_lines(results: BenchResults) -> list[tuple[str, str]]:
    """Every measurement warning as (kind, plain text): a cell over the peak, a noisy cell, a contended cell, a
    GEMM peak that moved during the run."""
    lines = [("over the peak", f"{c.id}: {c.efficiency_problem}") for c in results.cells
             if c.status is CellStatus.OK and c.efficiency_problem]
    lines += [("noisy", f"{c.id}: IQR {percent(c.iqr_fraction)} of the median") for c in results.cells
              if c.status is CellStatus.OK and c.noisy]
    lines += [("contended", f"{c.id}: {c.load_text} (more than {CONTENDED_SHARE:.0%})") for c in results.cells
              if c.status is CellStatus.OK and c.contended]
    for peak in results.peaks.values():
        start, end = peak.pass_rate("start"), peak.pass_rate("end")
        if start and end and abs(end / start - 1.0) > 0.10:
            lines.append(("peak moved", f"GEMM peak {peak.key}: start {si(start, 'FLOP/s')} and end "
                          f"{si(end, 'FLOP/s')} differ by more than 10% (load changed during the run)"))
    return lines


WARNING_KINDS = {"over the peak": "cells with an efficiency above the GEMM peak (a measurement problem)",
                 "noisy": "noisy cells (IQR above 10% of the median)",
                 "contended": "contended cells (other processes took the cores they needed; never ranked)",
                 "peak moved": "GEMM peaks that moved by more than 10% during the run"}


def warnings_section(results: BenchResults) -> str:
    lines = warning_lines(results)
    if not lines:
        return ("None: every efficiency is at most 100%, every timed cell has IQR <= 10% of its median, no cell "
                "was contended, and the start and end peaks agree within 10%.")
    return "\n".join(f"- {md(line)}" for _, line in lines)


def warning_counts(results: BenchResults) -> str:
    """One line: how many warnings of each kind, with a pointer to the list."""
    counts: dict[str, int] = defaultdict(int)
    for kind, _ in warning_lines(results):
        counts[kind] += 1
    if not counts:
        return "Measurement warnings: none."
    return ("Measurement warnings: " + ", ".join(f"{n} {WARNING_KINDS[kind]}" for kind, n in counts.items())
            + "; the list is under [Measurement warnings](#measurement-warnings).")


def answers_section(results: BenchResults) -> str:
    """What the run found, before how: the fastest conforming engine per cell, the GPU/CPU crossover, and the
    warnings as counts."""
    return "\n\n".join([
        "### Fastest conforming engine per cell (speedup over torch eager; compile time apart from step time)",
        engines_table(results),
        "### Crossover batch size per model (GPU faster from)",
        crossover_table(results),
        warning_counts(results),
    ])


def markdown_report(results: BenchResults, plots: Sequence[str] = ()) -> str:
    sections = [
        "# mlpbench training-step benchmark",
        "## Answers",
        answers_section(results),
        "## Training-step throughput",
        throughput_tables(results),
        "## GPU/CPU speedup per cell (accelerator samples/s over the fastest CPU implementation)",
        speedup_tables(results),
        "## Host-to-device transfer (timed separately)",
        transfer_table(results),
    ]
    if plots:
        sections += ["## Plots", "\n".join(f"![{name}]({name})" for name in plots)]
    sections += [
        "## Quick conformance checks (only conforming configurations are timed)",
        conformance_table(results),
        "## GEMM peak (same device, dtype and threads; passes at the start, at the end and rechecks)",
        peaks_table(results),
        "## Measurement warnings",
        warnings_section(results),
        "## Environment",
        environment_section(results),
        "## Method",
        method_section(results),
    ]
    return "\n\n".join(sections) + "\n"
