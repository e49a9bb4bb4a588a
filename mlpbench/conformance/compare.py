"""Compare an implementation's array with the oracle's under a tolerance, recording the achieved error.

The oracle computes in float64; the implementation's array must have the implementation's dtype and the
oracle's shape. The comparison is made in float64:

    abs_err = |actual - expected|,  rel_err = abs_err / |expected|,
    headroom = max(abs_err / (atol + rtol * |expected|))      (passes when <= 1).

Infinities compare equal when they agree in sign; NaN is accepted only where the oracle has NaN as well (the
message says what the oracle gives there: a finite value, inf or -inf).
A comparison records the element with the worst ratio: its index, the actual and expected values there and,
for elementwise computations, the inputs at that element (`inputs=`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mlpbench.conformance.results import Comparison
from mlpbench.conformance.tolerances import Tolerance
from mlpbench.isolation.wire import Foreign


def structural_failure(quantity: str, problem: str, tol: Tolerance | None = None) -> Comparison:
    """A failed comparison that has no meaningful error size (wrong type, shape or dtype, NaN)."""
    return Comparison(
        quantity=quantity,
        passed=False,
        worst_abs=float("inf"),
        worst_rel=float("inf"),
        rtol=tol.rtol if tol else 0.0,
        atol=tol.atol if tol else 0.0,
        headroom=float("inf"),
        tolerance_reason=tol.reason if tol else "",
        problem=problem,
    )


def describe_type(value: Any) -> str:
    """'ndarray float32[3, 2]', 'list', or the type an implementation returned that is not plain data."""
    if isinstance(value, np.ndarray):
        return f"ndarray {value.dtype}{list(value.shape)}"
    if isinstance(value, Foreign):
        return value.type_name
    return type(value).__name__


def nan_where(expected: np.ndarray) -> str:
    """What NaN replaced, from the oracle's values there: "NaN where the oracle is finite", "... gives inf",
    "... gives -inf", "... gives inf or -inf", or "... is finite or infinite"."""
    infinite = expected[np.isinf(expected)]
    if infinite.size == 0:
        return "NaN where the oracle is finite"
    signs = " or ".join(label for label, present in (("inf", (infinite > 0).any()), ("-inf", (infinite < 0).any()))
                        if present)
    if infinite.size == expected.size:
        return f"NaN where the oracle gives {signs}"
    return f"NaN where the oracle is finite or gives {signs}"


def compare_arrays(
    quantity: str,
    actual: Any,
    expected: np.ndarray,
    tol: Tolerance,
    *,
    dtype: str | np.dtype | None = None,
    inputs: Mapping[str, Any] | None = None,
) -> Comparison:
    """Compare `actual` (implementation; an ndarray of `dtype` when given) with `expected` (oracle).

    inputs: the arrays an elementwise result was computed from (name -> array); those of the result's shape
    are reported at the worst element (`Comparison.inputs_at_worst`).
    """
    expected = np.asarray(expected)
    if isinstance(actual, np.generic):
        actual = np.asarray(actual)
    if not isinstance(actual, np.ndarray):
        return structural_failure(quantity, f"returned {describe_type(actual)}, expected a NumPy array", tol)
    if actual.shape != expected.shape:
        return structural_failure(
            quantity, f"wrong shape {tuple(actual.shape)}, expected {tuple(expected.shape)}", tol
        )
    if dtype is not None and actual.dtype != np.dtype(dtype):
        wanted = np.dtype(dtype).name
        return structural_failure(quantity, f"wrong dtype {actual.dtype}, expected {wanted}", tol)
    if actual.dtype.kind not in "fiub":
        return structural_failure(quantity, f"non-numeric dtype {actual.dtype}", tol)
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    bad_nan = np.isnan(a) & ~np.isnan(e)
    if bad_nan.any():
        index = tuple(int(i) for i in np.argwhere(bad_nan)[0])
        problem = f"{nan_where(e[bad_nan])} ({int(bad_nan.sum())} of {a.size} elements, first at {index})"
        return _with_worst(structural_failure(quantity, problem, tol), a, e, index, inputs)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        same = (a == e) | (np.isnan(a) & np.isnan(e))
        abs_err = np.where(same, 0.0, np.abs(a - e))
        abs_err = np.where(np.isnan(abs_err), np.inf, abs_err)
        magnitude = np.abs(e)
        rel_err = np.where(abs_err == 0.0, 0.0, abs_err / np.where(magnitude > 0, magnitude, np.nan))
        rel_err = np.where(np.isnan(rel_err), np.inf, rel_err)
        bound = tol.atol + tol.rtol * np.where(np.isfinite(magnitude), magnitude, 0.0)
        ratio = np.where(abs_err == 0.0, 0.0, abs_err / np.where(bound > 0, bound, np.nan))
        ratio = np.where(np.isnan(ratio), np.inf, ratio)
    if a.size == 0:
        return Comparison(quantity, True, 0.0, 0.0, tol.rtol, tol.atol, 0.0, tol.reason)
    worst = int(np.argmax(ratio))
    headroom = float(ratio.flat[worst])
    index = tuple(int(i) for i in np.unravel_index(worst, a.shape))
    comparison = Comparison(
        quantity=quantity,
        passed=bool(headroom <= 1.0),
        worst_abs=float(abs_err.max()),
        worst_rel=float(rel_err.max()),
        rtol=tol.rtol,
        atol=tol.atol,
        headroom=headroom,
        tolerance_reason=tol.reason,
    )
    return _with_worst(comparison, a, e, index, inputs)


def _with_worst(
    comparison: Comparison,
    actual: np.ndarray,
    expected: np.ndarray,
    index: tuple[int, ...],
    inputs: Mapping[str, Any] | None,
) -> Comparison:
    """`comparison` with the worst element's index, values and (same-shaped) inputs filled in."""
    comparison.worst_index = index if index else None
    comparison.actual_at_worst = float(actual[index])
    comparison.expected_at_worst = float(expected[index])
    for name, value in (inputs or {}).items():
        array = np.asarray(value)
        if array.shape == actual.shape and array.dtype.kind in "fiub":
            comparison.inputs_at_worst[name] = float(array[index])
    return comparison


