"""Writing the human-readable files of a run: bench.md, bench.csv and the PNG plots."""

from __future__ import annotations

from pathlib import Path

from mlpbench.atomic import write_text_atomic
from mlpbench.bench.records import BenchResults
from mlpbench.bench.results import write_csv
from mlpbench.bench.tables import markdown_report

MARKDOWN = "bench.md"
CSV = "bench.csv"


def render_run(run_dir: Path, results: BenchResults) -> list[Path]:
    """bench.md, bench.csv and the plots in run_dir; returns the paths written."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    written = [write_csv(run_dir / CSV, results.cells)]
    try:
        from mlpbench.bench.plots import write_plots

        plots = write_plots(run_dir, results)
    except ImportError:  # matplotlib is optional (extra "plots")
        plots = []
    written += [run_dir / name for name in plots]
    written.append(write_text_atomic(run_dir / MARKDOWN, markdown_report(results, plots)))
    return written
