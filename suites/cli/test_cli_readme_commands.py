"""The README's command block runs as printed, and its vocabulary table is the vocabulary."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from impls.capabilities import vocabulary_markdown

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def command_block() -> list[str]:
    match = re.search(r"<!-- command-block -->\s*```bash\n(.*?)```", README, flags=re.DOTALL)
    assert match, "README.md has no command block after <!-- command-block -->"
    lines = [re.split(r"\s#\s", line, maxsplit=1)[0].strip() for line in match.group(1).splitlines()]
    return [line for line in lines if line]


def as_run_here(line: str) -> str:
    """The line with the README's `.venv/bin/` standing for this interpreter's environment."""
    return line.replace(".venv/bin/", f"{Path(sys.executable).parent}/")


@pytest.mark.parametrize("line", command_block())
def test_readme_command_runs_as_printed(line: str, tmp_path: Path) -> None:
    words = shlex.split(line)
    runs_pytest = words[1:3] == ["-m", "pytest"]
    command = as_run_here(line)
    if runs_pytest:  # running the suites from inside the suites would recurse: collect them instead
        command += " --collect-only"
    if "--report-dir" in words:  # keep the checkout clean: the same command, reports in a temporary folder
        command = command.replace(words[words.index("--report-dir") + 1], str(tmp_path / "check"))
    completed = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, f"{line}\n{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}"
    if runs_pytest:
        assert re.search(r"\d+ tests? collected|collected \d+ items?", completed.stdout), completed.stdout[-500:]


def test_readme_vocabulary_table_is_the_vocabulary() -> None:
    match = re.search(r"<!-- vocabulary-table -->\n(.*?)\n<!-- end vocabulary-table -->", README, flags=re.DOTALL)
    assert match, "README.md has no vocabulary table"
    assert match.group(1) == vocabulary_markdown()
