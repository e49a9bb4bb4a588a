"""Weight initialization (PyTorch's ``torch.nn.init`` formulas), drawing from an explicit NumPy Generator.

Shapes use PyTorch's layout: a dense weight is (out_features, in_features), so for a shape (n0, n1, *k)

    fan_in = n1 * prod(k),   fan_out = n0 * prod(k)

Schemes and the standard deviation they target:

    normal(mean, std)              std
    uniform(a, b)                  (b - a) / sqrt(12)
    xavier (Glorot)                std = gain * sqrt(2 / (fan_in + fan_out))
        uniform:  U(-sqrt(3) std, sqrt(3) std) = U(-gain sqrt(6 / (fan_in + fan_out)), ...)
        normal:   N(0, std^2)
    kaiming (He)                   std = gain / sqrt(fan),  fan = fan_in or fan_out (mode),
                                   gain = calculate_gain(nonlinearity, a)
        uniform:  U(-sqrt(3) std, sqrt(3) std)
        normal:   N(0, std^2)
    linear_default (nn.Linear)     weight: kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
                                   bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in))

A uniform U(-b, b) has variance b^2 / 3, hence the sqrt(3) between std and bound.

JAX's, Flax's and Keras's schemes (jax.nn.initializers, keras.initializers), with their fans taken in this
module's layout (JAX and Keras lay a dense kernel out as (in, out) and read fan_in from axis -2 and fan_out
from axis -1; the fans themselves, the input and output counts, are the same):

    truncated_normal(mean, std, lower, upper)
                                   mean + std Z, Z ~ N(0, 1) conditioned on lower <= Z <= upper (draws
                                   outside redrawn); std is the untruncated normal's, the draws' std is
                                   std * truncated_std(lower, upper)
    variance_scaling(scale, mode, distribution)
                                   target std = sqrt(scale / n), n = fan_in, fan_out, (fan_in + fan_out) / 2
                                   (fan_avg) or sqrt(fan_in fan_out) (fan_geo_avg, JAX only)
        truncated_normal:    truncated_normal(0, sqrt(scale / n) / .87962566103423978, -2, 2)
                             (.8796... = truncated_std(-2, 2): the std after truncation is sqrt(scale / n))
        untruncated_normal:  N(0, scale / n)
        uniform:             U(-sqrt(3 scale / n), sqrt(3 scale / n))
    lecun_normal                   variance_scaling(1, fan_in, truncated_normal)   (Flax's Dense kernel default)
    lecun_uniform                  variance_scaling(1, fan_in, uniform)
Random values are drawn in float64 and cast to ``dtype``, so a seed gives the same values in every dtype
up to rounding. Zero-element shapes give empty arrays (PyTorch: a no-op).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

Shape = int | tuple[int, ...]

_LINEAR_FNS = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (``torch.nn.init.calculate_gain``).

    linear / conv* / sigmoid: 1 (PyTorch has no "identity" entry, so it raises, as here);  tanh: 5/3;  relu: sqrt(2);
    leaky_relu: sqrt(2 / (1 + a^2)) with negative slope a (default 0.01);  selu: 3/4.
    """
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            negative_slope = float(param)
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1.0 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ValueError(f"Unsupported nonlinearity {nonlinearity!r}")


def _as_shape(shape: Shape) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)


def compute_fans(shape: Shape) -> tuple[int, int]:
    """(fan_in, fan_out) = (shape[1] * receptive, shape[0] * receptive), receptive = prod(shape[2:])."""
    dims = _as_shape(shape)
    if len(dims) < 2:
        raise ValueError(f"fan in and fan out need a shape of at least 2 dimensions, got {dims}")
    receptive = math.prod(dims[2:])
    return dims[1] * receptive, dims[0] * receptive


def _fan(shape: Shape, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode!r} not supported, use 'fan_in' or 'fan_out'")
    fan_in, fan_out = compute_fans(shape)
    return fan_in if mode == "fan_in" else fan_out


def zeros(shape: Shape, dtype: Any = np.float64) -> np.ndarray:
    """All zeros."""
    return np.zeros(_as_shape(shape), dtype=dtype)


