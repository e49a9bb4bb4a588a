"""The oracle against arbitrary precision (mpmath, 50 digits), across the float64 range. No PyTorch.

What is proven, per function f (value or derivative) at float64 inputs x:

    |oracle(x) - f(x)|  <=  K_f * (1 + kappa_f(x)) * ulp(f(x))  +  SUBNORMAL_SLACK

f(x) is the exact value (computed to 50 digits), ulp the spacing of float64 at it, kappa_f(x) = sum_i
|x_i (d f / d x_i)(x) / f(x)| the condition number of f at x (how much a relative change of the inputs moves
f), K_f the per-function constant in BOUNDS. So the oracle is backward stable with constant K_f: it returns
f, to K_f ulp, at inputs within K_f ulp of x. Where f is well conditioned (kappa_f <= 1, most of the range)
this is "within 2 K_f ulp of the exact value"; at a zero of f (gelu' near -0.75, p - t near p = t) it
weakens as it must. SUBNORMAL_SLACK = 64 * 2^-1074 allows for the bits a subnormal result cannot hold.
Infinite or NaN exact values (and the limits at +-inf) must be met exactly, with their sign.

Edge inputs: 0, -0.0, the smallest subnormal, DBL_MIN, DBL_MAX, +-inf, NaN, the saturation regions of the
exp-based functions (|x| around 20, 30, 37, 40, 710, 745), 1e154 (where x^2 overflows), 1e300, 9e307, and a
logarithmic sweep of both signs from 1e-300 to 1e300.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpbench.reference import activations as A
from mlpbench.reference import losses as L

mp.mp.dps = 50

DBL_MAX = np.finfo(np.float64).max
DBL_MIN = np.finfo(np.float64).tiny
SUBNORMAL_SLACK = 64 * 2.0**-1074

SWEEP = [s * 10.0**e for e in range(-300, 301, 25) for s in (1.0, -1.0)]
EDGES = [0.0, -0.0, 5e-324, -5e-324, DBL_MIN, -DBL_MIN, 1e-10, -1e-10, 0.5, -0.5, 0.75, -0.75, 1.0, -1.0,
         1.2784645, -1.2784645, 2.0, -2.0, 5.0, -5.0, 5.9, -5.9, 10.0, -10.0, 18.89, -18.89, 20.0, -20.0,
         20.5, -20.5, 30.0, -30.0, 37.22, -37.22, 38.0, -38.0, 40.0, -40.0, 100.0, -100.0, 709.0, -709.0,
         710.0, -710.0, 745.0, -745.0, 1e154, -1e154, 1.4e154, -1.4e154, 1e200, -1e200, 9e307, -9e307,
         DBL_MAX, -DBL_MAX, math.inf, -math.inf]
GRID = np.array(EDGES + SWEEP)


# ---------------------------------------------------------------------------------------------------------
# Exact references (mpmath); limits at +-inf given explicitly
# ---------------------------------------------------------------------------------------------------------

KAPPA = mp.mpf(float(np.float64(0.044715)))
C_TANH = mp.mpf(math.sqrt(2.0 / math.pi))   # the float64 constants the formulas use, taken as exact


def _sig(x):
    return 1 / (1 + mp.exp(-x))


def _erfc(y):
    """mpmath's erfc; beyond |y| = 1e5 its value is 0 or 2 to far more than float64 can tell."""
    if abs(y) > 1e5:
        return mp.mpf(0) if y > 0 else mp.mpf(2)
    return mp.erfc(y)


def _gelu_u(x):
    return C_TANH * (x + KAPPA * x**3)


