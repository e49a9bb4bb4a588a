"""Activation functions, their derivatives, and the registry the oracle's MLP looks them up in.

Every function takes an array of any float dtype and returns a new array of the same dtype and shape
(integer input is treated as float64; float16 is computed in float32 and rounded back, as PyTorch does).
The forms used are the numerically stable ones, accurate to a few ulp across the whole float64 range
(the bound per function is stated and proven against mpmath in suites/reference/test_oracle_accuracy.py):
no spurious overflow, NaN or infinity, and the limits at +-inf. Results that underflow (exp(-1e4) = 0) are
the correctly rounded values, so underflow is not treated as an error.

Derivatives are elementwise, d f(x) / d x evaluated at x. Where f has a kink the value reported is
PyTorch's (the branch conditions below are those of torch/_decomp/decompositions.py and ATen):

    relu'(0)       = 0                 threshold_backward: x <= 0 -> 0
    leaky_relu'(0) = negative_slope    leaky_relu_backward: x > 0 ? 1 : negative_slope (grad_at_zero: another value)
    elu'(0)        = alpha             elu_backward: x <= 0 ? alpha * exp(x) : 1
    softplus       exact; with a threshold (PyTorch: 20) the identity (derivative 1) where beta * x > threshold
    step'(x)       = 0 everywhere (the derivative of the Heaviside step, 0 almost everywhere)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Concatenate, ParamSpec

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "elu",
    "elu_derivative",
    "erf",
    "erfc",
    "gelu",
    "gelu_derivative",
    "gelu_tanh",
    "gelu_tanh_derivative",
    "get_activation",
    "identity",
    "identity_derivative",
    "leaky_relu",
    "leaky_relu_derivative",
    "relu",
    "relu_derivative",
    "sigmoid",
    "sigmoid_derivative",
    "silu",
    "silu_derivative",
    "softmax",
    "softmax_backward",
    "softplus",
    "softplus_derivative",
    "step",
    "step_derivative",
    "tanh",
    "tanh_derivative",
]

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_KAPPA = 0.044715


def _float_array(x: ArrayLike) -> np.ndarray:
    """`x` as a float array: integers become float64, floats keep their dtype."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    return x


_P = ParamSpec("_P")


def _elementwise(
    function: Callable[Concatenate[np.ndarray, _P], np.ndarray],
) -> Callable[Concatenate[ArrayLike, _P], np.ndarray]:
    """Run `function` on a float array (float16 widened to float32) and return the input's float dtype.

    Underflow is allowed inside: exp(-1e4) rounding to 0 is the exact answer, not an error. So are overflow
    and invalid operations on the way to a selected limit (x = +-inf, x^2 beyond DBL_MAX): the results are
    the limits, proven against arbitrary precision in suites/reference.
    """

    @functools.wraps(function)
    def wrapper(x: ArrayLike, *args: _P.args, **kwargs: _P.kwargs) -> np.ndarray:
        x = _float_array(x)
        dtype = x.dtype
        if dtype == np.float16:
            x = x.astype(np.float32)
        with np.errstate(under="ignore", over="ignore", invalid="ignore"):
            return np.asarray(function(x, *args, **kwargs), dtype=dtype)

    return wrapper


# ---------------------------------------------------------------------------------------------------------
# The error function, vectorised (NumPy has none). Rational approximations of Sun's fdlibm s_erf.c, each
# accurate to better than 2**-57 on its interval, so erf and erfc are correct to about one ulp in float64.
# ---------------------------------------------------------------------------------------------------------

_ERX = 8.45062911510467529297e-01  # erf(1) rounded to 24 bits
# erf(x) = x + x * P(x^2) / Q(x^2) on |x| < 0.84375
_PP = (1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02,
       -5.77027029648944159157e-03, -2.37630166566501626084e-05)
_QQ = (1.0, 3.97917223959155352819e-01, 6.50222499887672944485e-02, 5.08130628187576562776e-03,
       1.32494738004321644526e-04, -3.96022827877536812320e-06)
# erf(1 + s) - erx = P(s) / Q(s) on 0.84375 <= |x| < 1.25, s = |x| - 1
_PA = (-2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01,
       3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02,
       -2.16637559486879084300e-03)
