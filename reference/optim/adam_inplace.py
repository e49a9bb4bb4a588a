"""Adam and AdamW in place: the update of mlpbench.reference.optim.adam, chunk by chunk, with reused scratch buffers.

The same arithmetic, operation for operation, as the readable `mlpbench.reference.optim.adam._adam_update` (so the
two agree bit for bit; suites/reference/test_oracle_optim.py::test_inplace_equals_not_inplace), with every
temporary written into a scratch buffer and the elements cut into cache-sized chunks shared among the cores
(mlpbench.reference.optim._chunks): the path `TrainingStep` and the benchmarks take.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from mlpbench.reference.optim._buffers import (
    begin,
    bias_correction,
    buffers,
    decay_weights,
    effective_grad,
    moving_average,
    moving_average_of_squares,
    next_step,
)
from mlpbench.reference.optim._chunks import for_each_chunk

if TYPE_CHECKING:  # mlpbench.reference.optim.adam imports this module
    from mlpbench.reference.optim.adam import Adam, AdamW


def adam_update_inplace(
    params: list[np.ndarray], grads: list[np.ndarray], state: dict, hyper: Adam | AdamW, decoupled: bool
) -> tuple[list[np.ndarray], dict]:
    """One Adam (AdamW with decoupled=True) step, updating params and state in place."""
    params, state = begin(params, grads, state, inplace=True)
    step = next_step(state)
    exp_avgs = buffers(state, "exp_avg", params)
    exp_avg_sqs = buffers(state, "exp_avg_sq", params)
    max_exp_avg_sqs = buffers(state, "max_exp_avg_sq", params) if hyper.amsgrad else None

    lr, eps, wd, eps_root, maximize = hyper.lr, hyper.eps, hyper.weight_decay, hyper.eps_root, hyper.maximize
    beta1, beta2 = hyper.betas
    bias_correction1 = bias_correction(beta1, step)
    bias_correction2 = bias_correction(beta2, step)
    placement = hyper.eps_placement
    step_size = lr / bias_correction1
    if placement == "hat":
        step_size *= bias_correction2**0.5
    coupled_decay = 0.0 if decoupled else wd

    def update(arrays: Sequence[np.ndarray], slots: list[np.ndarray]) -> None:
        param, grad, exp_avg, exp_avg_sq = arrays[:4]
        work = slots[0]
        if decoupled:
            decay_weights(param, lr, wd)
        g = effective_grad(grad, param, coupled_decay, maximize, slots)
        moving_average(exp_avg, g, beta1, work)                # m = beta1 m + (1 - beta1) g
        moving_average_of_squares(exp_avg_sq, g, beta2, work)  # v = beta2 v + ((1 - beta2) g) g
        second = exp_avg_sq
        if len(arrays) > 4:                                    # amsgrad: v = max over steps
            np.maximum(arrays[4], exp_avg_sq, out=arrays[4])
            second = arrays[4]

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

    groups = [
        (param, grad, exp_avgs[index], exp_avg_sqs[index])
        + ((max_exp_avg_sqs[index],) if max_exp_avg_sqs is not None else ())
        for index, (param, grad) in enumerate(zip(params, grads, strict=True))
    ]
    for_each_chunk(update, groups, scratch=2)
    return params, state
