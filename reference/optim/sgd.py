"""Stochastic gradient descent (PyTorch semantics, ``torch.optim.SGD`` single-tensor path).

With gradient g (negated when maximize):

    g <- g + weight_decay * p              (decoupled_weight_decay: p <- p * (1 - lr * weight_decay) instead)
    momentum != 0:
        first step:  buf <- g                                   (a copy; no dampening on the first step)
                     buf <- (1 - dampening) * g                 (dampening_first_step: MLX, from a zero buffer)
        later:       buf <- momentum * buf + (1 - dampening) * g
        nesterov:    d <- g + momentum * buf,   else d <- buf
    momentum == 0:   d <- g
    p <- p - lr * d

On a constant gradient g with no dampening, buf after k steps is sum_{i<k} momentum^i g.
State: "step" (int) and, when momentum != 0, "momentum_buffer" (one array per parameter).
PyTorch rejects nesterov without momentum; with nesterov_zero_momentum (Keras, optax) it is plain SGD.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlpbench.reference.optim._buffers import (
    begin,
    decay_weights,
    effective_grad,
    next_step,
    scratch,
    scratch_pool,
    with_defaults,
)


@dataclass(frozen=True)
class SGD:
    """torch.optim.SGD hyperparameters."""

    lr: float = 1e-3
    momentum: float = 0.0
    dampening: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    maximize: bool = False
    decoupled_weight_decay: bool | None = None
    nesterov_zero_momentum: bool | None = None
    dampening_first_step: bool | None = None

    def __post_init__(self) -> None:
        if self.lr < 0.0:
            raise ValueError(f"Invalid learning rate: {self.lr}")
        if self.momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {self.momentum}")
        if self.weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {self.weight_decay}")
        if self.nesterov and self.dampening != 0:
            raise ValueError("Nesterov momentum requires zero dampening")
        if self.nesterov and self.momentum <= 0 and not self.nesterov_zero_momentum:
            raise ValueError("Nesterov momentum requires a momentum")


def sgd(
    params: list[np.ndarray], grads: list[np.ndarray], state: dict, hyper: SGD, *, inplace: bool = False
) -> tuple[list[np.ndarray], dict]:
    """One SGD step (see the module docstring for the update)."""
    hyper = with_defaults(hyper)
    params, state = begin(params, grads, state, inplace)
    next_step(state)
    decoupled = hyper.decoupled_weight_decay
    momentum_buffers: list[np.ndarray | None] = [None] * len(params)
    if hyper.momentum != 0:                       # torch keeps "momentum_buffer" only when momentum is used
        momentum_buffers = state.setdefault("momentum_buffer", momentum_buffers)
        if len(momentum_buffers) != len(params):
            raise ValueError(f"state['momentum_buffer'] has {len(momentum_buffers)} entries")
    pool = scratch_pool(state, params, inplace)
    momentum, dampening = hyper.momentum, hyper.dampening

    for index, (param, grad) in enumerate(zip(params, grads, strict=True)):
        slots = pool[index]
        if decoupled:
            decay_weights(param, hyper.lr, hyper.weight_decay)
        g = effective_grad(grad, param, 0.0 if decoupled else hyper.weight_decay, hyper.maximize, slots)
        direction = g
        if momentum != 0:
            buf = momentum_buffers[index]
            if buf is None:
                buf = np.array(g, copy=True)
                if hyper.dampening_first_step:
                    buf *= 1.0 - dampening
                momentum_buffers[index] = buf
            else:
                buf *= momentum
                if dampening == 0:
                    buf += g
                else:
                    damped = scratch(slots, 0, param)
                    np.multiply(g, 1.0 - dampening, out=damped)
                    buf += damped
            if hyper.nesterov:
                direction = scratch(slots, 0, param)
                np.multiply(buf, momentum, out=direction)
                direction += g
            else:
                direction = buf
        work = scratch(slots, 0, param)
        np.multiply(direction, hyper.lr, out=work)
        param -= work
    return params, state