EXACT: dict[str, Callable] = {
    "sigmoid": _sig,
    "sigmoid'": lambda x: _sig(x) * _sig(-x),
    "tanh": mp.tanh,
    "tanh'": lambda x: mp.sech(x) ** 2,
    "silu": lambda x: x * _sig(x),
    "silu'": lambda x: _sig(x) * (1 + x * _sig(-x)),
    "softplus": lambda x: mp.log1p(mp.exp(x)),  # exact: the oracle's default (PyTorch's cutoff is a profile)
    "softplus'": lambda x: _sig(x),
    "gelu": lambda x: x * _erfc(-x / mp.sqrt(2)) / 2,
    "gelu'": lambda x: _erfc(-x / mp.sqrt(2)) / 2 + x * mp.exp(-x * x / 2) / mp.sqrt(2 * mp.pi),
    "gelu_tanh": lambda x: x * _sig(2 * _gelu_u(x)),
    "gelu_tanh'": lambda x: _sig(2 * _gelu_u(x))
    + x * 2 * _sig(2 * _gelu_u(x)) * _sig(-2 * _gelu_u(x)) * C_TANH * (1 + 3 * KAPPA * x * x),
    "elu": lambda x: x if x > 0 else mp.expm1(x),
    "elu'": lambda x: mp.mpf(1) if x > 0 else mp.exp(x),
    "relu": lambda x: max(x, mp.mpf(0)),
    "leaky_relu": lambda x: x if x > 0 else mp.mpf(0.01) * x,
}
LIMITS = {  # f(-inf), f(+inf)
    "sigmoid": (0.0, 1.0), "sigmoid'": (0.0, 0.0), "tanh": (-1.0, 1.0), "tanh'": (0.0, 0.0),
    "silu": (-0.0, math.inf), "silu'": (0.0, 1.0), "softplus": (0.0, math.inf), "softplus'": (0.0, 1.0),
    "gelu": (-0.0, math.inf), "gelu'": (0.0, 1.0), "gelu_tanh": (-0.0, math.inf), "gelu_tanh'": (0.0, 1.0),
    "elu": (-1.0, math.inf), "elu'": (0.0, 1.0), "relu": (0.0, math.inf), "leaky_relu": (-math.inf, math.inf),
}
ORACLE: dict[str, Callable] = {
    "sigmoid": A.sigmoid, "sigmoid'": A.sigmoid_derivative, "tanh": A.tanh, "tanh'": A.tanh_derivative,
    "silu": A.silu, "silu'": A.silu_derivative, "softplus": A.softplus, "softplus'": A.softplus_derivative,
    "gelu": A.gelu, "gelu'": A.gelu_derivative, "gelu_tanh": A.gelu_tanh, "gelu_tanh'": A.gelu_tanh_derivative,
    "elu": A.elu, "elu'": A.elu_derivative, "relu": A.relu, "leaky_relu": A.leaky_relu,
}
BOUNDS: dict[str, float] = {  # K_f, the per-function constant of the bound (see the module docstring)
    "sigmoid": 2, "sigmoid'": 3, "tanh": 1, "tanh'": 3, "silu": 2, "silu'": 4, "softplus": 2, "softplus'": 2,
    "gelu": 3, "gelu'": 6, "gelu_tanh": 3, "gelu_tanh'": 6, "elu": 1, "elu'": 1, "relu": 0, "leaky_relu": 1,
}
"""Each about 1.5 times the worst ratio error / ((1 + kappa) ulp) found over the edge grid and a sweep of
6,000 random inputs in [-40, 40], [-2, 2] and magnitudes 1e-10..1e3 (gelu' 3.6, gelu_tanh' 4.1, silu' 2.2,
sigmoid' 2.0, tanh' 2.0, gelu_tanh 1.8, gelu 1.6, sigmoid 1.5, softplus 1.1; the rest below 1)."""


def condition(f: Callable, args: list) -> mp.mpf:
    """kappa = sum_i |a_i d f / d a_i / f| (0 where f = 0 and so is every term's numerator)."""
    value = f(*args)
    total = mp.mpf(0)
    for i, a in enumerate(args):
        if a == 0:
            continue

        def partial(t, i=i):
            shifted = list(args)
            shifted[i] = t
            return f(*shifted)

        derivative = mp.diff(partial, a, h=abs(a) * mp.mpf(10) ** -20)
        if value == 0:
            return mp.inf if derivative != 0 else mp.mpf(0)
        total += abs(a * derivative / value)
    return total


