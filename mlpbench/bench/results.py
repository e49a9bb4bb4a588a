"""The files of a benchmark run directory (schema documented in reports/README.md).

A run directory holds `settings.json` (what the numbers depend on, written before the first cell),
`cells/<cell-file>.json` (one per finished grid cell, written atomically as the cell finishes, so an
interrupted run keeps them and `--resume` under the same settings skips them), `peaks/<key>.json`, and the
aggregate `bench.json`, rendered to `bench.md`, `bench.csv` and PNG plots. Every file is written through the
run directory's `OwnedFolder` (the ownership rule, `mlpbench.output.folder`), which records it in the
directory's manifest.

`load_results` reads a bench.json given to `mlpbench report`: strict JSON of bounded size and nesting, then
typed parsing against the records (`mlpbench.bench.records`, the schema), so that anything else ends as one
ResultsError line naming the field.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path

from mlpbench.atomic import json_text
from mlpbench.bench.records import (
    BenchResults,
    CellResult,
    ConformanceVerdict,
    Peak,
    RecordError,
    RunSettings,
    csv_columns,
)
from mlpbench.output.folder import OwnedFolder
from mlpbench.output.names import safe_component
from mlpbench.report_text import csv_cell
from mlpbench.typed_json import SchemaError, load_json

SCHEMA = "mlpbench-bench/2"
AGGREGATE = "bench.json"
SETTINGS = "settings.json"
CONFORMANCE = "conformance.json"
CELLS_DIR = "cells"
PEAKS_DIR = "peaks"
RUN_FILES = (SETTINGS, CONFORMANCE, f"{CELLS_DIR}/", f"{PEAKS_DIR}/")
"""What a fresh run (not --resume) clears of an earlier run: these files, and everything under these folders."""
MAX_RESULTS_BYTES = 256 * 2**20


class ResultsError(ValueError):
    """A results file that cannot be read or is not a benchmark result."""


def cell_file_name(identifier: str) -> str:
    """A file name for a cell id: one safe path component (`mlpbench.output.names`), path separators and
    anything unusual become '_'."""
    return safe_component(identifier, ".json")


def write_cells(folder: OwnedFolder, cells: Iterable[CellResult], results: BenchResults | None = None
                ) -> list[Path]:
    """Each cell's file, and the aggregate bench.json when `results` is given, in one write."""
    contents = {f"{CELLS_DIR}/{cell_file_name(cell.id)}": json_bytes(cell.to_dict()) for cell in cells}
    if results is not None:
        contents[AGGREGATE] = json_bytes(results.to_dict())
    return folder.write_many(contents)


def json_bytes(obj: object) -> bytes:
    return json_text(obj).encode("utf-8")


def _records(directory: Path) -> Iterable[dict]:
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError, RecursionError):
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


def write_peak(folder: OwnedFolder, peak: Peak) -> Path:
    return folder.write_json(f"{PEAKS_DIR}/{cell_file_name(peak.key)}", peak.to_dict())


def read_peaks(run_dir: Path) -> dict[str, Peak]:
    peaks = {}
    for data in _records(Path(run_dir) / PEAKS_DIR):
        try:
            peak = Peak.from_dict(data)
        except RecordError:
            continue
        peaks[peak.key] = peak
    return peaks


def write_settings(folder: OwnedFolder, settings: RunSettings) -> Path:
    return folder.write_json(SETTINGS, settings.to_dict())


def read_settings(run_dir: Path) -> RunSettings | None:
    """The recorded settings of the run in run_dir; None when there is no settings file; ResultsError when it
    cannot be read."""
    path = Path(run_dir) / SETTINGS
    if not path.exists():
        return None
    try:
        return RunSettings.from_dict(load_json(path, MAX_RESULTS_BYTES))
    except (OSError, ValueError) as error:
        raise ResultsError(f"cannot read {path}: {error}") from None


def write_conformance(folder: OwnedFolder, verdicts: Iterable[ConformanceVerdict]) -> Path:
    return folder.write_json(CONFORMANCE, [
        {"impl": v.impl, "dtype": v.dtype, "first_failure": v.first_failure} for v in verdicts])


def read_conformance(run_dir: Path) -> list[ConformanceVerdict]:
    """The quick-check verdicts of the run in run_dir (none when the file is missing or unreadable)."""
    try:
        data = json.loads((Path(run_dir) / CONFORMANCE).read_text())
        return [ConformanceVerdict(str(v["impl"]), str(v["dtype"]), v["first_failure"]) for v in data]
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        return []


def clear_run_files(folder: OwnedFolder) -> list[str]:
    """Remove the settings, conformance, cell and peak files of an earlier run (a fresh run, not --resume):
    only the files the folder's manifest lists, unchanged; return their paths."""
    return folder.remove_where(lambda path: path.startswith(RUN_FILES))


def write_aggregate(folder: OwnedFolder, results: BenchResults) -> Path:
    return folder.write_bytes(AGGREGATE, json_bytes(results.to_dict()))


def load_results(path: str | Path) -> BenchResults:
    """Read a bench.json (or the bench.json inside a run directory) against its schema (the typed records);
    ResultsError with one line naming the problem (the field, for a wrong one) otherwise."""
    path = Path(path)
    if path.is_dir():
        path = path / AGGREGATE
    try:
        data = load_json(path, MAX_RESULTS_BYTES)
    except FileNotFoundError:
        raise ResultsError(f"no such results file: {path}") from None
    except OSError as error:
        raise ResultsError(f"cannot read {path}: {error.strerror or error}") from None
    except SchemaError as error:
        if not path.exists():
            raise ResultsError(f"no such results file: {path}") from None
        raise ResultsError(str(error)) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("cells"), list):
        raise ResultsError(f"{path} is not a benchmark result (expected schema {SCHEMA!r})")
    try:
        return BenchResults.from_dict(data)
    except RecordError as error:
        raise ResultsError(f"{path}: {error}") from None


def csv_text(cells: Iterable[CellResult]) -> str:
    columns = csv_columns()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for cell in cells:
        row = cell.to_dict()
        row["sizes"] = "-".join(str(s) for s in cell.sizes)
        writer.writerow({k: csv_cell("" if row[k] is None else row[k]) for k in columns})
    return buffer.getvalue()
