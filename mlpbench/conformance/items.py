"""Conformance checks as test items: the one place that turns targets into items and runs one item.

The pytest plugin (`mlpbench.pytest_plugin`: `pytest --mlpbench-impl TARGET`), the helper for an author's own
test file (`mlpbench.testing.conformance_tests`) and this checkout's own conformance test all go through here,
so each check runs exactly as `mlpbench check` runs it: the target is loaded and validated in its supervised
worker process (`mlpbench.conformance.runner.load_implementation`), the cases follow its claim
(`mlpbench.catalogue.conformance.select_cases`), and every check is `mlpbench.conformance.checks.engine.run_case`
in that worker, a worker that crashes, exits or hangs failing that check and the next one getting a fresh one.

- `CheckSession.target(label)`: the loaded target; a usage error (unknown name, a claim outside the
  vocabulary) raises `UsageError`; one that fails to load or is not available here is kept with the reason.
- `CheckSession.items(targets, areas)`: one `CheckItem` per case and claimed dtype (ids such as
  `activations/sigmoid[float64]`, prefixed `<label>/` when there are several targets); one item for a target
  that failed to load (it fails) or cannot run here (it is skipped); a target whose claim selects nothing to
  check is a usage error, never an empty pass.
- `CheckSession.run(item)`: the item's `Outcome`: passed, skipped (not claimed, skipped, unavailable) or
  failed, with the gate's own diagnostic (`CheckResult.diagnostic`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from mlpbench.catalogue.conformance import Case, select_cases
from mlpbench.conformance.checks.engine import DEFAULT_TIMEOUT, claimed_dtypes, run_case
from mlpbench.conformance.results import NOT_CLAIMED, SKIPPED, CheckResult
from mlpbench.conformance.runner import NotAvailable, load_implementation
from mlpbench.errors import UsageError
from mlpbench.impls.capabilities import Capabilities
from mlpbench.isolation.supervisor import Worker, preload_for
from mlpbench.isolation.worker import ImplInfo


@dataclass(frozen=True)
class Target:
    """An implementation asked for by name: what its worker reported, or why it cannot be checked."""

    label: str
    info: ImplInfo | None = None
    skip: str = ""  # not checked here (not available, opt-in): one skipped item with this reason
    broken: str = ""  # failed to load or to say what it claims: one failing item with this message
    skipped_as: str = "unavailable"  # the id of that one skipped item ("opt-in" for OPT_IN built-ins)


@dataclass(frozen=True)
class CheckItem:
    """One test: a case of a target in a dtype, or the one item of a target that cannot be checked."""

    label: str
    item_id: str
    case: Case | None = None
    dtype: str = "-"
    skip: str = ""
    broken: str = ""
    labelled: bool = False  # one of several targets: the id and a skip's reason name the label

    def reason(self, text: str) -> str:
        """A skip's reason, '<label>: ...' among several targets (a summary groups equal reasons)."""
        return f"{self.label}: {text}" if self.labelled else text


class Verdict(Enum):
    PASSED = "passed"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    """What one item came to, and the text a test report shows for it."""

    verdict: Verdict
    text: str
    result: CheckResult | None = None


SKIPPING = (NOT_CLAIMED, SKIPPED)
"""Check verdicts a test shows as skipped (with the check's reason), never as passed."""


def item_id(label: str, case: Case, dtype: str, prefixed: bool) -> str:
    """'activations/sigmoid[float64]', or 'torch-cpu/activations/sigmoid[float64]' among several targets."""
    return f"{label}/{case.id}[{dtype}]" if prefixed else f"{case.id}[{dtype}]"


def single_item(target: Target, what: str, prefixed: bool, *, skip: str = "", broken: str = "") -> CheckItem:
    """The one item of a target that is not checked case by case: '<what>' or '<label>/<what>'."""
    return CheckItem(target.label, f"{target.label}/{what}" if prefixed else what, skip=skip, broken=broken,
                     labelled=prefixed)


