"""Finite-difference gradient checking: the independent witness for every analytic derivative in the oracle.

Central differences in float64: for a scalar function f,

    df/dx_i ~ (f(x + eps e_i) - f(x - eps e_i)) / (2 eps),

whose truncation error is eps^2 f''' / 6 (about 1e-12 at eps = 1e-6) and whose rounding error is about
u |f| / eps (u = 2^-53, so about 1e-10 |f|). Agreement to a relative error of 1e-6 therefore leaves a wide
margin for a correct gradient, while any wrong term in a derivative shows up as an error of order 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "check_gradient",
    "numerical_gradient",
    "numerical_gradients",
    "numerical_jacobian",
    "numerical_jacobian_vector",
    "relative_error",
]

_TINY = np.finfo(np.float64).tiny


def _scalar(value: ArrayLike) -> float:
    array = np.asarray(value, dtype=np.float64)
    if array.size != 1:
        raise ValueError(f"the function must return a scalar, got an array of shape {array.shape}")
    return float(array.reshape(()))


def numerical_gradient(f: Callable[[np.ndarray], ArrayLike], x: ArrayLike, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar function f at x, in float64, with the shape of x.

    f is called with a float64 array of x's shape, perturbed one entry at a time; x itself is not modified.
    """
    point = np.array(x, dtype=np.float64)
    gradient = np.empty_like(point)
    flat_point = point.reshape(-1)
    flat_gradient = gradient.reshape(-1)
    for i in range(flat_point.size):
        original = flat_point[i]
        flat_point[i] = original + eps
        f_plus = _scalar(f(point))
        flat_point[i] = original - eps
        f_minus = _scalar(f(point))
        flat_point[i] = original
        flat_gradient[i] = (f_plus - f_minus) / (2.0 * eps)
    return gradient


def numerical_gradients(
    f: Callable[[list[np.ndarray]], ArrayLike], arrays: Sequence[ArrayLike], eps: float = 1e-6
) -> list[np.ndarray]:
    """Central-difference gradients of a scalar function of several arrays (e.g. a loss of [W0, b0, W1, b1]).

    f receives a list of float64 arrays; entry k of the result is df/d arrays[k].
    """
    point = [np.array(a, dtype=np.float64) for a in arrays]
    gradients = []
    for k in range(len(point)):
        def f_of_one(value: np.ndarray, k: int = k) -> ArrayLike:
            return f([*point[:k], value, *point[k + 1:]])

        gradients.append(numerical_gradient(f_of_one, point[k], eps))
    return gradients


def numerical_jacobian_vector(
    f: Callable[[np.ndarray], ArrayLike], x: ArrayLike, v: ArrayLike, eps: float = 1e-6
) -> np.ndarray:
    """Directional derivative J(x) v ~ (f(x + eps v) - f(x - eps v)) / (2 eps) of an array-valued f."""
    point = np.asarray(x, dtype=np.float64)
    direction = np.asarray(v, dtype=np.float64)
    if direction.shape != point.shape:
        raise ValueError(f"direction shape {direction.shape} differs from point shape {point.shape}")
    f_plus = np.asarray(f(point + eps * direction), dtype=np.float64)
    f_minus = np.asarray(f(point - eps * direction), dtype=np.float64)
    return (f_plus - f_minus) / (2.0 * eps)


def numerical_jacobian(f: Callable[[np.ndarray], ArrayLike], x: ArrayLike, eps: float = 1e-6) -> np.ndarray:
    """Jacobian of an array-valued f at x, of shape f(x).shape + x.shape (J[i, j] = df_i/dx_j)."""
    point = np.asarray(x, dtype=np.float64)
    columns = []
    for j in range(point.size):
        basis = np.zeros(point.size)
        basis[j] = 1.0
        columns.append(numerical_jacobian_vector(f, point, basis.reshape(point.shape), eps))
    jacobian = np.stack(columns, axis=-1)
    return jacobian.reshape(jacobian.shape[:-1] + point.shape)


def relative_error(analytic: ArrayLike, numeric: ArrayLike) -> float:
    """max |a - n| / max(max |a|, max |n|, tiny): the worst difference relative to the larger gradient.

    Normalising by the largest magnitude (not entry by entry) keeps entries that are zero in one and 1e-11 in
    the other from counting as 100% wrong; tiny (the smallest normal float64) makes two zero gradients agree
    with error 0. Shapes must match exactly.
    """
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"analytic gradient shape {a.shape} differs from numeric gradient shape {n.shape}")
    if a.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(n))), _TINY)
    return float(np.max(np.abs(a - n)) / scale)


def check_gradient(
    f: Callable[[np.ndarray], ArrayLike],
    grad: Callable[[np.ndarray], ArrayLike] | ArrayLike,
    x: ArrayLike,
    eps: float = 1e-6,
) -> float:
    """Relative error (see `relative_error`) between an analytic gradient of f at x and central differences.

    grad is either a function returning the analytic gradient at a point or that gradient already computed.
    """
    point = np.array(x, dtype=np.float64)
    analytic = grad(point.copy()) if callable(grad) else grad
    return relative_error(analytic, numerical_gradient(f, point, eps))
