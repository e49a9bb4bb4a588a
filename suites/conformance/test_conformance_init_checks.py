"""The pieces of the initializer checks (mlpbench.conformance.checks.init): the KS distance, the DKW bound and the
CDF each scheme is compared with, against values written out by hand or from the published formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlpbench.conformance.checks.init import family, ks_distance, scheme_cdf
from mlpbench.conformance.checks.stats import dkw_bound

SHAPE = (256, 512)  # fan_in 512, fan_out 256


def test_ks_distance_of_a_small_sample() -> None:
    """Sample 0.1, 0.4, 0.45, 0.9 against U(0, 1): F_n - F peaks at 0.45 (3/4 - 0.45 = 0.3), F - F_n at 0.9
    (0.9 - 3/4 = 0.15): sup 0.3. Ties count once: 0.5, 0.5 against U(0, 1) is 0.5 either side."""
    values = np.array([0.9, 0.1, 0.45, 0.4])
    assert ks_distance(values, values) == pytest.approx(0.3, abs=1e-15)
    tied = np.array([0.5, 0.5])
    assert ks_distance(tied, tied) == pytest.approx(0.5, abs=1e-15)


def test_dkw_bound_is_massarts_inequality_solved_for_eps() -> None:
    for n, alpha in ((131072, 1e-6), (1000, 0.05)):
        eps = dkw_bound(n, alpha)
        assert 2.0 * math.exp(-2.0 * n * eps * eps) == pytest.approx(alpha, rel=1e-12)


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


CDFS = [
    # (name, params, family, the CDF from the published definition)
    ("uniform", {"a": -0.3, "b": 0.7}, "uniform", lambda x: min(max((x + 0.3) / 1.0, 0.0), 1.0)),
    ("lecun_uniform", {}, "uniform",
     lambda x: min(max((x + math.sqrt(3 / 512)) / (2 * math.sqrt(3 / 512)), 0.0), 1.0)),
    ("normal", {"mean": 0.5, "std": 0.2}, "normal", lambda x: _phi((x - 0.5) / 0.2)),
    ("xavier_normal", {"gain": 2.0}, "normal", lambda x: _phi(x / (2.0 * math.sqrt(2 / 768)))),
    ("variance_scaling", {"scale": 0.5, "mode": "fan_out", "distribution": "untruncated_normal"}, "normal",
     lambda x: _phi(x / math.sqrt(0.5 / 256))),
    ("truncated_normal", {"mean": 0.1, "std": 0.2, "lower": -1.0, "upper": 3.0}, "truncated",
     lambda x: (_phi(min(max((x - 0.1) / 0.2, -1.0), 3.0)) - _phi(-1.0)) / (_phi(3.0) - _phi(-1.0))),
    ("lecun_normal", {}, "truncated",
     lambda x: (_phi(min(max(x / (math.sqrt(1 / 512) / 0.87962566103423978), -2.0), 2.0)) - _phi(-2.0))
     / (_phi(2.0) - _phi(-2.0))),
]


@pytest.mark.parametrize("name, params, kind, cdf", CDFS, ids=[f"{n}{p}" for n, p, _, _ in CDFS])
def test_each_scheme_is_compared_with_its_published_distribution(name: str, params: dict, kind: str, cdf) -> None:
    assert family(name, params) == kind
    points = np.linspace(-0.6, 0.9, 61)
    expected = np.array([cdf(x) for x in points])
    np.testing.assert_allclose(scheme_cdf(points, name, SHAPE, params), expected, rtol=1e-13, atol=1e-15)