def compare_exact(quantity: str, actual: Any, expected: Any) -> Comparison:
    """Bitwise equality (shape, dtype and every value; NaN equal to NaN)."""
    tol = Tolerance(0.0, 0.0, "must be identical")
    expected_array = np.asarray(expected)
    if isinstance(actual, np.generic) or isinstance(actual, (int, float, bool)):
        actual = np.asarray(actual)
    if not isinstance(actual, np.ndarray):
        return structural_failure(quantity, f"returned {describe_type(actual)}, expected a NumPy array", tol)
    if actual.shape != expected_array.shape or actual.dtype != expected_array.dtype:
        return structural_failure(
            quantity,
            f"got {describe_type(actual)}, expected {describe_type(expected_array)}",
            tol,
        )
    equal = np.array_equal(actual, expected_array, equal_nan=actual.dtype.kind in "fc")
    if equal:
        return Comparison(quantity, True, 0.0, 0.0, 0.0, 0.0, 0.0, tol.reason)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(actual.astype(np.float64) - expected_array.astype(np.float64))
        diff = np.where(np.isnan(diff), np.inf, diff)
    worst = int(np.argmax(diff)) if diff.size else 0
    worst_index = tuple(int(i) for i in np.unravel_index(worst, diff.shape)) if diff.ndim else None
    worst_abs = float(diff.max()) if diff.size else 0.0
    problem = f"not identical (worst abs difference {worst_abs:.3g})"
    comparison = Comparison(quantity, False, worst_abs, float("inf"), 0.0, 0.0, float("inf"), tol.reason,
                            problem=problem, worst_index=worst_index)
    if diff.size and actual.dtype.kind in "fiub" and expected_array.dtype.kind in "fiub":
        comparison.actual_at_worst = float(actual.flat[worst])
        comparison.expected_at_worst = float(expected_array.flat[worst])
    return comparison


def compare_values(quantity: str, actual: Any, expected: Any) -> Comparison:
    """Exact equality of plain values (epoch numbers, step counts, lengths)."""
    ok = actual == expected
    tol_reason = "must be equal"
    if ok:
        return Comparison(quantity, True, 0.0, 0.0, 0.0, 0.0, 0.0, tol_reason)
    return Comparison(quantity, False, float("inf"), float("inf"), 0.0, 0.0, float("inf"), tol_reason,
                      problem=f"got {actual!r}, expected {expected!r}")


def check_structure(quantity: str, actual: Any, shape: tuple[int, ...], dtype: str | np.dtype) -> Comparison:
    """A NumPy array of the given shape and dtype holding only finite values (for random outputs that have
    no oracle value to compare with)."""
    if isinstance(actual, np.generic):
        actual = np.asarray(actual)
    if not isinstance(actual, np.ndarray):
        return structural_failure(quantity, f"returned {describe_type(actual)}, expected a NumPy array")
    if actual.shape != tuple(shape):
        return structural_failure(quantity, f"wrong shape {tuple(actual.shape)}, expected {tuple(shape)}")
    if actual.dtype != np.dtype(dtype):
        return structural_failure(quantity, f"wrong dtype {actual.dtype}, expected {np.dtype(dtype).name}")
    if actual.dtype.kind == "f" and not np.all(np.isfinite(actual)):
        bad = int(np.count_nonzero(~np.isfinite(actual)))
        return structural_failure(quantity, f"{bad} of {actual.size} values are NaN or infinite")
    return Comparison(quantity, True, 0.0, 0.0, 0.0, 0.0, 0.0, "shape, dtype and finiteness")
