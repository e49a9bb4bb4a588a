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

import mpmath
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
        "kaiming_normal", "truncated_normal", "variance_scaling", "lecun_normal", "lecun_uniform",
    }
    with pytest.raises(ValueError, match="unknown initializer"):
        init.expected_std("orthogonal", (3, 3))


@pytest.mark.parametrize("name", ["xavier_uniform", "xavier_normal"])
def test_xavier_on_a_shape_without_fans_raises(name: str) -> None:
    """fan_in + fan_out = 0 leaves the std undefined; PyTorch raises (ZeroDivisionError), so does the oracle."""
    with pytest.raises(ValueError, match="fan_in \\+ fan_out is 0"):
        init.INITIALIZERS[name]((0, 0), np.random.default_rng(0))


# -- JAX's, Flax's and Keras's schemes: truncated_normal, variance_scaling, lecun_normal, lecun_uniform ----------
# The published definitions (jax/_src/nn/initializers.py, keras/src/initializers/random_initializers.py):
#   truncated_normal(stddev, lower=-2, upper=2) = stddev * Z, Z ~ N(0, 1) restricted to (lower, upper);
#   Keras's TruncatedNormal(mean, stddev) = mean + stddev * Z, values beyond 2 stds redrawn;
#   variance_scaling(scale, mode, distribution): variance = scale / n, n = fan_in, fan_out, (fan_in + fan_out) / 2
#     or sqrt(fan_in fan_out); truncated_normal: Z on (-2, 2) times sqrt(variance) / .87962566103423978;
#     (untruncated) normal: N(0, variance); uniform: U(-1, 1) times sqrt(3 variance);
#   fans in JAX's and Keras's layout (..., in, out): fan_in = shape[-2] * receptive, fan_out = shape[-1] * receptive,
#     receptive = prod(shape) / (in * out); the oracle's PyTorch layout (out, in, ...) has the same counts;
#   lecun_normal = variance_scaling(1, fan_in, truncated_normal); lecun_uniform = variance_scaling(1, fan_in, uniform).
# The truncated normal's moments below come from integrating the density numerically with mpmath, not from the
# closed forms the oracle uses.
MP_DIGITS = 40


def _integrated_moments(lower: float, upper: float) -> tuple[float, float, float]:
    """(mean, std, kurtosis) of N(0, 1) restricted to [lower, upper], by quadrature of the density."""
    mpmath.mp.dps = MP_DIGITS
    lo, hi = mpmath.mpf(lower), mpmath.mpf(upper)
    mass = mpmath.quad(mpmath.npdf, [lo, hi])
    raw = [mpmath.quad(lambda z, k=k: z**k * mpmath.npdf(z), [lo, hi]) / mass for k in (1, 2, 3, 4)]
    mean = raw[0]
    variance = raw[1] - mean**2
    central4 = raw[3] - 4 * mean * raw[2] + 6 * mean**2 * raw[1] - 3 * mean**4
    return float(mean), float(mpmath.sqrt(variance)), float(central4 / variance**2)


def _jax_fans(torch_shape: tuple[int, ...]) -> tuple[float, float]:
    """JAX's _compute_fans on the same weight in its own layout (*kernel, in, out), in_axis=-2, out_axis=-1."""
    jax_shape = (*torch_shape[2:], torch_shape[1], torch_shape[0])
    receptive = math.prod(jax_shape) / jax_shape[-2] / jax_shape[-1]
    return jax_shape[-2] * receptive, jax_shape[-1] * receptive


def _published_std(shape: tuple[int, ...], scale: float, mode: str) -> float:
    fan_in, fan_out = _jax_fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
         "fan_geo_avg": (fan_in * fan_out) ** 0.5}[mode]
    return math.sqrt(scale / n)


def _std_cut_at_two() -> float:
    """sqrt(1 - 4 phi(2) / (2 Phi(2) - 1)), the std of N(0, 1) truncated to (-2, 2), at 40 digits, rounded."""
    mpmath.mp.dps = MP_DIGITS
    two = mpmath.mpf(2)
    return float(mpmath.sqrt(1 - 2 * two * mpmath.npdf(two) / mpmath.erf(two / mpmath.sqrt(2))))


