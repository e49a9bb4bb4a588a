"""Activations: values and derivatives (vector-Jacobian products) against the oracle.

Inputs are N(0, 3^2) draws plus the points where implementations go wrong: the kinks at +0 and -0, tiny
values, the softplus threshold, and +-1e4 where exp overflows in naive formulas; or rows of large logits (row
maxima 50 to 5000, both signs) for softmax. The tails and the neighbourhood of 0, where the value is small but
well conditioned, are judged relatively on dense grids (`activation_tail`). The oracle evaluates the
implementation's own (rounded) inputs in float64 and follows the implementation's convention profile
(GELU form, ReLU's derivative at 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlpbench.conformance.checks.base import CheckContext, check_kind
from mlpbench.conformance.compare import compare_arrays
from mlpbench.reference.activations import get_activation
from mlpbench.reference.model import activation_backward, activation_params_for

SPECIAL_POINTS = (
    0.0, -0.0, 1e-7, -1e-7, 1e-3, -1e-3, 0.5, -0.5, 1.0, -1.0, 5.0, -5.0, 9.99, 10.01, 19.99, 20.0,
    20.01, -20.0, 30.0, -30.0, 88.0, -88.0, 100.0, -100.0, 1e4, -1e4, 3.0, -3.0, 0.25, -0.25, 7.0, -7.0,
)
"""Kinks, thresholds and overflow points (32 values)."""


def special_inputs(rng: np.random.Generator) -> np.ndarray:
    """(8, 8): 32 special points and 32 N(0, 9) draws, shuffled together."""
    values = np.concatenate([np.asarray(SPECIAL_POINTS), rng.normal(0.0, 3.0, 32)])
    rng.shuffle(values)
    return values.reshape(8, 8)


LARGE_LOGIT_MAXIMA = np.geomspace(50.0, 5000.0, 8)
"""Row maxima of the large-logit inputs: beyond exp's float32 range (88) and float64 range (709), yet all below
1e4, so that a max shift skipped below some size is caught."""


def large_logits(rng: np.random.Generator, columns: int = 8) -> np.ndarray:
    """(8, columns): row r is +-LARGE_LOGIT_MAXIMA[r] (alternating signs) plus offsets -|N(0, 9)| (the first 0),
    so each row's maximum is that value and every row has a spread of probabilities."""
    offsets = -np.abs(rng.normal(0.0, 3.0, (len(LARGE_LOGIT_MAXIMA), columns)))
    offsets[:, 0] = 0.0
    signs = np.where(np.arange(len(LARGE_LOGIT_MAXIMA)) % 2 == 0, 1.0, -1.0)
    return (signs * LARGE_LOGIT_MAXIMA)[:, None] + rng.permuted(offsets, axis=1)


ACTIVATION_INPUTS = {"special": special_inputs, "large_logits": large_logits}
"""Case parameter `inputs` -> how the (8, 8) inputs are drawn (default "special")."""


def activation_inputs(ctx: CheckContext) -> np.ndarray:
    """The case's inputs (`ACTIVATION_INPUTS`) in the dtype under test."""
    return ctx.cast(ACTIVATION_INPUTS[ctx.case.params.get("inputs", "special")](ctx.rng(0)))


def oracle_params(name: str, params: dict[str, Any], ctx: CheckContext) -> dict[str, Any]:
    """The oracle's keyword parameters: defaults, then the convention profile's choices, then the case's."""
    return activation_params_for(get_activation(name), ctx.conventions, params)