def assert_within_bound(name: str, got: float, exact: mp.mpf, k: float, kappa: mp.mpf, where: str) -> None:
    target = float(exact)  # the correctly rounded value (inf where it overflows)
    if math.isinf(target) or exact == 0:
        assert got == target, f"{name} at {where}: got {got!r}, exact {mp.nstr(exact, 20)}"
        return
    allowed = k * (1 + float(min(kappa, mp.mpf(1e300)))) * math.ulp(target) + SUBNORMAL_SLACK
    error = abs(mp.mpf(got) - exact)
    assert error <= allowed, (
        f"{name} at {where}: got {got!r}, exact {mp.nstr(exact, 20)}, error {float(error / math.ulp(target)):.3g} "
        f"ulp, allowed {k} * (1 + kappa = {float(kappa):.3g}) ulp"
    )


@pytest.mark.parametrize("name", sorted(EXACT))
def test_activation_within_its_bound_across_the_float64_range(name: str) -> None:
    got = ORACLE[name](GRID)
    assert got.dtype == np.float64 and got.shape == GRID.shape
    for x, value in zip(GRID, got, strict=True):
        if math.isinf(x):
            expected = LIMITS[name][int(x > 0)]
            assert value == expected and math.copysign(1, value) == math.copysign(1, expected), f"{name}({x})"
            continue
        exact = EXACT[name](mp.mpf(x))
        kappa = condition(EXACT[name], [mp.mpf(x)])
        assert_within_bound(name, float(value), exact, BOUNDS[name], kappa, f"x = {x!r}")
    assert np.isnan(ORACLE[name](np.array([np.nan]))).all()


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.sampled_from(sorted(EXACT)), st.floats(allow_nan=False, allow_infinity=False))
def test_activation_bound_on_arbitrary_floats(name: str, x: float) -> None:
    """The same bound at any float64 hypothesis draws (it favours edges: 0, subnormals, huge values)."""
    value = float(ORACLE[name](np.array([x]))[0])
    exact = EXACT[name](mp.mpf(x))
    assert_within_bound(name, value, exact, BOUNDS[name], condition(EXACT[name], [mp.mpf(x)]), f"x = {x!r}")


def test_softplus_with_beta_keeps_the_linear_regime_finite() -> None:
    """beta = 2 at x = 1e308: beta x overflows, the result is x (the linear regime), not NaN, exact or cut off."""
    for threshold in (None, 20.0):
        assert A.softplus(np.array([1e308]), beta=2.0, threshold=threshold)[0] == 1e308
        assert A.softplus_derivative(np.array([1e308]), beta=2.0, threshold=threshold)[0] == 1.0


def test_softplus_threshold_is_pytorchs_linear_cutoff() -> None:
    """With PyTorch's threshold 20, f(x) = x and f'(x) = 1 exactly where beta x > 20; below it, the exact form."""
    x = np.array([19.99, 20.0, 20.01, 30.0, 12.0])
    cut, exact = A.softplus(x, threshold=20.0), A.softplus(x)
    assert list(cut[2:4]) == list(x[2:4]) and list(A.softplus_derivative(x, threshold=20.0)[2:4]) == [1.0, 1.0]
    assert list(cut[[0, 1, 4]]) == list(exact[[0, 1, 4]])
    assert A.softplus(np.array([6.0]), beta=2.0, threshold=10.0)[0] == 6.0  # beta x = 12 > 10


# ---------------------------------------------------------------------------------------------------------
# Losses (per element, reduction "none"; the gradient of the sum) and output layers fused with their losses
# ---------------------------------------------------------------------------------------------------------

FLOOR = mp.mpf(L.BCE_GRAD_EPS)
PRED_TARGET = [(p, t) for p in (0.0, -0.0, 5e-324, 1e-300, 0.5, -1.0, 3.0, 1e154, 1.4e154, -1e200, 1e300, DBL_MAX)
               for t in (0.0, 1.0, 0.5, -3.0, 1e-300, 1e154, -1e300)]
PROBABILITY_TARGET = [(p, t) for p in (0.0, 5e-324, 1e-300, 1e-50, 1e-17, 1e-7, 0.1, 0.5, 0.9, 1 - 2**-53, 1.0)
                      for t in (0.0, 1.0, 0.21, 0.5)]
