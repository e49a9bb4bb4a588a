"""compare_arrays' NaN message says what the oracle gives where the implementation has NaN."""

from __future__ import annotations

import numpy as np
import pytest

from mlpbench.conformance.compare import compare_arrays
from mlpbench.conformance.tolerances import tolerance

TOL = tolerance("elementwise", "float64")


@pytest.mark.parametrize(
    ("expected", "message"),
    [
        ([1.0, 2.0, 3.0], "NaN where the oracle is finite (3 of 3 elements, first at (0,))"),
        ([np.inf, np.inf, np.inf], "NaN where the oracle gives inf (3 of 3 elements, first at (0,))"),
        ([-np.inf, -np.inf, -np.inf], "NaN where the oracle gives -inf (3 of 3 elements, first at (0,))"),
        ([np.inf, -np.inf, np.inf], "NaN where the oracle gives inf or -inf (3 of 3 elements, first at (0,))"),
        ([1.0, np.inf, 3.0], "NaN where the oracle is finite or gives inf (3 of 3 elements, first at (0,))"),
    ],
)
def test_nan_message_names_what_the_oracle_gives(expected: list[float], message: str) -> None:
    comparison = compare_arrays("y", np.full(3, np.nan), np.array(expected), TOL)
    assert not comparison.passed
    assert comparison.problem == message


def test_nan_only_where_the_oracle_has_nan_too_passes() -> None:
    assert compare_arrays("y", np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), TOL).passed


def test_only_the_elements_with_nan_are_described() -> None:
    comparison = compare_arrays("y", np.array([np.inf, np.nan]), np.array([np.inf, 2.0]), TOL)
    assert comparison.problem == "NaN where the oracle is finite (1 of 2 elements, first at (1,))"
