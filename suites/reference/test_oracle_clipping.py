"""The oracle's gradient clipping: its formulas on closed forms, and torch.nn.utils' clip_grad_norm_ and
clip_grad_value_ (whose definitions it follows) on random gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlpbench.reference.training import CLIP_NORM_EPS, clip_grad_norm, clip_grad_value, clip_gradients


def test_the_global_norm_scales_every_gradient_by_one_factor() -> None:
    grads = [np.array([3.0]), np.array([[4.0, 0.0]])]  # global norm 5, the parameters' own 3 and 4
    assert clip_grad_norm(grads, 1.0) == 5.0
    factor = 1.0 / (5.0 + CLIP_NORM_EPS)
    assert grads[0].tolist() == [3.0 * factor] and grads[1].tolist() == [[4.0 * factor, 0.0]]


def test_below_the_clip_nothing_changes_and_eps_zero_is_optax() -> None:
    grads = [np.array([0.3, -0.4])]
    clip_grad_norm(grads, 1.0)
    assert grads[0].tolist() == [0.3, -0.4]
    grads = [np.array([6.0, 8.0])]
    clip_grad_norm(grads, 2.0, eps=0.0)  # optax: g / ||g|| * max_norm, the same up to one rounding
    assert grads[0].tolist() == pytest.approx([6.0 / 10.0 * 2.0, 8.0 / 10.0 * 2.0], rel=2.0**-52, abs=0)


def test_clip_by_value_clamps_each_element_then_the_norm_applies() -> None:
    grads = [np.array([-3.0, 0.5, 2.0])]
    clip_grad_value(grads, 1.0)
    assert grads[0].tolist() == [-1.0, 0.5, 1.0]
    grads = [np.array([-3.0, 0.0]), np.array([4.0])]
    clip_gradients(grads, 1.0, 2.0)  # value first: (-2, 0, 2), norm sqrt(8)
    factor = 1.0 / (math.sqrt(8.0) + CLIP_NORM_EPS)
    assert grads[0].tolist() == [-2.0 * factor, 0.0] and grads[1].tolist() == [2.0 * factor]


@pytest.mark.parametrize("max_norm", [0.1, 1.0, 100.0])
def test_the_norm_clip_is_torchs(max_norm: float) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    grads = [rng.normal(size=shape) for shape in ((5, 3), (5,), (2, 5), (2,))]
    tensors = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for tensor, g in zip(tensors, grads, strict=True):
        tensor.grad = torch.from_numpy(g.copy())
    total = torch.nn.utils.clip_grad_norm_(tensors, max_norm)
    assert clip_grad_norm(grads, max_norm) == pytest.approx(float(total), rel=1e-15)
    for tensor, g in zip(tensors, grads, strict=True):
        np.testing.assert_allclose(g, tensor.grad.numpy(), rtol=4e-16, atol=0)


def test_the_value_clip_is_torchs() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    grads = [rng.normal(size=(4, 6)), rng.normal(size=(4,))]
    tensors = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for tensor, g in zip(tensors, grads, strict=True):
        tensor.grad = torch.from_numpy(g.copy())
    torch.nn.utils.clip_grad_value_(tensors, 0.5)
    clip_grad_value(grads, 0.5)
    for tensor, g in zip(tensors, grads, strict=True):
        assert np.array_equal(g, tensor.grad.numpy())