_QA = (1.0, 1.06420880400844228286e-01, 5.40397917702171048937e-01, 7.18286544141962662868e-02,
       1.26171219808761642112e-01, 1.36370839120290507362e-02, 1.19844998467991074170e-02)
# erfc(x) = exp(-x^2 - 0.5625 + R(s) / S(s)) / x, s = 1 / x^2, on 1.25 <= x < 1 / 0.35 ...
_RA = (-9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e+01,
       -6.23753324503260060396e+01, -1.62396669462573470355e+02, -1.84605092906711035994e+02,
       -8.12874355063065934246e+01, -9.81432934416914548592e+00)
_SA = (1.0, 1.96512716674392571292e+01, 1.37657754143519042600e+02, 4.34565877475229228821e+02,
       6.45387271733267880336e+02, 4.29008140027567833386e+02, 1.08635005541779435134e+02,
       6.57024977031928170135e+00, -6.04244152148580987438e-02)
# ... and on 1 / 0.35 <= x < 28 (beyond 28, erfc(x) underflows to 0)
_RB = (-9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e+01,
       -1.60636384855821916062e+02, -6.37566443368389627722e+02, -1.02509513161107724954e+03,
       -4.83519191608651397019e+02)
_SB = (1.0, 3.03380607434824582924e+01, 3.25792512996573918826e+02, 1.53672958608443695994e+03,
       3.19985821950859553908e+03, 2.55305040643316442583e+03, 4.74528541206955367215e+02,
       -2.24409524465858183362e+01)
_HIGH_WORD = np.uint64(0xFFFFFFFF00000000)


def _polynomial(coefficients: tuple[float, ...], z: np.ndarray) -> np.ndarray:
    """c0 + c1 z + c2 z^2 + ... by Horner's rule."""
    result = np.full_like(z, coefficients[-1])
    for c in coefficients[-2::-1]:
        result *= z
        result += c
    return result


def _erfc_tail(ax: np.ndarray) -> np.ndarray:
    """erfc(a) for 1.25 <= a < 28: exp(-a^2 - 0.5625 + R/S) / a.

    -a^2 is split as -h^2 + (h - a)(h + a), with h = a truncated to 21 mantissa bits so h^2 is exact.
    """
    s = 1.0 / (ax * ax)
    near = ax < 1.0 / 0.35
    ratio = np.where(
        near, _polynomial(_RA, s) / _polynomial(_SA, s), _polynomial(_RB, s) / _polynomial(_SB, s)
    )
    h = (ax.view(np.uint64) & _HIGH_WORD).view(np.float64)
    return np.exp(-h * h - 0.5625) * np.exp((h - ax) * (h + ax) + ratio) / ax


def erfc(x: ArrayLike) -> np.ndarray:
    """Complementary error function erfc(x) = 1 - erf(x) = 2/sqrt(pi) integral_x^inf exp(-t^2) dt, float64.

    Accurate in relative terms also where erfc(x) is tiny (x large), unlike 1 - erf(x).
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    ax = np.abs(x)
    with np.errstate(under="ignore"):
        small = ax < 0.84375
        xs = x[small]
        xy = xs * (_polynomial(_PP, xs * xs) / _polynomial(_QQ, xs * xs))
        # below 1/4 erf is small and 1 - erf is accurate; above, regroup so that nothing cancels
        out[small] = np.where(xs < 0.25, 1.0 - (xs + xy), 0.5 - (xy + (xs - 0.5)))

        middle = (ax >= 0.84375) & (ax < 1.25)
        s = ax[middle] - 1.0
        pq = _polynomial(_PA, s) / _polynomial(_QA, s)
        out[middle] = np.where(x[middle] >= 0, (1.0 - _ERX) - pq, 1.0 + (_ERX + pq))

        tail = (ax >= 1.25) & (ax < 28.0)
        value = _erfc_tail(np.ascontiguousarray(ax[tail]))
        out[tail] = np.where(x[tail] > 0, value, 2.0 - value)

        far = ax >= 28.0
        out[far] = np.where(x[far] > 0, 0.0, 2.0)
        nan = np.isnan(x)
        out[nan] = x[nan]
    return out


def erf(x: ArrayLike) -> np.ndarray:
    """Error function erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt, in float64 (odd; erf(+-inf) = +-1)."""
    x = np.asarray(x, dtype=np.float64)
    ax = np.abs(x)
    small = ax < 0.84375
    out = np.copysign(1.0 - erfc(ax), x)  # 1 - erfc(|x|) >= 0.77 here: no cancellation
    with np.errstate(under="ignore"):
        xs = x[small]
        out[small] = xs + xs * (_polynomial(_PP, xs * xs) / _polynomial(_QQ, xs * xs))
    return out


def _standard_normal_cdf(x: np.ndarray) -> np.ndarray:
    """Phi(x) = (1 + erf(x / sqrt 2)) / 2 = erfc(-x / sqrt 2) / 2, in float64."""
    phi = erfc(x * -_SQRT_HALF)
    phi *= 0.5
    return phi


# ---------------------------------------------------------------------------------------------------------
# Elementwise activations
# ---------------------------------------------------------------------------------------------------------


@_elementwise
def identity(x: np.ndarray) -> np.ndarray:
    """f(x) = x."""
    return x.copy()


@_elementwise
def identity_derivative(x: np.ndarray) -> np.ndarray:
    """f'(x) = 1."""
    return np.ones_like(x)


