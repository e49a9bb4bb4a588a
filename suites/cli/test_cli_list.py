"""`mlpbench list`: one line per registered implementation with kind, device, dtypes and availability.

The plain listing is the README's `.venv/bin/mlpbench list`, run once per session as printed (the console
script, in a subprocess; see suites/cli/conftest.py) and read by the README's command-block test and the two
tests here; `--no-mutants` runs in-process.
"""

from __future__ import annotations

import pytest

from mlpbench.cli import main
from mlpbench.impls.registry import entries

LIST = ".venv/bin/mlpbench list"  # the README's line


@pytest.fixture
def listed(shared_runs) -> str:
    ran = shared_runs.run(LIST)
    assert ran.returncode == 0, ran.describe()
    return ran.stdout


def test_list_prints_one_line_per_implementation(listed: str) -> None:
    lines = listed.strip().splitlines()
    registered = entries()
    assert len(lines) == len(registered)
    by_name = {line.split()[0]: line for line in lines}
    assert set(by_name) == {e.name for e in registered}
    for entry in registered:
        fields = by_name[entry.name].split()
        assert fields[1] == entry.kind
        assert "available" in by_name[entry.name]
    assert "float32" in by_name["torch-cpu"] and by_name["torch-cpu"].rstrip().endswith("available")
    assert by_name["reference"].split()[2] == "cpu"


def test_list_reports_why_an_implementation_is_unavailable(listed: str) -> None:
    from mlpbench.impls.registry import resolve

    available, reason = resolve("torch-cuda").availability()
    line = next(line for line in listed.splitlines() if line.startswith("torch-cuda "))
    if available:
        assert line.rstrip().endswith("available")
    else:
        assert "unavailable: " in line and reason.split()[0] in line


def test_list_without_mutants(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--no-mutants"]) == 0
    out = capsys.readouterr().out
    assert "torch-cpu" in out
    assert not any(line.split()[1] == "mutant" for line in out.strip().splitlines())
