"""Adam and AdamW (PyTorch semantics, ``torch.optim.Adam`` / ``torch.optim.AdamW`` single-tensor path).

For step t = 1, 2, ... with gradient g (negated when maximize):

    Adam (L2):    g <- g + weight_decay * p
    AdamW:        p <- p * (1 - lr * weight_decay)           (decoupled decay, applied first)
    m <- beta1 * m + (1 - beta1) * g                         (state "exp_avg"; computed m + (1-beta1)(g-m))
    v <- beta2 * v + (1 - beta2) * g^2                       (state "exp_avg_sq")
    amsgrad:      v_max <- max(v_max, v); v is replaced by v_max below   (state "max_exp_avg_sq")
    bc1 = 1 - beta1^t,  bc2 = 1 - beta2^t
    denom = sqrt(v) / sqrt(bc2) + eps                        (eps_inside_sqrt: sqrt(v / bc2 + eps))
    p <- p - (lr / bc1) * m / denom

The first step from a zero state gives m/bc1 = g and v/bc2 = g^2, so p moves by lr * g / (|g| + eps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference.optim._buffers import begin, buffers, effective_grad, next_step, scratch, scratch_pool


def _validate(lr: float, betas: tuple[float, float], eps: float, weight_decay: float) -> None:
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if len(betas) != 2:
        raise ValueError(f"betas must be a pair, got {betas!r}")
    for index, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {index}: {beta} (must be in [0, 1))")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


@dataclass(frozen=True)
class Adam:
    """torch.optim.Adam hyperparameters (weight decay as an L2 term added to the gradient)."""

    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    amsgrad: bool = False
    maximize: bool = False
    eps_inside_sqrt: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        _validate(self.lr, self.betas, self.eps, self.weight_decay)


@dataclass(frozen=True)
class AdamW:
    """torch.optim.AdamW hyperparameters (decoupled weight decay p <- p (1 - lr wd))."""

    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 1e-2
    amsgrad: bool = False
    maximize: bool = False
    eps_inside_sqrt: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        _validate(self.lr, self.betas, self.eps, self.weight_decay)


def _adam_update(
    params: list[np.ndarray],
    grads: list[np.ndarray],
    state: dict,
    hyper: Adam | AdamW,
    decoupled: bool,
    inplace: bool,
) -> tuple[list[np.ndarray], dict]:
    params, state = begin(params, grads, state, inplace)
    step = next_step(state)
    exp_avgs = buffers(state, "exp_avg", params)
    exp_avg_sqs = buffers(state, "exp_avg_sq", params)
    max_exp_avg_sqs = buffers(state, "max_exp_avg_sq", params) if hyper.amsgrad else None
    pool = scratch_pool(state, params, inplace)

    lr, eps, wd = hyper.lr, hyper.eps, hyper.weight_decay
    beta1, beta2 = hyper.betas
    bias_correction1 = 1.0 - beta1**step
    bias_correction2 = 1.0 - beta2**step
    step_size = lr / bias_correction1
    bias_correction2_sqrt = bias_correction2**0.5

    for index, (param, grad) in enumerate(zip(params, grads, strict=True)):
        slots = pool[index]
        if decoupled and wd != 0:
            param *= 1.0 - lr * wd
        g = effective_grad(grad, param, 0.0 if decoupled else wd, hyper.maximize, slots)
        work = scratch(slots, 0, param)
        exp_avg = exp_avgs[index]
        exp_avg_sq = exp_avg_sqs[index]

        np.subtract(g, exp_avg, out=work)          # m += (1 - beta1) (g - m)
        work *= 1.0 - beta1
        exp_avg += work
        exp_avg_sq *= beta2                         # v = beta2 v + (1 - beta2) g^2
        np.multiply(g, g, out=work)
        work *= 1.0 - beta2
        exp_avg_sq += work

        second = exp_avg_sq
        if max_exp_avg_sqs is not None:
            np.maximum(max_exp_avg_sqs[index], exp_avg_sq, out=max_exp_avg_sqs[index])
            second = max_exp_avg_sqs[index]

        if hyper.eps_inside_sqrt:                   # denom = sqrt(v / bc2 + eps)
            np.divide(second, bias_correction2, out=work)
            work += eps
            np.sqrt(work, out=work)
        else:                                       # denom = sqrt(v) / sqrt(bc2) + eps
            np.sqrt(second, out=work)
            work /= bias_correction2_sqrt
            work += eps
        np.divide(exp_avg, work, out=work)          # p -= step_size * m / denom
        work *= step_size
        param -= work
    return params, state


def adam(
    params: list[np.ndarray], grads: list[np.ndarray], state: dict, hyper: Adam, *, inplace: bool = False
) -> tuple[list[np.ndarray], dict]:
    """One Adam step; state keys "step", "exp_avg", "exp_avg_sq" (+ "max_exp_avg_sq" with amsgrad)."""
    return _adam_update(params, grads, state, hyper, decoupled=False, inplace=inplace)


def adamw(
    params: list[np.ndarray], grads: list[np.ndarray], state: dict, hyper: AdamW, *, inplace: bool = False
) -> tuple[list[np.ndarray], dict]:
    """One AdamW step (decoupled weight decay); same state keys as Adam."""
    return _adam_update(params, grads, state, hyper, decoupled=True, inplace=inplace)
