"""Which engine trains this MLP fastest here: per model, batch size, device, dtype and optimizer, the fastest
implementation whose configuration passed the quick conformance check (only those are timed, status "ok"), its
speedup over torch eager on the same device (torch-cpu, torch-cuda), and its compile time (torch.compile, jit),
which is measured when the trainer is built and is never inside the step time.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from tabulate import tabulate

from mlpbench.bench.records import BenchResults, CellKind, CellResult, CellStatus
from mlpbench.report_text import MESSAGE_LIMIT, markdown_text

EAGER_BASELINE = {"cpu": "torch-cpu", "cuda": "torch-cuda"}
"""The torch eager implementation each device's engines are compared with."""


def _key(cell: CellResult) -> tuple:
    return (cell.model, cell.batch_size, cell.device, cell.dtype, cell.optimizer)


def fastest_engines(results: BenchResults) -> list[dict[str, Any]]:
    """One row per (model, batch, device, dtype, optimizer) with at least one timed, conforming cell."""
    timed = sorted((c for c in results.cells if c.kind is CellKind.TRAIN_STEP and c.status is CellStatus.OK
                    and c.samples_per_s and c.precision == "ieee"), key=_key)
    rows = []
    for key, cells in groupby(timed, key=_key):
        group = list(cells)
        best = max(group, key=lambda c: c.measured_samples_per_s)
        baseline = next((c for c in group if c.impl == EAGER_BASELINE.get(key[2])), None)
        rows.append({
            "model": key[0], "batch_size": key[1], "device": key[2], "dtype": key[3], "optimizer": key[4],
            "fastest": best.impl, "samples_per_s": best.samples_per_s, "compile_s": best.compile_s,
            "baseline": baseline.impl if baseline else None,
            "speedup": best.measured_samples_per_s / baseline.measured_samples_per_s if baseline else None,
            "engines": {c.impl: {"samples_per_s": c.samples_per_s, "compile_s": c.compile_s} for c in group},
        })
    return rows


def engines_table(results: BenchResults) -> str:
    """Markdown: the fastest conforming engine per cell, its speedup over torch eager and its compile time."""
    rows = [(markdown_text(r["model"]), r["batch_size"], markdown_text(r["device"]), markdown_text(r["dtype"]),
             markdown_text(r["optimizer"]), markdown_text(r["fastest"]),
             f"{r['samples_per_s']:.4g}", "-" if r["speedup"] is None else f"{r['speedup']:.3g}x",
             "-" if r["compile_s"] is None else f"{r['compile_s']:.3g} s",
             markdown_text(", ".join(f"{name} {v['samples_per_s']:.3g}" for name, v in
                                     sorted(r["engines"].items(), key=lambda item: -item[1]["samples_per_s"])),
                           MESSAGE_LIMIT))
            for r in fastest_engines(results)]
    if not rows:
        return "No timed, conforming cell."
    return tabulate(rows, headers=["model", "batch", "device", "dtype", "optimizer", "fastest conforming",
                                   "samples/s", "speedup over torch eager", "its compile time",
                                   "every timed engine (samples/s)"], tablefmt="github")
