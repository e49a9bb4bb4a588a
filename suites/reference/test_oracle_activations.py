"""Oracle self-checks for activations: derivatives against central differences, PyTorch's kink conventions,
stability at +-1e4, dtype preservation, softmax properties, and the vectorised erf against math.erf."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from mlpbench.reference import activations as act
from mlpbench.reference.gradcheck import numerical_jacobian, numerical_jacobian_vector, relative_error

ELEMENTWISE = [name for name, a in act.ACTIVATIONS.items() if a.derivative is not None]

# (activation, params, kinks): central differences are taken at least 1e-3 away from every kink
DIFFERENTIABLE_CASES = [
    ("identity", {}, ()),
    ("step", {}, (0.0,)),
    ("sigmoid", {}, ()),
    ("tanh", {}, ()),
    ("relu", {}, (0.0,)),
    ("leaky_relu", {}, (0.0,)),
    ("leaky_relu", {"negative_slope": 0.2}, (0.0,)),
    ("gelu", {}, ()),
    ("gelu", {"approximate": "tanh"}, ()),
    ("gelu_tanh", {}, ()),
    ("elu", {}, (0.0,)),
    ("elu", {"alpha": 1.7}, (0.0,)),
    ("silu", {}, ()),
    ("softplus", {}, (20.0,)),
    ("softplus", {"beta": 2.0, "threshold": 3.0}, (1.5,)),
]


def _sample_points(kinks: tuple[float, ...]) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(scale=3.0, size=200), rng.uniform(-25, 25, size=100), [-1.0, 0.5, 2.0]])
    for kink in kinks:
        x = x[np.abs(x - kink) > 1e-3]
    return x


@pytest.mark.parametrize(("name", "params", "kinks"), DIFFERENTIABLE_CASES)
def test_derivative_matches_central_differences(name: str, params: dict, kinks: tuple[float, ...]) -> None:
    activation = act.get_activation(name)
    x = _sample_points(kinks)
    # for an elementwise f the Jacobian is diagonal: J 1 = f'(x)
    numeric = numerical_jacobian_vector(lambda v: activation.forward(v, **params), x, np.ones_like(x))
    analytic = activation.derivative(x, **params)
    assert relative_error(analytic, numeric) < 1e-6


@pytest.mark.parametrize(
    ("name", "params", "expected"),
    [
        ("relu", {}, 0.0),  # threshold_backward: x <= 0 -> 0
        ("leaky_relu", {}, 0.01),  # x > 0 ? 1 : negative_slope
        ("leaky_relu", {"negative_slope": 0.2}, 0.2),
        ("elu", {}, 1.0),  # x <= 0 ? alpha exp(x) : 1
        ("elu", {"alpha": 0.5}, 0.5),
        ("step", {}, 0.0),
        ("gelu", {}, 0.5),  # smooth: Phi(0) + 0
        ("gelu_tanh", {}, 0.5),
        ("silu", {}, 0.5),
        ("sigmoid", {}, 0.25),
        ("tanh", {}, 1.0),
        ("identity", {}, 1.0),
        ("softplus", {}, 0.5),
    ],
)
def test_derivative_at_zero_follows_pytorch(name: str, params: dict, expected: float) -> None:
    activation = act.get_activation(name)
    assert activation.derivative(np.array([0.0, -0.0]), **params).tolist() == [expected, expected]


def test_softplus_switches_to_identity_above_the_threshold() -> None:
    """PyTorch: linear where beta x > threshold (strictly), log(1 + exp(beta x)) / beta at the threshold."""
    beta, threshold = 2.0, 3.0
    at, above = threshold / beta, np.nextafter(threshold / beta, np.inf)
    x = np.array([at, above])
    y = act.softplus(x, beta=beta, threshold=threshold)
    assert y[0] == pytest.approx(math.log1p(math.exp(threshold)) / beta, rel=1e-15)
    assert y[1] == above
    d = act.softplus_derivative(x, beta=beta, threshold=threshold)
    assert d[0] == pytest.approx(1.0 / (1.0 + math.exp(-threshold)), rel=1e-15)
    assert d[1] == 1.0


def test_forward_values_at_simple_points() -> None:
    x = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(act.step(x), [0.0, 1.0, 1.0])  # Heaviside: 1 at 0
    np.testing.assert_array_equal(act.relu(x), [0.0, 0.0, 3.0])
    np.testing.assert_allclose(act.leaky_relu(x, negative_slope=0.1), [-0.2, 0.0, 3.0])
    np.testing.assert_allclose(act.elu(x, alpha=2.0), [2.0 * math.expm1(-2.0), 0.0, 3.0])
    np.testing.assert_allclose(act.sigmoid(x), [1 / (1 + math.exp(2.0)), 0.5, 1 / (1 + math.exp(-3.0))])
    exact_gelu = [v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x]
    np.testing.assert_allclose(act.gelu(x), exact_gelu, rtol=1e-15)
    np.testing.assert_allclose(act.silu(x), x / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_allclose(act.softplus(x), np.log1p(np.exp(x)), rtol=1e-15)
    tanh_approx = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(act.gelu_tanh(x), tanh_approx, rtol=1e-15)


EXTREME_LIMITS = {
    # name: (f(-1e4), f(1e4), f'(-1e4), f'(1e4))
    "identity": (-1e4, 1e4, 1.0, 1.0),
    "step": (0.0, 1.0, 0.0, 0.0),
    "sigmoid": (0.0, 1.0, 0.0, 0.0),
    "tanh": (-1.0, 1.0, 0.0, 0.0),
    "relu": (0.0, 1e4, 0.0, 1.0),
    "leaky_relu": (-100.0, 1e4, 0.01, 1.0),
    "gelu": (0.0, 1e4, 0.0, 1.0),
    "gelu_tanh": (0.0, 1e4, 0.0, 1.0),
    "elu": (-1.0, 1e4, 0.0, 1.0),
    "silu": (0.0, 1e4, 0.0, 1.0),
    "softplus": (0.0, 1e4, 0.0, 1.0),
}


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_extreme_inputs_are_stable_and_reach_the_limits(name: str, dtype: type) -> None:
    activation = act.get_activation(name)
    x = np.array([-1e4, -1e3, -50.0, 0.0, 50.0, 1e3, 1e4], dtype=dtype)
    with np.errstate(all="raise"):
        y = activation.forward(x)
        d = activation.derivative(x)
        g = activation.backward(x, y, np.ones_like(x))
    for out in (y, d, g):
        assert out.dtype == dtype
        assert np.all(np.isfinite(out))
    low, high, d_low, d_high = EXTREME_LIMITS[name]
    rtol = float(np.finfo(dtype).eps)
    np.testing.assert_allclose([y[0], y[-1], d[0], d[-1]], [low, high, d_low, d_high], rtol=rtol, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_of_extreme_logits(dtype: type) -> None:
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype=dtype)
    with np.errstate(all="raise"):
        y = act.softmax(x)
        g = act.softmax_backward(y, np.ones_like(y))
    assert y.dtype == dtype
    np.testing.assert_array_equal(y[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(y[1], [1 / 3] * 3, rtol=float(np.finfo(dtype).eps))
    np.testing.assert_allclose(g, 0.0, atol=float(np.finfo(dtype).eps))  # softmax is invariant to x + c 1


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_inputs_are_not_modified_and_integer_input_gives_float64(name: str) -> None:
    activation = act.get_activation(name)
    x = np.linspace(-3.0, 3.0, 13)
    before = x.copy()
    activation.forward(x)
    activation.derivative(x)
    activation.backward(x, None, np.ones_like(x))
    np.testing.assert_array_equal(x, before)
    assert activation.forward(np.arange(-2, 3)).dtype == np.float64


def test_backward_is_grad_times_derivative() -> None:
    rng = np.random.default_rng(3)
    x, grad_y = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    leaky = act.get_activation("leaky_relu")
    expected = grad_y * act.leaky_relu_derivative(x, negative_slope=0.3)
    np.testing.assert_array_equal(leaky.backward(x, None, grad_y, negative_slope=0.3), expected)


def test_softmax_backward_matches_the_numerical_jacobian() -> None:
    rng = np.random.default_rng(4)
    x, grad_y = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    jacobian = numerical_jacobian(act.softmax, x)  # shape (3, 4, 3, 4)
    numeric = np.einsum("ij,ijkl->kl", grad_y, jacobian)
    softmax = act.get_activation("softmax")
    assert relative_error(softmax.backward(x, act.softmax(x), grad_y), numeric) < 1e-6
    assert relative_error(softmax.backward(x, None, grad_y), numeric) < 1e-6
    x_t = x.T.copy()
    axis0 = act.softmax_backward(act.softmax(x_t, axis=0), grad_y.T, axis=0)
    np.testing.assert_allclose(axis0, act.softmax_backward(act.softmax(x), grad_y).T, rtol=1e-14)


finite_logits = arrays(
    np.float64,
    array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6),
    elements=st.floats(-1e4, 1e4, allow_nan=False),
)


@settings(max_examples=60, deadline=None)
@given(finite_logits)
def test_softmax_is_a_distribution_along_the_last_axis(x: np.ndarray) -> None:
    with np.errstate(all="raise"):
        y = act.softmax(x)
    assert y.shape == x.shape
    assert np.all((y >= 0.0) & (y <= 1.0))
    np.testing.assert_allclose(np.sum(y, axis=-1), 1.0, rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(finite_logits, st.floats(-1e3, 1e3, allow_nan=False))
def test_softmax_is_shift_invariant(x: np.ndarray, shift: float) -> None:
    np.testing.assert_allclose(act.softmax(x + shift), act.softmax(x), rtol=1e-9, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, array_shapes(max_dims=3, max_side=5), elements=st.floats(-1e4, 1e4, allow_nan=False)),
    st.sampled_from(ELEMENTWISE),
)
def test_elementwise_activations_preserve_shape(x: np.ndarray, name: str) -> None:
    activation = act.get_activation(name)
    with np.errstate(all="raise"):
        assert activation.forward(x).shape == x.shape
        assert activation.derivative(x).shape == x.shape


def test_erf_and_erfc_match_math_on_a_dense_grid() -> None:
    x = np.concatenate([np.linspace(-27.0, 27.0, 54001), np.geomspace(1e-300, 1.0, 600)])
    x = np.concatenate([x, -x[-600:]])
    want_erf = np.array([math.erf(v) for v in x])
    want_erfc = np.array([math.erfc(v) for v in x])
    nonzero = want_erf != 0
    assert np.max(np.abs(act.erf(x)[nonzero] / want_erf[nonzero] - 1.0)) < 1e-15
    assert np.all(act.erf(x)[~nonzero] == 0.0)
    normal = want_erfc > 1e-300  # below that erfc is subnormal and only absolutely accurate
    assert np.max(np.abs(act.erfc(x)[normal] / want_erfc[normal] - 1.0)) < 2e-15
    assert np.max(np.abs(act.erfc(x)[~normal] - want_erfc[~normal])) < 1e-300


def test_erf_special_values() -> None:
    with np.errstate(all="raise"):
        values = act.erf(np.array([0.0, np.inf, -np.inf, 1e4, -1e4]))
        complements = act.erfc(np.array([0.0, np.inf, -np.inf, 1e4, -1e4]))
    np.testing.assert_array_equal(values, [0.0, 1.0, -1.0, 1.0, -1.0])
    np.testing.assert_array_equal(complements, [1.0, 0.0, 2.0, 0.0, 2.0])
    assert np.isnan(act.erf(np.array([np.nan]))[0]) and np.isnan(act.erfc(np.array([np.nan]))[0])


def test_registry_names_and_errors() -> None:
    expected = {
        "identity", "step", "sigmoid", "tanh", "relu", "leaky_relu", "gelu", "gelu_tanh",
        "softmax", "elu", "silu", "softplus",
    }
    assert set(act.ACTIVATIONS) == expected
    assert act.get_activation("softmax").derivative is None
    with pytest.raises(ValueError, match="unknown activation 'swish'; known: identity"):
        act.get_activation("swish")
    with pytest.raises(ValueError, match="no parameter"):
        act.get_activation("relu").params(alpha=1.0)
    assert act.get_activation("elu").params(alpha=2.0) == {"alpha": 2.0}
    with pytest.raises(ValueError, match="approximate"):
        act.gelu(np.zeros(2), approximate="erf")