@check_kind("activation")
def check_activation(ctx: CheckContext) -> None:
    """y = f(x) and grad_x = grad_y * f'(x), both elementwise against the oracle."""
    name, params = ctx.case.params["activation"], dict(ctx.case.params["params"])
    x = activation_inputs(ctx)
    grad_y = ctx.cast(ctx.rng(1).normal(size=x.shape))
    ctx.save(x=x, grad_y=grad_y)
    activation = get_activation(name)
    kwargs = oracle_params(name, params, ctx)
    x64 = x.astype(np.float64)
    expected = activation.forward(x64, **kwargs)
    expected_grad = activation_backward(activation, kwargs, x64, expected, grad_y.astype(np.float64),
                                        ctx.conventions)
    y = ctx.call("activation", name, x, params)
    ctx.comparisons.append(compare_arrays(f"{name} value", y, expected, ctx.tol("elementwise"),
                                          dtype=ctx.np_dtype, inputs={"x": x}))
    grad_x = ctx.call("activation_grad", name, x, grad_y, params)
    # grad_y * f'(x) errs by rounding of terms of size |grad_y| (f' is O(1) and cancels to ~0 in the tails)
    tol = ctx.tol("elementwise", scale=float(np.abs(grad_y).max()))
    ctx.comparisons.append(compare_arrays(f"{name} derivative (grad_y * f'(x))", grad_x, expected_grad, tol,
                                          dtype=ctx.np_dtype, inputs={"x": x, "grad_y": grad_y}))


def condition_number(x: np.ndarray, value: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """kappa(x) = |x g'(x) / g(x)| of a function g with values `value` and derivative `slope` at x: the relative
    change of g(x) per relative change of x."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.abs(x * slope / value)


def second_derivative(name: str, kwargs: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """f''(x) of the oracle by central differences of its f' (step 2^-20 |x|): only the size of the derivative's
    condition number is taken from it, and that is good to about 1e-6 relative."""
    derivative = get_activation(name).derivative
    if derivative is None:
        raise ValueError(f"{name} has no elementwise derivative to take a condition number from")
    h = np.abs(x) * 2.0**-20
    return (derivative(x + h, **kwargs) - derivative(x - h, **kwargs)) / (2.0 * h)


def _relative(ctx: CheckContext, kappa: np.ndarray) -> Any:
    """The elementwise_relative tolerance for the largest condition number on the grid."""
    return ctx.tol("elementwise_relative", condition=float(np.max(kappa)), scale=float(np.finfo(ctx.np_dtype).tiny))


@check_kind("activation_tail")
def check_activation_tail(ctx: CheckContext) -> None:
    """y = f(x) and f'(x) (the vector-Jacobian product with grad_y = 1) on a dense grid where f is small but
    well conditioned, judged relatively: |y - f(x)| <= 16 eps (1 + kappa) |f(x)|, kappa the oracle's largest
    condition number on the grid, |x f'(x) / f(x)| for the value and |x f''(x) / f'(x)| for the derivative (an
    absolute tolerance hides these values: 16 eps is 1.9e-6 in float32, above sigmoid(-13))."""
    name, params = ctx.case.params["activation"], dict(ctx.case.params["params"])
    x = ctx.cast(ctx.case.params["grid"].points())
    ones = np.ones_like(x)
    ctx.save(x=x)
    activation = get_activation(name)
    kwargs = oracle_params(name, params, ctx)
    x64 = x.astype(np.float64)
    expected = activation.forward(x64, **kwargs)
    slope = activation_backward(activation, kwargs, x64, expected, np.ones_like(x64), ctx.conventions)
    kappa = condition_number(x64, expected, slope)
    kappa_slope = condition_number(x64, slope, second_derivative(name, kwargs, x64))
    ctx.details.update(condition_number=float(np.max(kappa)), derivative_condition_number=float(np.max(kappa_slope)))
    y = ctx.call("activation", name, x, params)
    ctx.comparisons.append(compare_arrays(f"{name} value, relative", y, expected, _relative(ctx, kappa),
                                          dtype=ctx.np_dtype, inputs={"x": x}))
    grad_x = ctx.call("activation_grad", name, x, ones, params)
    ctx.comparisons.append(compare_arrays(f"{name} derivative, relative", grad_x, slope, _relative(ctx, kappa_slope),
                                          dtype=ctx.np_dtype, inputs={"x": x}))
