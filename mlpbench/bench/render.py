"""Writing the human-readable files of a run: bench.md, bench.csv and the PNG plots.

The plots need matplotlib, an optional extra: where it cannot be imported they are skipped, and `bench` and
`report` print `PLOTS_SKIPPED`, one line saying so and naming the extra that installs it.
"""

from __future__ import annotations

import importlib
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

PLOTS_SKIPPED = "plots skipped: matplotlib is not installed here; pip install 'mlpbench[plots]' installs it"


def plots_skipped() -> str | None:
    """`PLOTS_SKIPPED` when matplotlib cannot be imported here (the plots are then not drawn), else None."""
    try:
        importlib.import_module("matplotlib")
    except ImportError:
        return PLOTS_SKIPPED
    return None


def render_run(run_dir: Path | OwnedFolder, results: BenchResults) -> list[Path]:
    """bench.md, bench.csv and the plots in run_dir (a path, or the run's open output folder); returns the
    paths written."""
    with owned_folder(run_dir, BENCH) as folder:
        written = [folder.write_text(CSV, csv_text(results.cells))]
        plots: list[str] = []
        if plots_skipped() is None:  # matplotlib is optional (extra "plots")
            from mlpbench.bench.plots import write_plots

            plots = write_plots(folder, results)
        written += [folder.path / name for name in plots]
        written.append(folder.write_text(MARKDOWN, markdown_report(results, plots)))
    return written
