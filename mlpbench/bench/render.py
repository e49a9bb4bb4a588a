"""Writing the human-readable files of a run: bench.md, bench.csv and the PNG plots."""

from __future__ import annotations

from pathlib import Path

from mlpbench.bench.records import BenchResults
from mlpbench.bench.results import csv_text
from mlpbench.bench.tables import markdown_report
from mlpbench.output.folder import OwnedFolder, owned_folder
from mlpbench.output.manifest import BENCH

MARKDOWN = "bench.md"
CSV = "bench.csv"
RENDERED = (MARKDOWN, CSV)
"""The files every rendering writes (the plots are `mlpbench.bench.plots.PLOTS`)."""


def render_run(run_dir: Path | OwnedFolder, results: BenchResults) -> list[Path]:
    """bench.md, bench.csv and the plots in run_dir (a path, or the run's open output folder); returns the
    paths written."""
    with owned_folder(run_dir, BENCH) as folder:
        written = [folder.write_text(CSV, csv_text(results.cells))]
        try:
            from mlpbench.bench.plots import write_plots

            plots = write_plots(folder, results)
        except ImportError:  # matplotlib is optional (extra "plots")
            plots = []
        written += [folder.path / name for name in plots]
        written.append(folder.write_text(MARKDOWN, markdown_report(results, plots)))
    return written
