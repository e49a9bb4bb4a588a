"""The implementation's own initializers: range, mean and variance within bounds of false-failure probability 1e-6.

Runs the same check functions as `mlpbench check` (mlpbench.checks), one test per catalogue case, selected
implementation and claimed dtype; the assertion message is the check's diagnostic.
"""

from __future__ import annotations

import pytest

from mlpbench.checks.engine import run_case
from mlpbench.results import NOT_CLAIMED, SKIPPED

AREA = "init"


def test_initializer_statistics(conformance_check) -> None:
    item = conformance_check
    result = run_case(item.impl, item.case, item.dtype, impl_label=item.label)
    if result.verdict in (NOT_CLAIMED, SKIPPED):
        pytest.skip(f"{item.label}: {result.message}")
    assert result.passed, result.message