JAX_LITERAL = 0.87962566103423978
"""The constant as jax/_src/nn/initializers.py and keras/src/initializers/random_initializers.py write it."""


def test_the_truncation_correction_is_the_std_of_a_standard_normal_cut_at_two() -> None:
    """The published literal is sqrt(1 - 4 phi(2) / (2 Phi(2) - 1)) correctly rounded; the oracle holds it, and
    its closed form and the quadrature agree with it."""
    exact = _std_cut_at_two()
    assert init.TRUNCATION_CORRECTION == JAX_LITERAL == exact
    assert _integrated_moments(-2.0, 2.0)[1] == pytest.approx(exact, rel=1e-15)
    assert init.truncated_std(-2.0, 2.0) == pytest.approx(exact, rel=1e-14)


@pytest.mark.parametrize("lower, upper", [(-2.0, 2.0), (-1.0, 3.0), (-0.5, 0.5), (0.0, 4.0), (-3.0, 1.5)])
def test_truncated_moments_match_the_integrated_density(lower: float, upper: float) -> None:
    mean, std, _ = _integrated_moments(lower, upper)
    got_mean, got_std = init.truncated_moments(lower, upper)
    assert got_mean == pytest.approx(mean, rel=1e-12, abs=1e-15)
    assert got_std == pytest.approx(std, rel=1e-12)


SCALING_SHAPES = [(300, 200), (64, 16, 3, 3)]
SCALINGS = [(scale, mode, distribution) for scale, mode in ((1.0, "fan_in"), (2.0, "fan_out"), (0.5, "fan_avg"),
                                                           (3.0, "fan_geo_avg"))
            for distribution in init.VARIANCE_SCALING_DISTRIBUTIONS]


@pytest.mark.parametrize("shape", SCALING_SHAPES, ids=str)
@pytest.mark.parametrize("scale, mode, distribution", SCALINGS, ids=[f"{s}-{m}-{d}" for s, m, d in SCALINGS])
def test_variance_scaling_targets_the_published_std_and_support(shape: tuple[int, ...], scale: float, mode: str,
                                                                distribution: str) -> None:
    """std sqrt(scale / n) after truncation with JAX's fans; the support +-2 sqrt(scale / n) / .8796 for the
    truncated normal (2 stds of the untruncated), +-sqrt(3 scale / n) for the uniform, none for the normal."""
    params = {"scale": scale, "mode": mode, "distribution": distribution}
    std = _published_std(shape, scale, mode)
    assert init.expected_std("variance_scaling", shape, **params) == pytest.approx(std, rel=1e-14)
    assert init.expected_mean("variance_scaling", shape, **params) == 0.0
    bound = {"truncated_normal": 2.0 * std / _std_cut_at_two(),
             "uniform": math.sqrt(3.0) * std}.get(distribution)
    support = init.expected_bound("variance_scaling", shape, **params)
    if bound is None:
        assert support is None
    else:
        assert support == pytest.approx((-bound, bound), rel=1e-14)


def test_lecun_schemes_are_variance_scaling_at_one_over_fan_in() -> None:
    shape = (300, 200)  # fan_in 200
    for name, distribution in (("lecun_normal", "truncated_normal"), ("lecun_uniform", "uniform")):
        params = {"scale": 1.0, "mode": "fan_in", "distribution": distribution}
        assert init.expected_std(name, shape) == pytest.approx(1.0 / math.sqrt(200.0), rel=1e-14)
        assert init.expected_bound(name, shape) == init.expected_bound("variance_scaling", shape, **params)
        a = init.INITIALIZERS[name](shape, np.random.default_rng(5))
        b = init.variance_scaling(shape, np.random.default_rng(5), **params)
        np.testing.assert_array_equal(a, b)
    assert init.variance_scaling((30, 20), np.random.default_rng(1)).shape == (30, 20)
    np.testing.assert_array_equal(init.variance_scaling((30, 20), np.random.default_rng(1)),
                                  init.lecun_normal((30, 20), np.random.default_rng(1)))  # Keras's defaults


def _cdf_standard(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))


