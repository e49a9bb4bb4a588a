"""Bounds for the statistical checks, each with a stated false-failure probability.

A conforming implementation fails a statistical check with probability at most FALSE_FAILURE (split evenly
over the tests of the check, Bonferroni). Bounded draws use Hoeffding's inequality, which holds for every
sample size: for n independent values in [a, b] with mean mu,

    P(|mean - mu| >= t) <= 2 exp(-2 n t^2 / (b - a)^2),  so  t = (b - a) sqrt(ln(2 / alpha) / (2 n)).

Normal draws with known mean: sum((x - mu)^2) / sigma^2 is chi-square with n degrees of freedom; its
quantiles come from the Wilson-Hilferty approximation (accurate to far better than 1% at n >= 1000):

    chi2_q(k) = k (1 - 2 / (9 k) + z_q sqrt(2 / (9 k)))^3,   z_q the standard normal quantile.

The shape of a distribution: for n iid draws with a continuous CDF F and empirical CDF F_n, the
Dvoretzky-Kiefer-Wolfowitz inequality with Massart's constant, for every n,

    P(sup |F_n - F| > eps) <= 2 exp(-2 n eps^2),  so  eps = sqrt(ln(2 / alpha) / (2 n)).
"""

from __future__ import annotations

import math
from statistics import NormalDist

FALSE_FAILURE = 1e-6
"""Probability that one statistical check fails a conforming implementation."""


def hoeffding_bound(n: int, width: float, alpha: float) -> float:
    """t such that P(|mean - mu| >= t) <= alpha for n values in an interval of the given width."""
    return width * math.sqrt(math.log(2.0 / alpha) / (2.0 * n))


def normal_quantile(q: float) -> float:
    return NormalDist().inv_cdf(q)


def chi_square_interval(k: int, alpha: float) -> tuple[float, float]:
    """(lower, upper) with P(chi2_k outside) <= alpha (two-sided, Wilson-Hilferty)."""

    def quantile(q: float) -> float:
        z = normal_quantile(q)
        return k * (1.0 - 2.0 / (9.0 * k) + z * math.sqrt(2.0 / (9.0 * k))) ** 3

    return quantile(alpha / 2.0), quantile(1.0 - alpha / 2.0)


def normal_mean_bound(n: int, sigma: float, alpha: float) -> float:
    """t such that P(|mean - mu| >= t) <= alpha for n N(mu, sigma^2) draws."""
    return normal_quantile(1.0 - alpha / 2.0) * sigma / math.sqrt(n)


def dkw_bound(n: int, alpha: float) -> float:
    """eps such that P(sup |F_n - F| > eps) <= alpha for n iid draws with a continuous CDF F (the
    Dvoretzky-Kiefer-Wolfowitz inequality with Massart's constant: 2 exp(-2 n eps^2), valid for alpha <= 1)."""
    return math.sqrt(math.log(2.0 / alpha) / (2.0 * n))
