"""GPU/CPU speedup per cell and the crossover batch size per model.

speedup(cell) = samples/s of the accelerator implementation / samples/s of the fastest conforming CPU
implementation timed on the same (model, dtype, optimizer, batch size); none when the accelerator cell or a CPU
cell of it was contended (contention.py: a contended cell never wins a ranking, and the fastest CPU cell is one).
The crossover batch size of a series
is the smallest batch b such that the accelerator is faster at b and at every larger batch timed; "none in
range" when it is not faster at the largest batch; "unavailable: <reason>" when the accelerator has no timed
cell. Nothing is extrapolated.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from mlpbench.bench.records import CellKind, CellResult, CellStatus, Crossover, Speedup


def _ok(cell: CellResult) -> bool:
    return cell.status is CellStatus.OK and bool(cell.samples_per_s)


def speedups(cells: Sequence[CellResult]) -> list[Speedup]:
    """One row per accelerator train-step cell: its speedup over the best CPU cell, or why there is none."""
    steps = [c for c in cells if c.kind is CellKind.TRAIN_STEP]
    best_cpu: dict[tuple, CellResult] = {}
    contended_cpu: dict[tuple, str] = {}
    for cell in steps:
        if cell.device == "cpu" and _ok(cell):
            key = (cell.model, cell.dtype, cell.optimizer, cell.batch_size)
            if cell.contended:
                contended_cpu[key] = cell.impl
            elif key not in best_cpu or cell.measured_samples_per_s > best_cpu[key].measured_samples_per_s:
                best_cpu[key] = cell
    rows = []
    for cell in steps:
        if cell.device == "cpu":
            continue
        key = (cell.model, cell.dtype, cell.optimizer, cell.batch_size)
        cpu = best_cpu.get(key)
        speedup, reason = None, ""
        if not _ok(cell):
            reason = f"{cell.status.value}: {cell.reason}".rstrip(": ")
        elif cell.contended or key in contended_cpu:
            reason = f"contended: {cell.impl if cell.contended else contended_cpu[key]} (no speedup from it)"
        elif cpu is None:
            reason = "no CPU cell timed"
        else:
            speedup = cell.measured_samples_per_s / cpu.measured_samples_per_s
        rows.append(Speedup(cell.impl, cell.model, cell.dtype, cell.optimizer, cell.batch_size,
                            cpu.impl if cpu else None, speedup, reason))
    return rows


def crossovers(cells: Sequence[CellResult]) -> list[Crossover]:
    """Per (accelerator impl, model, dtype, optimizer): the crossover batch size or why there is none."""
    series: dict[tuple, list[Speedup]] = defaultdict(list)
    for row in speedups(cells):
        series[(row.impl, row.model, row.dtype, row.optimizer)].append(row)
    out = []
    for (impl, model, dtype, optimizer), rows in series.items():
        rows = sorted(rows, key=lambda r: r.batch_size)
        timed = [(r.batch_size, r.speedup) for r in rows if r.speedup is not None]
        if not timed:
            reasons = sorted({r.reason.removeprefix("unavailable: ") for r in rows})
            out.append(Crossover(impl, model, dtype, optimizer, None, "unavailable: " + "; ".join(reasons)))
            continue
        crossover = None
        for batch_size, speedup in reversed(timed):
            if speedup > 1.0:
                crossover = batch_size
            else:
                break
        text = f"batch {crossover}" if crossover is not None else "none in range"
        out.append(Crossover(impl, model, dtype, optimizer, crossover, text))
    return out


def has_accelerator_timings(speedup_rows: Sequence[Speedup]) -> bool:
    return any(r.speedup is not None for r in speedup_rows)