LOGIT_TARGET = [(z, t) for z in EDGES + [-1e300, 1e300] for t in (0.0, 1.0, 0.21, 0.5)]


def _sig_minus(z, t):
    """s(z) - t without cancelling inside the 50 digits: (1 - t) - s(-z) for z > 0."""
    return (1 - t) - _sig(-z) if z > 0 else _sig(z) - t


def _softplus_mp(z):
    return z + mp.log1p(mp.exp(-z)) if z > 0 else mp.log1p(mp.exp(z))


def _bce_value(p, t):
    log_p = max(mp.log(p), -100) if p > 0 else mp.mpf(-100)
    log_q = max(mp.log1p(-p), -100) if p < 1 else mp.mpf(-100)
    return -((t * log_p if t else 0) + ((1 - t) * log_q if t != 1 else 0))


LOSS_CASES: dict[str, tuple[Callable, Callable, list, float]] = {
    # name: (oracle function of (pred, target), exact function, inputs, K); each K is at least 1.5 times the
    # worst ratio found over these grids and 1,500 random pairs per family (s(z) - t: 1.6; the rest below 1)
    "mse": (lambda p, t: L.mse(p, t, "none"), lambda p, t: (p - t) ** 2, PRED_TARGET, 2),
    "mse_grad": (lambda p, t: L.mse_grad(p, t, "none"), lambda p, t: 2 * (p - t), PRED_TARGET, 1),
    "l1": (lambda p, t: L.l1(p, t, "none"), lambda p, t: abs(p - t), PRED_TARGET, 1),
    "huber": (lambda p, t: L.huber(p, t, "none"),
              lambda p, t: (p - t) ** 2 / 2 if abs(p - t) < 1 else abs(p - t) - mp.mpf(0.5), PRED_TARGET, 2),
    "huber_grad": (lambda p, t: L.huber_grad(p, t, "none"), lambda p, t: max(-1, min(1, p - t)), PRED_TARGET, 1),
    "bce": (lambda p, t: L.binary_cross_entropy(p, t, "none"), _bce_value, PROBABILITY_TARGET, 2),
    "bce_grad": (lambda p, t: L.binary_cross_entropy_grad(p, t, "none"),
                 lambda p, t: (p - t) / max(p * (1 - p), FLOOR), PROBABILITY_TARGET, 3),
    "bce_logits": (lambda z, t: L.binary_cross_entropy_with_logits(z, t, "none"),
                   lambda z, t: (t * _softplus_mp(-z) if t else 0) + ((1 - t) * _softplus_mp(z) if t != 1 else 0),
                   LOGIT_TARGET, 3),
    "bce_logits_grad": (lambda z, t: L.binary_cross_entropy_with_logits_grad(z, t, "none"),
                        _sig_minus, LOGIT_TARGET, 3),
    "sigmoid+bce_grad": (lambda z, t: L.sigmoid_binary_cross_entropy_grad(z, t, "none"),
                         lambda z, t: _sig_minus(z, t) * _sig(z) * _sig(-z) / max(_sig(z) * _sig(-z), FLOOR),
                         LOGIT_TARGET, 4),
    "sigmoid+bce_grad (no floor)": (
        lambda z, t: L.sigmoid_binary_cross_entropy_grad(z, t, "none", grad_floor=None),
        _sig_minus, LOGIT_TARGET, 3),
}
LOSS_LIMITS = {  # (z, t) at an infinite logit: the exact limit
    "bce_logits": lambda z, t: (math.inf if (z > 0 and t != 1) or (z < 0 and t != 0) else 0.0),
    "bce_logits_grad": lambda z, t: float(z > 0) - t,
    "sigmoid+bce_grad": lambda z, t: 0.0,
    "sigmoid+bce_grad (no floor)": lambda z, t: float(z > 0) - t,
}


