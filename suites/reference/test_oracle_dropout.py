"""Inverted dropout: keep-rate, scaling, evaluation-mode identity and preserved expectation.

Statistical checks use Hoeffding's inequality, which holds for any sample size: for the mean of n independent
values in [a, b], P(|mean - E| >= t) <= 2 exp(-2 n t^2 / (b - a)^2). Each bound below is set so that a correct
implementation fails with probability at most FALSE_FAILURE = 1e-6 (for one fixed seed, the test is
deterministic; the probability is over the choice of seed).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlpbench.reference.layers import draw_dropout_mask, dropout_backward, dropout_forward
from mlpbench.reference.model import forward, init_params
from mlpbench.reference.spec import MLPSpec

FALSE_FAILURE = 1e-6


def hoeffding_half_width(n: int, value_range: float, delta: float = FALSE_FAILURE) -> float:
    """t with 2 exp(-2 n t^2 / range^2) = delta."""
    return value_range * math.sqrt(math.log(2.0 / delta) / (2.0 * n))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_keeps_a_fraction_one_minus_p(p):
    mask = draw_dropout_mask(np.random.default_rng(0), (200, 500), p)
    assert set(np.unique(mask)) <= {0.0, 1.0} and mask.dtype == np.float64
    keep_rate = mask.mean()
    assert abs(keep_rate - (1.0 - p)) < hoeffding_half_width(mask.size, 1.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kept_units_are_scaled_by_one_over_one_minus_p_and_dropped_ones_are_zero(dtype):
    p = 0.3
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 40)).astype(dtype)
    y, mask = dropout_forward(x, p, training=True, rng=rng)
    assert y.dtype == dtype and mask.shape == x.shape
    kept = mask == 1
    np.testing.assert_array_equal(y[~kept], 0.0)
    np.testing.assert_allclose(y[kept], x[kept] / dtype(1.0 - p), rtol=2 * np.finfo(dtype).eps)
    assert 0 < kept.sum() < kept.size
    grad = rng.normal(size=x.shape).astype(dtype)
    np.testing.assert_allclose(dropout_backward(grad, mask, p), grad * mask / dtype(1 - p),
                               rtol=2 * np.finfo(dtype).eps)


def test_a_supplied_mask_is_used_as_given():
    x = np.arange(6.0).reshape(2, 3)
    mask = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    y, used = dropout_forward(x, 0.5, training=True, mask=mask)
    assert used is mask
    np.testing.assert_array_equal(y, [[0.0, 0.0, 4.0], [0.0, 8.0, 10.0]])
    with pytest.raises(ValueError, match="rng"):
        dropout_forward(x, 0.5, training=True)


def test_evaluation_mode_is_the_identity():
    x = np.random.default_rng(2).normal(size=(4, 5))
    y, mask = dropout_forward(x, 0.5, training=False, rng=np.random.default_rng(0))
    assert mask is None
    np.testing.assert_array_equal(y, x)
    spec = MLPSpec((5, 7, 6, 3), activation="tanh", dropout=0.5)
    params = init_params(spec, np.random.default_rng(3))
    no_dropout = MLPSpec((5, 7, 6, 3), activation="tanh")
    np.testing.assert_array_equal(forward(spec, params, x).output, forward(no_dropout, params, x).output)
    trained = forward(spec, params, x, training=True, rng=np.random.default_rng(4)).output
    assert not np.allclose(trained, forward(no_dropout, params, x).output)


def test_dropout_preserves_the_expectation_of_every_unit():
    p, draws = 0.4, 4000
    x = np.linspace(0.5, 2.0, 50)
    rng = np.random.default_rng(5)
    outputs = np.stack([dropout_forward(x, p, training=True, rng=rng)[0] for _ in range(draws)])
    mean = outputs.mean(axis=0)
    # per unit, values lie in [0, x_i / (1 - p)]; union bound over the 50 units
    bound = hoeffding_half_width(draws, 1.0 / (1.0 - p), FALSE_FAILURE / x.size) * x
    assert np.all(np.abs(mean - x) < bound)
    # without the 1/(1-p) scaling the mean would be (1-p) x, far outside the bound
    assert np.all(np.abs((1.0 - p) * x - x) > bound)


def test_model_masks_are_drawn_per_hidden_layer_with_the_batch_shape():
    spec = MLPSpec((4, 8, 6, 2), activation="relu", dropout=0.25)
    params = init_params(spec, np.random.default_rng(0))
    x = np.random.default_rng(1).normal(size=(3, 4))
    cache = forward(spec, params, x, training=True, rng=np.random.default_rng(7))
    assert [m.shape for m in cache.masks] == [(3, 8), (3, 6)]
    again = forward(spec, params, x, training=True, dropout_masks=cache.masks)
    np.testing.assert_array_equal(again.output, cache.output)
