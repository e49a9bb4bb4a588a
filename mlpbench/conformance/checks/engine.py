"""Running one check: one case for one implementation in one dtype (a whole selection, the loading and the tally
are the conformance runner's, `mlpbench.conformance.runner`).

`run_case_with` is the check itself, in the gate's process: it draws the case, runs the oracle, calls the
implementation through a handle (`mlpbench.conformance.handles`) and compares; `run_case` gives it the handle
of the implementation's supervised worker (`mlpbench.isolation`), in which every call runs, and turns a
worker that exited, died by a signal or outlived the check's time limit into a failed check naming what
happened. Nothing the implementation does in its own process can reach the expected values or the verdict.
Whatever an implementation does inside a call (raise, return NaN or the wrong shape, modify its inputs, send
back something that is not plain data) becomes a failed `CheckResult` naming the first diverging quantity; a
failure of the suite's own code is reported with verdict "error" (also counted as a failure).
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path

from mlpbench.catalogue.conformance import CONFORMANCE_DTYPES, Case
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
from mlpbench.conformance.checks.base import CHECK_KINDS, CheckContext, CheckFailed, CheckKind, NotClaimed, Skipped
from mlpbench.conformance.handles import ImplHandle, WorkerHandle, WorkerLost
from mlpbench.conformance.repro import replay_command
from mlpbench.conformance.results import ERROR, FAIL, NOT_CLAIMED, PASS, SKIPPED, CheckResult
from mlpbench.impls.interface import Capabilities
from mlpbench.isolation.calls import one_line
from mlpbench.isolation.supervisor import Worker, WorkerDied
from mlpbench.report_text import MESSAGE_LIMIT, capped

DEFAULT_TIMEOUT = 60.0
"""Seconds one check may take before it fails as hung."""


def claimed_dtypes(caps: Capabilities) -> list[str]:
    """The conformance dtypes claimed, in catalogue order."""
    return [d for d in CONFORMANCE_DTYPES if d in caps.dtypes]


def run_case_with(impl: ImplHandle, case: Case, dtype: str) -> CheckResult:
    """Run one catalogue case against the implementation behind `impl`; never raises for anything the
    implementation does (a lost worker raises WorkerLost, which `run_case` reports)."""
    result = CheckResult(area=case.area, case_id=case.id, impl=impl.name, dtype=dtype, verdict=PASS)
    started = time.perf_counter()
    try:
        _run_into(result, impl, case, dtype)
    finally:
        result.duration_s = time.perf_counter() - started
    return result


def _run_into(result: CheckResult, impl: ImplHandle, case: Case, dtype: str) -> None:
    kind = _claimed_kind(result, impl, case, dtype)
    if kind is None:
        return
    ctx = CheckContext(impl, case, dtype)
    error: Exception | None = None
    try:
        kind.run(ctx)
    except WorkerLost:
        raise
    except Exception as raised:  # reported below; the implementation's own escapes arrive as facts (ctx.call),
        error = raised  # so a KeyboardInterrupt or SystemExit here is the gate's own, and ends the run
    result.comparisons = list(ctx.comparisons)
    result.inputs = dict(ctx.inputs)
    result.details.update(ctx.details)
    if error is not None:
        result.verdict, result.message = _verdict_of_raise(error, case, dtype)
    else:
        _judge_comparisons(result, case, dtype)


def _claimed_kind(result: CheckResult, impl: ImplHandle, case: Case, dtype: str) -> CheckKind | None:
    """The check kind that runs `case`; None, with the verdict written into `result`, when no check is
    registered for it, capabilities() raises, or the case (or the dtype) is not claimed."""
    kind = CHECK_KINDS.get(case.kind)
    if kind is None:
        result.verdict, result.message = ERROR, f"no check registered for kind {case.kind!r}"
        return None
    try:
        caps = impl.capabilities()
    except Exception as error:
        result.verdict = FAIL
        result.message = f"capabilities() raised {type(error).__name__}: {one_line(error)}"
        return None
    reason = f"dtype {dtype}" if dtype not in caps.dtypes else caps.missing(case.needs)
    if reason is not None:
        result.verdict, result.message = NOT_CLAIMED, f"not claimed: {reason}"
        return None
    return kind


def _verdict_of_raise(error: Exception, case: Case, dtype: str) -> tuple[str, str]:
    """(verdict, message) of a check that raised `error`: what the check decided (not claimed, skipped,
    failed) or an error of the check itself (the implementation's own raises arrive as CheckFailed)."""
    if isinstance(error, NotClaimed):
        return NOT_CLAIMED, f"not claimed: {error}"
    if isinstance(error, Skipped):
        return SKIPPED, f"skipped: {error}"
    if isinstance(error, CheckFailed):
        return FAIL, f"{case.id} [{dtype}]: {error}"
    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    return ERROR, (
        f"{case.id} [{dtype}]: the check itself raised {type(error).__name__}: {one_line(error)}{where} "
        f"(often a malformed result from the implementation)"
    )


def _judge_comparisons(result: CheckResult, case: Case, dtype: str) -> None:
    """A check that ran through fails on its first diverging comparison; otherwise it passes, with its
    worst headroom as the message."""
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
    """One case, its calls in the implementation's supervised worker within `timeout` seconds in all. A worker
    that exits, dies by a signal or times out fails the check with what happened (the next call gets a fresh
    worker)."""
    info = worker.info if worker.info is not None else worker.load()
    label = impl_name or worker.label
    if isinstance(info, WorkerDied):
        result = _lost(case, dtype, label, info)
    elif info.capabilities is None:
        result = CheckResult(area=case.area, case_id=case.id, impl=label, dtype=dtype, verdict=FAIL,
                             message=info.capabilities_error or info.load_error or "no capabilities")
    else:
        try:
            result = run_case_with(WorkerHandle(worker, info, timeout), case, dtype)
        except WorkerLost as lost:
            result = _lost(case, dtype, label, lost.died)
        result.impl = impl_name or capped(str(result.impl))  # texts from the implementation are capped
        result.message = capped(str(result.message), 4 * MESSAGE_LIMIT)
    if result.failed:
        result.repro_command = replay_command(worker.label, case.id, dtype, report_dir)
        result.message += f"; reproduce: {result.repro_command}"
    elif result.passed:
        result.inputs = {}  # inputs are kept only for the reproduction file of a failure
    return result


def _lost(case: Case, dtype: str, label: str, died: WorkerDied) -> CheckResult:
    result = CheckResult(area=case.area, case_id=case.id, impl=label, dtype=dtype, verdict=FAIL,
                         message=f"{case.id} [{dtype}]: {died.describe()}")
    result.details["worker"] = {"message": died.message, "traceback": died.traceback,
                                "output_tail": died.output_tail}
    return result