@_elementwise
def step(x: np.ndarray) -> np.ndarray:
    """Heaviside step (the perceptron's threshold unit): f(x) = 1 if x >= 0 else 0."""
    return (x >= 0).astype(x.dtype)


@_elementwise
def step_derivative(x: np.ndarray) -> np.ndarray:
    """f'(x) = 0 everywhere (0 almost everywhere; at the jump we report 0 too)."""
    return np.zeros_like(x)


@_elementwise
def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic sigmoid s(x) = 1 / (1 + exp(-x)).

    Stable, branch-free form: s(x) = exp(min(x, 0)) / (1 + exp(-|x|)), which is 1 / (1 + exp(-x)) for x >= 0
    and exp(x) / (1 + exp(x)) for x < 0; no exponent is positive, so exp never overflows.
    """
    denominator = _one_plus_exp_neg_abs(x)
    numerator = np.minimum(x, 0.0)
    np.exp(numerator, out=numerator)
    numerator /= denominator
    return numerator


def _one_plus_exp_neg_abs(x: np.ndarray) -> np.ndarray:
    """1 + exp(-|x|), in (1, 2]."""
    d = np.abs(x)
    np.negative(d, out=d)
    np.exp(d, out=d)
    d += 1.0
    return d


def _indicator(condition: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """1.0 where condition holds, else 0.0: lets a two-branch formula be blended exactly without np.where."""
    return condition.astype(dtype)


@_elementwise
def sigmoid_derivative(x: np.ndarray) -> np.ndarray:
    """s'(x) = s(x) (1 - s(x)) = s(x) s(-x) = exp(-|x|) / (1 + exp(-|x|))^2 (accurate in both tails)."""
    denominator = _one_plus_exp_neg_abs(x)
    d = np.abs(x)
    np.negative(d, out=d)
    np.exp(d, out=d)
    np.square(denominator, out=denominator)
    d /= denominator
    return d


@_elementwise
def tanh(x: np.ndarray) -> np.ndarray:
    """tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x))."""
    return np.tanh(x)


@_elementwise
def tanh_derivative(x: np.ndarray) -> np.ndarray:
    """tanh'(x) = 1 - tanh(x)^2 = sech(x)^2 = 4 e / (1 + e)^2 with e = exp(-2|x|).

    The last form has no cancellation, so it stays accurate in the tails where 1 - tanh(x)^2 loses every digit.
    """
    e = np.abs(x)
    e *= -2.0
    np.exp(e, out=e)
    d = e + 1.0
    np.square(d, out=d)
    np.divide(e, d, out=d)
    d *= 4.0
    return d


@_elementwise
def relu(x: np.ndarray, grad_at_zero: float = 0.0) -> np.ndarray:
    """Rectified linear unit f(x) = max(x, 0) (grad_at_zero concerns only the derivative)."""
    return np.maximum(x, 0.0)


@_elementwise
def relu_derivative(x: np.ndarray, grad_at_zero: float = 0.0) -> np.ndarray:
    """f'(x) = 1 if x > 0 else 0; relu'(0) = grad_at_zero, 0 as in PyTorch (threshold_backward: x <= 0 -> 0)."""
    d = (x > 0).astype(x.dtype)
    if grad_at_zero != 0.0:
        d[x == 0] = grad_at_zero
    return d


