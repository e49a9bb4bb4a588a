"""Shared pytest configuration: `--impl NAME` (repeatable) restricts the conformance tests to implementations.

Default: every registered implementation that is not a mutant. An implementation that is not available here
(torch-cuda without a GPU) still gets its tests, skipped with the implementation's reason, so the `-ra`
summary says what was not checked and why. Mutants run only when named with --impl.

Conformance test modules set `AREA` and take the `conformance_check` argument; it is parametrized here over
the catalogue's cases of that area x the selected implementations x the dtypes each claims, with ids such as
`torch-cpu-float32-gelu`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from impls.interface import Implementation


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
    """Resolve --impl names before collection, so a wrong name is one usage error, not an error per module."""
    if config.getoption("--impl", default=None):
        selected_implementations(config)


@dataclass(frozen=True)
class SelectedImpl:
    """An implementation chosen for this session: the instance, or why it cannot run here."""

    label: str
    impl: Implementation | None
    unavailable: str = ""


@dataclass(frozen=True)
class ConformanceItem:
    """One parametrized conformance test: which implementation, case and dtype."""

    label: str
    impl: Implementation
    case: object
    dtype: str


def selected_implementations(config: pytest.Config) -> list[SelectedImpl]:
    cached = getattr(config, "_mlpbench_selected", None)
    if cached is not None:
        return cached
    from impls.registry import UnknownImplementation, entries, resolve

    names = config.getoption("--impl") or [e.name for e in entries(include_mutants=False)]
    selected = []
    for name in names:
        try:
            impl = resolve(name)
        except UnknownImplementation as error:
            raise pytest.UsageError(f"--impl {name}: {error}") from None
        try:
            available, reason = impl.availability()
        except Exception as error:  # an adapter's bug is reported, not a crash of collection
            available, reason = False, f"availability() raised {type(error).__name__}: {error}"
        selected.append(SelectedImpl(name, impl, "" if available else f"{name} is not available here: {reason}"))
    config._mlpbench_selected = selected
    return selected


@pytest.fixture(scope="session")
def selected_impls(request: pytest.FixtureRequest) -> list[SelectedImpl]:
    """The implementations this session checks (honours --impl)."""
    return selected_implementations(request.config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "conformance_check" not in metafunc.fixturenames:
        return
    from mlpbench.catalogue.conformance import CONFORMANCE_DTYPES, select_cases

    area = metafunc.module.AREA
    cases = select_cases([area])
    params = []
    for choice in selected_implementations(metafunc.config):
        impl = choice.impl
        try:
            claimed = impl.capabilities().dtypes
        except Exception:
            claimed = CONFORMANCE_DTYPES
        dtypes = [d for d in CONFORMANCE_DTYPES if d in claimed] or list(CONFORMANCE_DTYPES[:1])
        marks = [pytest.mark.skip(reason=choice.unavailable)] if choice.unavailable else []
        for case in cases:
            for dtype in dtypes:
                params.append(pytest.param(ConformanceItem(choice.label, impl, case, dtype),
                                           id=f"{choice.label}-{dtype}-{case.name}", marks=marks))
    metafunc.parametrize("conformance_check", params)
