"""The one verdict vocabulary: what a check, a capability area and a benchmark cell can come to.

A check passes, fails, errs (the suite's own code failed: counted as a failure), is not claimed (never a
failure) or is skipped (cannot run here, with the reason). A capability area takes the verdict of its checks
(FAIL if any failed, else pass if any passed, else skipped, else not claimed). A benchmark cell is timed
(OK), or not, for one of the reasons below: its implementation is unavailable here or does not conform
(NOT_CONFORMING: the quick conformance check failed, so it is never timed), it is skipped (over the budget,
not claimed) or its measurement failed (ERROR). The values are the strings every report and results file
holds.
"""

from __future__ import annotations

from enum import Enum


class Verdict(str, Enum):
    # checks and capability areas
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    NOT_CLAIMED = "not claimed"
    SKIPPED = "skipped"
    # benchmark cells (SKIPPED and ERROR as above)
    OK = "ok"
    UNAVAILABLE = "unavailable"
    NOT_CONFORMING = "not_conforming"

    def __str__(self) -> str:  # "pass", not "Verdict.PASS", in f-strings and reports
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    @property
    def text(self) -> str:
        """For people: 'not conforming'."""
        return self.value.replace("_", " ")

    @property
    def shouted(self) -> str:
        """An area's verdict in a summary line or table: a failure in capitals (FAIL), the rest as they are."""
        return "FAIL" if self is Verdict.FAIL else self.value


FAILING = frozenset({Verdict.FAIL, Verdict.ERROR})
"""The verdicts that fail a run."""