@_elementwise
def leaky_relu(x: np.ndarray, negative_slope: float = 0.01, grad_at_zero: float | None = None) -> np.ndarray:
    """f(x) = x if x > 0 else negative_slope * x, computed as max(x, 0) + negative_slope * min(x, 0)
    (grad_at_zero concerns only the derivative)."""
    y = np.minimum(x, 0.0)
    y *= negative_slope
    y += np.maximum(x, 0.0)
    return y


@_elementwise
def leaky_relu_derivative(
    x: np.ndarray, negative_slope: float = 0.01, grad_at_zero: float | None = None
) -> np.ndarray:
    """f'(x) = 1 if x > 0 else negative_slope; f'(+-0) = grad_at_zero, or negative_slope when None (PyTorch's
    x > 0 ? 1 : slope; JAX's where(x >= 0, ...) gives 1)."""
    positive = _indicator(x > 0, x.dtype)
    d = 1.0 - positive
    d *= negative_slope
    d += positive
    if grad_at_zero is not None:
        d[x == 0] = grad_at_zero
    return d


@_elementwise
def elu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Exponential linear unit f(x) = x if x > 0 else alpha (exp(x) - 1), with expm1 for accuracy near 0.

    Computed as max(x, 0) + alpha expm1(min(x, 0)): one of the two terms is always exactly 0.
    """
    y = np.minimum(x, 0.0)
    np.expm1(y, out=y)
    y *= alpha
    y += np.maximum(x, 0.0)
    return y


@_elementwise
def elu_derivative(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """f'(x) = 1 if x > 0 else alpha exp(x); elu'(0) = alpha as in PyTorch (elu_backward: x <= 0 branch)."""
    positive = _indicator(x > 0, x.dtype)
    d = np.minimum(x, 0.0)
    np.exp(d, out=d)
    d *= alpha
    d *= 1.0 - positive
    d += positive
    return d


@_elementwise
def silu(x: np.ndarray) -> np.ndarray:
    """Sigmoid-weighted linear unit (swish) f(x) = x s(x)."""
    y = sigmoid(x)
    y *= x
    return np.where(np.isinf(x), np.maximum(x, -0.0), y)  # the limits: silu(-inf) = -0, silu(inf) = inf


@_elementwise
def silu_derivative(x: np.ndarray) -> np.ndarray:
    """f'(x) = s(x) (1 + x (1 - s(x))) = s(x) (1 + x s(-x)), s the sigmoid."""
    d = sigmoid(-x)
    d *= x
    d += 1.0
    d *= sigmoid(x)
    return np.where(np.isinf(x), (x > 0).astype(x.dtype), d)  # the limits: 0 at -inf, 1 at inf


@_elementwise
def softplus(x: np.ndarray, beta: float = 1.0, threshold: float | None = None) -> np.ndarray:
    """f(x) = log(1 + exp(beta x)) / beta; with a threshold, f(x) = x where beta x > threshold (PyTorch's
    linear regime, threshold 20 in the pytorch profile); None: exact everywhere.

    Computed as max(x, 0) + log1p(exp(-|beta x|)) / beta: no exp overflows, and beta x = inf (x = 1e308,
    beta = 2) still gives x.
    """
    z = x * beta
    y = np.abs(z)
    np.negative(y, out=y)
    np.exp(y, out=y)
    np.log1p(y, out=y)
    y /= beta
    y += np.maximum(x, 0.0)
    return y if threshold is None else np.where(z > threshold, x, y)


@_elementwise
def softplus_derivative(x: np.ndarray, beta: float = 1.0, threshold: float | None = None) -> np.ndarray:
    """f'(x) = s(beta x) (the sigmoid); with a threshold, 1 where beta x > threshold (PyTorch's
    softplus_backward)."""
    z = x * beta
    return sigmoid(z) if threshold is None else np.where(z > threshold, 1.0, sigmoid(z))


def _check_approximate(approximate: str) -> None:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu approximate must be 'none' or 'tanh', not {approximate!r}")


