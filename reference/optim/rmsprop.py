"""RMSprop (PyTorch semantics, ``torch.optim.RMSprop`` single-tensor path).

With gradient g:

    g <- g + weight_decay * p
    square_avg <- alpha * square_avg + (1 - alpha) * g^2
    centered:  grad_avg <- grad_avg + (1 - alpha) (g - grad_avg);  v = square_avg - grad_avg^2
    else:      v = square_avg
    avg = sqrt(v) + eps                         (eps_inside_sqrt: sqrt(v + eps))
    momentum > 0:  buf <- momentum * buf + g / avg;  p <- p - lr * buf
    else:          p <- p - lr * g / avg

From a zero state (not centered, no momentum) the first step is lr * g / (sqrt(1 - alpha) |g| + eps).
State: "step", "square_avg", "momentum_buffer" (momentum > 0), "grad_avg" (centered).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference.optim import _buffers as buf_util
from reference.optim._buffers import begin, buffers, effective_grad, next_step, scratch, scratch_pool


@dataclass(frozen=True)
class RMSprop:
    """torch.optim.RMSprop hyperparameters."""

    lr: float = 1e-2
    alpha: float = 0.99
    eps: float = 1e-8
    weight_decay: float = 0.0
    momentum: float = 0.0
    centered: bool = False
    eps_inside_sqrt: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.lr:
            raise ValueError(f"Invalid learning rate: {self.lr}")
        buf_util.check_nonnegative(
            epsilon=self.eps, momentum=self.momentum, weight_decay=self.weight_decay, alpha=self.alpha
        )


def rmsprop(
    params: list[np.ndarray], grads: list[np.ndarray], state: dict, hyper: RMSprop, *, inplace: bool = False
) -> tuple[list[np.ndarray], dict]:
    """One RMSprop step (see the module docstring)."""
    params, state = begin(params, grads, state, inplace)
    next_step(state)
    square_avgs = buffers(state, "square_avg", params)
    momentum_buffers = buffers(state, "momentum_buffer", params) if hyper.momentum > 0 else None
    grad_avgs = buffers(state, "grad_avg", params) if hyper.centered else None
    pool = scratch_pool(state, params, inplace)
    alpha = hyper.alpha

    for index, (param, grad) in enumerate(zip(params, grads, strict=True)):
        slots = pool[index]
        g = effective_grad(grad, param, hyper.weight_decay, False, slots)
        work = scratch(slots, 0, param)
        square_avg = square_avgs[index]

        square_avg *= alpha                      # square_avg = alpha sa + (1 - alpha) g^2
        np.multiply(g, g, out=work)
        work *= 1.0 - alpha
        square_avg += work
        if grad_avgs is not None:                # grad_avg += (1 - alpha) (g - grad_avg); v = sa - grad_avg^2
            grad_avg = grad_avgs[index]
            np.subtract(g, grad_avg, out=work)
            work *= 1.0 - alpha
            grad_avg += work
            np.multiply(grad_avg, grad_avg, out=work)
            np.subtract(square_avg, work, out=work)
            second = work
        else:
            second = square_avg
        if hyper.eps_inside_sqrt:                # avg = sqrt(v + eps)
            np.add(second, hyper.eps, out=work)
            np.sqrt(work, out=work)
        else:                                    # avg = sqrt(v) + eps
            np.sqrt(second, out=work)
            work += hyper.eps
        np.divide(g, work, out=work)             # g / avg
        if momentum_buffers is not None:         # buf = momentum buf + g / avg; p -= lr buf
            buf = momentum_buffers[index]
            buf *= hyper.momentum
            buf += work
            np.multiply(buf, hyper.lr, out=work)
        else:
            work *= hyper.lr
        param -= work
    return params, state
