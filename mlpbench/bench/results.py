"""The benchmark result schema (documented in reports/README.md) and its JSON and CSV files.

A run directory holds `cells/<cell-file>.json` (one per finished grid cell, written atomically as the cell
finishes, so an interrupted run keeps them and `--resume` skips them), `peaks/<key>.json`, and the aggregate
`bench.json`, rendered to `bench.md`, `bench.csv` and PNG plots.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mlpbench.atomic import write_json_atomic, write_text_atomic

SCHEMA = "mlpbench-bench/1"
AGGREGATE = "bench.json"
CELLS_DIR = "cells"
PEAKS_DIR = "peaks"

STATUSES = ("ok", "unavailable", "not_conforming", "skipped", "error")
KINDS = ("train_step", "h2d_transfer")

CSV_COLUMNS = (
    "id", "kind", "impl", "device", "precision", "model", "sizes", "parameters", "batch_size", "dtype",
    "optimizer", "loss", "threads", "status", "reason", "steps_per_block", "blocks", "median_s", "q1_s", "q3_s",
    "iqr_fraction", "noisy", "samples_per_s", "flop_per_step", "flop_per_s", "peak_key", "peak_flop_per_s",
    "efficiency", "bytes", "bytes_per_s",
)


class ResultsError(ValueError):
    """A results file that cannot be read or is not a benchmark result."""


def cell_id(kind: str, impl: str, model: str, dtype: str, optimizer: str | None, batch_size: int) -> str:
    parts = ["h2d" if kind == "h2d_transfer" else "step", impl, model, dtype]
    if optimizer is not None:
        parts.append(optimizer)
    parts.append(f"b{batch_size}")
    return "/".join(parts)


def cell_file_name(identifier: str) -> str:
    """A file name for a cell id: path separators and anything unusual become '_'."""
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", identifier) + ".json"


def write_cell(run_dir: Path, cell: dict) -> Path:
    return write_json_atomic(Path(run_dir) / CELLS_DIR / cell_file_name(cell["id"]), cell)


def read_cells(run_dir: Path) -> dict[str, dict]:
    """Finished cells of an interrupted or earlier run, by id (unreadable files are ignored)."""
    cells = {}
    for path in sorted((Path(run_dir) / CELLS_DIR).glob("*.json")):
        try:
            cell = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(cell, dict) and "id" in cell and cell.get("status") in STATUSES:
            cells[cell["id"]] = cell
    return cells


def clear_run_files(run_dir: Path) -> None:
    """Remove the cell and peak files of an earlier run in `run_dir` (a fresh run, not --resume)."""
    for sub in (CELLS_DIR, PEAKS_DIR):
        for path in (Path(run_dir) / sub).glob("*.json"):
            path.unlink()


def write_peak(run_dir: Path, peak: dict) -> Path:
    return write_json_atomic(Path(run_dir) / PEAKS_DIR / cell_file_name(peak["key"]), peak)


def read_peaks(run_dir: Path) -> dict[str, dict]:
    peaks = {}
    for path in sorted((Path(run_dir) / PEAKS_DIR).glob("*.json")):
        try:
            peak = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(peak, dict) and "key" in peak:
            peaks[peak["key"]] = peak
    return peaks


def write_aggregate(run_dir: Path, results: dict) -> Path:
    return write_json_atomic(Path(run_dir) / AGGREGATE, results)


def load_results(path: str | Path) -> dict:
    """Read a bench.json (or the bench.json inside a run directory); ResultsError with one line otherwise."""
    path = Path(path)
    if path.is_dir():
        path = path / AGGREGATE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultsError(f"no such results file: {path}") from None
    except (OSError, ValueError) as error:
        raise ResultsError(f"cannot read {path}: {error}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("cells"), list):
        raise ResultsError(f"{path} is not a benchmark result (expected schema {SCHEMA!r})")
    return data


def csv_text(cells: Iterable[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for cell in cells:
        row = dict(cell)
        row["sizes"] = "-".join(str(s) for s in cell.get("sizes", []))
        row["blocks"] = len(cell.get("block_seconds") or [])
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in CSV_COLUMNS})
    return buffer.getvalue()


def write_csv(path: Path, cells: Iterable[dict[str, Any]]) -> Path:
    return write_text_atomic(path, csv_text(cells))
