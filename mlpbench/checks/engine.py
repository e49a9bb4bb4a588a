"""Running checks: one case for one implementation in one dtype (`run_case`), a whole selection
(`run_checks`), and the short `quick_check` the benchmark harness runs before timing.

Each check runs in a daemon thread joined with a time limit, so an implementation that hangs fails its check
("timed out after 60 s") and the run goes on. Whatever an implementation does (raise, return NaN or the wrong
shape, modify its inputs) becomes a failed `CheckResult` naming the first diverging quantity; a failure of the
suite's own code is reported with verdict "error" (also counted as a failure).
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path

from impls.interface import Implementation
from mlpbench.catalogue.conformance import CONFORMANCE_DTYPES, Case, select_cases
from mlpbench.checks import (  # noqa: F401  (importing registers the check kinds)
    activations,
    determinism,
    devices,
    dropout,
    early_stopping,
    init,
    losses,
    model,
    optimizers,
    training,
)
from mlpbench.checks.base import CHECK_KINDS, CheckContext, CheckFailed, NotClaimed, Skipped, one_line
from mlpbench.repro import replay_command
from mlpbench.results import ERROR, FAIL, NOT_CLAIMED, PASS, SKIPPED, CheckResult

DEFAULT_TIMEOUT = 60.0
"""Seconds one check may take before it fails as hung."""


def claimed_dtypes(impl: Implementation) -> list[str]:
    """The conformance dtypes the implementation claims, in catalogue order."""
    claimed = impl.capabilities().dtypes
    return [d for d in CONFORMANCE_DTYPES if d in claimed]


def run_case(
    impl: Implementation,
    case: Case,
    dtype: str,
    *,
    timeout: float | None = DEFAULT_TIMEOUT,
    impl_label: str | None = None,
    report_dir: str | Path | None = None,
) -> CheckResult:
    """Run one catalogue case; never raises for anything the implementation does.

    impl_label: the name the implementation was asked for by (used in the replay command).
    report_dir: the run's report directory (the replay command writes its own reports beside it; the
    reports write a failure's inputs, `result.inputs`, as repro/*.npz).
    """
    label = impl_label or impl.name
    result = CheckResult(area=case.area, case_id=case.id, impl=impl.name, dtype=dtype, verdict=PASS)
    started = time.perf_counter()
    try:
        _run_into(result, impl, case, dtype, timeout)
    finally:
        result.duration_s = time.perf_counter() - started
    if result.failed:
        result.repro_command = replay_command(label, case.id, dtype, report_dir)
        result.message += f"; reproduce: {result.repro_command}"
    return result


def _run_into(
    result: CheckResult, impl: Implementation, case: Case, dtype: str, timeout: float | None
) -> None:
    kind = CHECK_KINDS.get(case.kind)
    if kind is None:
        result.verdict, result.message = ERROR, f"no check registered for kind {case.kind!r}"
        return
    try:
        caps = impl.capabilities()
    except Exception as error:
        result.verdict = FAIL
        result.message = f"capabilities() raised {type(error).__name__}: {one_line(error)}"
        return
    if dtype not in caps.dtypes:
        result.verdict, result.message = NOT_CLAIMED, f"not claimed: dtype {dtype}"
        return
    reason = kind.claims(caps, case)
    if reason is not None:
        result.verdict, result.message = NOT_CLAIMED, f"not claimed: {reason}"
        return

    ctx = CheckContext(impl, case, dtype)
    outcome: dict[str, BaseException | None] = {"error": None}

    def body() -> None:
        try:
            kind.run(ctx)
        except BaseException as error:  # reported below, whatever it is
            outcome["error"] = error

    if timeout is None or timeout <= 0:
        body()
    else:
        thread = threading.Thread(target=body, name=f"mlpbench check {case.id} {dtype}", daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            result.verdict = FAIL
            result.message = (
                f"{case.id} [{dtype}]: timed out after {timeout:g} s: the implementation did not return "
                f"(raise the limit with --timeout)"
            )
            result.comparisons = list(ctx.comparisons)
            result.inputs = dict(ctx.inputs)
            return
    result.comparisons = list(ctx.comparisons)
    result.inputs = dict(ctx.inputs)
    result.details.update(ctx.details)
    error = outcome["error"]
    if isinstance(error, NotClaimed):
        result.verdict, result.message = NOT_CLAIMED, f"not claimed: {error}"
    elif isinstance(error, Skipped):
        result.verdict, result.message = SKIPPED, f"skipped: {error}"
    elif isinstance(error, CheckFailed):
        result.verdict, result.message = FAIL, f"{case.id} [{dtype}]: {error}"
    elif error is not None:
        frames = traceback.extract_tb(error.__traceback__)
        where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
        result.verdict = ERROR
        result.message = (
            f"{case.id} [{dtype}]: the check itself raised {type(error).__name__}: {one_line(error)}{where} "
            f"(often a malformed result from the implementation)"
        )
    else:
        failed = [c for c in result.comparisons if not c.passed]
        if failed:
            more = f" (and {len(failed) - 1} more quantities differ)" if len(failed) > 1 else ""
            result.verdict = FAIL
            result.message = f"{case.id} [{dtype}]: first diverging quantity: {failed[0].describe()}{more}"
        else:
            headroom = result.worst_headroom
            result.message = f"worst headroom {headroom:.3g}" if headroom is not None else "passed"


def run_checks(
    impl: Implementation,
    *,
    areas: Iterable[str] | None = None,
    pattern: str | None = None,
    dtypes: Iterable[str] | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    impl_label: str | None = None,
    report_dir: str | Path | None = None,
    quick_only: bool = False,
    on_result: Callable[[CheckResult], None] | None = None,
) -> list[CheckResult]:
    """Every selected case in every selected dtype (default: the dtypes the implementation claims)."""
    selected_dtypes = list(dtypes) if dtypes is not None else claimed_dtypes(impl)
    results = []
    for case in select_cases(areas, pattern, quick_only=quick_only):
        for dtype in selected_dtypes:
            result = run_case(
                impl, case, dtype, timeout=timeout, impl_label=impl_label, report_dir=report_dir
            )
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results


def quick_check(
    impl: Implementation, dtype: str, *, timeout: float | None = DEFAULT_TIMEOUT
) -> list[CheckResult]:
    """The quick conformance check before timing: a few activations and losses, one network's forward and
    backward, each claimed optimizer without options, two training runs; well under a second for torch-cpu.
    Callers time only configurations whose results all have `passed` true."""
    return run_checks(impl, dtypes=[dtype], timeout=timeout, quick_only=True)


def skipped_result(case: Case, impl_name: str, dtype: str, reason: str) -> CheckResult:
    """A result for a case that was not run at all (e.g. the implementation is unavailable here)."""
    return CheckResult(case.area, case.id, impl_name, dtype, SKIPPED, f"skipped: {reason}")
