"""Running checks: one case for one implementation in one dtype, a whole selection (`run_checks`), and the
short `quick_check` the benchmark harness runs before timing.

`run_case_in_process` is the check itself; it runs inside the implementation's supervised worker process
(`mlpbench.isolation`), and `run_case` is the gate's side: it sends the case to the worker and turns a worker
that exited, died by a signal or outlived the time limit into a failed check naming what happened. Whatever
an implementation does inside a call (raise, return NaN or the wrong shape, modify its inputs) becomes a
failed `CheckResult` naming the first diverging quantity; a failure of the suite's own code is reported with
verdict "error" (also counted as a failure).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path

from impls.interface import Capabilities, Implementation
from mlpbench.catalogue.conformance import CONFORMANCE_DTYPES, Case, select_cases
from mlpbench.conformance.checks import (  # noqa: F401  (importing registers the check kinds)
    activations,
    data_parallel,
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
from mlpbench.conformance.checks.base import CHECK_KINDS, CheckContext, CheckFailed, NotClaimed, Skipped, one_line
from mlpbench.conformance.repro import replay_command
from mlpbench.conformance.results import ERROR, FAIL, NOT_CLAIMED, PASS, SKIPPED, CheckResult
from mlpbench.isolation.supervisor import Worker, WorkerDied
from mlpbench.report_text import MESSAGE_LIMIT, capped

DEFAULT_TIMEOUT = 60.0
"""Seconds one check may take before it fails as hung."""


def claimed_dtypes(caps: Capabilities) -> list[str]:
    """The conformance dtypes claimed, in catalogue order."""
    return [d for d in CONFORMANCE_DTYPES if d in caps.dtypes]


def run_case_in_process(impl: Implementation, case: Case, dtype: str) -> CheckResult:
    """Run one catalogue case against `impl` in this process; never raises for anything the implementation
    does. The gate calls this inside a supervised worker (mlpbench.isolation), never in its own process."""
    result = CheckResult(area=case.area, case_id=case.id, impl=impl.name, dtype=dtype, verdict=PASS)
    started = time.perf_counter()
    try:
        _run_into(result, impl, case, dtype)
    finally:
        result.duration_s = time.perf_counter() - started
    return result


def _run_into(result: CheckResult, impl: Implementation, case: Case, dtype: str) -> None:
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
    reason = caps.missing(case.needs)
    if reason is not None:
        result.verdict, result.message = NOT_CLAIMED, f"not claimed: {reason}"
        return

    ctx = CheckContext(impl, case, dtype)
    error: BaseException | None = None
    try:
        kind.run(ctx)
    except BaseException as raised:  # reported below, whatever it is
        error = raised
    result.comparisons = list(ctx.comparisons)
    result.inputs = dict(ctx.inputs)
    result.details.update(ctx.details)
    if isinstance(error, NotClaimed):
        result.verdict, result.message = NOT_CLAIMED, f"not claimed: {error}"
    elif isinstance(error, Skipped):
        result.verdict, result.message = SKIPPED, f"skipped: {error}"
    elif isinstance(error, CheckFailed):
        result.verdict, result.message = FAIL, f"{case.id} [{dtype}]: {error}"
    elif isinstance(error, (SystemExit, KeyboardInterrupt)):
        result.verdict = FAIL
        result.message = f"{case.id} [{dtype}]: the implementation raised {type(error).__name__}({error})"
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


def run_case(worker: Worker, case: Case, dtype: str, *, timeout: float | None = DEFAULT_TIMEOUT,
             impl_name: str | None = None, report_dir: str | Path | None = None) -> CheckResult:
    """One case in the implementation's supervised worker. A worker that exits, dies by a signal or times
    out fails the check with what happened (the next case gets a fresh worker)."""
    outcome = worker.run_case(case, dtype, timeout)
    if isinstance(outcome, WorkerDied):
        result = CheckResult(area=case.area, case_id=case.id, impl=impl_name or worker.label, dtype=dtype,
                             verdict=FAIL, message=f"{case.id} [{dtype}]: {outcome.describe()}")
        result.details["worker"] = {"message": outcome.message, "traceback": outcome.traceback,
                                    "output_tail": outcome.output_tail}
    else:
        result = outcome  # a copy from the worker: its texts are capped as they enter the gate
        result.impl = impl_name or capped(str(result.impl))
        result.message = capped(str(result.message), 4 * MESSAGE_LIMIT)
    if result.failed:
        result.repro_command = replay_command(worker.label, case.id, dtype, report_dir)
        result.message += f"; reproduce: {result.repro_command}"
    return result


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