@_elementwise
def gelu(x: np.ndarray, approximate: str = "none") -> np.ndarray:
    """Gaussian error linear unit.

    approximate="none":  f(x) = x Phi(x) = x (1 + erf(x / sqrt 2)) / 2, Phi the standard normal CDF.
    approximate="tanh":  f(x) = x (1 + tanh(u)) / 2 with u = sqrt(2/pi) (x + 0.044715 x^3).
    Computed in float64 as x Phi(x), Phi = erfc(-x / sqrt 2) / 2, and as x s(2u) (s the sigmoid, since
    (1 + tanh u) / 2 = s(2u)): both stay accurate in the negative tail where 1 + erf or 1 + tanh cancels,
    and x is the last factor, so gelu(x) = x for huge x instead of overflowing. Rounded to the input dtype.
    """
    _check_approximate(approximate)
    x64 = x.astype(np.float64)
    u = _gelu_tanh_gate(x64) if approximate == "tanh" else _standard_normal_cdf(x64)
    u *= x64
    return np.where(np.isinf(x64), np.maximum(x64, -0.0), u)  # the limits: -0 at -inf, inf at inf


def _gelu_tanh_inner(x: np.ndarray) -> np.ndarray:
    """u = sqrt(2/pi) (x + 0.044715 x^3), written x (1 + kappa x^2) sqrt(2/pi)."""
    u = x * x
    u *= _GELU_TANH_KAPPA
    u += 1.0
    u *= x
    u *= _SQRT_2_OVER_PI
    return u


def _gelu_tanh_gate(x: np.ndarray) -> np.ndarray:
    """(1 + tanh(u)) / 2 = s(2u), the sigmoid, accurate also where tanh(u) is close to -1."""
    u = _gelu_tanh_inner(x)
    u *= 2.0
    return sigmoid(u)


_SPLIT_BITS = np.uint64(0xFFFFFFFFFC000000)  # keep 26 of 52 mantissa bits: h * h is exact


def _gaussian_density(x: np.ndarray) -> np.ndarray:
    """phi(x) = exp(-x^2 / 2) / sqrt(2 pi), with x^2 split as h^2 + (x - h)(x + h), h = x rounded to 26 bits,
    so the exponent carries no rounding error of x^2 (which exp would magnify by x^2 / 2). 0 for |x| > 40."""
    a = np.minimum(np.abs(x), 40.0)
    h = (np.ascontiguousarray(a).view(np.uint64) & _SPLIT_BITS).view(np.float64)
    density = np.exp(-0.5 * (h * h)) * np.exp(-0.5 * ((a - h) * (a + h)))
    density *= _INV_SQRT_2PI
    return density


@_elementwise
def gelu_derivative(x: np.ndarray, approximate: str = "none") -> np.ndarray:
    """Derivative of gelu (PyTorch's gelu_backward formulas).

    approximate="none":  f'(x) = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
    approximate="tanh":  f'(x) = (1 + t) / 2 + x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2) / 2, t = tanh(u).
    """
    _check_approximate(approximate)
    x64 = x.astype(np.float64)
    if approximate == "tanh":
        # (1 + t) / 2 = s(2u) and (1 - t^2) = 4 s(2u) s(-2u): no cancellation in either tail
        x_small = np.clip(x64, -1e100, 1e100)          # beyond, x (1 - t^2) u' is 0 (s(-2u) underflows)
        u2 = 2.0 * _gelu_tanh_inner(x_small)
        gate, other = sigmoid(u2), sigmoid(-u2)
        inner_derivative = x_small * x_small             # sqrt(2/pi) (1 + 3 kappa x^2)
        inner_derivative *= 3.0 * _GELU_TANH_KAPPA
        inner_derivative += 1.0
        inner_derivative *= _SQRT_2_OVER_PI
        right = 2.0 * gate * other                       # (1 - t^2) / 2
        right *= inner_derivative
        right *= x_small
        gate += right
        return gate
    x_small = np.clip(x64, -40.0, 40.0)                  # beyond, x phi(x) underflows to 0
    density = _gaussian_density(x_small)
    density *= x_small
    density += _standard_normal_cdf(x64)
    return density


def gelu_tanh(x: ArrayLike) -> np.ndarray:
    """gelu with the tanh approximation (see `gelu`)."""
    return gelu(x, approximate="tanh")


def gelu_tanh_derivative(x: ArrayLike) -> np.ndarray:
    """Derivative of gelu with the tanh approximation (see `gelu_derivative`)."""
    return gelu_derivative(x, approximate="tanh")


