"""Every mutant (torch-cpu with one injected bug) fails `mlpbench check`, in the area it breaks.

This is what proves the conformance suite can fail: a gate that passes a mutant has a blind spot. Each mutant
is checked on the area it breaks (`--area`), which is the whole claim of the test: a failure there. The gate
itself runs in-process; the mutant runs in its supervised worker, a fresh one per mutant (a mutant must not
inherit another's state), forked from the session's worker server, which has imported torch and
torch._dynamo once (suites/conftest.py, mlpbench.isolation.supervisor.preload_for): a mutant costs its checks,
not a framework import. The data-parallel mutants also start their two rank processes, each a fresh
interpreter (mlpbench.impls.ddp_pool), which is most of their time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlpbench.cli import main
from mlpbench.impls.registry import entries

MUTANTS = [entry for entry in entries() if entry.kind == "mutant"]


def test_there_are_mutants_to_check() -> None:
    pytest.importorskip("torch")
    assert len(MUTANTS) >= 16


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_fails_check_in_the_area_it_breaks(mutant, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    code = main(["check", "--impl", mutant.name, "--area", mutant.breaks, "--report-dir", str(tmp_path), "--quiet",
                 "--timeout", "30"])
    assert code == 1, f"{mutant.name} ({mutant.description}) passed the conformance gate"
    report = json.loads((tmp_path / "conformance.json").read_text())
    failed_areas = {area for area, counts in report["summary"].items() if counts["failed"]}
    assert mutant.breaks in failed_areas, (
        f"{mutant.name} should fail in {mutant.breaks!r}; failed areas: {sorted(failed_areas)}"
    )
