"""Adadelta (PyTorch semantics, ``torch.optim.Adadelta`` single-tensor path).

With gradient g:

    g <- g + weight_decay * p
    square_avg <- rho * square_avg + (1 - rho) * g^2
    delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g
    acc_delta <- rho * acc_delta + (1 - rho) * delta^2
    p <- p - lr * delta

From a zero state the first step is delta = sqrt(eps) / sqrt((1 - rho) g^2 + eps) * g.
State: "step", "square_avg", "acc_delta".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference.optim import _buffers as buf_util
from reference.optim._buffers import begin, buffers, effective_grad, next_step, scratch, scratch_pool


@dataclass(frozen=True)
class Adadelta:
    """torch.optim.Adadelta hyperparameters."""

    lr: float = 1.0
    rho: float = 0.9
    eps: float = 1e-6
    weight_decay: float = 0.0

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
    params, state = begin(params, grads, state, inplace)
    next_step(state)
    square_avgs = buffers(state, "square_avg", params)
    acc_deltas = buffers(state, "acc_delta", params)
    pool = scratch_pool(state, params, inplace)
    rho, eps = hyper.rho, hyper.eps

    for index, (param, grad) in enumerate(zip(params, grads, strict=True)):
        slots = pool[index]
        g = effective_grad(grad, param, hyper.weight_decay, False, slots)
        delta = scratch(slots, 0, param)
        other = scratch(slots, 2, param)
        square_avg, acc_delta = square_avgs[index], acc_deltas[index]

        square_avg *= rho                      # square_avg = rho sa + (1 - rho) g^2
        np.multiply(g, g, out=delta)
        delta *= 1.0 - rho
        square_avg += delta
        np.add(square_avg, eps, out=other)     # std = sqrt(square_avg + eps)
        np.sqrt(other, out=other)
        np.add(acc_delta, eps, out=delta)      # delta = sqrt(acc_delta + eps) / std * g
        np.sqrt(delta, out=delta)
        delta /= other
        delta *= g
        acc_delta *= rho                       # acc_delta = rho acc_delta + (1 - rho) delta^2
        np.multiply(delta, delta, out=other)
        other *= 1.0 - rho
        acc_delta += other
        delta *= hyper.lr                      # p -= lr delta
        param -= delta
    return params, state