# ---------------------------------------------------------------------------------------------------------
# Softmax (not elementwise: each slice along `axis` is a probability vector)
# ---------------------------------------------------------------------------------------------------------


def softmax(x: ArrayLike, axis: int = -1) -> np.ndarray:
    """softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m), m = max_j x_j along `axis`.

    Subtracting the maximum leaves the value unchanged (shift invariance) and keeps every exponent <= 0.
    """
    x = _float_array(x)
    dtype = x.dtype
    if dtype == np.float16:
        x = x.astype(np.float32)
    with np.errstate(under="ignore"):
        y = x - np.max(x, axis=axis, keepdims=True)
        np.exp(y, out=y)
        y /= np.sum(y, axis=axis, keepdims=True)
        return y.astype(dtype, copy=False)


def softmax_backward(y: ArrayLike, grad_y: ArrayLike, axis: int = -1) -> np.ndarray:
    """Vector-Jacobian product of softmax: given y = softmax(x) and dL/dy, return dL/dx.

    The Jacobian is dy_i/dx_j = y_i (delta_ij - y_j), so dL/dx = y * (dL/dy - sum_j dL/dy_j y_j).
    """
    y = _float_array(y)
    grad_y = np.asarray(grad_y)
    dtype = np.result_type(y, grad_y)
    with np.errstate(under="ignore"):
        grad_x = grad_y * y
        total = np.sum(grad_x, axis=axis, keepdims=True)
        np.subtract(grad_y, total, out=grad_x, casting="unsafe")
        grad_x *= y
        return grad_x.astype(dtype, copy=False)


# ---------------------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Activation:
    """An activation as data: forward(x, **params), derivative(x, **params) (None for softmax)."""

    name: str
    forward: Callable[..., np.ndarray]
    derivative: Callable[..., np.ndarray] | None
    default_params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def params(self, **overrides: Any) -> dict[str, Any]:
        """The default parameters updated with `overrides`; unknown names raise ValueError."""
        unknown = sorted(set(overrides) - set(self.default_params))
        if unknown:
            known = sorted(self.default_params)
            raise ValueError(f"activation {self.name!r} has no parameter(s) {unknown}; known: {known}")
        return {**self.default_params, **overrides}

    def __call__(self, x: ArrayLike, **params: Any) -> np.ndarray:
        return self.forward(x, **params)

    def backward(self, x: ArrayLike, y: ArrayLike | None, grad_y: ArrayLike, **params: Any) -> np.ndarray:
        """dL/dx from dL/dy: grad_y * f'(x) elementwise, or the softmax vector-Jacobian product.

        y = f(x) is only needed for softmax (pass None to have it recomputed).
        """
        if self.derivative is None:
            if y is None:
                y = self.forward(x, **params)
            return softmax_backward(y, grad_y, **params)
        d = self.derivative(x, **params)
        grad_y = np.asarray(grad_y)
        if grad_y.shape == d.shape and grad_y.dtype == d.dtype:
            d *= grad_y
            return d
        return grad_y * d


def _registry(*activations: Activation) -> dict[str, Activation]:
    return {a.name: a for a in activations}


ACTIVATIONS: dict[str, Activation] = _registry(
    Activation("identity", identity, identity_derivative),
    Activation("step", step, step_derivative),
    Activation("sigmoid", sigmoid, sigmoid_derivative),
    Activation("tanh", tanh, tanh_derivative),
    Activation("relu", relu, relu_derivative, MappingProxyType({"grad_at_zero": 0.0})),
    Activation("leaky_relu", leaky_relu, leaky_relu_derivative,
               MappingProxyType({"negative_slope": 0.01, "grad_at_zero": None})),
    Activation("gelu", gelu, gelu_derivative, MappingProxyType({"approximate": "none"})),
    Activation("gelu_tanh", gelu_tanh, gelu_tanh_derivative),
    Activation("softmax", softmax, None, MappingProxyType({"axis": -1})),
    Activation("elu", elu, elu_derivative, MappingProxyType({"alpha": 1.0})),
    Activation("silu", silu, silu_derivative),
    Activation("softplus", softplus, softplus_derivative, MappingProxyType({"beta": 1.0, "threshold": None})),
)


def get_activation(name: str) -> Activation:
    """The registered activation called `name`; ValueError listing the known names otherwise."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}") from None
