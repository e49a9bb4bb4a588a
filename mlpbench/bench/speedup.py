"""GPU/CPU speedup per cell and the crossover batch size per model.

speedup(cell) = samples/s of the accelerator implementation / samples/s of the fastest conforming CPU
implementation timed on the same (model, dtype, optimizer, batch size). The crossover batch size of a series
is the smallest batch b such that the accelerator is faster at b and at every larger batch timed; "none in
range" when it is not faster at the largest batch; "unavailable: <reason>" when the accelerator has no timed
cell. Nothing is extrapolated.
"""

from __future__ import annotations

from collections import defaultdict


def _series_key(cell: dict) -> tuple:
    return (cell["model"], cell["dtype"], cell["optimizer"])


def _ok(cell: dict) -> bool:
    return cell.get("status") == "ok" and bool(cell.get("samples_per_s"))


def speedups(cells: list[dict]) -> list[dict]:
    """One row per accelerator train-step cell: its speedup over the best CPU cell, or why there is none."""
    steps = [c for c in cells if c.get("kind") == "train_step"]
    best_cpu: dict[tuple, dict] = {}
    for cell in steps:
        if cell["device"] == "cpu" and _ok(cell):
            key = (*_series_key(cell), cell["batch_size"])
            if key not in best_cpu or cell["samples_per_s"] > best_cpu[key]["samples_per_s"]:
                best_cpu[key] = cell
    rows = []
    for cell in steps:
        if cell["device"] == "cpu":
            continue
        key = (*_series_key(cell), cell["batch_size"])
        cpu = best_cpu.get(key)
        row = {
            "impl": cell["impl"], "model": cell["model"], "dtype": cell["dtype"], "optimizer": cell["optimizer"],
            "batch_size": cell["batch_size"], "cpu_impl": cpu["impl"] if cpu else None, "speedup": None,
        }
        if not _ok(cell):
            row["reason"] = f"{cell['status']}: {cell.get('reason', '')}".rstrip(": ")
        elif cpu is None:
            row["reason"] = "no CPU cell timed"
        else:
            row["speedup"] = cell["samples_per_s"] / cpu["samples_per_s"]
            row["reason"] = ""
        rows.append(row)
    return rows


def crossovers(cells: list[dict]) -> list[dict]:
    """Per (accelerator impl, model, dtype, optimizer): the crossover batch size or why there is none."""
    series: dict[tuple, list[dict]] = defaultdict(list)
    for row in speedups(cells):
        series[(row["impl"], row["model"], row["dtype"], row["optimizer"])].append(row)
    out = []
    for (impl, model, dtype, optimizer), rows in series.items():
        rows = sorted(rows, key=lambda r: r["batch_size"])
        timed = [r for r in rows if r["speedup"] is not None]
        result = {"impl": impl, "model": model, "dtype": dtype, "optimizer": optimizer, "crossover": None}
        if not timed:
            reasons = sorted({r["reason"].removeprefix("unavailable: ") for r in rows})
            result["text"] = "unavailable: " + "; ".join(reasons)
        else:
            crossover = None
            for r in reversed(timed):
                if r["speedup"] > 1.0:
                    crossover = r["batch_size"]
                else:
                    break
            result["crossover"] = crossover
            result["text"] = f"batch {crossover}" if crossover is not None else "none in range"
            result["batch_range"] = [timed[0]["batch_size"], timed[-1]["batch_size"]]
        out.append(result)
    return out
