"""The files of a benchmark run directory (schema documented in reports/README.md).

A run directory holds `settings.json` (what the numbers depend on, written before the first cell),
`cells/<cell-file>.json` (one per finished grid cell, written atomically as the cell finishes, so an
interrupted run keeps them and `--resume` under the same settings skips them), `peaks/<key>.json`, and the
aggregate `bench.json`, rendered to `bench.md`, `bench.csv` and PNG plots.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from pathlib import Path

from mlpbench.atomic import write_json_atomic, write_text_atomic
from mlpbench.bench.records import (
    BenchResults,
    CellResult,
    ConformanceVerdict,
    Peak,
    RecordError,
    RunSettings,
    csv_columns,
)

SCHEMA = "mlpbench-bench/2"
AGGREGATE = "bench.json"
SETTINGS = "settings.json"
CONFORMANCE = "conformance.json"
CELLS_DIR = "cells"
PEAKS_DIR = "peaks"
SPREADSHEET_FORMULA_STARTS = ("=", "+", "-", "@")


class ResultsError(ValueError):
    """A results file that cannot be read or is not a benchmark result."""


def cell_file_name(identifier: str) -> str:
    """A file name for a cell id: path separators and anything unusual become '_'."""
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", identifier) + ".json"


def write_cell(run_dir: Path, cell: CellResult) -> Path:
    return write_json_atomic(Path(run_dir) / CELLS_DIR / cell_file_name(cell.id), cell.to_dict())


def _records(directory: Path) -> Iterable[dict]:
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            yield data


def read_cells(run_dir: Path) -> dict[str, CellResult]:
    """Finished cells of an interrupted or earlier run, by id (unreadable files are ignored)."""
    cells = {}
    for data in _records(Path(run_dir) / CELLS_DIR):
        try:
            cell = CellResult.from_dict(data)
        except RecordError:
            continue
        cells[cell.id] = cell
    return cells


def has_cell_files(run_dir: Path) -> bool:
    return any((Path(run_dir) / CELLS_DIR).glob("*.json"))


def write_peak(run_dir: Path, peak: Peak) -> Path:
    return write_json_atomic(Path(run_dir) / PEAKS_DIR / cell_file_name(peak.key), peak.to_dict())


def read_peaks(run_dir: Path) -> dict[str, Peak]:
    peaks = {}
    for data in _records(Path(run_dir) / PEAKS_DIR):
        try:
            peak = Peak.from_dict(data)
        except RecordError:
            continue
        peaks[peak.key] = peak
    return peaks


def write_settings(run_dir: Path, settings: RunSettings) -> Path:
    return write_json_atomic(Path(run_dir) / SETTINGS, settings.to_dict())


def read_settings(run_dir: Path) -> RunSettings | None:
    """The recorded settings of the run in run_dir; None when there is no settings file; ResultsError when it
    cannot be read."""
    path = Path(run_dir) / SETTINGS
    if not path.exists():
        return None
    try:
        return RunSettings.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError) as error:
        raise ResultsError(f"cannot read {path}: {error}") from None


def write_conformance(run_dir: Path, verdicts: Iterable[ConformanceVerdict]) -> Path:
    return write_json_atomic(Path(run_dir) / CONFORMANCE, [
        {"impl": v.impl, "dtype": v.dtype, "first_failure": v.first_failure} for v in verdicts])


def read_conformance(run_dir: Path) -> list[ConformanceVerdict]:
    """The quick-check verdicts of the run in run_dir (none when the file is missing or unreadable)."""
    try:
        data = json.loads((Path(run_dir) / CONFORMANCE).read_text())
        return [ConformanceVerdict(str(v["impl"]), str(v["dtype"]), v["first_failure"]) for v in data]
    except (OSError, ValueError, TypeError, KeyError):
        return []


def clear_run_files(run_dir: Path) -> None:
    """Remove the cell, peak, settings and conformance files of an earlier run in `run_dir` (a fresh run, not
    --resume)."""
    for sub in (CELLS_DIR, PEAKS_DIR):
        for path in (Path(run_dir) / sub).glob("*.json"):
            path.unlink()
    for name in (SETTINGS, CONFORMANCE):
        (Path(run_dir) / name).unlink(missing_ok=True)


def write_aggregate(run_dir: Path, results: BenchResults) -> Path:
    return write_json_atomic(Path(run_dir) / AGGREGATE, results.to_dict())


def load_results(path: str | Path) -> BenchResults:
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
    try:
        return BenchResults.from_dict(data)
    except RecordError as error:
        raise ResultsError(f"{path}: {error}") from None


def spreadsheet_safe(value: object) -> object:
    """Text that a spreadsheet would read as a formula (it begins with =, +, - or @) gets a leading '."""
    if isinstance(value, str) and value.startswith(SPREADSHEET_FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(cells: Iterable[CellResult]) -> str:
    columns = csv_columns()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for cell in cells:
        row = cell.to_dict()
        row["sizes"] = "-".join(str(s) for s in cell.sizes)
        writer.writerow({k: spreadsheet_safe("" if row[k] is None else row[k]) for k in columns})
    return buffer.getvalue()


def write_csv(path: Path, cells: Iterable[CellResult]) -> Path:
    return write_text_atomic(path, csv_text(cells))
