"""Shared pytest configuration: `--impl NAME` (repeatable) restricts the conformance tests to implementations.

Default: every registered implementation that is not a mutant. Each selected implementation is loaded once, in
a supervised worker process shared by every test of the session (as `mlpbench check` does), never in the
pytest process. An implementation that is not available here (torch-cuda without a GPU) gets one skipped test,
`<name>-unavailable`, with the implementation's reason (not one skip per case and dtype: the cases it would
run depend only on its claim, and every one of them would be skipped for that same reason), so the `-ra`
summary says what was not checked and why; one that fails to load gets one failing test naming what
happened. Mutants run only when named with --impl, and so do the slow built-ins of `mlpbench.impls.registry.OPT_IN`
(torch-cpu-compile), shown as one skipped test with the reason.

`test_conformance` takes `conformance_check`, parametrized here over the catalogue's cases (and the coverage
cases that follow each claim) x the selected implementations x the dtypes each claims, with ids such as
`torch-cpu-float32-activations/gelu`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--impl",
        action="append",
        default=[],
        metavar="NAME",
        help="restrict conformance tests to this implementation (repeatable; registry name, entry point or "
        "package.module:factory). Default: all registered non-mutant implementations.",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Resolve --impl names before collection, so a wrong name is one usage error, not an error per module.
    The worker server preloads the frameworks of the built-ins (and mutants) the session will start: torch, and
    JAX for jax-cpu, jax-cuda and keras (each of whose workers imported it on its own before)."""
    from mlpbench.isolation.supervisor import preload_for

    preload_for(config.getoption("--impl", default=None) or ["torch-cpu", "mutant-", "jax-cpu"])
    if config.getoption("--impl", default=None):
        selected_implementations(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    for worker in getattr(config, "_mlpbench_workers", {}).values():
        worker.close()


@dataclass(frozen=True)
class SelectedImpl:
    """An implementation chosen for this session: what its worker reported, or why it cannot run here."""

    label: str
    info: object | None  # mlpbench.isolation.worker.ImplInfo
    unavailable: str = ""
    broken: str = ""


@dataclass(frozen=True)
class ConformanceItem:
    """One parametrized conformance test: which implementation, case and dtype."""

    label: str
    case: object
    dtype: str
    broken: str = ""  # the implementation failed to load: the test fails with this


def session_worker(config: pytest.Config, label: str):
    """The session's supervised worker for `label` (created on first use, closed at the end)."""
    from mlpbench.isolation.supervisor import Worker

    workers = config.__dict__.setdefault("_mlpbench_workers", {})
    if label not in workers:
        workers[label] = Worker(label)
    return workers[label]


def selected_implementations(config: pytest.Config) -> list[SelectedImpl]:
    cached = getattr(config, "_mlpbench_selected", None)
    if cached is not None:
        return cached
    from mlpbench.impls.registry import OPT_IN, entries
    from mlpbench.isolation.supervisor import WorkerDied

    names = config.getoption("--impl") or [e.name for e in entries(include_mutants=False)]
    selected = []
    for name in names:
        if name in OPT_IN and not config.getoption("--impl"):
            selected.append(SelectedImpl(name, None, unavailable=f"{name} is opt-in: {OPT_IN[name]}"))
            continue
        info = session_worker(config, name).load()
        if isinstance(info, WorkerDied):
            selected.append(SelectedImpl(name, None, broken=f"loading {name}: {info.describe()}"))
        elif info.unknown:
            raise pytest.UsageError(f"--impl {name}: {info.unknown}")
        elif info.load_error or info.capabilities is None:
            selected.append(SelectedImpl(name, info, broken=info.load_error or info.capabilities_error))
        elif problems := info.capabilities.problems():
            raise pytest.UsageError(f"--impl {name}: claims names outside the vocabulary: {'; '.join(problems)}")
        else:
            unavailable = "" if info.available else f"{name} is not available here: {info.reason}"
            selected.append(SelectedImpl(name, info, unavailable))
    config._mlpbench_selected = selected
    return selected


@pytest.fixture(scope="session")
def selected_impls(request: pytest.FixtureRequest) -> list[SelectedImpl]:
    """The implementations this session checks (honours --impl)."""
    return selected_implementations(request.config)


@pytest.fixture(scope="session")
def impl_workers(request: pytest.FixtureRequest) -> Iterator[Callable[[str], object]]:
    """label -> the session's supervised worker for that implementation."""
    yield lambda label: session_worker(request.config, label)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "conformance_check" not in metafunc.fixturenames:
        return
    from mlpbench.catalogue.conformance import CONFORMANCE_DTYPES, select_cases

    params = []
    for choice in selected_implementations(metafunc.config):
        if choice.broken:
            params.append(pytest.param(ConformanceItem(choice.label, None, "-", choice.broken),
                                       id=f"{choice.label}-load"))
            continue
        if choice.info is None:  # opt-in, not named: one visible skip with the reason
            params.append(pytest.param(ConformanceItem(choice.label, None, "-"), id=f"{choice.label}-opt-in",
                                       marks=[pytest.mark.skip(reason=choice.unavailable)]))
            continue
        if choice.unavailable:  # not available here (no GPU, framework missing): one visible skip with the reason
            params.append(pytest.param(ConformanceItem(choice.label, None, "-"), id=f"{choice.label}-unavailable",
                                       marks=[pytest.mark.skip(reason=choice.unavailable)]))
            continue
        caps = choice.info.capabilities
        dtypes = [d for d in CONFORMANCE_DTYPES if d in caps.dtypes] or list(CONFORMANCE_DTYPES[:1])
        for case in select_cases(caps=caps):
            for dtype in dtypes:
                params.append(pytest.param(ConformanceItem(choice.label, case, dtype),
                                           id=f"{choice.label}-{dtype}-{case.id}"))
    metafunc.parametrize("conformance_check", params)
