"""Activations: values and derivatives (vector-Jacobian products) against the oracle.

Inputs are N(0, 3^2) draws plus the points where implementations go wrong: the kinks at +0 and -0, tiny
values, the softplus threshold, and +-1e4 where exp overflows in naive formulas. The oracle evaluates the
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


def activation_inputs(ctx: CheckContext) -> np.ndarray:
    """(8, 8) inputs in the dtype under test: 32 special points and 32 N(0, 9) draws, shuffled together."""
    rng = ctx.rng(0)
    values = np.concatenate([np.asarray(SPECIAL_POINTS), rng.normal(0.0, 3.0, 32)])
    rng.shuffle(values)
    return ctx.cast(values.reshape(8, 8))


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
