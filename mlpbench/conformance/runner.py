"""The conformance runner: load and validate an implementation, run a selection of cases, tally the results.

Every command that checks an implementation goes through here: `mlpbench check`, `mlpbench matrix` (one
implementation a column), the benchmark's quick check before timing, `mlpbench scaling` before each world
size, and the torchrun ranks (`mlpbench.torchrun`), which tally what they ran the same way.

- `load_implementation(worker)`: build it in its worker and validate what it reports: an unknown name, a claim
  outside the vocabulary or an implementation not available here is a usage error (exit 2); one that fails to
  load or to say what it claims is one failed result (exit 1).
- `run_checks(worker, cases, dtypes)`: every case in every dtype, each check's calls in the worker.
- `Tally.of(results)`: how many checks ran, passed, failed, were not claimed or skipped; zero checks is never
  a pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from mlpbench.catalogue.conformance import Case, select_cases
from mlpbench.conformance.checks.engine import DEFAULT_TIMEOUT, run_case
from mlpbench.conformance.results import ERROR, FAIL, NOT_CLAIMED, PASS, SKIPPED, CheckResult
from mlpbench.errors import UsageError
from mlpbench.impls.capabilities import DEVICES, Capabilities
from mlpbench.isolation.supervisor import Worker, WorkerDied
from mlpbench.isolation.worker import ImplInfo


class NotAvailable(UsageError):
    """The implementation exists but cannot run here (torch-cuda without a GPU): a usage error for a gate
    (`mlpbench check` exits 2), a skip with this reason for a test session (`mlpbench.conformance.items`)."""


def _load_failure(label: str, message: str) -> CheckResult:
    """The one result of a run whose implementation could not be loaded or asked what it claims."""
    return CheckResult(area="implementation", case_id="implementation/load", impl=label, dtype="-",
                       verdict=FAIL, message=message)


def load_implementation(worker: Worker) -> tuple[ImplInfo | None, CheckResult | None]:
    """(info, None) for an implementation ready to check; (info or None, failed result) for one that failed
    to load; UsageError for an unknown name, a claim outside the vocabulary, or one unavailable here."""
    info = worker.load()
    if isinstance(info, WorkerDied):
        return None, _load_failure(worker.label, f"loading the implementation: {info.describe()}")
    if info.unknown:
        raise UsageError(info.unknown)
    if info.load_error:
        return info, _load_failure(worker.label, info.load_error)
    if not info.available:
        raise NotAvailable(f"implementation {info.name!r} is not available here: {info.reason}")
    if info.capabilities is None:
        return info, _load_failure(worker.label, info.capabilities_error)
    problems = info.capabilities.problems()
    if info.device not in DEVICES:
        problems.append(f"unknown device {info.device!r}; known: {', '.join(DEVICES)}")
    if problems:
        raise UsageError(f"implementation {worker.label!r} claims names outside the vocabulary "
                         f"(see `mlpbench list --names`): {'; '.join(problems)}")
    return info, None


def ready_capabilities(info: ImplInfo | None) -> tuple[ImplInfo, Capabilities]:
    """The info and capabilities of an implementation that `load_implementation` returned no failure for."""
    if info is None or info.capabilities is None:
        raise AssertionError("load_implementation returned neither a failure nor an implementation's capabilities")
    return info, info.capabilities



@dataclass(frozen=True)
class Tally:
    """What a run's results add up to."""

    ran: int  # checks that ran to a verdict: passed, failed or errored
    failed: int
    not_claimed: int
    skipped: int

    @property
    def passed(self) -> int:
        return self.ran - self.failed

    @property
    def conforms(self) -> bool:
        """Shown to conform: at least one check ran and none failed."""
        return self.ran > 0 and self.failed == 0

    @classmethod
    def of(cls, results: Iterable[CheckResult]) -> Tally:
        results = list(results)
        return cls(ran=sum(r.verdict in (PASS, FAIL, ERROR) for r in results),
                   failed=sum(r.failed for r in results),
                   not_claimed=sum(r.verdict == NOT_CLAIMED for r in results),
                   skipped=sum(r.verdict == SKIPPED for r in results))


def run_checks(
    worker: Worker,
    cases: Iterable[Case],
    dtypes: Iterable[str],
    *,
    timeout: float | None = DEFAULT_TIMEOUT,
    impl_name: str | None = None,
    report_dir: str | Path | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
) -> list[CheckResult]:
    """Every case in every dtype, each in the implementation's supervised worker, in order."""
    results = []
    dtypes = list(dtypes)
    for case in cases:
        for dtype in dtypes:
            result = run_case(worker, case, dtype, timeout=timeout, impl_name=impl_name, report_dir=report_dir)
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results


def quick_check(worker: Worker, caps: Capabilities, dtype: str, *, timeout: float | None = DEFAULT_TIMEOUT
                ) -> list[CheckResult]:
    """The quick conformance check before timing: a few activations and losses, one network's forward and
    backward, each claimed optimizer without options, two training runs; well under a second for torch-cpu.
    Callers time only configurations whose results all have `passed` true."""
    return run_checks(worker, select_cases(quick_only=True, caps=caps), [dtype], timeout=timeout)