def constant(shape: Shape, value: float, dtype: Any = np.float64) -> np.ndarray:
    """All equal to ``value``."""
    return np.full(_as_shape(shape), value, dtype=dtype)


def normal(
    shape: Shape, rng: np.random.Generator, mean: float = 0.0, std: float = 1.0, dtype: Any = np.float64
) -> np.ndarray:
    """Independent N(mean, std^2) draws."""
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    return rng.normal(mean, std, size=_as_shape(shape)).astype(dtype, copy=False)


def uniform(
    shape: Shape, rng: np.random.Generator, a: float = 0.0, b: float = 1.0, dtype: Any = np.float64
) -> np.ndarray:
    """Independent U(a, b) draws (mean (a + b) / 2, variance (b - a)^2 / 12)."""
    if b < a:
        raise ValueError(f"uniform needs a <= b, got a={a}, b={b}")
    return rng.uniform(a, b, size=_as_shape(shape)).astype(dtype, copy=False)


def xavier_std(shape: Shape, gain: float = 1.0) -> float:
    """Glorot: std = gain * sqrt(2 / (fan_in + fan_out)); undefined (ValueError) when fan_in + fan_out = 0."""
    fan_in, fan_out = compute_fans(shape)
    if fan_in + fan_out == 0:
        raise ValueError(f"xavier: fan_in + fan_out is 0 for shape {_as_shape(shape)}")
    return gain * math.sqrt(2.0 / float(fan_in + fan_out))


