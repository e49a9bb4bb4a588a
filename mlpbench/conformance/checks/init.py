"""Initializers: statistical checks of the implementation's own generator, with a stated false-failure
probability (mlpbench.conformance.checks.stats.FALSE_FAILURE = 1e-6 per check).

The implementation draws a (256, 512) tensor (131072 values; fan_in 512, fan_out 256) with its initializer.
Deterministic schemes (zeros, constant) must match exactly. For random schemes, with mu and sigma the mean
and standard deviation the scheme targets (mlpbench.reference.init.expected_mean and expected_std), by the
family of the distribution (`family`), the `init` check tests the moments:
- uniform on [a, b]: every value inside [a, b]; |mean - mu| and |mean((x - mu)^2) - sigma^2| within
  Hoeffding bounds (widths b - a and (b - a)^2 / 4);
- normal: |mean - mu| within z sigma / sqrt(n); sum((x - mu)^2) / sigma^2 within the chi-square(n) interval;
- truncated normal on [a, b] (truncated_normal, lecun_normal, variance_scaling's truncated_normal): every value
  inside [a, b]; the mean and (x - mu)^2 within Hoeffding bounds (widths b - a and max(b - mu, mu - a)^2).
A wrong fan (fan_out for fan_in), gain, scale or bound, or a missing truncation correction (.8796), changes
sigma by far more than these bounds (~2% of sigma^2) allow.

The `init_distribution` check (a case of its own, `init/<scheme>-distribution`, with its own draw) tests the
shape: the Kolmogorov-Smirnov distance sup |F_n - F| to the scheme's CDF F (uniform, normal or truncated normal)
within the Dvoretzky-Kiefer-Wolfowitz bound sqrt(ln(2 / alpha) / (2 n)) (Massart's constant), alpha =
FALSE_FAILURE. The moments cannot see a distribution with the right mean and variance: a truncated normal where an
untruncated one is claimed (JAX's and Keras's glorot_normal and he_normal are truncated, PyTorch's xavier_normal
and kaiming_normal are not), a uniform for a normal, values clipped to the cut instead of redrawn.
"""

from __future__ import annotations

import numpy as np

from mlpbench.conformance.checks.base import CheckContext, check_kind
from mlpbench.conformance.checks.stats import (
    FALSE_FAILURE,
    chi_square_interval,
    dkw_bound,
    hoeffding_bound,
    normal_mean_bound,
)
from mlpbench.reference import init as reference_init
from mlpbench.reference.activations import erf

UNIFORM_SCHEMES = frozenset({"uniform", "xavier_uniform", "kaiming_uniform", "lecun_uniform"})
NORMAL_SCHEMES = frozenset({"normal", "xavier_normal", "kaiming_normal"})
TRUNCATED_SCHEMES = frozenset({"truncated_normal", "lecun_normal"})
VARIANCE_SCALING_FAMILY = {"uniform": "uniform", "untruncated_normal": "normal", "truncated_normal": "truncated"}


def family(name: str, params: dict) -> str:
    """"uniform", "normal" or "truncated": the distribution scheme `name` draws from with `params`."""
    if name == "variance_scaling":
        return VARIANCE_SCALING_FAMILY[params.get("distribution", "truncated_normal")]
    for kind, schemes in (("uniform", UNIFORM_SCHEMES), ("normal", NORMAL_SCHEMES), ("truncated", TRUNCATED_SCHEMES)):
        if name in schemes:
            return kind
    raise ValueError(f"no statistical test for initializer {name!r}")


def _support(name: str, shape: tuple[int, ...], params: dict) -> tuple[float, float]:
    """[low, high] of a bounded scheme (every uniform and truncated one has a bounded support)."""
    bound = reference_init.expected_bound(name, shape, **params)
    if bound is None:
        raise ValueError(f"initializer {name!r} has no bounded support")
    return bound


def truncated_normal_cdf(x: np.ndarray, name: str, shape: tuple[int, ...], params: dict) -> np.ndarray:
    """The CDF of the truncated normal scheme `name` draws from: (Phi(z) - Phi(a)) / (Phi(b) - Phi(a)) with
    z = (x - mean) / std, and a, b the cut in stds (mlpbench.reference.init.truncation)."""
    cut = reference_init.truncation(name, shape, **params)
    if cut is None:
        raise ValueError(f"initializer {name!r} with {params} truncates nothing")
    mean, std, a, b = cut
    z = np.clip((np.asarray(x, dtype=np.float64) - mean) / std, a, b)
    phi = erf(np.array([a, b]) / np.sqrt(2.0))
    return (erf(z / np.sqrt(2.0)) - phi[0]) / (phi[1] - phi[0])


def ks_distance(values: np.ndarray, cdf: np.ndarray) -> float:
    """sup |F_n - F| from the sorted sample and F at each value (ties included)."""
    n = values.size
    order = np.argsort(values, kind="stable")
    f = cdf[order]
    ranks = np.arange(1, n + 1, dtype=np.float64)
    return float(max(np.max(ranks / n - f), np.max(f - (ranks - 1.0) / n)))


