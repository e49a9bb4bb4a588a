"""A CUDA implementation agrees with its CPU counterpart (skipped without CUDA).

Runs the same check functions as `mlpbench check` (mlpbench.checks), one test per catalogue case, selected
implementation and claimed dtype; the assertion message is the check's diagnostic.
"""

from __future__ import annotations

import pytest

from mlpbench.checks.engine import run_case
from mlpbench.results import NOT_CLAIMED, SKIPPED

AREA = "devices"


def test_cpu_cuda_agreement(conformance_check) -> None:
    item = conformance_check
    result = run_case(item.impl, item.case, item.dtype, impl_label=item.label)
    if result.verdict in (NOT_CLAIMED, SKIPPED):
        pytest.skip(f"{item.label}: {result.message}")
    assert result.passed, result.message