@pytest.mark.parametrize("name", sorted(LOSS_CASES))
def test_loss_within_its_bound_across_the_float64_range(name: str) -> None:
    oracle, exact_fn, inputs, k = LOSS_CASES[name]
    pred = np.array([p for p, _ in inputs])
    target = np.array([t for _, t in inputs])
    with np.errstate(over="ignore", invalid="ignore"):
        got = oracle(pred, target)
    for (p, t), value in zip(inputs, got, strict=True):
        if math.isinf(p):
            assert value == LOSS_LIMITS[name](p, t), f"{name} at ({p}, {t}): {value}"
            continue
        exact_fn_mp = exact_fn
        args = [mp.mpf(p), mp.mpf(t)]
        exact = exact_fn_mp(*args)
        if math.isinf(float(exact)) or exact == 0:
            assert float(value) == float(exact), f"{name} at ({p!r}, {t!r}): got {value!r}, exact {exact}"
            continue
        assert_within_bound(name, float(value), exact, k, condition(exact_fn_mp, args), f"({p!r}, {t!r})")


def test_small_losses_keep_their_digits() -> None:
    """BCE with logits at z = 37.22, t = 1 is 6.83e-17 (not 0); at 18.89 its relative error is below 1e-15."""
    for z in (37.22, 18.89):
        exact = _softplus_mp(-mp.mpf(z))
        got = L.binary_cross_entropy_with_logits(np.array([z]), np.array([1.0]), "none")[0]
        assert abs(mp.mpf(got) - exact) <= 2 * math.ulp(float(exact))
    assert L.binary_cross_entropy_with_logits(np.array([np.inf]), np.array([0.21]), "none")[0] == np.inf


def test_mse_gradient_stays_finite_beyond_half_of_dbl_max() -> None:
    """|p - t| = 1.5e308 > DBL_MAX / 2: 2 (p - t) / n with n = 2 is 1.5e308, computed as (p - t) (2 / n)."""
    pred, target = np.array([1.5e308, 0.0]), np.array([0.0, 0.0])
    assert L.mse_grad(pred, target)[0] == 1.5e308