def _ks(sample: np.ndarray, cdf: np.ndarray) -> float:
    sample, cdf = sample.ravel(), cdf.ravel()
    order = np.argsort(sample)
    f, n = cdf[order], sample.size
    ranks = np.arange(1, n + 1)
    return float(max(np.max(ranks / n - f), np.max(f - (ranks - 1) / n)))


DKW_ALPHA = 1e-6


def _dkw(n: int) -> float:
    """P(sup |F_n - F| > eps) <= 2 exp(-2 n eps^2) (Dvoretzky-Kiefer-Wolfowitz, Massart's constant) = DKW_ALPHA."""
    return math.sqrt(math.log(2.0 / DKW_ALPHA) / (2.0 * n))


def _truncated_cdf(sample: np.ndarray, mean: float, std: float, lower: float, upper: float) -> np.ndarray:
    z = np.clip((sample - mean) / std, lower, upper)
    lo, hi = _cdf_standard(np.array([lower, upper]))
    return (_cdf_standard(z) - lo) / (hi - lo)


TRUNCATED = [
    ("truncated_normal", (300, 200), {}, (0.0, 1.0, -2.0, 2.0)),
    ("truncated_normal", (300, 200), {"mean": 0.5, "std": 0.05}, (0.5, 0.05, -2.0, 2.0)),
    ("truncated_normal", (300, 200), {"std": 0.1, "lower": -1.0, "upper": 3.0}, (0.0, 0.1, -1.0, 3.0)),
    ("lecun_normal", (300, 200), {}, (0.0, 1 / math.sqrt(200) / JAX_LITERAL, -2.0, 2.0)),
    ("variance_scaling", (64, 16, 3, 3), {"scale": 2.0, "mode": "fan_avg"},
     (0.0, math.sqrt(2.0 / ((144 + 576) / 2)) / JAX_LITERAL, -2.0, 2.0)),
]


@pytest.mark.parametrize("name, shape, params, cut", TRUNCATED, ids=[f"{n}{p}" for n, _, p, _ in TRUNCATED])
def test_truncated_draws_stay_inside_the_cut_and_follow_the_truncated_normal(
        name: str, shape: tuple[int, ...], params: dict, cut: tuple[float, float, float, float]) -> None:
    """Never beyond the cut (for variance_scaling: 2 stds of the untruncated normal, 2 / .8796 = 2.27 of the
    draws' std) and within 20 / n of it; mean and variance within 5 of their sampling stds (the variance's from
    the truncated normal's kurtosis); and the KS distance to its CDF within the DKW bound at 1e-6."""
    mean, std, lower, upper = cut
    assert init.truncation(name, shape, **params) == pytest.approx(cut, rel=1e-14)
    sample = init.INITIALIZERS[name](shape, np.random.default_rng(2024), **params)
    n = sample.size
    low, high = mean + lower * std, mean + upper * std
    assert init.expected_bound(name, shape, **params) == pytest.approx((low, high), rel=1e-14)
    assert sample.max() <= high and sample.min() >= low
    # the density at a cut is f = phi(cut) / (P std), so P(no draw within t of it) = (1 - ~f t)^n <= exp(-n f t):
    # t = 20 / (n f) gives 2e-9
    mass = float(mpmath.ncdf(upper) - mpmath.ncdf(lower))
    for edge, cut_z, nearest in ((low, lower, sample.min()), (high, upper, sample.max())):
        density = float(mpmath.npdf(cut_z)) / (mass * std)
        assert abs(nearest - edge) <= 20.0 / (n * density)
    z_mean, z_std, kurtosis = _integrated_moments(lower, upper)
    target_mean, target_std = mean + std * z_mean, std * z_std
    assert init.expected_mean(name, shape, **params) == pytest.approx(target_mean, rel=1e-12, abs=1e-15)
    assert init.expected_std(name, shape, **params) == pytest.approx(target_std, rel=1e-12)
    assert abs(sample.mean() - target_mean) < Z * target_std / math.sqrt(n)
    ratio = sample.var(ddof=1) / target_std**2
    assert abs(ratio - 1.0) < Z * math.sqrt((kurtosis - 1.0) / n)
    assert _ks(sample, _truncated_cdf(sample, mean, std, lower, upper)) < _dkw(n)


