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
(`mlpbench.reference.optim.apply_conventions`); PyTorch's choice where none is applied.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlpbench.reference.conventions import EPS_PLACEMENTS
from mlpbench.reference.optim._buffers import begin, bias_correction, buffers, chosen, next_step, with_defaults
from mlpbench.reference.optim.adam_inplace import adam_update_inplace


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
    """The update of the module docstring, one parameter at a time; in place, the same arithmetic with
    preallocated buffers (mlpbench.reference.optim.adam_inplace, tested bit-for-bit equal)."""
    if inplace:
        return adam_update_inplace(params, grads, state, hyper, decoupled)
    params, state = begin(params, grads, state, inplace=False)
    t = next_step(state)
    exp_avgs, exp_avg_sqs = buffers(state, "exp_avg", params), buffers(state, "exp_avg_sq", params)
    max_exp_avg_sqs = buffers(state, "max_exp_avg_sq", params) if hyper.amsgrad else None
    lr, eps, wd, eps_root = hyper.lr, hyper.eps, hyper.weight_decay, hyper.eps_root
    beta1, beta2 = hyper.betas
    bc1, bc2 = bias_correction(beta1, t), bias_correction(beta2, t)

    for i, grad in enumerate(grads):
        p = params[i] * (1.0 - lr * wd) if decoupled and wd != 0 else params[i]
        g = -grad if hyper.maximize else grad
        if not decoupled and wd != 0:
            g = g + wd * p
        m = exp_avgs[i] = beta1 * exp_avgs[i] + (1.0 - beta1) * g
        v = exp_avg_sqs[i] = beta2 * exp_avg_sqs[i] + ((1.0 - beta2) * g) * g
        if max_exp_avg_sqs is not None:
            v = max_exp_avg_sqs[i] = np.maximum(max_exp_avg_sqs[i], v)
        if hyper.eps_placement == "hat":
            params[i] = p - (lr / bc1 * bc2**0.5) * (m / (np.sqrt(v) + eps))
            continue
        if hyper.eps_placement == "inside":
            denom = np.sqrt(v / bc2 + eps)
        elif eps_root:
            denom = np.sqrt(v / bc2 + eps_root) + eps
        else:
            denom = np.sqrt(v) / bc2**0.5 + eps
        params[i] = p - (lr / bc1) * (m / denom)
    return params, state


def adam(
    params: list[np.ndarray], grads: list[np.ndarray], state: dict, hyper: Adam, *, inplace: bool = False
) -> tuple[list[np.ndarray], dict]:
    """One Adam step; state keys "step", "exp_avg", "exp_avg_sq" (+ "max_exp_avg_sq" with amsgrad)."""
    hyper = with_defaults(hyper)
    decoupled = chosen(hyper.decoupled_weight_decay, "decoupled_weight_decay")
    return _adam_update(params, grads, state, hyper, decoupled=decoupled, inplace=inplace)


def adamw(
    params: list[np.ndarray], grads: list[np.ndarray], state: dict, hyper: AdamW, *, inplace: bool = False
) -> tuple[list[np.ndarray], dict]:
    """One AdamW step (decoupled weight decay); same state keys as Adam."""
    return _adam_update(params, grads, state, with_defaults(hyper), decoupled=True, inplace=inplace)
