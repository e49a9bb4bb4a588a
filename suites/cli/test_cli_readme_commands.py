"""Every command the README and docs/ show runs as printed, and the vocabulary table is the vocabulary.

Every line of every command block (a fenced `bash` block right after `<!-- command-block -->`) of README.md and
of each page in docs/ is one test, `test_command_runs_as_printed[PAGE-NN-...]`, so a line added to a block is a
test without anyone writing it. How each kind of line is proven:

- `mlpbench` lines run as printed: the same words with bash in the checkout, the pages' `.venv/bin/` standing
  for this interpreter's environment and `reports/` for a reports folder of this session (instead of the
  checkout's reports/), and must exit 0, or the status the line's comment states first (`# exit 1: ...`, for a
  line that shows a failure). They run through `shared_runs` (suites/cli/conftest.py): once per session
  whichever test asks first, the others reading that run. A line shown on two pages is run once. `mlpbench
  list` is also what test_cli_list.py asserts on and `mlpbench check --impl torch-cpu --report-dir
  reports/check-torch-cpu` the run whose reports test_cli_check.py reads (each of those tests names the same
  line), so those commands run once for all of them, as printed, instead of once here and again in-process
  there.
- A line that reads what an earlier line of its page wrote runs after it, as in a shell: `mlpbench report
  reports/bench/bench.json` follows the `bench --quick --out reports/bench` line (an earlier line whose --out
  or --report-dir folder the line names).
- `python -m pytest` lines are collected (`--collect-only`), not run: running them would run this test again
  (the full-suite line) and the suites they name are run by the session itself; collecting proves that the
  paths, the options and the implementation's name are accepted (-n auto is parsed; under --collect-only
  pytest-xdist starts no workers) and that the tests collect, implementations loaded for their claims included.

Outside the command blocks a page shows a `bash` block only in two forms: the README's set-up block (which
`.ci/run` runs as printed), or after `<!-- not-run: REASON -->` naming the test that proves the block another
way (torchrun across two nodes); `test_every_bash_block_is_run_or_says_what_proves_it` holds every page to it.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlpbench.impls.capabilities import vocabulary_markdown

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
VOCABULARY_PAGE = ROOT / "docs" / "conformance.md"
FENCE = re.compile(r"^```bash\n(.*?)^```", flags=re.DOTALL | re.MULTILINE)


@dataclass(frozen=True)
class Line:
    """One command line of a page's command blocks."""

    page: str  # relative to the checkout: "README.md", "docs/benchmarks.md"
    index: int  # within the page, from 0
    command: str  # as printed, without its comment
    exit: int  # the status it must end with


def page_name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def command_lines(text: str, page: str) -> list[Line]:
    """The lines of every command block of one page, in order (a comment after ` # ` is not run)."""
    lines: list[Line] = []
    for block in re.findall(r"<!-- command-block -->\s*```bash\n(.*?)```", text, flags=re.DOTALL):
        for printed in block.splitlines():
            command, comment = ([*re.split(r"\s#\s", printed, maxsplit=1), ""])[:2]
            if not command.strip():
                continue
            stated = re.match(r"exit (\d+)\b", comment.strip())
            lines.append(Line(page, len(lines), command.strip(), int(stated.group(1)) if stated else 0))
    return lines


LINES = [line for path in PAGES for line in command_lines(path.read_text(), page_name(path))]
README_LINES = [line for line in LINES if line.page == "README.md"]


def runs_pytest(command: str) -> bool:
    return shlex.split(command)[1:3] == ["-m", "pytest"]


def written_folders(command: str) -> list[str]:
    """The folders a line writes into (its --out and --report-dir values)."""
    words = shlex.split(command)
    return [value for option, value in zip(words, words[1:]) if option in ("--out", "--report-dir")]


def prerequisites(line: Line) -> list[Line]:
    """The earlier lines of its page that write a folder this line names (a report line reads the bench
    line's run)."""
    words = [word for word in shlex.split(line.command) if word not in written_folders(line.command)]
    earlier = [other for other in LINES if other.page == line.page and other.index < line.index]
    return [other for other in earlier if not runs_pytest(other.command) and any(
        word == folder or word.startswith(folder.rstrip("/") + "/")
        for folder in written_folders(other.command) for word in words)]


def line_id(line: Line) -> str:
    page = "README" if line.page == "README.md" else Path(line.page).stem
    words = [re.sub(r"[^A-Za-z0-9_.*-]+", "_", word).strip("-_") for word in shlex.split(line.command)[1:6]]
    return f"{page}-{line.index + 1:02d}-" + "-".join(word for word in words if word)


