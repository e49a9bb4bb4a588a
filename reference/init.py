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
    raise ValueError(f"unknown initializer {name!r}; known: {', '.join([*INITIALIZERS, 'linear_default'])}")


def expected_bound(name: str, shape: Shape, **params: Any) -> tuple[float, float] | None:
    """The support [low, high] of a uniform scheme (None for unbounded ones)."""
    if name == "uniform":
        return float(params.get("a", 0.0)), float(params.get("b", 1.0))
    if name in ("xavier_uniform", "kaiming_uniform", "linear_default"):
        bound = math.sqrt(3.0) * expected_std(name, shape, **params)
        return -bound, bound
    if name in ("zeros", "constant"):
        value = 0.0 if name == "zeros" else float(params.get("value", 0.0))
        return value, value
    return None


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
}
"""name -> callable(shape, rng, dtype=..., **params)."""
