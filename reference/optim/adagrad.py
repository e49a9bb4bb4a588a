"""Adagrad (PyTorch semantics, ``torch.optim.Adagrad`` single-tensor dense path).

For step t = 1, 2, ... with gradient g (negated when maximize):

    clr = lr / (1 + (t - 1) * lr_decay)
    g <- g + weight_decay * p              (decoupled_weight_decay: p <- p * (1 - clr * weight_decay) first)
    sum <- sum + g^2                       (state "sum", starts at initial_accumulator_value)
    p <- p - clr * g / (sqrt(sum) + eps)   (eps_placement "inside": g / sqrt(sum + eps), and 0 where sum = 0,
                                            optax's where(sum > 0, rsqrt(sum + eps), 0))

sqrt(sum) is computed as hypot(sqrt(sum before), g), so the step on which sum overflows still moves by the
exact amount. On a constant gradient g (no decay) after k steps sum = s0 + k g^2, so the k-th move is
lr * g / (sqrt(s0 + k g^2) + eps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlpbench.reference.optim import _buffers as buf_util
from mlpbench.reference.optim._buffers import (
    begin,
    buffers,
    chosen,
    decay_weights,
    effective_grad,
    next_step,
    scratch_pool,
    with_defaults,
)


@dataclass(frozen=True)
class Adagrad:
    """torch.optim.Adagrad hyperparameters."""

    lr: float = 1e-2
    lr_decay: float = 0.0
    weight_decay: float = 0.0
    initial_accumulator_value: float | None = None
    eps: float = 1e-10
    maximize: bool = False
    eps_placement: str | None = None
    decoupled_weight_decay: bool | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.lr:
            raise ValueError(f"Invalid learning rate: {self.lr}")
        buf_util.check_nonnegative(lr_decay=self.lr_decay, weight_decay=self.weight_decay, epsilon=self.eps)
        if self.initial_accumulator_value is not None:
            buf_util.check_nonnegative(initial_accumulator_value=self.initial_accumulator_value)
        if self.eps_placement not in (None, "outside", "inside"):
            raise ValueError(f"Adagrad eps_placement must be 'outside' or 'inside', not {self.eps_placement!r}")


def adagrad(
    params: list[np.ndarray], grads: list[np.ndarray], state: dict, hyper: Adagrad, *, inplace: bool = False
) -> tuple[list[np.ndarray], dict]:
    """One Adagrad step; state keys "step" and "sum"."""
    hyper = with_defaults(hyper)
    params, state = begin(params, grads, state, inplace)
    step = next_step(state)
    sums = buffers(state, "sum", params, fill=chosen(hyper.initial_accumulator_value, "initial_accumulator_value"))
    pool = scratch_pool(state, params, inplace)
    clr = hyper.lr / (1.0 + (step - 1) * hyper.lr_decay)
    inside, decoupled = hyper.eps_placement == "inside", hyper.decoupled_weight_decay

    for index, (param, grad) in enumerate(zip(params, grads, strict=True)):
        if decoupled:
            decay_weights(param, clr, hyper.weight_decay)
        g = effective_grad(grad, param, 0.0 if decoupled else hyper.weight_decay, hyper.maximize, pool[index])
        state_sum = sums[index]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if inside:                                          # std = sqrt(sum + g^2 + eps)
                std = np.hypot(np.sqrt(state_sum + hyper.eps), g)
            else:                                               # std = sqrt(sum + g^2) + eps
                std = np.hypot(np.sqrt(state_sum), g) + hyper.eps
            state_sum += g * g                                  # sum += g^2
            update = np.where(state_sum == 0, 0.0, g / std) if inside else g / std
        param -= clr * update
    return params, state
