"""Adadelta (PyTorch semantics, ``torch.optim.Adadelta`` single-tensor path).

With gradient g (negated when maximize):

    g <- g + weight_decay * p              (decoupled_weight_decay: p <- p * (1 - lr * weight_decay) first)
    square_avg <- rho * square_avg + ((1 - rho) * g) * g
    delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g
    acc_delta <- rho * acc_delta + ((1 - rho) * delta) * delta
    p <- p - lr * delta

From a zero state the first step is delta = sqrt(eps) / sqrt((1 - rho) g^2 + eps) * g.
State: "step", "square_avg", "acc_delta".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlpbench.reference.optim import _buffers as buf_util
from mlpbench.reference.optim._buffers import (
    begin,
    buffers,
    decay_weights,
    effective_grad,
    moving_average_of_squares,
    next_step,
    scratch_pool,
    with_defaults,
)


@dataclass(frozen=True)
class Adadelta:
    """torch.optim.Adadelta hyperparameters."""

    lr: float = 1.0
    rho: float = 0.9
    eps: float = 1e-6
    weight_decay: float = 0.0
    maximize: bool = False
    decoupled_weight_decay: bool | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.lr:
            raise ValueError(f"Invalid learning rate: {self.lr}")
        if not 0.0 <= self.rho <= 1.0:
            raise ValueError(f"Invalid rho value: {self.rho} (must be in [0, 1])")
        buf_util.check_nonnegative(epsilon=self.eps, weight_decay=self.weight_decay)


def adadelta(
    params: list[np.ndarray], grads: list[np.ndarray], state: dict, hyper: Adadelta, *, inplace: bool = False
) -> tuple[list[np.ndarray], dict]:
    """One Adadelta step (see the module docstring)."""
    hyper = with_defaults(hyper)
    params, state = begin(params, grads, state, inplace)
    next_step(state)
    square_avgs = buffers(state, "square_avg", params)
    acc_deltas = buffers(state, "acc_delta", params)
    pool = scratch_pool(state, params, inplace)
    rho, eps, decoupled = hyper.rho, hyper.eps, hyper.decoupled_weight_decay

    for index, (param, grad) in enumerate(zip(params, grads, strict=True)):
        if decoupled:
            decay_weights(param, hyper.lr, hyper.weight_decay)
        g = effective_grad(grad, param, 0.0 if decoupled else hyper.weight_decay, hyper.maximize, pool[index])
        work = np.empty_like(param)
        moving_average_of_squares(square_avgs[index], g, rho, work)
        delta = np.sqrt(acc_deltas[index] + eps) / np.sqrt(square_avgs[index] + eps) * g
        moving_average_of_squares(acc_deltas[index], delta, rho, work)
        param -= hyper.lr * delta
    return params, state