@pytest.mark.parametrize("line", LINES, ids=[line_id(line) for line in LINES])
def test_command_runs_as_printed(line: Line, shared_runs) -> None:
    if runs_pytest(line.command):
        command = shared_runs.as_run_here(line.command) + " --collect-only"
        # as from a user's shell: not as a worker of this session's pytest-xdist (pytest-benchmark reads
        # PYTEST_XDIST_WORKER and would switch itself off, refusing --benchmark-only)
        shell = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
        completed = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=600,
                                   env=shell)
        assert completed.returncode == 0, f"{line}\n{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}"
        assert re.search(r"\d+ tests? collected|collected \d+ items?", completed.stdout), completed.stdout[-500:]
        return
    for earlier in prerequisites(line):
        before = shared_runs.run(earlier.command)
        assert before.returncode == earlier.exit, before.describe()
    ran = shared_runs.run(line.command)
    assert ran.returncode == line.exit, f"{line.page}: exit {ran.returncode}, expected {line.exit}\n{ran.describe()}"


def test_the_report_line_reads_the_bench_lines_run() -> None:
    """The ordering rule above finds the one dependency the README's block has (a guard on `prerequisites`)."""
    report = next((line for line in README_LINES if shlex.split(line.command)[1:2] == ["report"]), None)
    if report is None:
        pytest.skip("the README's command block has no `mlpbench report` line")
    assert [shlex.split(line.command)[1] for line in prerequisites(report)] == ["bench"]
    assert all(not prerequisites(line) for line in README_LINES if shlex.split(line.command)[1:2] != ["report"])


def test_a_stated_exit_status_is_read_from_the_comment() -> None:
    """`# exit 1: ...` sets the status a line must end with; any other comment leaves it 0."""
    text = ("<!-- command-block -->\n```bash\n"
            ".venv/bin/mlpbench check --impl x   # exit 1: a failure, shown\n"
            "\n"
            ".venv/bin/mlpbench list             # the list: exit 0, 1, 2\n"
            "```\n")
    assert [(line.index, line.command, line.exit) for line in command_lines(text, "page.md")] == [
        (0, ".venv/bin/mlpbench check --impl x", 1), (1, ".venv/bin/mlpbench list", 0)]


def test_every_bash_block_is_run_or_says_what_proves_it() -> None:
    """A `bash` block outside the command blocks is the README's set-up block (run by .ci/run) or follows a
    `<!-- not-run: ... -->` marker that names the test proving it."""
    unproven = []
    for path in PAGES:
        text = path.read_text()
        for match in FENCE.finditer(text):
            before = text[:match.start()].rstrip().splitlines()[-1:] or [""]
            heading = re.findall(r"^## .*$", text[:match.start()], flags=re.MULTILINE)[-1:] or [""]
            if before[0] == "<!-- command-block -->":
                continue
            if path.name == "README.md" and path.parent == ROOT and heading[0] == "## Set-up on a fresh machine":
                continue
            marker = re.fullmatch(r"<!-- not-run: (.+) -->", before[0])
            if marker and re.search(r"suites/\S+\.py", marker.group(1)):
                assert (ROOT / re.search(r"suites/\S+\.py", marker.group(1)).group(0)).is_file(), marker.group(1)
                continue
            unproven.append(f"{page_name(path)}: {match.group(1).splitlines()[0]}")
    assert not unproven, "bash blocks neither run nor proven by a named test:\n" + "\n".join(unproven)


def test_vocabulary_table_is_the_vocabulary() -> None:
    text = VOCABULARY_PAGE.read_text()
    match = re.search(r"<!-- vocabulary-table -->\n(.*?)\n<!-- end vocabulary-table -->", text, flags=re.DOTALL)
    assert match, f"{page_name(VOCABULARY_PAGE)} has no vocabulary table"
    assert match.group(1) == vocabulary_markdown()


def test_the_verdict_the_readme_shows_is_what_its_line_prints(shared_runs) -> None:
    """The README's "Reading a verdict" output is the output of the command line above it (the `reproduce:`
    command, which names this machine's paths, and the run's time left out; this session's reports folder read as
    the README's `reports/`)."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- command-block -->\s*```bash\n([^\n]*check --impl mutant[^\n]*)\n```\n.*?```text\n(.*?)```",
                      readme, flags=re.DOTALL)
    assert match, "README.md shows no mutant's verdict after its command line"
    command = re.split(r"\s#\s", match.group(1), maxsplit=1)[0].strip()
    ran = shared_runs.run(command)
    assert ran.returncode == 1, ran.describe()

    def stable(text: str) -> list[str]:
        return [re.sub(r"(; reproduce: |total time ).*", r"\1", line) for line in text.strip().splitlines()]

    assert stable(match.group(2)) == stable(ran.stdout.replace(str(shared_runs.reports), "reports"))
