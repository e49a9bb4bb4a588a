"""Adam and AdamW (PyTorch semantics, ``torch.optim.Adam`` / ``torch.optim.AdamW`` single-tensor path).

For step t = 1, 2, ... with gradient g (negated when maximize):

    Adam (L2):    g <- g + weight_decay * p
    AdamW, or Adam with decoupled_weight_decay:
                  p <- p * (1 - lr * weight_decay)                (decoupled decay, applied first)
    m <- beta1 * m + (1 - beta1) * g                             (state "exp_avg")
    v <- beta2 * v + ((1 - beta2) * g) * g                       (state "exp_avg_sq")
    amsgrad:      v_max <- max(v_max, v); v is replaced by v_max below   (state "max_exp_avg_sq")
    bc1 = 1 - beta1^t,  bc2 = 1 - beta2^t      (as -expm1(t log beta), without PyTorch's cancellation)
    eps_placement "outside":  p <- p - (lr / bc1) * m / (sqrt(v / bc2 + eps_root) + eps)     (PyTorch, optax)
                  "inside":   p <- p - (lr / bc1) * m / sqrt(v / bc2 + eps)                  (textbook)
                  "hat":      p <- p - (lr * sqrt(bc2) / bc1) * m / (sqrt(v) + eps)          (Keras: "epsilon hat")

With eps_root = 0 the outside denominator is computed as PyTorch does, sqrt(v) / sqrt(bc2) + eps. The first
step from a zero state gives m/bc1 = g and v/bc2 = g^2, so p moves by lr * g / (|g| + eps).
Fields left None (eps_placement, eps_root, decoupled_weight_decay) are the convention profile's to choose
(`reference.optim.apply_conventions`); PyTorch's choice where none is applied.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference.conventions import EPS_PLACEMENTS
from reference.optim._buffers import (
    begin,
    bias_correction,
    buffers,
    decay_weights,
    effective_grad,
    moving_average,
    moving_average_of_squares,
    next_step,
    scratch,
    scratch_pool,
    with_defaults,
)


def _validate(hyper: Adam | AdamW) -> None:
    if not 0.0 <= hyper.lr:
        raise ValueError(f"Invalid learning rate: {hyper.lr}")
    if not 0.0 <= hyper.eps:
        raise ValueError(f"Invalid epsilon value: {hyper.eps}")
    if len(hyper.betas) != 2:
        raise ValueError(f"betas must be a pair, got {hyper.betas!r}")
    for index, beta in enumerate(hyper.betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {index}: {beta} (must be in [0, 1))")
    if not 0.0 <= hyper.weight_decay:
        raise ValueError(f"Invalid weight_decay value: {hyper.weight_decay}")
    if hyper.eps_placement is not None and hyper.eps_placement not in EPS_PLACEMENTS:
        raise ValueError(f"eps_placement must be one of {EPS_PLACEMENTS}, not {hyper.eps_placement!r}")
    if hyper.eps_root is not None and not 0.0 <= hyper.eps_root:
        raise ValueError(f"Invalid eps_root value: {hyper.eps_root}")


@dataclass(frozen=True)
class Adam:
    """torch.optim.Adam hyperparameters (weight decay as an L2 term added to the gradient, unless decoupled)."""

    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    amsgrad: bool = False
    maximize: bool = False
    eps_placement: str | None = None
    eps_root: float | None = None
    decoupled_weight_decay: bool | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        _validate(self)


@dataclass(frozen=True)
class AdamW:
    """torch.optim.AdamW hyperparameters (decoupled weight decay p <- p (1 - lr wd))."""

    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 1e-2
    amsgrad: bool = False
    maximize: bool = False
    eps_placement: str | None = None
    eps_root: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        _validate(self)


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

    lr, eps, wd, eps_root = hyper.lr, hyper.eps, hyper.weight_decay, hyper.eps_root
    beta1, beta2 = hyper.betas
    bias_correction1 = bias_correction(beta1, step)
    bias_correction2 = bias_correction(beta2, step)
    placement = hyper.eps_placement
    step_size = lr / bias_correction1
    if placement == "hat":
        step_size *= bias_correction2**0.5

    for index, (param, grad) in enumerate(zip(params, grads, strict=True)):
        slots = pool[index]
        if decoupled:
            decay_weights(param, lr, wd)
        g = effective_grad(grad, param, 0.0 if decoupled else wd, hyper.maximize, slots)
        work = scratch(slots, 0, param)
        exp_avg, exp_avg_sq = exp_avgs[index], exp_avg_sqs[index]

        moving_average(exp_avg, g, beta1, work)                # m = beta1 m + (1 - beta1) g
        moving_average_of_squares(exp_avg_sq, g, beta2, work)  # v = beta2 v + ((1 - beta2) g) g
        second = exp_avg_sq
        if max_exp_avg_sqs is not None:                        # amsgrad: v = max over steps
            np.maximum(max_exp_avg_sqs[index], exp_avg_sq, out=max_exp_avg_sqs[index])
            second = max_exp_avg_sqs[index]

        if placement == "inside":                              # denom = sqrt(v / bc2 + eps)
            np.divide(second, bias_correction2, out=work)
            work += eps
            np.sqrt(work, out=work)
        elif placement == "hat":                               # denom = sqrt(v) + eps
            np.sqrt(second, out=work)
            work += eps
        elif eps_root:                                         # denom = sqrt(v / bc2 + eps_root) + eps
            np.divide(second, bias_correction2, out=work)
            work += eps_root
            np.sqrt(work, out=work)
            work += eps
        else:                                                  # denom = sqrt(v) / sqrt(bc2) + eps
            np.sqrt(second, out=work)
            work /= bias_correction2**0.5
            work += eps
        np.divide(exp_avg, work, out=work)                     # p -= step_size * m / denom
        work *= step_size
        param -= work
    return params, state


def adam(
    params: list[np.ndarray], grads: list[np.ndarray], state: dict, hyper: Adam, *, inplace: bool = False
) -> tuple[list[np.ndarray], dict]:
    """One Adam step; state keys "step", "exp_avg", "exp_avg_sq" (+ "max_exp_avg_sq" with amsgrad)."""
    hyper = with_defaults(hyper)
    return _adam_update(params, grads, state, hyper, decoupled=hyper.decoupled_weight_decay, inplace=inplace)


def adamw(
    params: list[np.ndarray], grads: list[np.ndarray], state: dict, hyper: AdamW, *, inplace: bool = False
) -> tuple[list[np.ndarray], dict]:
    """One AdamW step (decoupled weight decay); same state keys as Adam."""
    return _adam_update(params, grads, state, with_defaults(hyper), decoupled=True, inplace=inplace)
