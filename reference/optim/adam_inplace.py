"""Adam and AdamW in place: the update of reference.optim.adam with preallocated scratch buffers.

The same arithmetic, operation for operation, as the readable `reference.optim.adam._adam_update` (so the
two agree bit for bit; suites/reference/test_oracle_optim.py::test_inplace_equals_not_inplace), with every
temporary written into a reused buffer: the path `TrainingStep` and the benchmarks take.
"""

from __future__ import annotations

import numpy as np

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
)


def adam_update_inplace(
    params: list[np.ndarray], grads: list[np.ndarray], state: dict, hyper: object, decoupled: bool
) -> tuple[list[np.ndarray], dict]:
    """One Adam (AdamW with decoupled=True) step, updating params and state in place."""
    params, state = begin(params, grads, state, inplace=True)
    step = next_step(state)
    exp_avgs = buffers(state, "exp_avg", params)
    exp_avg_sqs = buffers(state, "exp_avg_sq", params)
    max_exp_avg_sqs = buffers(state, "max_exp_avg_sq", params) if hyper.amsgrad else None
    pool = scratch_pool(state, params, True)

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
