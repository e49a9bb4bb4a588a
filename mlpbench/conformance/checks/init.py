"""Initializers: statistical checks of the implementation's own generator, with a stated false-failure
probability (mlpbench.conformance.checks.stats.FALSE_FAILURE = 1e-6 per check).

The implementation draws a (256, 512) tensor (131072 values; fan_in 512, fan_out 256) with its initializer.
Deterministic schemes (zeros, constant) must match exactly. For random schemes, with mu and sigma the mean
and standard deviation the scheme targets (mlpbench.reference.init.expected_std):
- uniform schemes on [a, b]: every value inside [a, b]; |mean - mu| and |mean((x - mu)^2) - sigma^2| within
  Hoeffding bounds (widths b - a and (b - a)^2 / 4);
- normal schemes: |mean - mu| within z sigma / sqrt(n); sum((x - mu)^2) / sigma^2 within the chi-square(n)
  interval.
A wrong fan (fan_out for fan_in), gain or bound changes sigma by far more than these bounds (~2%) allow.
"""

from __future__ import annotations

import numpy as np

from mlpbench.conformance.checks.base import CheckContext, check_kind
from mlpbench.conformance.checks.stats import FALSE_FAILURE, chi_square_interval, hoeffding_bound, normal_mean_bound
from mlpbench.reference import init as reference_init

UNIFORM_SCHEMES = frozenset({"uniform", "xavier_uniform", "kaiming_uniform"})
NORMAL_SCHEMES = frozenset({"normal", "xavier_normal", "kaiming_normal"})


def _support(name: str, shape: tuple[int, ...], params: dict) -> tuple[float, float]:
    """[low, high] of a uniform scheme (every one in UNIFORM_SCHEMES has a bounded support)."""
    bound = reference_init.expected_bound(name, shape, **params)
    if bound is None:
        raise ValueError(f"initializer {name!r} has no bounded support")
    return bound


def expected_mean(name: str, params: dict) -> float:
    if name == "normal":
        return float(params.get("mean", 0.0))
    if name == "uniform":
        return (float(params.get("a", 0.0)) + float(params.get("b", 1.0))) / 2.0
    if name == "constant":
        return float(params.get("value", 0.0))
    return 0.0


@check_kind("init")
def check_init(ctx: CheckContext) -> None:
    name, params, shape = ctx.case.params["initializer"], dict(ctx.case.params["params"]), ctx.case.params["shape"]
    shape = tuple(shape)
    seed = ctx.case.seed
    ctx.details.update(initializer=name, params=params, shape=list(shape), seed=seed,
                       false_failure_probability=FALSE_FAILURE)
    draw = ctx.call("init", name, shape, params, seed, ctx.dtype)
    if name in ("zeros", "constant"):
        ctx.exact(f"{name} values", draw, np.full(shape, expected_mean(name, params), dtype=ctx.np_dtype))
        return
    first = ctx.structure(f"{name} shape, dtype and finiteness", draw, shape)
    if first.problem:
        return
    values = np.asarray(draw, dtype=np.float64).ravel()
    n = values.size
    mu = expected_mean(name, params)
    sigma = reference_init.expected_std(name, shape, **params)
    if name in UNIFORM_SCHEMES:
        low, high = _support(name, shape, params)
        alpha = FALSE_FAILURE / 2.0  # two tests; the range test cannot fail by chance
        slack = 4.0 * np.finfo(ctx.np_dtype).eps * max(abs(low), abs(high))
        outside = int(np.count_nonzero((values < low - slack) | (values > high + slack)))
        ctx.value(f"{name} values outside [{low:.4g}, {high:.4g}]", outside, 0)
        width = high - low
        ctx.statistic(f"{name} mean", float(values.mean()), mu, hoeffding_bound(n, width, alpha),
                      f"Hoeffding, n={n}, false-failure probability {alpha:.1g}")
        ctx.statistic(f"{name} variance", float(np.mean((values - mu) ** 2)), sigma**2,
                      hoeffding_bound(n, width**2 / 4.0, alpha),
                      f"Hoeffding on (x - mu)^2, n={n}, false-failure probability {alpha:.1g}")
    elif name in NORMAL_SCHEMES:
        alpha = FALSE_FAILURE / 2.0
        ctx.statistic(f"{name} mean", float(values.mean()), mu, normal_mean_bound(n, sigma, alpha),
                      f"normal mean, n={n}, false-failure probability {alpha:.1g}")
        low, high = chi_square_interval(n, alpha)
        ratio = float(np.sum((values - mu) ** 2) / sigma**2 / n)
        center, half_width = (low + high) / (2.0 * n), (high - low) / (2.0 * n)
        ctx.statistic(f"{name} variance / target variance", ratio, center, half_width,
                      f"chi-square({n}), false-failure probability {alpha:.1g}")
    else:
        raise ValueError(f"no statistical test for initializer {name!r}")

