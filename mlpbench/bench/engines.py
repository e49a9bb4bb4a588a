"""Which engine trains this MLP fastest here: per model, batch size, device, dtype and optimizer, among the
implementations whose configuration passed the quick conformance check (only those are timed, status "ok"),
the winner when the data separate it from the runner-up, a tie within noise otherwise, no winner when an engine
was contended (the rules: ranking.py); the fastest uncontended engine's speedup over an uncontended torch eager
on the same device (torch-cpu, torch-cuda), and its compile time (torch.compile, jit), which is measured when
the trainer is built and is never inside the step time.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from tabulate import tabulate

from mlpbench.bench.ranking import Ranking, rank
from mlpbench.bench.records import BenchResults, CellKind, CellResult, CellStatus
from mlpbench.report_text import MESSAGE_LIMIT, markdown_text

EAGER_BASELINE = {"cpu": "torch-cpu", "cuda": "torch-cuda"}
"""The torch eager implementation each device's engines are compared with."""


def _key(cell: CellResult) -> tuple:
    return (cell.model, cell.batch_size, cell.device, cell.dtype, cell.optimizer)


def _groups(results: BenchResults) -> list[tuple[tuple, list[CellResult]]]:
    """The timed, conforming IEEE training-step cells by (model, batch, device, dtype, optimizer)."""
    timed = sorted((c for c in results.cells if c.kind is CellKind.TRAIN_STEP and c.status is CellStatus.OK
                    and c.samples_per_s and c.precision == "ieee"), key=_key)
    return [(key, list(cells)) for key, cells in groupby(timed, key=_key)]


def rankings(results: BenchResults) -> dict[tuple, Ranking]:
    """The ranking (ranking.py) of every (model, batch, device, dtype, optimizer) with a timed cell."""
    return {key: rank(group) for key, group in _groups(results)}


def fastest_engines(results: BenchResults) -> list[dict[str, Any]]:
    """One row per (model, batch, device, dtype, optimizer) with at least one timed, conforming cell: the
    ranking's verdict, the fastest uncontended engine and its speedup over an uncontended torch eager."""
    rows = []
    for key, group in _groups(results):
        ranking = rank(group)
        best = ranking.fastest
        baseline = next((c for c in group if c.impl == EAGER_BASELINE.get(key[2]) and not c.contended), None)
        rows.append({
            "model": key[0], "batch_size": key[1], "device": key[2], "dtype": key[3], "optimizer": key[4],
            "outcome": ranking.outcome.value, "verdict": ranking.text, "winner": ranking.winner,
            "tied": [c.impl for c in ranking.tied], "contended": [c.impl for c in ranking.contended],
            "p": ranking.p, "fastest": best.impl if best else None,
            "samples_per_s": best.samples_per_s if best else None, "compile_s": best.compile_s if best else None,
            "baseline": baseline.impl if baseline else None,
            "speedup": (best.measured_samples_per_s / baseline.measured_samples_per_s
                        if best is not None and baseline is not None else None),
            "engines": {c.impl: {"samples_per_s": c.samples_per_s, "compile_s": c.compile_s,
                                 "contended": c.contended} for c in group},
        })
    return rows


def _engine_list(engines: dict[str, dict[str, Any]]) -> str:
    ordered = sorted(engines.items(), key=lambda item: -item[1]["samples_per_s"])
    return ", ".join(f"{name} {v['samples_per_s']:.3g}" + (" (contended)" if v["contended"] else "")
                     for name, v in ordered)


def engines_table(results: BenchResults) -> str:
    """Markdown: per cell the winner, a tie within noise or no winner (contended), the fastest uncontended
    engine's samples/s, its speedup over torch eager and its compile time, and every timed engine."""
    rows = [(markdown_text(r["model"]), r["batch_size"], markdown_text(r["device"]), markdown_text(r["dtype"]),
             markdown_text(r["optimizer"]), markdown_text(r["verdict"]),
             "-" if r["samples_per_s"] is None else f"{r['samples_per_s']:.4g}",
             "-" if r["speedup"] is None else f"{r['speedup']:.3g}x",
             "-" if r["compile_s"] is None else f"{r['compile_s']:.3g} s",
             markdown_text(_engine_list(r["engines"]), MESSAGE_LIMIT))
            for r in fastest_engines(results)]
    if not rows:
        return "No timed, conforming cell."
    return tabulate(rows, headers=["model", "batch", "device", "dtype", "optimizer", "fastest conforming",
                                   "samples/s (fastest uncontended)", "speedup over torch eager",
                                   "its compile time", "every timed engine (samples/s)"], tablefmt="github")