def kaiming_std(
    shape: Shape, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> float:
    """He: std = gain / sqrt(fan), gain = calculate_gain(nonlinearity, a), fan by ``mode``."""
    return calculate_gain(nonlinearity, a) / math.sqrt(_fan(shape, mode))


def xavier_uniform(
    shape: Shape, rng: np.random.Generator, gain: float = 1.0, dtype: Any = np.float64
) -> np.ndarray:
    """U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out)) = sqrt(3) * xavier_std."""
    bound = math.sqrt(3.0) * xavier_std(shape, gain)  # the fans first, as PyTorch: (0, 0) raises
    if math.prod(_as_shape(shape)) == 0:
        return zeros(shape, dtype)
    return uniform(shape, rng, -bound, bound, dtype)


def xavier_normal(
    shape: Shape, rng: np.random.Generator, gain: float = 1.0, dtype: Any = np.float64
) -> np.ndarray:
    """N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    std = xavier_std(shape, gain)  # the fans first, as PyTorch: (0, 0) raises
    if math.prod(_as_shape(shape)) == 0:
        return zeros(shape, dtype)
    return normal(shape, rng, 0.0, std, dtype)


def kaiming_uniform(
    shape: Shape,
    rng: np.random.Generator,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    dtype: Any = np.float64,
) -> np.ndarray:
    """U(-bound, bound), bound = sqrt(3) * gain / sqrt(fan)."""
    if math.prod(_as_shape(shape)) == 0:
        return zeros(shape, dtype)
    bound = math.sqrt(3.0) * kaiming_std(shape, a, mode, nonlinearity)
    return uniform(shape, rng, -bound, bound, dtype)


def kaiming_normal(
    shape: Shape,
    rng: np.random.Generator,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    dtype: Any = np.float64,
) -> np.ndarray:
    """N(0, std^2), std = gain / sqrt(fan)."""
    if math.prod(_as_shape(shape)) == 0:
        return zeros(shape, dtype)
    return normal(shape, rng, 0.0, kaiming_std(shape, a, mode, nonlinearity), dtype)


def linear_default(
    in_features: int, out_features: int, rng: np.random.Generator, dtype: Any = np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """nn.Linear.reset_parameters: (weight, bias), both U(-1/sqrt(in_features), 1/sqrt(in_features)).

    The weight is kaiming_uniform(a=sqrt(5)): gain = sqrt(2 / (1 + 5)) = 1/sqrt(3), so
    bound = sqrt(3) * gain / sqrt(fan_in) = 1 / sqrt(fan_in). The weight is drawn first, then the bias.
    """
    shape = (out_features, in_features)
    weight = kaiming_uniform(shape, rng, a=math.sqrt(5.0), dtype=dtype)
    bound = 1.0 / math.sqrt(in_features) if in_features > 0 else 0.0
    bias = uniform((out_features,), rng, -bound, bound, dtype)
    return weight, bias


TRUNCATION_CORRECTION = 0.87962566103423978
"""The std of N(0, 1) truncated to (-2, 2), as JAX's and Keras's variance_scaling write it (the literal
.87962566103423978 in jax/_src/nn/initializers.py and keras/src/initializers/random_initializers.py)."""

VARIANCE_SCALING_MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
VARIANCE_SCALING_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

MIN_TRUNCATED_MASS = 1e-3
"""The smallest probability P(lower <= Z <= upper) truncated_normal accepts: it redraws the values outside, so
it needs about ln(n) / P rounds."""


def _density_times(x: float) -> float:
    """x phi(x), 0 at +-inf."""
    return 0.0 if math.isinf(x) else x * math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _density(x: float) -> float:
    return 0.0 if math.isinf(x) else math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def truncated_mass(lower: float, upper: float) -> float:
    """P(lower <= Z <= upper) for Z ~ N(0, 1): (erf(upper / sqrt 2) - erf(lower / sqrt 2)) / 2."""
    return 0.5 * (math.erf(upper / math.sqrt(2.0)) - math.erf(lower / math.sqrt(2.0)))


def truncated_moments(lower: float, upper: float) -> tuple[float, float]:
    """(mean, std) of Z ~ N(0, 1) conditioned on lower <= Z <= upper, with P = Phi(upper) - Phi(lower):

        E Z = (phi(lower) - phi(upper)) / P,   Var Z = 1 + (lower phi(lower) - upper phi(upper)) / P - (E Z)^2
    """
    mass = truncated_mass(lower, upper)
    mean = (_density(lower) - _density(upper)) / mass
    variance = 1.0 + (_density_times(lower) - _density_times(upper)) / mass - mean * mean
    return mean, math.sqrt(variance)


def truncated_std(lower: float = -2.0, upper: float = 2.0) -> float:
    """The std of N(0, 1) truncated to [lower, upper] (truncated_std(-2, 2) = TRUNCATION_CORRECTION)."""
    return truncated_moments(lower, upper)[1]


def _check_truncation(std: float, lower: float, upper: float) -> None:
    if not std > 0:
        raise ValueError(f"truncated_normal needs std > 0, got {std}")
    if not lower < upper:
        raise ValueError(f"truncated_normal needs lower < upper, got lower={lower}, upper={upper}")
    if truncated_mass(lower, upper) < MIN_TRUNCATED_MASS:
        raise ValueError(f"truncated_normal: P({lower} <= Z <= {upper}) is below {MIN_TRUNCATED_MASS}")


def truncated_normal(
    shape: Shape,
    rng: np.random.Generator,
    mean: float = 0.0,
    std: float = 1.0,
    lower: float = -2.0,
    upper: float = 2.0,
    dtype: Any = np.float64,
) -> np.ndarray:
    """mean + std Z, Z ~ N(0, 1) redrawn until lower <= Z <= upper (bounds in stds of the untruncated normal).

    Keras's TruncatedNormal(mean, stddev) is lower = -2, upper = 2; JAX's truncated_normal(stddev, lower,
    upper) is mean 0; torch.nn.init.trunc_normal_(mean, std, a, b) takes absolute bounds a = mean + lower std,
    b = mean + upper std. The draws' std is std * truncated_std(lower, upper), not std.
    """
    _check_truncation(std, lower, upper)
    z = rng.standard_normal(_as_shape(shape))
    outside = (z < lower) | (z > upper)
    while outside.any():
        z[outside] = rng.standard_normal(int(np.count_nonzero(outside)))
        outside = (z < lower) | (z > upper)
    return (mean + std * z).astype(dtype, copy=False)


def _check_variance_scaling(scale: float, mode: str, distribution: str) -> None:
    if not scale > 0:
        raise ValueError(f"variance_scaling needs scale > 0, got {scale}")
    if mode not in VARIANCE_SCALING_MODES:
        raise ValueError(f"mode {mode!r} not supported, use one of {', '.join(VARIANCE_SCALING_MODES)}")
    if distribution == "normal":
        raise ValueError("distribution 'normal' is ambiguous (untruncated in JAX's variance_scaling, truncated in "
                         "Keras's VarianceScaling): use 'untruncated_normal' or 'truncated_normal'")
    if distribution not in VARIANCE_SCALING_DISTRIBUTIONS:
        raise ValueError(f"distribution {distribution!r} not supported, "
                         f"use one of {', '.join(VARIANCE_SCALING_DISTRIBUTIONS)}")


def variance_scaling_std(shape: Shape, scale: float = 1.0, mode: str = "fan_in") -> float:
    """sqrt(scale / n): n = fan_in, fan_out, (fan_in + fan_out) / 2 or sqrt(fan_in fan_out) by ``mode``."""
    fan_in, fan_out = compute_fans(shape)
    fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0,
           "fan_geo_avg": math.sqrt(fan_in * fan_out)}[mode]
    return math.sqrt(scale / fan)


def variance_scaling(
    shape: Shape,
    rng: np.random.Generator,
    scale: float = 1.0,
    mode: str = "fan_in",
    distribution: str = "truncated_normal",
    dtype: Any = np.float64,
) -> np.ndarray:
    """std s = sqrt(scale / n) after truncation: truncated_normal(0, s / .87962566103423978, -2, 2),
    N(0, s^2) (untruncated_normal) or U(-sqrt(3) s, sqrt(3) s) (uniform). Keras's defaults."""
    _check_variance_scaling(scale, mode, distribution)
    compute_fans(shape)  # fewer than 2 dimensions raise, as in JAX, before the zero-element shortcut
    if math.prod(_as_shape(shape)) == 0:
        return zeros(shape, dtype)
    std = variance_scaling_std(shape, scale, mode)
    if distribution == "truncated_normal":
        return truncated_normal(shape, rng, 0.0, std / TRUNCATION_CORRECTION, -2.0, 2.0, dtype)
    if distribution == "untruncated_normal":
        return normal(shape, rng, 0.0, std, dtype)
    return uniform(shape, rng, -math.sqrt(3.0) * std, math.sqrt(3.0) * std, dtype)


def lecun_normal(shape: Shape, rng: np.random.Generator, dtype: Any = np.float64) -> np.ndarray:
    """variance_scaling(1, "fan_in", "truncated_normal"): std 1 / sqrt(fan_in) after truncation at 2 stds."""
    return variance_scaling(shape, rng, 1.0, "fan_in", "truncated_normal", dtype)


def lecun_uniform(shape: Shape, rng: np.random.Generator, dtype: Any = np.float64) -> np.ndarray:
    """variance_scaling(1, "fan_in", "uniform"): U(-sqrt(3 / fan_in), sqrt(3 / fan_in))."""
    return variance_scaling(shape, rng, 1.0, "fan_in", "uniform", dtype)


_LECUN = {"lecun_normal": "truncated_normal", "lecun_uniform": "uniform"}


def _variance_scaling_params(name: str, params: dict[str, Any]) -> tuple[float, str, str]:
    """(scale, mode, distribution) of variance_scaling or a lecun scheme."""
    if name in _LECUN:
        return 1.0, "fan_in", _LECUN[name]
    scale, mode = float(params.get("scale", 1.0)), params.get("mode", "fan_in")
    distribution = params.get("distribution", "truncated_normal")
    _check_variance_scaling(scale, mode, distribution)
    return scale, mode, distribution


def truncation(name: str, shape: Shape, **params: Any) -> tuple[float, float, float, float] | None:
    """(mean, std, lower, upper) of the normal a truncated scheme cuts, the bounds in its stds; None for a scheme
    that truncates nothing (variance_scaling and lecun_normal: (0, sqrt(scale / n) / .8796..., -2, 2))."""
    if name == "truncated_normal":
        return (float(params.get("mean", 0.0)), float(params.get("std", 1.0)),
                float(params.get("lower", -2.0)), float(params.get("upper", 2.0)))
    if name in ("variance_scaling", *_LECUN):
        scale, mode, distribution = _variance_scaling_params(name, params)
        if distribution == "truncated_normal":
            return 0.0, variance_scaling_std(shape, scale, mode) / TRUNCATION_CORRECTION, -2.0, 2.0
    return None


def expected_std(name: str, shape: Shape, **params: Any) -> float:
    """The standard deviation scheme ``name`` targets for ``shape`` (0 for deterministic schemes).

    ``linear_default`` is the weight of nn.Linear with ``shape = (out_features, in_features)``:
    1 / sqrt(3 fan_in).
    """
    if name in ("zeros", "constant"):
        return 0.0
    if name == "normal":
        return float(params.get("std", 1.0))
    if name == "uniform":
        return (float(params.get("b", 1.0)) - float(params.get("a", 0.0))) / math.sqrt(12.0)
    if name in ("xavier_uniform", "xavier_normal"):
        return xavier_std(shape, params.get("gain", 1.0))
    if name in ("kaiming_uniform", "kaiming_normal"):
        mode, nonlinearity = params.get("mode", "fan_in"), params.get("nonlinearity", "leaky_relu")
        return kaiming_std(shape, params.get("a", 0.0), mode, nonlinearity)
    if name == "linear_default":
        return 1.0 / math.sqrt(3.0 * compute_fans(shape)[0])
    cut = truncation(name, shape, **params)
    if cut is not None:  # variance_scaling's: (s / .8796...) truncated_std(-2, 2) = s up to the literal's rounding
        _, std, lower, upper = cut
        return std * truncated_std(lower, upper)
    if name in ("variance_scaling", *_LECUN):
        return variance_scaling_std(shape, *_variance_scaling_params(name, params)[:2])
    raise ValueError(f"unknown initializer {name!r}; known: {', '.join([*INITIALIZERS, 'linear_default'])}")


def expected_bound(name: str, shape: Shape, **params: Any) -> tuple[float, float] | None:
    """The support [low, high] of a bounded scheme, uniform or truncated (None for unbounded ones)."""
    if name == "uniform":
        return float(params.get("a", 0.0)), float(params.get("b", 1.0))
    if name in ("xavier_uniform", "kaiming_uniform", "linear_default"):
        bound = math.sqrt(3.0) * expected_std(name, shape, **params)
        return -bound, bound
    if name in ("zeros", "constant"):
        value = 0.0 if name == "zeros" else float(params.get("value", 0.0))
        return value, value
    cut = truncation(name, shape, **params)
    if cut is not None:
        mean, std, lower, upper = cut
        return mean + lower * std, mean + upper * std
    if name in ("variance_scaling", *_LECUN) and _variance_scaling_params(name, params)[2] == "uniform":
        bound = math.sqrt(3.0) * expected_std(name, shape, **params)
        return -bound, bound
    return None


def expected_mean(name: str, shape: Shape, **params: Any) -> float:
    """The mean scheme ``name`` targets (a truncated one: mean + std E Z, see truncation and truncated_moments)."""
    if name == "constant":
        return float(params.get("value", 0.0))
    if name == "normal":
        return float(params.get("mean", 0.0))
    if name == "uniform":
        return (float(params.get("a", 0.0)) + float(params.get("b", 1.0))) / 2.0
    cut = truncation(name, shape, **params)
    if cut is not None:
        mean, std, lower, upper = cut
        return mean + std * truncated_moments(lower, upper)[0]
    return 0.0


def _zeros_entry(shape: Shape, rng: np.random.Generator | None = None, dtype: Any = np.float64) -> np.ndarray:
    return zeros(shape, dtype)


def _constant_entry(
    shape: Shape, rng: np.random.Generator | None = None, dtype: Any = np.float64, value: float = 0.0
) -> np.ndarray:
    return constant(shape, value, dtype)


INITIALIZERS: dict[str, Callable[..., np.ndarray]] = {
    "zeros": _zeros_entry,
    "constant": _constant_entry,
    "normal": normal,
    "uniform": uniform,
    "xavier_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "kaiming_uniform": kaiming_uniform,
    "kaiming_normal": kaiming_normal,
    "truncated_normal": truncated_normal,
    "variance_scaling": variance_scaling,
    "lecun_normal": lecun_normal,
    "lecun_uniform": lecun_uniform,
}
"""name -> callable(shape, rng, dtype=..., **params)."""
