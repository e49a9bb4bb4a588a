"""The pytest plugin: mlpbench's conformance checks as pytest items, in any repository where mlpbench is installed.

Registered as the `pytest11` entry point `mlpbench`, so installing mlpbench installs it (elsewhere: `-p
mlpbench.pytest_plugin`; `mlpbench.plugin_loading` says which). Options:

    --mlpbench-impl TARGET   check this implementation (repeatable): any target `mlpbench check --impl` takes
                             (docs/targets.md), e.g. `my_mlp:make` found in the working folder
    --mlpbench-area AREA     only this capability area (repeatable)
    --mlpbench-timeout S     seconds one check may take before its worker is killed and it fails (default 60)

Each named target gives one item per conformance check its claim selects, `mlpbench::activations/sigmoid[float64]`
(the id prefixed `<label>/` when several targets are named); `-k`, `--junitxml` and `-n auto` (pytest-xdist) work
on them as on any test. A check the implementation does not claim, or that cannot run here, is skipped with its
reason; an implementation not available here is one skipped item; one that fails to load is one failing item.
A failure's report is the gate's diagnostic: the first diverging quantity with its worst errors, tolerance
and headroom, and the command that reproduces it. A target that names no implementation, a claim outside the
vocabulary, or a claim that selects nothing to check is a usage error (one line, exit status 4).

Every check runs as `mlpbench check` runs it, through `mlpbench.conformance.items`: the implementation lives in
a supervised worker process; a crash, exit or hang fails that item and the next gets a fresh worker.

An author's own test file can hold the checks instead (`mlpbench.testing.conformance_tests`); a test that
takes `mlpbench_check` and names no target (this checkout's suites/conformance) checks the `--mlpbench-impl`
targets itself, and the plugin then adds no items of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Any

import pytest

from mlpbench.conformance.checks.engine import DEFAULT_TIMEOUT
from mlpbench.conformance.items import CheckItem, CheckSession, Target, Verdict
from mlpbench.errors import UsageError
from mlpbench.impls.interface import AREAS
from mlpbench.options import TIMEOUT

MARKER = "mlpbench_targets"
"""The mark `mlpbench.testing.conformance_tests` puts on its test: targets=(labels) or None, areas=(areas)."""

ARGUMENT = "mlpbench_check"
"""The test argument the plugin parametrizes over the checks (a `mlpbench.conformance.items.CheckItem`)."""

COLLECTOR = "mlpbench"
"""The name of the collector that holds the plugin's own items (their node ids start with it)."""

_SESSION = pytest.StashKey[CheckSession]()
_NAMED = pytest.StashKey[list[CheckItem]]()
_FOLLOWED = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mlpbench", "mlpbench conformance checks of an MLP implementation")
    group.addoption("--mlpbench-impl", action="append", default=[], metavar="TARGET",
                    help="check this implementation (repeatable): a registry name, an entry point, or "
                         "package.module:factory (found in the working folder first)")
    group.addoption("--mlpbench-area", action="append", default=[], choices=AREAS, metavar="AREA",
                    help=f"only this capability area (repeatable): {', '.join(AREAS)}")
    group.addoption("--mlpbench-timeout", type=TIMEOUT, default=DEFAULT_TIMEOUT, metavar="S",
                    help=f"seconds one check may take before its worker is killed (default {DEFAULT_TIMEOUT:g})")


def pytest_configure(config: pytest.Config) -> None:
    """Load the named targets now, so that a wrong one is one usage error before anything is collected."""
    config.addinivalue_line("markers", f"{MARKER}(targets, areas): the implementations whose conformance checks "
                                       "parametrize this test (mlpbench.testing.conformance_tests)")
    config.stash[_SESSION] = CheckSession(timeout=config.getoption("mlpbench_timeout"))
    named = config.getoption("mlpbench_impl")
    if named:
        config.stash[_NAMED] = usage_checked(
            lambda: session_of(config).items(session_of(config).targets(named), areas_of(config)))


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(_SESSION, None)
    if session is not None:
        session.close()


