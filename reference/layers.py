"""The two layers of a sequential MLP: dense (affine) and inverted dropout, forward and backward.

Shapes follow PyTorch: a batch x has shape (N, in); a dense layer has weight W of shape (out, in) and bias b
of shape (out,). Backward functions take g = dL/dy (shape of y) and return the gradients of the same loss L.
"""

from __future__ import annotations

from typing import Literal, overload

import numpy as np


def dense_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """y = x W^T + b, for x of shape (N, in): y[n, j] = sum_i x[n, i] W[j, i] + b[j]."""
    y = x @ weight.T
    if bias is not None:
        y += bias
    return y


@overload
def dense_backward(
    x: np.ndarray, weight: np.ndarray, grad_y: np.ndarray, *, need_input_grad: Literal[True] = ...
) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
@overload
def dense_backward(
    x: np.ndarray, weight: np.ndarray, grad_y: np.ndarray, *, need_input_grad: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]: ...
def dense_backward(
    x: np.ndarray, weight: np.ndarray, grad_y: np.ndarray, *, need_input_grad: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients of y = x W^T + b given g = dL/dy.

    dL/dW = g^T x  (out, in)     dL/db = sum over the batch of g  (out,)     dL/dx = g W  (N, in)
    """
    grad_weight = grad_y.T @ x
    grad_bias = grad_y.sum(axis=0)
    grad_x = grad_y @ weight if need_input_grad else None
    return grad_weight, grad_bias, grad_x


def draw_dropout_mask(
    rng: np.random.Generator, shape: tuple[int, ...], p: float, dtype: type | np.dtype = np.float64
) -> np.ndarray:
    """A keep-mask: independent entries, 1 with probability 1 - p and 0 with probability p.

    Drawn as u ~ U[0, 1) per entry, kept where u >= p (P(u >= p) = 1 - p).
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    return (rng.random(shape) >= p).astype(dtype)


def dropout_forward(
    x: np.ndarray,
    p: float,
    *,
    training: bool = True,
    mask: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Inverted dropout: y = x * m / (1 - p) with keep-mask m in {0, 1}; evaluation mode is the identity.

    Scaling kept units by 1 / (1 - p) keeps the expectation: E[y] = x (1 - p) / (1 - p) = x.
    The mask is used as given, or drawn from `rng`. Returns (y, mask); mask is None when nothing was dropped.
    """
    if not training or p == 0.0:
        return x, None
    if mask is None:
        if rng is None:
            raise ValueError("dropout in training mode needs a keep-mask or an rng to draw one")
        mask = draw_dropout_mask(rng, x.shape, p, x.dtype)
    if mask.shape != x.shape:
        raise ValueError(f"dropout mask has shape {mask.shape}, activations have {x.shape}")
    return x * (mask.astype(x.dtype, copy=False) / x.dtype.type(1.0 - p)), mask


def dropout_backward(grad_y: np.ndarray, mask: np.ndarray | None, p: float) -> np.ndarray:
    """dL/dx = dL/dy * m / (1 - p) (the identity when no mask was applied)."""
    if mask is None:
        return grad_y
    return grad_y * (mask.astype(grad_y.dtype, copy=False) / grad_y.dtype.type(1.0 - p))
