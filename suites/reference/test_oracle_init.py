"""Self-checks of the oracle's initializers (reference/init.py), without PyTorch.

Statistical checks use fixed seeds and a 5-sigma bound. For a correct scheme each check then fails for a
random seed with probability about P(|Z| > 5) = 5.7e-7 (normal approximation, n >= 6000 draws), so the file's
~70 such checks have a false-failure probability below 5e-5; with the fixed seeds they are deterministic.

Sampling distributions used (n iid draws X_i, variance s^2, fourth central moment mu4):
    sample mean:      std = s / sqrt(n)
    sample variance:  Var(S^2) = (mu4 - s^4) / n + O(1/n^2), so S^2 has relative std sqrt((kappa - 1) / n)
                      with kurtosis kappa = mu4 / s^4:
                        normal:  kappa = 3    ->  sqrt(2 / n)       (exactly sqrt(2 / (n - 1)), ddof=1)
                        uniform: kappa = 9/5  ->  sqrt(4 / (5 n))   (U(-b, b): s^2 = b^2/3, mu4 = b^4/5)
    largest |X| of U(-b, b):  P(max |X_i| < b (1 - t)) = (1 - t)^n <= exp(-n t); t = 20 / n gives 2e-9.
    fraction within one std:  normal 0.6827, uniform 1/sqrt(3) = 0.5774; binomial std sqrt(p (1 - p) / n).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlpbench.reference import init

Z = 5.0
REL_STD_VAR = {"normal": lambda n: math.sqrt(2.0 / (n - 1)), "uniform": lambda n: math.sqrt(0.8 / n)}
KIND = {
    "normal": "normal",
    "xavier_normal": "normal",
    "kaiming_normal": "normal",
    "uniform": "uniform",
    "xavier_uniform": "uniform",
    "kaiming_uniform": "uniform",
}


def _check_moments(sample: np.ndarray, kind: str, std: float, mean: float = 0.0) -> None:
    n = sample.size
    assert abs(sample.mean() - mean) < Z * std / math.sqrt(n), f"mean {sample.mean()} vs {mean}"
    ratio = sample.var(ddof=1) / std**2
    assert abs(ratio - 1.0) < Z * REL_STD_VAR[kind](n), f"variance ratio {ratio}"


def _check_shape_of_distribution(sample: np.ndarray, kind: str, std: float) -> None:
    """Fraction within one std tells a normal from a uniform of the same variance (0.683 vs 0.577)."""
    p = math.erf(1 / math.sqrt(2)) if kind == "normal" else 1 / math.sqrt(3)
    fraction = float(np.mean(np.abs(sample) < std))
    assert abs(fraction - p) < Z * math.sqrt(p * (1 - p) / sample.size), f"{fraction} vs {p}"


SCHEMES = [
    ("xavier_uniform", (300, 200), {}),
    ("xavier_uniform", (300, 200), {"gain": 5 / 3}),
    ("xavier_normal", (300, 200), {}),
    ("xavier_normal", (120, 40, 3), {"gain": math.sqrt(2)}),
    ("kaiming_uniform", (300, 200), {}),
    ("kaiming_uniform", (300, 200), {"mode": "fan_out"}),
    ("kaiming_uniform", (300, 200), {"a": 0.5}),
    ("kaiming_uniform", (300, 200), {"nonlinearity": "tanh", "mode": "fan_out"}),
    ("kaiming_normal", (300, 200), {}),
    ("kaiming_normal", (300, 200), {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal", (100, 60), {"a": 0.2, "nonlinearity": "leaky_relu"}),
    ("kaiming_normal", (64, 16, 3, 3), {"nonlinearity": "selu"}),
    ("normal", (200, 100), {"mean": 0.0, "std": 0.3}),
    ("uniform", (200, 100), {"a": -0.4, "b": 0.4}),
]


def _formula_std(name: str, shape: tuple[int, ...], params: dict) -> float:
    """Glorot / He standard deviations written out from the papers' formulas (independently of init.py)."""
    receptive = math.prod(shape[2:])
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    if name.startswith("xavier"):
        return params.get("gain", 1.0) * math.sqrt(2.0 / (fan_in + fan_out))
    if name.startswith("kaiming"):
        fan = fan_in if params.get("mode", "fan_in") == "fan_in" else fan_out
        nonlinearity, a = params.get("nonlinearity", "leaky_relu"), params.get("a", 0.0)
        gain = {"relu": math.sqrt(2.0), "tanh": 5 / 3, "selu": 0.75}.get(nonlinearity)
        if nonlinearity == "leaky_relu":
            gain = math.sqrt(2.0 / (1.0 + a * a))
        return gain / math.sqrt(fan)
    if name == "normal":
        return params["std"]
    return (params["b"] - params["a"]) / math.sqrt(12.0)


@pytest.mark.parametrize("name, shape, params", SCHEMES, ids=[f"{n}{s}{p}" for n, s, p in SCHEMES])
def test_scheme_statistics_match_glorot_and_he(name: str, shape: tuple[int, ...], params: dict) -> None:
    rng = np.random.default_rng(1234)
    sample = init.INITIALIZERS[name](shape, rng, **params)
    assert sample.shape == shape and sample.dtype == np.float64
    std = _formula_std(name, shape, params)
    assert init.expected_std(name, shape, **params) == pytest.approx(std, rel=1e-14)
    mean = params.get("mean", (params.get("a", 0.0) + params.get("b", 0.0)) / 2 if name == "uniform" else 0.0)
    _check_moments(sample, KIND[name], std, mean)
    _check_shape_of_distribution(sample - mean, KIND[name], std)
    if KIND[name] == "uniform":
        bound = math.sqrt(3.0) * std
        centred = np.abs(sample - mean)
        assert centred.max() <= bound * (1 + 1e-12)
        assert centred.max() >= bound * (1 - 20 / sample.size)