def _check_bounded(ctx: CheckContext, name: str, values: np.ndarray, low: float, high: float, alpha: float,
                   mu: float, sigma: float, square_width: float) -> None:
    """Range (cannot fail by chance), then Hoeffding on the mean and on (x - mu)^2."""
    n = values.size
    slack = 4.0 * np.finfo(ctx.np_dtype).eps * max(abs(low), abs(high))
    outside = int(np.count_nonzero((values < low - slack) | (values > high + slack)))
    ctx.value(f"{name} values outside [{low:.4g}, {high:.4g}]", outside, 0)
    ctx.statistic(f"{name} mean", float(values.mean()), mu, hoeffding_bound(n, high - low, alpha),
                  f"Hoeffding, n={n}, false-failure probability {alpha:.1g}")
    ctx.statistic(f"{name} variance", float(np.mean((values - mu) ** 2)), sigma**2,
                  hoeffding_bound(n, square_width, alpha),
                  f"Hoeffding on (x - mu)^2, n={n}, false-failure probability {alpha:.1g}")


def _check_normal(ctx: CheckContext, name: str, values: np.ndarray, mu: float, sigma: float) -> None:
    n, alpha = values.size, FALSE_FAILURE / 2.0
    ctx.statistic(f"{name} mean", float(values.mean()), mu, normal_mean_bound(n, sigma, alpha),
                  f"normal mean, n={n}, false-failure probability {alpha:.1g}")
    low, high = chi_square_interval(n, alpha)
    ratio = float(np.sum((values - mu) ** 2) / sigma**2 / n)
    center, half_width = (low + high) / (2.0 * n), (high - low) / (2.0 * n)
    ctx.statistic(f"{name} variance / target variance", ratio, center, half_width,
                  f"chi-square({n}), false-failure probability {alpha:.1g}")


@check_kind("init")
def check_init(ctx: CheckContext) -> None:
    name, params, shape = ctx.case.params["initializer"], dict(ctx.case.params["params"]), ctx.case.params["shape"]
    shape = tuple(shape)
    seed = ctx.case.seed
    ctx.details.update(initializer=name, params=params, shape=list(shape), seed=seed,
                       false_failure_probability=FALSE_FAILURE)
    draw = ctx.call("init", name, shape, params, seed, ctx.dtype)
    mu = reference_init.expected_mean(name, shape, **params)
    if name in ("zeros", "constant"):
        ctx.exact(f"{name} values", draw, np.full(shape, mu, dtype=ctx.np_dtype))
        return
    first = ctx.structure(f"{name} shape, dtype and finiteness", draw, shape)
    if first.problem:
        return
    values = np.asarray(draw, dtype=np.float64).ravel()
    sigma = reference_init.expected_std(name, shape, **params)
    kind = family(name, params)
    if kind == "normal":
        _check_normal(ctx, name, values, mu, sigma)
        return
    low, high = _support(name, shape, params)
    # two tests each; the range test cannot fail by chance
    if kind == "uniform":
        _check_bounded(ctx, name, values, low, high, FALSE_FAILURE / 2.0, mu, sigma, (high - low) ** 2 / 4.0)
        return
    _check_bounded(ctx, name, values, low, high, FALSE_FAILURE / 2.0, mu, sigma, max(high - mu, mu - low) ** 2)


def scheme_cdf(x: np.ndarray, name: str, shape: tuple[int, ...], params: dict) -> np.ndarray:
    """The CDF of the distribution random scheme `name` draws from, at x."""
    x = np.asarray(x, dtype=np.float64)
    kind = family(name, params)
    if kind == "uniform":
        low, high = _support(name, shape, params)
        return np.clip((x - low) / (high - low), 0.0, 1.0)
    if kind == "normal":
        mu = reference_init.expected_mean(name, shape, **params)
        sigma = reference_init.expected_std(name, shape, **params)
        return 0.5 * (1.0 + erf((x - mu) / (sigma * np.sqrt(2.0))))
    return truncated_normal_cdf(x, name, shape, params)


@check_kind("init_distribution")
def check_init_distribution(ctx: CheckContext) -> None:
    name, params, shape = ctx.case.params["initializer"], dict(ctx.case.params["params"]), ctx.case.params["shape"]
    shape = tuple(shape)
    ctx.details.update(initializer=name, params=params, shape=list(shape), seed=ctx.case.seed,
                       false_failure_probability=FALSE_FAILURE)
    draw = ctx.call("init", name, shape, params, ctx.case.seed, ctx.dtype)
    if ctx.structure(f"{name} shape, dtype and finiteness", draw, shape).problem:
        return
    values = np.asarray(draw, dtype=np.float64).ravel()
    distance = ks_distance(values, scheme_cdf(values, name, shape, params))
    ctx.statistic(f"{name} Kolmogorov-Smirnov distance to its {family(name, params)} distribution", distance, 0.0,
                  dkw_bound(values.size, FALSE_FAILURE),
                  f"Dvoretzky-Kiefer-Wolfowitz (Massart), n={values.size}, false-failure probability "
                  f"{FALSE_FAILURE:.1g}")
