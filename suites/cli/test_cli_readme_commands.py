"""The README's command block runs as printed, and its vocabulary table is the vocabulary.

Every line of the block is one test, `test_readme_command_runs_as_printed[NN-...]`, collected from README.md,
so a line added to the block is a test without anyone writing it. How each kind of line is proven:

- `mlpbench` lines (`--version`, `list`, `list --names`, both `check` lines, `bench --quick`, `report`) run as
  printed: the same words with bash in the checkout, the README's `.venv/bin/` standing for this interpreter's
  environment and `reports/` for a reports folder of this session (instead of the checkout's reports/), and
  must exit 0. They run through `shared_runs` (suites/cli/conftest.py): once per session whichever test asks
  first, the others reading that run. `mlpbench list` is also what test_cli_list.py asserts on and
  `mlpbench check --impl torch-cpu --report-dir reports/check-torch-cpu` the run whose reports test_cli_check.py
  reads (each of those tests names the same line), so those commands run once for all of them, as printed,
  instead of once here and again in-process there.
- A line that reads what an earlier line wrote runs after it, as in a shell: `mlpbench report
  reports/bench/bench.json` follows the `bench --quick --out reports/bench` line (an earlier line whose --out
  or --report-dir folder the line names).
- `python -m pytest` lines are collected (`--collect-only`), not run: running them would run this test again
  (the full-suite line) and the suites they name are run by the session itself; collecting proves that the
  paths, the options and the --mlpbench-impl name are accepted (-n auto is parsed; under --collect-only pytest-xdist
  starts no workers) and that the tests collect, implementations loaded for their claims included.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from mlpbench.impls.capabilities import vocabulary_markdown

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def command_block() -> list[str]:
    match = re.search(r"<!-- command-block -->\s*```bash\n(.*?)```", README, flags=re.DOTALL)
    assert match, "README.md has no command block after <!-- command-block -->"
    lines = [re.split(r"\s#\s", line, maxsplit=1)[0].strip() for line in match.group(1).splitlines()]
    return [line for line in lines if line]


LINES = command_block()


def runs_pytest(line: str) -> bool:
    return shlex.split(line)[1:3] == ["-m", "pytest"]


def written_folders(line: str) -> list[str]:
    """The folders a line writes into (its --out and --report-dir values)."""
    words = shlex.split(line)
    return [value for option, value in zip(words, words[1:]) if option in ("--out", "--report-dir")]


def prerequisites(index: int) -> list[str]:
    """The earlier lines that write a folder this line names (the report line reads the bench line's run)."""
    words = shlex.split(LINES[index])
    return [earlier for earlier in LINES[:index] if not runs_pytest(earlier) and any(
        word == folder or word.startswith(folder.rstrip("/") + "/") for folder in written_folders(earlier)
        for word in words if word not in written_folders(LINES[index]))]


def line_id(index: int, line: str) -> str:
    words = [re.sub(r"[^A-Za-z0-9_.*-]+", "_", word).strip("-_") for word in shlex.split(line)[1:6]]
    return f"{index + 1:02d}-" + "-".join(word for word in words if word)


@pytest.mark.parametrize("index", range(len(LINES)), ids=[line_id(i, line) for i, line in enumerate(LINES)])
def test_readme_command_runs_as_printed(index: int, shared_runs) -> None:
    line = LINES[index]
    if runs_pytest(line):
        command = shared_runs.as_run_here(line) + " --collect-only"
        completed = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert completed.returncode == 0, f"{line}\n{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}"
        assert re.search(r"\d+ tests? collected|collected \d+ items?", completed.stdout), completed.stdout[-500:]
        return
    for earlier in prerequisites(index):
        before = shared_runs.run(earlier)
        assert before.returncode == 0, before.describe()
    ran = shared_runs.run(line)
    assert ran.returncode == 0, ran.describe()


def test_the_report_line_reads_the_bench_lines_run() -> None:
    """The ordering rule above finds the one dependency the block has (a guard on `prerequisites`)."""
    report = next((i for i, line in enumerate(LINES) if shlex.split(line)[1:2] == ["report"]), None)
    if report is None:
        pytest.skip("the command block has no `mlpbench report` line")
    assert [shlex.split(line)[1] for line in prerequisites(report)] == ["bench"]
    assert all(not prerequisites(i) for i, line in enumerate(LINES) if shlex.split(line)[1:2] != ["report"])


def test_readme_vocabulary_table_is_the_vocabulary() -> None:
    match = re.search(r"<!-- vocabulary-table -->\n(.*?)\n<!-- end vocabulary-table -->", README, flags=re.DOTALL)
    assert match, "README.md has no vocabulary table"
    assert match.group(1) == vocabulary_markdown()