@pytest.mark.parametrize("name", ["mse", "l1", "huber", "binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_zero_dimensional_inputs(name: str) -> None:
    loss = L.get_loss(name)
    value, grad = loss.value(np.array(0.5), np.array(1.0)), loss.gradient(np.array(0.5), np.array(1.0))
    assert value.shape == () and grad.shape == ()
    np.testing.assert_equal(value, loss.value(np.array([0.5]), np.array([1.0])))
    np.testing.assert_equal(grad, loss.gradient(np.array([0.5]), np.array([1.0]))[0])
    if name == "mse":
        assert value == 0.25  # PyTorch: F.mse_loss(tensor(0.5), tensor(1.0)) = 0.25


@pytest.mark.parametrize("name", ["binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_bce_targets_outside_the_unit_interval_raise(name: str) -> None:
    loss = L.get_loss(name)
    for bad in (-0.1, 1.5, np.nan):
        with pytest.raises(ValueError, match="targets must lie in"):
            loss.value(np.array([0.5]), np.array([bad]))
        with pytest.raises(ValueError, match="targets must lie in"):
            loss.gradient(np.array([0.5]), np.array([bad]))


LOGIT_ROWS = [[40.0, 0.0, -3.0], [800.0, 0.0, -800.0], [1e300, 0.0, -1e300], [0.0, 0.0, 0.0], [-745.0, 0.0, 1e-300],
              [5e-324, -5e-324, 0.0], [20.0, 19.5, -30.0], [1e154, 1e154, -1e154]]


def _log_softmax_mp(row, c):
    m = max(row)
    return row[c] - m - mp.log(mp.fsum(mp.exp(v - m) for v in row))


@pytest.mark.parametrize("row", LOGIT_ROWS, ids=str)
def test_softmax_cross_entropy_value_and_gradient(row: list[float]) -> None:
    """cross_entropy (softmax fused with its loss): l = -log softmax(z)_y within 2 (1 + kappa) ulp,
    dl/dz = softmax(z) - onehot(y) within 2 ulp per entry, for every class y, also as one-hot probabilities."""
    z = np.array([row] * 3)
    y = np.arange(3)
    values = L.cross_entropy(z, y, "none")
    grads = L.cross_entropy_grad(z, y, "none")
    soft_grads = L.cross_entropy_grad(z, np.eye(3), "none")
    z_mp = [mp.mpf(v) for v in row]
    for c in range(3):
        exact = -_log_softmax_mp(z_mp, c)
        kappa = mp.fsum(abs(v * (mp.exp(_log_softmax_mp(z_mp, j)) - (j == c))) for j, v in enumerate(z_mp))
        assert_within_bound("cross_entropy", float(values[c]), exact, 2, kappa / max(exact, mp.mpf(10) ** -300),
                            f"{row}, y = {c}")
        p = [mp.exp(_log_softmax_mp(z_mp, j)) for j in range(3)]
        for j in range(3):
            exact_grad = -mp.fsum(p[i] for i in range(3) if i != j) if j == c else p[j]
            if exact_grad == 0 or abs(exact_grad) < 1e-320:
                assert abs(grads[c, j]) <= SUBNORMAL_SLACK
                continue
            # kappa of p_j - [j = c] in the logits: sum_i |z_i p_j ([i = j] - p_i)| / |p_j - [j = c]|
            kappa = mp.fsum(abs(z_mp[i] * p[j] * ((i == j) - p[i])) for i in range(3)) / abs(exact_grad)
            for grad in (grads, soft_grads):
                assert_within_bound("cross_entropy_grad", float(grad[c, j]), exact_grad, 2, kappa,
                                    f"{row}, y = {c}, class {j}")


# ---------------------------------------------------------------------------------------------------------
# Optimizers: two steps of every option, against the same formulas evaluated exactly
# ---------------------------------------------------------------------------------------------------------


def _mp_step(name: str, h, p, g, st: dict):
    """One step of the documented update (the optimizers' module docstrings), on mp numbers."""
    t = st["t"] = st.get("t", 0) + 1
    g = -g if getattr(h, "maximize", False) else g
    lr = h.lr / (1 + (t - 1) * h.lr_decay) if name == "adagrad" else h.lr
    if name == "adamw" or getattr(h, "decoupled_weight_decay", False):
        p = p - lr * h.weight_decay * p
    else:
        g = g + h.weight_decay * p
    return _MP_UPDATES[name](h, p, g, lr, t, st)


def _mp_sgd(h, p, g, lr, t: int, st: dict):
    if h.momentum:
        st["buf"] = g if t == 1 else h.momentum * st["buf"] + (1 - h.dampening) * g
        return p - lr * (g + h.momentum * st["buf"] if h.nesterov else st["buf"])
    return p - lr * g


def _mp_adam(h, p, g, lr, t: int, st: dict):
    b1, b2 = (mp.mpf(b) for b in h.betas)
    st["m"] = b1 * st.get("m", 0) + (1 - b1) * g
    st["v"] = b2 * st.get("v", 0) + (1 - b2) * g * g
    v = st["v"]
    if h.amsgrad:
        st["vmax"] = v = max(st.get("vmax", 0), v)
    bc1, bc2 = 1 - b1**t, 1 - b2**t
    if h.eps_placement == "hat":
        return p - lr * mp.sqrt(bc2) / bc1 * st["m"] / (mp.sqrt(v) + h.eps)
    if h.eps_placement == "inside":
        return p - lr / bc1 * st["m"] / mp.sqrt(v / bc2 + h.eps)
    return p - lr / bc1 * st["m"] / (mp.sqrt(v / bc2 + h.eps_root) + h.eps)


def _mp_adagrad(h, p, g, lr, t: int, st: dict):
    st["sum"] = st.get("sum", mp.mpf(h.initial_accumulator_value)) + g * g
    std = mp.sqrt(st["sum"] + h.eps) if h.eps_placement == "inside" else mp.sqrt(st["sum"]) + h.eps
    return p - lr * g / std


def _mp_adadelta(h, p, g, lr, t: int, st: dict):
    st["sq"] = h.rho * st.get("sq", 0) + (1 - h.rho) * g * g
    delta = mp.sqrt(st.get("acc", 0) + h.eps) / mp.sqrt(st["sq"] + h.eps) * g
    st["acc"] = h.rho * st.get("acc", 0) + (1 - h.rho) * delta * delta
    return p - lr * delta


def _mp_rmsprop(h, p, g, lr, t: int, st: dict):
    a = mp.mpf(h.alpha)
    st["sq"] = a * st.get("sq", mp.mpf(h.initial_scale)) + (1 - a) * g * g
    c = 1 - a**t if h.bias_correction else 1
    v = st["sq"] / c
    if h.centered:
        st["avg"] = a * st.get("avg", 0) + (1 - a) * g
        v = v - (st["avg"] / c) ** 2
    u = g / (mp.sqrt(v + h.eps) if h.eps_placement == "inside" else mp.sqrt(v) + h.eps)
    if h.momentum:
        st["buf"] = h.momentum * st.get("buf", 0) + u
        u = u + h.momentum * st["buf"] if h.nesterov else st["buf"]
    return p - lr * u


_MP_UPDATES = {  # after the shared start (maximize, Adagrad's lr decay, weight decay)
    "sgd": _mp_sgd, "adam": _mp_adam, "adamw": _mp_adam, "adagrad": _mp_adagrad, "adadelta": _mp_adadelta,
    "rmsprop": _mp_rmsprop,
}


ORACLE_STATE_KEYS = {  # oracle state key -> the exact state's key
    "adam": {"exp_avg": "m", "exp_avg_sq": "v", "max_exp_avg_sq": "vmax"},
    "adamw": {"exp_avg": "m", "exp_avg_sq": "v", "max_exp_avg_sq": "vmax"},
    "sgd": {"momentum_buffer": "buf"}, "adagrad": {"sum": "sum"}, "adadelta": {"square_avg": "sq", "acc_delta": "acc"},
    "rmsprop": {"square_avg": "sq", "grad_avg": "avg", "momentum_buffer": "buf"},
}
OPTIMIZER_OPTIONS = [
    ("sgd", {"lr": 0.1}), ("sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("sgd", {"lr": 0.1, "momentum": 0.5, "dampening": 0.3, "maximize": True, "decoupled_weight_decay": True,
             "weight_decay": 0.1}),
    ("adam", {"lr": 0.1}), ("adam", {"lr": 0.1, "betas": (0.0, 0.0)}),
    ("adam", {"lr": 0.1, "amsgrad": True, "weight_decay": 0.1, "maximize": True}),
    ("adam", {"lr": 0.1, "eps_placement": "hat", "decoupled_weight_decay": True, "weight_decay": 0.1}),
    ("adam", {"lr": 0.1, "eps_placement": "inside", "eps": 1e-3}), ("adam", {"lr": 0.1, "eps_root": 1e-8}),
    ("adamw", {"lr": 0.1, "amsgrad": True}), ("adamw", {"lr": 0.1, "eps_placement": "hat", "eps": 2.0}),
    ("adagrad", {"lr": 0.1}), ("adagrad", {"lr": 0.1, "lr_decay": 0.5, "initial_accumulator_value": 0.1,
                                           "eps_placement": "inside", "maximize": True}),
    ("adagrad", {"lr": 0.1, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("adadelta", {"lr": 1.0}), ("adadelta", {"lr": 1.0, "rho": 1.0}),
    ("adadelta", {"lr": 0.5, "rho": 0.0, "weight_decay": 0.1, "maximize": True}),
    ("rmsprop", {"lr": 0.01}), ("rmsprop", {"lr": 0.01, "alpha": 1.0}),
    ("rmsprop", {"lr": 0.01, "alpha": 0.0, "centered": True, "momentum": 0.9, "eps_placement": "inside"}),
    ("rmsprop", {"lr": 0.01, "alpha": 0.9, "centered": True, "maximize": True, "weight_decay": 0.1}),
    ("rmsprop", {"lr": 0.01, "initial_scale": 0.5, "momentum": 0.5, "nesterov": True, "bias_correction": True,
                 "eps_placement": "inside", "decoupled_weight_decay": True, "weight_decay": 0.1}),
]
GRADIENT_PAIRS = [(0.3, -2.0), (1e20, 1.0), (1e150, 1e150), (-1e150, 3.0), (1e-300, 5e-324), (0.0, -0.0),
                  (5e-324, 1e-300), (1e-150, -1e-150)]
PARAMS = [1.0, -3.0, 1e-300]


def _mp_float(x) -> mp.mpf:
    return mp.mpf(float(x))


@pytest.mark.parametrize(("name", "options"), OPTIMIZER_OPTIONS, ids=lambda v: v if isinstance(v, str) else
                         ",".join(f"{k}={w}" for k, w in v.items()))
def test_two_optimizer_steps_within_their_bound(name: str, options: dict) -> None:
    """Parameters within 4 ulp + 16 eps |step| of the exact update; state buffers within 4 ulp + 8 eps (|previous|
    + |new|), since a moving average may cancel. Each step starts from the oracle's own rounded state, so the
    bound is per step, not accumulated."""
    from mlpbench.reference.conventions import PYTORCH
    from mlpbench.reference.optim import get_optimizer, make_hyper

    hyper = make_hyper(name, PYTORCH, **options)
    step = get_optimizer(name).step
    eps = 2.0**-52
    for g1, g2 in GRADIENT_PAIRS:
        params, state = [np.array(PARAMS)], {}
        exact_states = [{} for _ in PARAMS]
        for g in (g1, g2):
            grads = [np.full(len(PARAMS), g)]
            before = params[0].copy()
            with np.errstate(over="ignore"):
                params, state = step(params, grads, state, hyper)
            previous_states = [dict(exact_state) for exact_state in exact_states]
            for i, p_old in enumerate(before):
                exact_state = exact_states[i]
                exact = _mp_step(name, hyper, _mp_float(p_old), _mp_float(g), exact_state)
                allowed = 4 * math.ulp(float(exact)) + 16 * eps * float(abs(exact - _mp_float(p_old))) + SUBNORMAL_SLACK
                error = float(abs(_mp_float(params[0][i]) - exact))
                assert error <= allowed, (f"{name} {options}, g = {g} (pair {g1}, {g2}), p = {p_old}: got "
                                          f"{params[0][i]!r}, exact {mp.nstr(exact, 20)}")
                for key, exact_key in ORACLE_STATE_KEYS[name].items():
                    if key in state and exact_key in exact_state:
                        got, want = float(state[key][0][i]), exact_state[exact_key]
                        previous = abs(previous_states[i].get(exact_key, 0))
                        if math.isinf(float(want)):
                            assert got == float(want)
                        else:
                            allowed = 4 * math.ulp(float(want)) + 8 * eps * float(previous + abs(want))
                            assert abs(mp.mpf(got) - want) <= allowed + SUBNORMAL_SLACK, (
                                f"{name} {options} state {key}, g = {g}: got {got!r}, exact {mp.nstr(want, 20)}")
                        exact_state[exact_key] = mp.mpf(got)  # continue from the oracle's rounded state


def test_cross_entropy_with_infinite_logits_takes_the_limit() -> None:
    """A +inf logit has all the probability (shared by k such logits); soft targets weight it exactly."""
    z = np.array([[np.inf, 0.0, -np.inf], [np.inf, np.inf, 1.0], [3.0, -np.inf, 0.0]])
    np.testing.assert_array_equal(L.log_softmax(z)[0], [0.0, -np.inf, -np.inf])
    np.testing.assert_allclose(L.log_softmax(z)[1], [-math.log(2), -math.log(2), -np.inf])
    q = np.array([[0.7, 0.3, 0.0], [0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])
    values = L.cross_entropy(z, q, "none")
    assert values[0] == np.inf and values[1] == pytest.approx(math.log(2))
    assert values[2] == pytest.approx(float(mp.log1p(mp.exp(-3))), rel=1e-15)
    grads = L.cross_entropy_grad(z, q, "none")
    np.testing.assert_allclose(grads[1], [0.0, 0.0, 0.0], atol=1e-300)
    np.testing.assert_allclose(grads[0, :2], [0.3, -0.3], rtol=1e-15)