def test_fan_in_and_fan_out_modes_differ_by_the_fan_ratio() -> None:
    """Var(fan_in) / Var(fan_out) = fan_out / fan_in = 300 / 100 = 3 for shape (300, 100)."""
    shape = (300, 100)
    w_in = init.kaiming_normal(shape, np.random.default_rng(7), mode="fan_in", nonlinearity="relu")
    w_out = init.kaiming_normal(shape, np.random.default_rng(8), mode="fan_out", nonlinearity="relu")
    n = w_in.size
    ratio = w_in.var() / w_out.var()
    # the log of each sample variance has std ~ sqrt(2/n); their difference sqrt(4/n)
    assert abs(math.log(ratio / 3.0)) < Z * math.sqrt(4.0 / n)


def test_calculate_gain_table() -> None:
    for name in ("linear", "conv1d", "conv2d", "sigmoid"):
        assert init.calculate_gain(name) == 1.0
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("identity")  # as torch.nn.init.calculate_gain
    assert init.calculate_gain("tanh") == 5.0 / 3.0
    assert init.calculate_gain("relu") == math.sqrt(2.0)
    assert init.calculate_gain("selu") == 0.75
    assert init.calculate_gain("leaky_relu") == math.sqrt(2.0 / (1 + 0.01**2))
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2.0 / 1.04)
    assert init.calculate_gain("leaky_relu", 0) == math.sqrt(2.0)
    with pytest.raises(ValueError):
        init.calculate_gain("swish")
    with pytest.raises(ValueError):
        init.calculate_gain("leaky_relu", True)


def test_compute_fans() -> None:
    assert init.compute_fans((30, 20)) == (20, 30)
    assert init.compute_fans((8, 4, 3, 3)) == (36, 72)
    with pytest.raises(ValueError):
        init.compute_fans((5,))


def test_bad_mode_raises() -> None:
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_uniform((3, 2), np.random.default_rng(0), mode="fan_avg")


def test_zeros_and_constant_are_exact() -> None:
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(init.zeros((3, 4)), np.zeros((3, 4)))
    np.testing.assert_array_equal(init.constant((2, 5), 0.25), np.full((2, 5), 0.25))
    np.testing.assert_array_equal(init.INITIALIZERS["zeros"]((3,), rng), np.zeros(3))
    np.testing.assert_array_equal(init.INITIALIZERS["constant"]((3,), rng, value=-1.5), np.full(3, -1.5))
    assert init.INITIALIZERS["constant"]((2,), rng, dtype=np.float32, value=2.0).dtype == np.float32
    assert init.expected_std("zeros", (3, 4)) == 0.0
    assert init.expected_std("constant", (3, 4), value=1.0) == 0.0


def test_linear_default_bounds_and_statistics() -> None:
    """nn.Linear: weight and bias U(-1/sqrt(in), 1/sqrt(in)); weight std 1 / sqrt(3 in)."""
    in_features, out_features = 150, 400
    weight, bias = init.linear_default(in_features, out_features, np.random.default_rng(3))
    assert weight.shape == (out_features, in_features) and bias.shape == (out_features,)
    bound = 1.0 / math.sqrt(in_features)
    assert init.expected_bound("linear_default", weight.shape) == pytest.approx((-bound, bound), rel=1e-14)
    assert np.abs(weight).max() <= bound and np.abs(bias).max() <= bound
    assert np.abs(weight).max() >= bound * (1 - 20 / weight.size)
    assert np.abs(bias).max() >= bound * (1 - 20 / bias.size)
    _check_moments(weight, "uniform", bound / math.sqrt(3.0))
    expected = init.expected_std("linear_default", weight.shape)
    assert expected == pytest.approx(bound / math.sqrt(3.0), rel=1e-14)


def test_seeded_draws_are_reproducible_and_dtype_is_a_cast() -> None:
    a = init.xavier_normal((20, 10), np.random.default_rng(42))
    b = init.xavier_normal((20, 10), np.random.default_rng(42))
    c = init.xavier_normal((20, 10), np.random.default_rng(42), dtype=np.float32)
    np.testing.assert_array_equal(a, b)
    assert c.dtype == np.float32
    np.testing.assert_array_equal(c, a.astype(np.float32))
    assert not np.array_equal(a, init.xavier_normal((20, 10), np.random.default_rng(43)))


def test_zero_element_shapes_give_empty_arrays() -> None:
    assert init.kaiming_uniform((0, 5), np.random.default_rng(0)).shape == (0, 5)
    assert init.xavier_normal((4, 0), np.random.default_rng(0)).shape == (4, 0)


def test_registry_keys() -> None:
    assert set(init.INITIALIZERS) == {
        "zeros", "constant", "normal", "uniform", "xavier_uniform", "xavier_normal", "kaiming_uniform",
        "kaiming_normal",
    }
    with pytest.raises(ValueError, match="unknown initializer"):
        init.expected_std("orthogonal", (3, 3))


@pytest.mark.parametrize("name", ["xavier_uniform", "xavier_normal"])
def test_xavier_on_a_shape_without_fans_raises(name: str) -> None:
    """fan_in + fan_out = 0 leaves the std undefined; PyTorch raises (ZeroDivisionError), so does the oracle."""
    with pytest.raises(ValueError, match="fan_in \\+ fan_out is 0"):
        init.INITIALIZERS[name]((0, 0), np.random.default_rng(0))
