"""Without matplotlib (an optional extra), `bench` and `report` write everything but the plots and say so in one
line naming the extra that installs them. For `report`, matplotlib is made unimportable in a subprocess by a
folder, first on PYTHONPATH, whose `matplotlib.py` raises ImportError."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from author_folder import author_env

from mlpbench.bench.command import summary_lines
from mlpbench.bench.render import PLOTS_SKIPPED, plots_skipped
from mlpbench.bench.results import load_results

SAMPLE = Path(__file__).resolve().parents[2] / "reports" / "sample" / "bench.json"
"""A saved benchmark run of the repository's, re-rendered (a copy) by `report`."""


def without_matplotlib(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    blocker = tmp_path / "no-matplotlib"
    blocker.mkdir(exist_ok=True)
    (blocker / "matplotlib.py").write_text("raise ImportError('matplotlib is blocked for this test')\n")
    env = author_env()
    env["PYTHONPATH"] = os.pathsep.join([str(blocker), env["PYTHONPATH"]])
    return subprocess.run([sys.executable, "-m", "mlpbench", *argv], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)


def test_report_says_the_plots_were_skipped_and_which_extra_installs_them(tmp_path: Path) -> None:
    saved = tmp_path / "run" / "bench.json"
    saved.parent.mkdir()
    shutil.copyfile(SAMPLE, saved)
    out = tmp_path / "rendered"
    report = without_matplotlib(tmp_path, "report", str(saved), "--out", str(out))
    assert report.returncode == 0, report.stdout + report.stderr
    assert report.stdout.splitlines().count(PLOTS_SKIPPED) == 1, report.stdout
    assert "pip install 'mlpbench[plots]'" in PLOTS_SKIPPED
    assert (out / "bench.md").exists() and (out / "bench.csv").exists() and not list(out.glob("*.png"))


def test_bench_closes_with_the_same_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`bench` prints `summary_lines` last (a real run takes half a minute here, so its summary is built from
    the saved sample, with matplotlib unimportable in this process: a None in sys.modules)."""
    results = load_results(SAMPLE)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert plots_skipped() == PLOTS_SKIPPED
    assert summary_lines(results, tmp_path)[-1] == PLOTS_SKIPPED


def test_with_matplotlib_nothing_is_said(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    assert plots_skipped() is None
    assert PLOTS_SKIPPED not in summary_lines(load_results(SAMPLE), tmp_path)
