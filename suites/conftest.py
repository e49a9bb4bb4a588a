"""Shared pytest configuration of this checkout: the mlpbench pytest plugin and its `--mlpbench-impl` option.

The plugin (`mlpbench.pytest_plugin`) is loaded by its pytest11 entry point where mlpbench is installed with it,
and named here otherwise. In this checkout `--mlpbench-impl NAME` (repeatable) restricts
suites/conformance/test_conformance.py to those implementations; without it that test checks every registered
implementation but the mutants, an unavailable one (torch-cuda without a GPU) as one skipped test with its
reason, an opt-in built-in (`mlpbench.impls.registry.OPT_IN`: torch-cpu-compile) likewise; mutants and opt-in
built-ins run when named. The other suites run as they always do (a session that does not collect
suites/conformance, `pytest suites/reference --mlpbench-impl X`, still checks X: the plugin then adds items of
its own, `mlpbench::...`).
"""

from __future__ import annotations

import pytest

from mlpbench.plugin_loading import MODULE, autoloaded

pytest_plugins = [] if autoloaded() else [MODULE]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """The worker server preloads the frameworks of the built-ins (and mutants) the session will start before
    any worker starts: torch, and JAX for jax-cpu, jax-cuda and keras (each of whose workers imported it on its
    own before)."""
    from mlpbench.isolation.supervisor import preload_for

    preload_for(config.getoption("mlpbench_impl", default=None) or ["torch-cpu", "mutant-", "jax-cpu"])