def session_of(config: pytest.Config) -> CheckSession:
    return config.stash[_SESSION]


def areas_of(config: pytest.Config) -> list[str] | None:
    return config.getoption("mlpbench_area") or None


def usage_checked(make_items: Callable[[], list[CheckItem]]) -> list[CheckItem]:
    """make_items(), a usage error of mlpbench's raised as pytest's own (one line, exit status 4)."""
    try:
        return make_items()
    except UsageError as error:
        raise pytest.UsageError(f"mlpbench: {error}") from None


# -- the items of a test that takes `mlpbench_check` --------------------------------------------------------------


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if ARGUMENT not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker(MARKER)
    targets = marker.kwargs.get("targets") if marker is not None else None
    areas = marker.kwargs.get("areas") if marker is not None else None
    items = usage_checked(lambda: checks_for(metafunc.config, targets, areas))
    metafunc.parametrize(ARGUMENT, [pytest.param(item, id=item.item_id) for item in items])


def checks_for(config: pytest.Config, targets: Sequence[str] | None, areas: Sequence[str] | None
               ) -> list[CheckItem]:
    """The items of a test: its own targets, else the --mlpbench-impl targets (the test then holds them, and
    the plugin adds none of its own), else every registered implementation but the mutants; in its own
    areas, else those of --mlpbench-area."""
    session = session_of(config)
    if targets is not None:
        return session.items(session.targets(list(targets)), areas or areas_of(config))
    config.stash[_FOLLOWED] = True
    if _NAMED in config.stash and not areas:
        return config.stash[_NAMED]
    named = config.getoption("mlpbench_impl")
    chosen: list[Target] = session.targets(named) if named else session.registered_targets()
    return session.items(chosen, areas or areas_of(config))


def run_check(config: pytest.Config, item: CheckItem) -> None:
    """Run one item: return when it passes, pytest.skip with the reason, pytest.fail with the diagnostic."""
    outcome = session_of(config).run(item)
    if outcome.verdict is Verdict.SKIPPED:
        pytest.skip(outcome.text)
    if outcome.verdict is Verdict.FAILED:
        pytest.fail(outcome.text, pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """A check's skip is reported where the check is collected (its test file, or `mlpbench` for the plugin's
    own items), not at the line that raised it: `-rs` reads `SKIPPED [1] mlpbench: not claimed: activation
    'tanh'`."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and isinstance(report.longrepr, tuple) and is_check(item):
        report.longrepr = (item.nodeid.split("::", 1)[0], None, report.longrepr[2])


def is_check(item: pytest.Item) -> bool:
    """True for an item that runs a conformance check: the plugin's own, or a test taking `mlpbench_check`."""
    return isinstance(item, ConformanceCheck) or ARGUMENT in getattr(item, "fixturenames", ())


# -- the plugin's own items (--mlpbench-impl with no test of the project's holding them) ---------------------------


class ConformanceCheck(pytest.Item):
    """One conformance check of a named implementation."""

    def __init__(self, *, check: CheckItem, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.check = check

    def runtest(self) -> None:
        run_check(self.config, self.check)

    def reportinfo(self) -> tuple[str, int | None, str]:
        return COLLECTOR, None, f"{COLLECTOR}::{self.name} ({self.check.label})"


class ConformanceChecks(pytest.Collector):
    """The plugin's items, under one collector named `mlpbench`."""

    def __init__(self, *, checks: list[CheckItem], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.checks = checks

    def collect(self) -> list[pytest.Item]:
        return [ConformanceCheck.from_parent(self, name=check.item_id, check=check) for check in self.checks]


@pytest.hookimpl(tryfirst=True)  # before -k and -m deselect
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if _NAMED not in config.stash or config.stash.get(_FOLLOWED, False):
        return
    collector = ConformanceChecks.from_parent(session, name=COLLECTOR, nodeid=COLLECTOR,
                                              checks=config.stash[_NAMED])
    items.extend(collector.collect())
