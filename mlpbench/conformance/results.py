"""The values a conformance run produces: one `Comparison` per compared quantity, one `CheckResult` per check.

Verdicts: "pass", "fail", "error" (the suite itself failed; counted as a failure), "not claimed" (the
implementation does not claim the capability; never a failure) and "skipped" (cannot run here, with a reason).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlpbench.verdicts import FAILING, Verdict

PASS, FAIL, ERROR = Verdict.PASS, Verdict.FAIL, Verdict.ERROR
NOT_CLAIMED, SKIPPED = Verdict.NOT_CLAIMED, Verdict.SKIPPED
VERDICTS = (PASS, FAIL, ERROR, NOT_CLAIMED, SKIPPED)
"""A check's verdicts (mlpbench.verdicts holds the one vocabulary)."""
FAILING_VERDICTS = FAILING


@dataclass
class Comparison:
    """One quantity compared against the oracle.

    headroom = max over elements of |actual - expected| / (atol + rtol * |expected|); <= 1 passes.
    A structural problem (wrong shape or dtype, NaN where the oracle gives a number or an infinity, not an
    array) fails with `problem` set and headroom infinite.
    """

    quantity: str
    passed: bool
    worst_abs: float
    worst_rel: float
    rtol: float
    atol: float
    headroom: float
    tolerance_reason: str = ""
    problem: str = ""
    worst_index: tuple[int, ...] | None = None
    # the values at the element with the worst error/tolerance ratio (None when nothing was compared)
    actual_at_worst: float | None = None
    expected_at_worst: float | None = None
    # the inputs of an elementwise computation at that same element, e.g. {"x": -1e-07}
    inputs_at_worst: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        """One line: what differs, by how much, where, against which tolerance."""
        where = self.describe_worst()
        if self.problem:
            return f"{self.quantity}: {self.problem}" + (f" ({where})" if where else "")
        return (
            f"{self.quantity}: worst abs error {self.worst_abs:.3g}, "
            f"worst rel error {self.worst_rel:.3g}" + (f"; {where}" if where else "") + "; "
            f"tolerance rtol={self.rtol:.3g} atol={self.atol:.3g} ({self.tolerance_reason}); "
            f"headroom {self.headroom:.3g}"
        )

    def describe_worst(self) -> str:
        """'at index (3, 1): actual 0.5, expected 0.25, inputs x=-1e-07', or '' when no value is known."""
        if self.actual_at_worst is None and self.expected_at_worst is None:
            return f"at index {self.worst_index}" if self.worst_index else ""
        parts = [f"actual {self.actual_at_worst!r}", f"expected {self.expected_at_worst!r}"]
        if self.inputs_at_worst:
            parts.append("inputs " + ", ".join(f"{k}={v!r}" for k, v in self.inputs_at_worst.items()))
        prefix = f"at index {self.worst_index}: " if self.worst_index else ""
        return prefix + ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "quantity": self.quantity,
            "passed": self.passed,
            "worst_abs": self.worst_abs,
            "worst_rel": self.worst_rel,
            "rtol": self.rtol,
            "atol": self.atol,
            "headroom": self.headroom,
            "tolerance_reason": self.tolerance_reason,
            "problem": self.problem,
            "worst_index": list(self.worst_index) if self.worst_index else None,
            "actual_at_worst": self.actual_at_worst,
            "expected_at_worst": self.expected_at_worst,
            "inputs_at_worst": dict(self.inputs_at_worst),
        }


@dataclass
class CheckResult:
    """The outcome of one check: one catalogue case for one implementation in one dtype."""

    area: str
    case_id: str
    impl: str
    dtype: str
    verdict: str
    message: str = ""
    comparisons: list[Comparison] = field(default_factory=list)
    duration_s: float = 0.0
    repro_path: str | None = None
    repro_command: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    # the inputs a failure is reproduced from (name -> array): `write_reports` saves them, with the case's
    # description (`details["case"]` when given, else the catalogue's entry for `case_id`), as
    # repro/<case>__<dtype>.npz and sets `repro_path`; they are not serialised into the reports themselves
    inputs: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def passed(self) -> bool:
        """True unless the check failed or errored (not claimed and skipped count as not failing)."""
        return self.verdict not in FAILING_VERDICTS

    @property
    def failed(self) -> bool:
        return self.verdict in FAILING_VERDICTS

    @property
    def worst_headroom(self) -> float | None:
        """The largest error/tolerance ratio over the comparisons (None when nothing was compared)."""
        values = [c.headroom for c in self.comparisons]
        return max(values) if values else None

    def diagnostic(self) -> str:
        """A failure as a test report shows it (JUnit's failure text, a pytest item's report): the one-line
        message (the first diverging quantity and the command that reproduces it), then a line per quantity
        that differs with its worst errors, tolerance and headroom."""
        return "\n".join([self.message, *(c.describe() for c in self.comparisons if not c.passed)])

    def to_dict(self) -> dict[str, Any]:
        headroom = self.worst_headroom
        return {
            "area": self.area,
            "case": self.case_id,
            "impl": self.impl,
            "dtype": self.dtype,
            "verdict": self.verdict,
            "message": self.message,
            "worst_headroom": headroom,
            "duration_s": round(self.duration_s, 6),
            "repro_path": self.repro_path,
            "repro_command": self.repro_command,
            "details": self.details,
            "comparisons": [c.to_dict() for c in self.comparisons],
        }


def format_headroom(value: float | None) -> str:
    """Headroom for tables: '-' when nothing was compared, 'inf' for structural failures."""
    if value is None:
        return "-"
    if math.isinf(value) or math.isnan(value):
        return str(value)
    return f"{value:.3g}"
