"""Losses: the reduced value and the gradient with respect to the prediction, against the oracle.

Besides typical inputs: binary cross-entropy at p = 0 and p = 1 (PyTorch clamps log at -100 and floors the
gradient's denominator at 1e-12) and with three outputs a sample (multi-label), logits of +-1e4 for the logit losses, rows of logits whose maxima run from 50 to 5000 for cross-entropy, probability targets for
cross-entropy and exact ties for L1 (sign(0) = 0). The oracle follows the implementation's convention profile
(MSE half or not, BCE log clamp).
"""

from __future__ import annotations

import numpy as np

from mlpbench.conformance.checks.activations import large_logits
from mlpbench.conformance.checks.base import CheckContext, check_kind
from mlpbench.conformance.compare import compare_arrays
from mlpbench.reference.losses import get_loss, log_softmax
from mlpbench.reference.model import loss_params_for

ROWS, COLUMNS = 6, 4


def loss_inputs(ctx: CheckContext, loss: str, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(prediction, target) for `loss` and the case's input kind, in the dtype under test."""
    rng = ctx.rng(0)
    cast = ctx.cast
    if kind == "saturated":  # probabilities exactly 0 and 1, right and wrong
        p = np.array([0.0, 0.0, 1.0, 1.0, 1e-7, 1.0 - 1e-7, 0.5, 1e-30])
        t = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0])
        return cast(p.reshape(2, 4)), cast(t.reshape(2, 4))
    if kind == "large":
        if loss == "cross_entropy":
            logits = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0], [100.0, 100.0, 100.0], [0.0, 0.0, 1e4]])
            return cast(logits), np.array([0, 2, 1, 2], dtype=np.int64)
        z = np.array([1e4, -1e4, 100.0, -100.0, 50.0, -50.0, 0.0, 20.0])
        t = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0])
        return cast(z.reshape(2, 4)), cast(t.reshape(2, 4))
    if loss in ("mse", "l1", "huber"):
        pred = rng.normal(size=(ROWS, COLUMNS))
        target = rng.normal(size=(ROWS, COLUMNS))
        if kind == "ties":
            target[::2] = pred[::2]
        return cast(pred), cast(target)
    if kind == "large_logits":  # row maxima 50 to 5000, both signs (see checks.activations.large_logits)
        logits = large_logits(rng, COLUMNS)
        return cast(logits), rng.integers(0, COLUMNS, len(logits)).astype(np.int64)
    if kind == "multilabel":  # several outputs a sample, each with its own 0/1 label
        p = rng.uniform(0.02, 0.98, size=(ROWS, 3))
        if loss == "binary_cross_entropy_with_logits":
            p = rng.normal(0.0, 3.0, size=(ROWS, 3))
        return cast(p), cast(rng.integers(0, 2, (ROWS, 3)))
    if loss == "binary_cross_entropy":
        p = rng.uniform(0.02, 0.98, size=(ROWS, 1))
        t = rng.uniform(0.0, 1.0, size=(ROWS, 1)) if kind == "soft" else rng.integers(0, 2, (ROWS, 1))
        return cast(p), cast(t)
    if loss == "binary_cross_entropy_with_logits":
        return cast(rng.normal(0.0, 3.0, size=(ROWS, 1))), cast(rng.integers(0, 2, (ROWS, 1)))
    logits = rng.normal(0.0, 2.0, size=(ROWS, COLUMNS))
    if loss == "nll":
        return cast(log_softmax(logits)), rng.integers(0, COLUMNS, ROWS).astype(np.int64)
    if kind == "probabilities":
        raw = np.exp(rng.normal(size=(ROWS, COLUMNS)))
        return cast(logits), cast(raw / raw.sum(axis=1, keepdims=True))
    return cast(logits), rng.integers(0, COLUMNS, ROWS).astype(np.int64)


@check_kind("loss")
def check_loss(ctx: CheckContext) -> None:
    """(value, dvalue/dpred) of the reduced loss against the oracle."""
    name, reduction = ctx.case.params["loss"], ctx.case.params["reduction"]
    params = dict(ctx.case.params["params"])
    pred, target = loss_inputs(ctx, name, ctx.case.params["inputs"])
    ctx.save(pred=pred, target=target)
    loss = get_loss(name)
    kwargs = loss_params_for(loss, ctx.conventions, params)
    pred64 = pred.astype(np.float64)
    target64 = target if target.dtype.kind == "i" else target.astype(np.float64)
    expected_value = loss.value(pred64, target64, reduction=reduction, **kwargs)
    expected_grad = loss.gradient(pred64, target64, reduction=reduction, **kwargs)
    result = ctx.call("loss", name, pred, target, reduction, params)
    ctx.require(isinstance(result, tuple) and len(result) == 2,
                f"loss returned {type(result).__name__}, expected a (value, gradient) tuple")
    value, grad = result
    ctx.comparisons.append(compare_arrays(f"{name} value ({reduction})", value, expected_value,
                                          ctx.tol("loss", n=pred.size, scale=1.0), dtype=ctx.np_dtype,
                                          inputs={"pred": pred, "target": target}))
    # a mean divides every gradient element by the number of rows (or elements): that is its natural scale
    per_row = 1.0 / len(pred) if reduction == "mean" else 1.0
    ctx.comparisons.append(compare_arrays(f"{name} gradient ({reduction})", grad, expected_grad,
                                          ctx.tol("loss_grad", scale=per_row), dtype=ctx.np_dtype,
                                          inputs={"pred": pred, "target": target}))
