"""The README's command block runs as printed, and its vocabulary table is the vocabulary."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

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


def test_readme_command_block_runs_as_printed(tmp_path: Path) -> None:
    """Each line in order (the report line reads what the bench line wrote), reports under a temporary folder
    instead of the checkout's reports/, pytest lines collected rather than run (they would recurse)."""
    for line in command_block():
        words = shlex.split(line)
        runs_pytest = words[1:3] == ["-m", "pytest"]
        command = as_run_here(line).replace("reports/", f"{tmp_path}/reports/")
        if runs_pytest:
            command += " --collect-only"
        completed = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert completed.returncode == 0, f"{line}\n{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}"
        if runs_pytest:
            assert re.search(r"\d+ tests? collected|collected \d+ items?", completed.stdout), completed.stdout[-500:]


def test_readme_vocabulary_table_is_the_vocabulary() -> None:
    match = re.search(r"<!-- vocabulary-table -->\n(.*?)\n<!-- end vocabulary-table -->", README, flags=re.DOTALL)
    assert match, "README.md has no vocabulary table"
    assert match.group(1) == vocabulary_markdown()
