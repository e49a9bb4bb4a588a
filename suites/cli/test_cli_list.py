"""`mlpbench list`: a header row, then one line per registered implementation with kind, device, dtypes and
availability; `--json`, the same as a list of objects.

The plain listing is the README's `.venv/bin/mlpbench list`, run once per session as printed (the console
script, in a subprocess; see suites/cli/conftest.py) and read by the README's command-block test and the two
tests here; `--no-mutants` runs in-process.
"""

from __future__ import annotations

import json

import pytest

from mlpbench.cli import main
from mlpbench.commands.list_command import HEADER
from mlpbench.impls.registry import entries

LIST = ".venv/bin/mlpbench list"  # the README's line


@pytest.fixture
def listed(shared_runs) -> str:
    ran = shared_runs.run(LIST)
    assert ran.returncode == 0, ran.describe()
    return ran.stdout


def test_list_prints_a_header_and_one_line_per_implementation(listed: str) -> None:
    header, *lines = listed.strip().splitlines()
    assert header.split() == list(HEADER)
    assert header.index("KIND") == lines[0].index("built-in")  # the columns line up under the header
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


def test_list_without_mutants_as_json_agrees_with_the_registry_and_the_table(
    capsys: pytest.CaptureFixture[str], listed: str
) -> None:
    assert main(["list", "--no-mutants", "--json"]) == 0
    objects = json.loads(capsys.readouterr().out)
    registered = entries(include_mutants=False)
    assert [o["name"] for o in objects] == [e.name for e in registered]
    keys = ["name", "kind", "device", "dtypes", "available", "reason", "description", "breaks"]
    assert all(list(o) == keys for o in objects)
    table = {line.split()[0]: line for line in listed.strip().splitlines()[1:]}
    for entry, listed_object in zip(registered, objects):
        assert listed_object["kind"] == entry.kind != "mutant"
        assert listed_object["description"] == entry.description
        assert isinstance(listed_object["available"], bool)
        assert (listed_object["reason"] == "") == listed_object["available"]
        fields = table[entry.name].split()
        assert fields[2] == listed_object["device"]
        assert fields[3] == (",".join(listed_object["dtypes"]) or "-")
        assert (fields[4] == "available") == listed_object["available"]
