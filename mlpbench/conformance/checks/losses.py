"""Losses: the reduced value and the gradient with respect to the prediction, against the oracle.

Besides typical inputs: binary cross-entropy at p = 0 and p = 1 (PyTorch clamps log at -100 and floors the
gradient's denominator at 1e-12) and with three outputs a sample (multi-label), logits of +-1e4 for the logit
losses, rows of logits whose maxima run from 50 to 5000 for cross-entropy, probability targets for
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


def _saturated(rng: np.random.Generator, loss: str) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities exactly 0 and 1, right and wrong."""
    p = np.array([0.0, 0.0, 1.0, 1.0, 1e-7, 1.0 - 1e-7, 0.5, 1e-30])
    t = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0])
    return p.reshape(2, 4), t.reshape(2, 4)


def _large(rng: np.random.Generator, loss: str) -> tuple[np.ndarray, np.ndarray]:
    """Logits of +-1e4 (and 100, 50, 20)."""
    if loss == "cross_entropy":
        logits = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0], [100.0, 100.0, 100.0], [0.0, 0.0, 1e4]])
        return logits, np.array([0, 2, 1, 2], dtype=np.int64)
    z = np.array([1e4, -1e4, 100.0, -100.0, 50.0, -50.0, 0.0, 20.0])
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0])
    return z.reshape(2, 4), t.reshape(2, 4)


def _large_logits(rng: np.random.Generator, loss: str) -> tuple[np.ndarray, np.ndarray]:
    """Row maxima 50 to 5000, both signs (see checks.activations.large_logits), class-index targets."""
    logits = large_logits(rng, COLUMNS)
    return logits, rng.integers(0, COLUMNS, len(logits)).astype(np.int64)


def _multilabel(rng: np.random.Generator, loss: str) -> tuple[np.ndarray, np.ndarray]:
    """Three outputs a sample, each with its own 0/1 label: probabilities, or logits for the logit loss."""
    if loss == "binary_cross_entropy_with_logits":
        pred = rng.normal(0.0, 3.0, size=(ROWS, 3))
    else:
        pred = rng.uniform(0.02, 0.98, size=(ROWS, 3))
    return pred, rng.integers(0, 2, (ROWS, 3)).astype(np.float64)


SPECIAL_INPUTS = {"saturated": _saturated, "large": _large, "large_logits": _large_logits, "multilabel": _multilabel}
"""Input kinds that draw the same way for every loss they are used with."""


def _typical(rng: np.random.Generator, loss: str, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Typical inputs for the loss (kind "ties": every other row's target equal to its prediction; "soft" and
    "probabilities": probability targets)."""
    if loss in ("mse", "l1", "huber"):
        pred = rng.normal(size=(ROWS, COLUMNS))
        target = rng.normal(size=(ROWS, COLUMNS))
        if kind == "ties":
            target[::2] = pred[::2]
        return pred, target
    if loss == "binary_cross_entropy":
        p = rng.uniform(0.02, 0.98, size=(ROWS, 1))
        t = rng.uniform(0.0, 1.0, size=(ROWS, 1)) if kind == "soft" else rng.integers(0, 2, (ROWS, 1)) * 1.0
        return p, t
    if loss == "binary_cross_entropy_with_logits":
        return rng.normal(0.0, 3.0, size=(ROWS, 1)), rng.integers(0, 2, (ROWS, 1)).astype(np.float64)
    logits = rng.normal(0.0, 2.0, size=(ROWS, COLUMNS))
    if loss == "nll":
        return log_softmax(logits), rng.integers(0, COLUMNS, ROWS).astype(np.int64)
    if kind == "probabilities":
        raw = np.exp(rng.normal(size=(ROWS, COLUMNS)))
        return logits, raw / raw.sum(axis=1, keepdims=True)
    return logits, rng.integers(0, COLUMNS, ROWS).astype(np.int64)


def loss_inputs(ctx: CheckContext, loss: str, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(prediction, target) for `loss` and the case's input kind, in the dtype under test (integer class
    indices stay int64)."""
    rng = ctx.rng(0)
    special = SPECIAL_INPUTS.get(kind)
    pred, target = special(rng, loss) if special is not None else _typical(rng, loss, kind)
    return ctx.cast(pred), target if target.dtype == np.int64 else ctx.cast(target)


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
