"""RMSprop (PyTorch semantics, ``torch.optim.RMSprop`` single-tensor path, with optax's options).

For step t = 1, 2, ... with gradient g (negated when maximize):

    g <- g + weight_decay * p              (decoupled_weight_decay: p <- p * (1 - lr * weight_decay) first)
    square_avg <- alpha * square_avg + ((1 - alpha) * g) * g          (starts at initial_scale; optax)
    centered:  grad_avg <- alpha * grad_avg + (1 - alpha) * g
    bias_correction (optax):  both averages are divided by 1 - alpha^t before use
    v = square_avg - grad_avg^2 (centered), else v = square_avg
    avg = sqrt(v) + eps                    (eps_placement "inside": sqrt(v + eps))
    u = g / avg
    momentum > 0:  buf <- momentum * buf + u;  d = u + momentum * buf (nesterov, optax) or buf
    else:          d = u
    p <- p - lr * d

From a zero state (not centered, no momentum) the first step is lr * g / (sqrt(1 - alpha) |g| + eps).
State: "step", "square_avg", "momentum_buffer" (momentum > 0), "grad_avg" (centered).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlpbench.reference.optim import _buffers as buf_util
from mlpbench.reference.optim._buffers import (
    begin,
    bias_correction,
    buffers,
    decay_weights,
    effective_grad,
    moving_average,
    moving_average_of_squares,
    next_step,
    scratch_pool,
    with_defaults,
)


@dataclass(frozen=True)
class RMSprop:
    """torch.optim.RMSprop hyperparameters, plus optax's initial_scale, bias_correction and nesterov."""

    lr: float = 1e-2
    alpha: float = 0.99
    eps: float = 1e-8
    weight_decay: float = 0.0
    momentum: float = 0.0
    centered: bool = False
    maximize: bool = False
    initial_scale: float = 0.0
    bias_correction: bool = False
    nesterov: bool = False
    eps_placement: str | None = None
    decoupled_weight_decay: bool | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.lr:
            raise ValueError(f"Invalid learning rate: {self.lr}")
        buf_util.check_nonnegative(
            epsilon=self.eps,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            alpha=self.alpha,
            initial_scale=self.initial_scale,
        )
        if self.eps_placement not in (None, "outside", "inside"):
            raise ValueError(f"RMSprop eps_placement must be 'outside' or 'inside', not {self.eps_placement!r}")
        if self.bias_correction and self.alpha >= 1.0:
            raise ValueError("bias_correction needs alpha < 1")


def rmsprop(
    params: list[np.ndarray], grads: list[np.ndarray], state: dict, hyper: RMSprop, *, inplace: bool = False
) -> tuple[list[np.ndarray], dict]:
    """One RMSprop step (see the module docstring)."""
    hyper = with_defaults(hyper)
    params, state = begin(params, grads, state, inplace)
    step = next_step(state)
    square_avgs = buffers(state, "square_avg", params, fill=hyper.initial_scale)
    momentum_buffers = buffers(state, "momentum_buffer", params) if hyper.momentum > 0 else None
    grad_avgs = buffers(state, "grad_avg", params) if hyper.centered else None
    pool = scratch_pool(state, params, inplace)
    alpha, decoupled = hyper.alpha, hyper.decoupled_weight_decay
    correction = bias_correction(alpha, step) if hyper.bias_correction else 1.0

    for index, (param, grad) in enumerate(zip(params, grads, strict=True)):
        if decoupled:
            decay_weights(param, hyper.lr, hyper.weight_decay)
        g = effective_grad(grad, param, 0.0 if decoupled else hyper.weight_decay, hyper.maximize, pool[index])
        work = np.empty_like(param)
        moving_average_of_squares(square_avgs[index], g, alpha, work)
        v = square_avgs[index] / correction
        if grad_avgs is not None:
            moving_average(grad_avgs[index], g, alpha, work)
            v -= np.square(grad_avgs[index] / correction)
        avg = np.sqrt(v + hyper.eps) if hyper.eps_placement == "inside" else np.sqrt(v) + hyper.eps
        update = g / avg
        if momentum_buffers is not None:
            buf = momentum_buffers[index]
            buf *= hyper.momentum
            buf += update
            update = update + hyper.momentum * buf if hyper.nesterov else buf
        param -= hyper.lr * update
    return params, state