def test_the_ks_test_tells_a_truncated_normal_from_lookalikes() -> None:
    """The distribution test has power where the moments have none: a uniform with lecun_normal's std (same mean,
    same variance, support inside the cut) and a normal clipped at 2 stds instead of redrawn are both outside the
    DKW bound, their KS distances within it of the exact distances between the CDFs (the clipped normal's: its
    atom Phi(-2) at each cut), while the oracle's own draws are inside it."""
    shape = (300, 200)
    cut = init.truncation("lecun_normal", shape)
    assert cut is not None
    mean, std, lower, upper = cut
    own = init.lecun_normal(shape, np.random.default_rng(9))
    n = own.size
    uniform_bound = math.sqrt(3.0) * init.expected_std("lecun_normal", shape)
    lookalike = np.random.default_rng(9).uniform(-uniform_bound, uniform_bound, size=n)
    clipped = np.clip(np.random.default_rng(9).normal(0.0, std, size=n), lower * std, upper * std)
    assert _ks(own, _truncated_cdf(own, mean, std, lower, upper)) < _dkw(n)
    # the moments cannot tell them apart: each sample variance has relative std sqrt((kurtosis - 1) / n)
    kurtosis = _integrated_moments(lower, upper)[2]
    assert abs(lookalike.var() / own.var() - 1.0) < Z * math.sqrt((0.8 + kurtosis - 1.0) / n)
    grid = np.linspace(-uniform_bound, uniform_bound, 200001)
    uniform_distance = float(np.max(np.abs((grid + uniform_bound) / (2 * uniform_bound)
                                           - _truncated_cdf(grid, mean, std, lower, upper))))
    atom = float(mpmath.ncdf(-2))
    for sample, exact in ((lookalike, uniform_distance), (clipped, atom)):
        distance = _ks(sample, _truncated_cdf(sample, mean, std, lower, upper))
        assert distance > _dkw(n)
        assert abs(distance - exact) < _dkw(n)


@pytest.mark.parametrize("mode, distribution", [("fan_out", "untruncated_normal"), ("fan_geo_avg", "uniform")])
def test_untruncated_variance_scaling_draws_match_their_moments(mode: str, distribution: str) -> None:
    shape = (300, 200)
    sample = init.variance_scaling(shape, np.random.default_rng(11), 2.0, mode, distribution)
    std = _published_std(shape, 2.0, mode)
    kind = "normal" if distribution == "untruncated_normal" else "uniform"
    _check_moments(sample, kind, std)
    _check_shape_of_distribution(sample, kind, std)
    if kind == "uniform":
        assert np.abs(sample).max() <= math.sqrt(3.0) * std


def test_variance_scaling_refuses_what_the_libraries_refuse_or_disagree_on() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="ambiguous"):  # JAX: untruncated; Keras: an alias of truncated_normal
        init.variance_scaling((3, 2), rng, distribution="normal")
    with pytest.raises(ValueError, match="mode"):
        init.variance_scaling((3, 2), rng, mode="fan_sum")
    with pytest.raises(ValueError, match="scale > 0"):  # Keras's check
        init.variance_scaling((3, 2), rng, scale=0.0)
    with pytest.raises(ValueError, match="at least 2 dimensions"):  # JAX's default in_axis=-2
        init.lecun_normal((5,), rng)
    with pytest.raises(ValueError, match="lower < upper"):
        init.truncated_normal((3, 2), rng, lower=1.0, upper=1.0)
    with pytest.raises(ValueError, match="std > 0"):
        init.truncated_normal((3, 2), rng, std=0.0)
    with pytest.raises(ValueError, match="below"):
        init.truncated_normal((3, 2), rng, lower=6.0, upper=7.0)
    assert init.variance_scaling((0, 5), rng, mode="fan_out").shape == (0, 5)
    assert init.truncated_normal((4, 0), rng).shape == (4, 0)


def test_truncated_draws_are_a_cast_of_the_float64_draws() -> None:
    a = init.lecun_normal((20, 10), np.random.default_rng(42))
    c = init.lecun_normal((20, 10), np.random.default_rng(42), dtype=np.float32)
    assert c.dtype == np.float32
    np.testing.assert_array_equal(c, a.astype(np.float32))
