"""Conformance of every selected implementation: one test per catalogue case (with the coverage cases that
follow the implementation's claim), selected implementation and claimed dtype, run through the same
supervised worker as `mlpbench check`. The assertion message is the check's diagnostic; a case the
implementation does not claim, or that cannot run here, is a skip with the reason."""

from __future__ import annotations

import pytest

from mlpbench.conformance.checks.engine import run_case
from mlpbench.conformance.results import NOT_CLAIMED, SKIPPED


def test_conformance(conformance_check, impl_workers) -> None:
    item = conformance_check
    if item.broken:
        pytest.fail(item.broken)
    result = run_case(impl_workers(item.label), item.case, item.dtype)
    if result.verdict in (NOT_CLAIMED, SKIPPED):
        pytest.skip(f"{item.label}: {result.message}")
    assert result.passed, result.message
