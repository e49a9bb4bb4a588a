"""Adagrad (PyTorch semantics, ``torch.optim.Adagrad`` single-tensor dense path).

For step t = 1, 2, ... with gradient g:

    g <- g + weight_decay * p
    clr = lr / (1 + (t - 1) * lr_decay)
    sum <- sum + g^2                             (state "sum", starts at initial_accumulator_value)
    p <- p - clr * g / (sqrt(sum) + eps)         (eps_inside_sqrt: g / sqrt(sum + eps))

On a constant gradient g (no decay) after k steps sum = s0 + k g^2, so the k-th move is
lr * g / (sqrt(s0 + k g^2) + eps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference.optim import _buffers as buf_util
from reference.optim._buffers import begin, buffers, effective_grad, next_step, scratch, scratch_pool


@dataclass(frozen=True)
class Adagrad:
    """torch.optim.Adagrad hyperparameters."""

    lr: float = 1e-2
    lr_decay: float = 0.0
    weight_decay: float = 0.0
    initial_accumulator_value: float = 0.0
    eps: float = 1e-10
    eps_inside_sqrt: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.lr:
            raise ValueError(f"Invalid learning rate: {self.lr}")
        buf_util.check_nonnegative(
            lr_decay=self.lr_decay,
            weight_decay=self.weight_decay,
            initial_accumulator_value=self.initial_accumulator_value,
            epsilon=self.eps,
        )


def adagrad(
    params: list[np.ndarray], grads: list[np.ndarray], state: dict, hyper: Adagrad, *, inplace: bool = False
) -> tuple[list[np.ndarray], dict]:
    """One Adagrad step; state keys "step" and "sum"."""
    params, state = begin(params, grads, state, inplace)
    step = next_step(state)
    sums = buffers(state, "sum", params, fill=hyper.initial_accumulator_value)
    pool = scratch_pool(state, params, inplace)
    clr = hyper.lr / (1.0 + (step - 1) * hyper.lr_decay)

    for index, (param, grad) in enumerate(zip(params, grads, strict=True)):
        slots = pool[index]
        g = effective_grad(grad, param, hyper.weight_decay, False, slots)
        work = scratch(slots, 0, param)
        state_sum = sums[index]
        np.multiply(g, g, out=work)               # sum += g^2
        state_sum += work
        if hyper.eps_inside_sqrt:                 # std = sqrt(sum + eps)
            np.add(state_sum, hyper.eps, out=work)
            np.sqrt(work, out=work)
        else:                                     # std = sqrt(sum) + eps
            np.sqrt(state_sum, out=work)
            work += hyper.eps
        np.divide(g, work, out=work)              # p -= clr * g / std
        work *= clr
        param -= work
    return params, state
