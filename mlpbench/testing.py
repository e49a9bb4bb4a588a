"""mlpbench's conformance checks inside an author's own test file, in the spirit of ONNX's `BackendTest`.

    # test_my_mlp.py, beside my_mlp.py
    from mlpbench.testing import conformance_tests

    test_my_mlp = conformance_tests("my_mlp:make")                       # every check the claim selects
    test_my_mlp_optimizers = conformance_tests("my_mlp:make", areas=["optimizers"])

`pytest` then collects `test_my_mlp[activations/sigmoid[float64]]` and so on: one test per conformance check,
run exactly as `mlpbench check` and the pytest plugin run it (a supervised worker process per implementation;
"not claimed" skipped with its reason; a failure shows the first diverging quantity, the worst errors, the
tolerance, the headroom and the repro command). The parametrization is the plugin's (`mlpbench.pytest_plugin`),
installed with mlpbench as the pytest11 entry point `mlpbench`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from mlpbench.conformance.items import CheckItem
from mlpbench.impls.interface import AREAS
from mlpbench.pytest_plugin import MARKER, run_check


def conformance_tests(target: str | Sequence[str] | None,
                      areas: Sequence[str] | None = None) -> Callable[..., None]:
    """A test function parametrized over the conformance checks of `target` (one target, several, or None: the
    targets given with `--mlpbench-impl`, else every registered implementation but the mutants), restricted to
    `areas` when given. Bind it to a module-level name starting with `test`."""
    unknown = sorted(set(areas or ()) - set(AREAS))
    if unknown:
        raise ValueError(f"unknown area(s) {', '.join(unknown)}; known: {', '.join(AREAS)}")
    targets = [target] if isinstance(target, str) else (list(target) if target is not None else None)

    @getattr(pytest.mark, MARKER)(targets=targets, areas=list(areas) if areas else None)
    def test_conformance(mlpbench_check: CheckItem, request: pytest.FixtureRequest) -> None:
        run_check(request.config, mlpbench_check)

    return test_conformance