def runnable_count(caps: Capabilities, cases: Sequence[Case], dtypes: Iterable[str]) -> int:
    """How many (case, dtype) checks of `cases` the claim `caps` selects: the ones that reach a verdict."""
    return sum(caps.missing(case.needs) is None for case in cases) * sum(d in caps.dtypes for d in dtypes)


class CheckSession:
    """The supervised workers of one test session, one per target label, closed with the session."""

    def __init__(self, timeout: float | None = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self._workers: dict[str, Worker] = {}
        self._targets: dict[str, Target] = {}

    def worker(self, label: str) -> Worker:
        if label not in self._workers:
            self._workers[label] = Worker(label)
        return self._workers[label]

    def target(self, label: str) -> Target:
        """`label` loaded in its worker (once per session); UsageError for a name that is no implementation
        or a claim outside the vocabulary."""
        if label not in self._targets:
            try:
                info, failure = load_implementation(self.worker(label))
            except NotAvailable as unavailable:
                self._targets[label] = Target(label, None, skip=str(unavailable))
            else:
                self._targets[label] = Target(label, info, broken=failure.message if failure else "")
        return self._targets[label]

    def targets(self, labels: Sequence[str]) -> list[Target]:
        """Each label's target; the worker server first preloads the frameworks of them all."""
        preload_for(list(labels))
        return [self.target(label) for label in labels]

    def registered_targets(self) -> list[Target]:
        """Every registered implementation but the mutants (a checkout's default session); the slow built-ins
        of `mlpbench.impls.registry.OPT_IN` as one skipped item each, with the reason."""
        from mlpbench.impls.registry import OPT_IN, entries

        names = [entry.name for entry in entries(include_mutants=False)]
        loaded = {target.label: target for target in self.targets([n for n in names if n not in OPT_IN])}
        return [loaded.get(name) or Target(name, skip=f"{name} is opt-in: {OPT_IN[name]}", skipped_as="opt-in")
                for name in names]

    def items(self, targets: Sequence[Target], areas: Sequence[str] | None = None) -> list[CheckItem]:
        """Every item of `targets`, restricted to `areas`; UsageError for a target with nothing to check."""
        prefixed = len(targets) > 1
        return [item for target in targets for item in self._items_of(target, areas, prefixed)]

    def _items_of(self, target: Target, areas: Sequence[str] | None, prefixed: bool) -> list[CheckItem]:
        if target.broken:
            return [single_item(target, "load", prefixed, broken=target.broken)]
        if target.info is None or target.info.capabilities is None:
            return [single_item(target, target.skipped_as, prefixed, skip=target.skip or "not available here")]
        caps = target.info.capabilities
        cases = select_cases(areas, caps=caps)
        dtypes = claimed_dtypes(caps)
        if runnable_count(caps, cases, dtypes) == 0:
            where = f" in area(s) {', '.join(areas)}" if areas else ""
            raise UsageError(f"nothing to check: what {target.label!r} claims selects none of the {len(cases)} "
                             f"case(s){where} (claimed dtypes: {', '.join(sorted(caps.dtypes)) or 'none'})")
        return [CheckItem(target.label, item_id(target.label, case, dtype, prefixed), case, dtype, labelled=prefixed)
                for case in cases for dtype in dtypes]

    def run(self, item: CheckItem) -> Outcome:
        """One item, its check in the target's supervised worker as `mlpbench check` runs it."""
        if item.broken:
            return Outcome(Verdict.FAILED, item.broken)
        if item.skip or item.case is None:
            return Outcome(Verdict.SKIPPED, item.skip or "nothing to run")
        result = run_case(self.worker(item.label), item.case, item.dtype, timeout=self.timeout)
        if result.verdict in SKIPPING:
            return Outcome(Verdict.SKIPPED, item.reason(result.message), result)
        if result.failed:
            return Outcome(Verdict.FAILED, result.diagnostic(), result)
        return Outcome(Verdict.PASSED, result.message, result)

    def close(self) -> None:
        """Stop every worker of the session (and whatever its implementation started)."""
        for worker in self._workers.values():
            worker.close()
        self._workers.clear()
