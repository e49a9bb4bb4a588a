"""Self-checks of the finite-difference gradient checker on functions with closed-form gradients."""

from __future__ import annotations

import numpy as np
import pytest

from mlpbench.reference.gradcheck import (
    check_gradient,
    numerical_gradient,
    numerical_gradients,
    numerical_jacobian,
    numerical_jacobian_vector,
    relative_error,
)


def wavy(x: np.ndarray) -> float:
    """f(x) = sum x^2 sin(x), gradient 2 x sin(x) + x^2 cos(x)."""
    return float(np.sum(x * x * np.sin(x)))


def wavy_gradient(x: np.ndarray) -> np.ndarray:
    return 2 * x * np.sin(x) + x * x * np.cos(x)


@pytest.fixture
def point() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(3, 4))


def test_numerical_gradient_matches_closed_form(point: np.ndarray) -> None:
    numeric = numerical_gradient(wavy, point)
    assert numeric.shape == point.shape
    assert relative_error(wavy_gradient(point), numeric) < 1e-8


def test_numerical_gradient_leaves_the_point_untouched(point: np.ndarray) -> None:
    before = point.copy()
    numerical_gradient(wavy, point)
    np.testing.assert_array_equal(point, before)


def test_check_gradient_accepts_a_right_gradient_and_flags_a_wrong_one(point: np.ndarray) -> None:
    assert check_gradient(wavy, wavy_gradient, point) < 1e-8
    assert check_gradient(wavy, wavy_gradient(point), point) < 1e-8

    def missing_term(x: np.ndarray) -> np.ndarray:
        return 2 * x * np.sin(x)

    assert check_gradient(wavy, missing_term, point) > 0.1


def test_numerical_gradient_requires_a_scalar_function(point: np.ndarray) -> None:
    with pytest.raises(ValueError, match="scalar"):
        numerical_gradient(lambda x: x * 2, point)


def test_relative_error_definition() -> None:
    analytic = np.array([1.0, -4.0, 0.0])
    numeric = np.array([1.0, -3.0, 0.5])
    # max |a - n| = 1, largest magnitude = 4
    assert relative_error(analytic, numeric) == pytest.approx(1.0 / 4.0)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(1e-30 * analytic, 1e-30 * numeric) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="shape"):
        relative_error(np.zeros(3), np.zeros(4))


def test_numerical_jacobian_of_a_linear_map_is_its_matrix() -> None:
    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(3, 5))
    x = rng.normal(size=5)
    jacobian = numerical_jacobian(lambda v: matrix @ v, x)
    assert jacobian.shape == (3, 5)
    np.testing.assert_allclose(jacobian, matrix, rtol=1e-8, atol=1e-9)
    direction = rng.normal(size=5)
    jvp = numerical_jacobian_vector(lambda v: matrix @ v, x, direction)
    np.testing.assert_allclose(jvp, matrix @ direction, rtol=1e-8, atol=1e-9)


def test_numerical_gradients_of_a_function_of_several_arrays() -> None:
    """L(W, b) = sum (W x + b)^2: dL/dW = 2 (W x + b) x^T, dL/db = 2 (W x + b)."""
    rng = np.random.default_rng(2)
    weight, bias, x = rng.normal(size=(2, 3)), rng.normal(size=2), rng.normal(size=3)

    def loss(params: list[np.ndarray]) -> float:
        return float(np.sum((params[0] @ x + params[1]) ** 2))

    residual = weight @ x + bias
    grad_weight, grad_bias = numerical_gradients(loss, [weight, bias])
    assert relative_error(2 * np.outer(residual, x), grad_weight) < 1e-8
    assert relative_error(2 * residual, grad_bias) < 1e-8
