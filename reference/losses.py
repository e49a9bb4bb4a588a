"""Loss functions and their gradients with respect to the prediction, with PyTorch's reductions.

Every loss l(pred, target) is first computed per element (per sample for cross-entropy and NLL), then reduced:

    reduction="none"  the per-element (per-sample) losses, shape of pred (of (N,) for cross-entropy / NLL)
    reduction="sum"   their sum, a 0-d array
    reduction="mean"  their mean, a 0-d array: divided by pred.size, or by the batch size N for cross-entropy
                      and NLL (PyTorch's convention, also for probability targets)

`<loss>_grad` returns d L / d pred with the shape of pred, where L is the reduced loss; for "none" it is the
gradient of the sum (what backpropagating a vector of ones gives). Results have pred's float dtype
(float16 is computed in float32). Wrong shapes, unknown reductions and out-of-range targets raise ValueError.
A 0-d prediction with a 0-d target is one element. Elementwise losses take `sample_axis` (Keras): each sample's
losses are averaged over that axis before the reduction.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "LOSSES",
    "REDUCTIONS",
    "Loss",
    "TARGET_DRAWS",
    "binary_cross_entropy",
    "binary_cross_entropy_grad",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_grad",
    "cross_entropy",
    "cross_entropy_grad",
    "get_loss",
    "huber",
    "huber_grad",
    "l1",
    "l1_grad",
    "log_softmax",
    "mse",
    "mse_grad",
    "nll_loss",
    "nll_loss_grad",
    "sigmoid_binary_cross_entropy_grad",
]

REDUCTIONS = ("mean", "sum", "none")
# PyTorch's binary_cross_entropy_backward floor for p (1 - p): the constant 1e-12 held as a float32,
# which is 9.9999999600419720e-13 (so a saturated gradient is 1.0000000039958e12, not 1e12).
BCE_GRAD_EPS = float(np.float32(1e-12))


# ---------------------------------------------------------------------------------------------------------
# Shared plumbing: dtype, shape and reduction checks
# ---------------------------------------------------------------------------------------------------------


def _underflow_is_exact(function: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Let results underflow quietly: a loss or gradient rounding to a subnormal or 0 is the right answer.

    0-d prediction and target (a single scalar pair) are computed as shape (1,) and handed back as 0-d.
    """

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> np.ndarray:
        scalar = len(args) >= 2 and np.ndim(args[0]) == 0 and np.ndim(args[1]) == 0
        if scalar:
            args = (np.reshape(args[0], (1,)), np.reshape(args[1], (1,)), *args[2:])
        with np.errstate(under="ignore"):
            result = function(*args, **kwargs)
        return result.reshape(()) if scalar else result

    return wrapper


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(REDUCTIONS)}; got {reduction!r}")


def _prediction(pred: ArrayLike) -> tuple[np.ndarray, np.dtype]:
    """pred as a float array in its compute dtype, and the dtype results are returned in."""
    pred = np.asarray(pred)
    if pred.dtype.kind != "f":
        pred = pred.astype(np.float64)
    dtype = pred.dtype
    if dtype == np.float16:
        pred = pred.astype(np.float32)
    return pred, dtype


def _same_shape(name: str, pred: np.ndarray, target: ArrayLike) -> np.ndarray:
    target = np.asarray(target)
    if target.shape != pred.shape:
        raise ValueError(f"{name}: target shape {target.shape} does not match prediction shape {pred.shape}")
    return target.astype(pred.dtype, copy=False)


def _reduce(
    losses: np.ndarray, reduction: str, dtype: np.dtype, count: int | None = None, sample_axis: int | None = None
) -> np.ndarray:
    """Apply the reduction; "mean" divides the sum by `count` (default: the number of losses).

    sample_axis (Keras's convention): each sample's losses are first averaged over this axis, so "none"
    returns one loss per sample and "sum" sums the per-sample means; "mean" is the same either way.
    """
    if sample_axis is not None and losses.ndim > 0:
        losses = np.mean(losses, axis=sample_axis)
    if reduction == "none":
        return losses.astype(dtype, copy=False)
    total = np.sum(losses)
    if reduction == "mean":
        total = total / (losses.size if count is None else count)
    return np.asarray(total, dtype=dtype)


def _scale_gradient(
    grad: np.ndarray, reduction: str, dtype: np.dtype, count: int, sample_axis: int | None = None
) -> np.ndarray:
    """Gradient of the sum, divided by `count` for "mean" (by the length of `sample_axis` for per-sample means)."""
    if sample_axis is not None and grad.ndim > 0 and reduction != "mean":
        count, reduction = grad.shape[sample_axis], "mean"
    if reduction == "mean":
        grad /= count
    return grad.astype(dtype, copy=False)


def _check_targets_in_unit_interval(name: str, t: np.ndarray) -> None:
    if t.size and not (np.min(t) >= 0.0 and np.max(t) <= 1.0):
        raise ValueError(f"{name}: targets must lie in [0, 1]")


# ---------------------------------------------------------------------------------------------------------
# Regression losses
# ---------------------------------------------------------------------------------------------------------


@_underflow_is_exact
def mse(
    pred: ArrayLike, target: ArrayLike, reduction: str = "mean", half: bool = False, sample_axis: int | None = None
) -> np.ndarray:
    """Mean squared error: l = (pred - target)^2, or (pred - target)^2 / 2 with half=True (textbook form)."""
    _check_reduction(reduction)
    pred, dtype = _prediction(pred)
    diff = pred - _same_shape("mse", pred, target)
    np.square(diff, out=diff)
    if half:
        diff *= 0.5
    return _reduce(diff, reduction, dtype, sample_axis=sample_axis)


@_underflow_is_exact
def mse_grad(
    pred: ArrayLike, target: ArrayLike, reduction: str = "mean", half: bool = False, sample_axis: int | None = None
) -> np.ndarray:
    """dl/dpred = 2 (pred - target), or (pred - target) with half=True.

    With a mean the factor is applied as one constant, (pred - target) * (2 / n) as PyTorch does, so the
    gradient stays finite for |pred - target| up to DBL_MAX when n >= 2.
    """
    _check_reduction(reduction)
    pred, dtype = _prediction(pred)
    grad = pred - _same_shape("mse", pred, target)
    count = pred.size
    if sample_axis is not None and grad.ndim > 0 and reduction != "mean":
        count, reduction = grad.shape[sample_axis], "mean"
    factor = 1.0 if half else 2.0
    grad *= factor / count if reduction == "mean" else factor
    return grad.astype(dtype, copy=False)


@_underflow_is_exact
def l1(pred: ArrayLike, target: ArrayLike, reduction: str = "mean", sample_axis: int | None = None) -> np.ndarray:
    """Mean absolute error: l = |pred - target|."""
    _check_reduction(reduction)
    pred, dtype = _prediction(pred)
    diff = pred - _same_shape("l1", pred, target)
    np.abs(diff, out=diff)
    return _reduce(diff, reduction, dtype, sample_axis=sample_axis)


@_underflow_is_exact
def l1_grad(
    pred: ArrayLike, target: ArrayLike, reduction: str = "mean", sample_axis: int | None = None
) -> np.ndarray:
    """dl/dpred = sign(pred - target), 0 where pred == target (PyTorch's abs backward, sgn)."""
    _check_reduction(reduction)
    pred, dtype = _prediction(pred)
    target = _same_shape("l1", pred, target)
    with np.errstate(invalid="ignore"):
        grad = np.sign(pred - target)
    grad[pred == target] = 0.0  # also at pred = target = +-inf, where the difference is NaN
    return _scale_gradient(grad, reduction, dtype, pred.size, sample_axis)


def _check_delta(delta: float) -> None:
    if not delta > 0:
        raise ValueError(f"huber: delta must be positive, got {delta}")


@_underflow_is_exact
def huber(
    pred: ArrayLike, target: ArrayLike, reduction: str = "mean", delta: float = 1.0, sample_axis: int | None = None
) -> np.ndarray:
    """Huber loss, with z = |pred - target|: l = z^2 / 2 if z < delta, else delta (z - delta / 2).

    Quadratic near 0, linear in the tails; value and slope are continuous at z = delta.
    """
    _check_reduction(reduction)
    _check_delta(delta)
    pred, dtype = _prediction(pred)
    z = pred - _same_shape("huber", pred, target)
    np.abs(z, out=z)
    losses = np.where(z < delta, 0.5 * z * z, delta * (z - 0.5 * delta))
    return _reduce(losses, reduction, dtype, sample_axis=sample_axis)


@_underflow_is_exact
def huber_grad(
    pred: ArrayLike, target: ArrayLike, reduction: str = "mean", delta: float = 1.0, sample_axis: int | None = None
) -> np.ndarray:
    """dl/dpred = clip(pred - target, -delta, delta) (PyTorch's huber_loss_backward)."""
    _check_reduction(reduction)
    _check_delta(delta)
    pred, dtype = _prediction(pred)
    grad = pred - _same_shape("huber", pred, target)
    np.clip(grad, -delta, delta, out=grad)
    return _scale_gradient(grad, reduction, dtype, pred.size, sample_axis)


# ---------------------------------------------------------------------------------------------------------
# Binary classification
# ---------------------------------------------------------------------------------------------------------


def _probabilities(name: str, p: ArrayLike) -> tuple[np.ndarray, np.dtype]:
    p, dtype = _prediction(p)
    if p.size and not (np.min(p) >= 0.0 and np.max(p) <= 1.0):
        raise ValueError(f"{name}: predictions must be probabilities in [0, 1]")
    return p, dtype


def _binary_targets(name: str, pred: np.ndarray, target: ArrayLike) -> np.ndarray:
    t = _same_shape(name, pred, target)
    _check_targets_in_unit_interval(name, t)
    return t


def _weighted(weight: np.ndarray, value: np.ndarray) -> np.ndarray:
    """weight * value with 0 * anything = 0 (the limit t log p -> 0 as t -> 0; a term of weight 0 is absent)."""
    with np.errstate(invalid="ignore"):
        product = weight * value
    product[weight == 0] = 0.0
    return product




def _clip_probabilities(p: np.ndarray, clip_eps: float | str | None) -> np.ndarray:
    """p clipped into [eps, 1 - eps] (Keras), both bounds rounded to p's dtype; p itself without a clip.
    clip_eps="dtype": eps = np.finfo(p.dtype).eps (scikit-learn's log_loss)."""
    if clip_eps is None:
        return p
    eps = np.finfo(p.dtype).eps if clip_eps == "dtype" else p.dtype.type(clip_eps)
    low, high = p.dtype.type(eps), p.dtype.type(1.0) - p.dtype.type(eps)
    return np.clip(p, low, high)


def _sum_outputs(losses: np.ndarray, sum_outputs: bool, sample_axis: int | None) -> np.ndarray:
    """Each sample's losses summed over its outputs (the last axis) when sum_outputs (scikit-learn's
    multi-label binary_log_loss); unchanged otherwise or for a 1-d batch (one output a sample)."""
    _samples(losses, sum_outputs, sample_axis)
    return np.sum(losses, axis=-1) if sum_outputs and losses.ndim > 1 else losses


def _samples(p: np.ndarray, sum_outputs: bool, sample_axis: int | None) -> int:
    """What "mean" divides by: the number of elements, or of samples (rows) when outputs are summed."""
    if sum_outputs and sample_axis is not None:
        raise ValueError("binary_cross_entropy: sum_outputs and sample_axis exclude each other")
    return p.size // p.shape[-1] if sum_outputs and p.ndim > 1 else p.size


@_underflow_is_exact
def binary_cross_entropy(
    p: ArrayLike,
    target: ArrayLike,
    reduction: str = "mean",
    log_clamp: float | None = -100.0,
    clip_eps: float | str | None = None,
    grad_floor: float | None = BCE_GRAD_EPS,
    sample_axis: int | None = None,
    sum_outputs: bool = False,
) -> np.ndarray:
    """Binary cross-entropy of probabilities: l = -(t log p + (1 - t) log(1 - p)).

    The guards, one per library (see mlpbench.reference.conventions):
    log_clamp: PyTorch bounds both logarithms from below by -100, so p = 0 or 1 on the wrong class costs 100,
        not infinity. None computes the plain formula (infinite loss there).
    clip_eps: Keras first clips p into [eps, 1 - eps] (eps = 1e-7), in p's dtype; "dtype": eps is p's dtype's
        machine epsilon (scikit-learn).
    grad_floor: only the gradient's guard; accepted here so one parameter set serves value and gradient.
    sum_outputs: each sample's losses are summed over the last axis first, so "mean" is the mean over samples
        of the sum over outputs (scikit-learn's multi-label binary_log_loss) and "none" gives one per sample.
    Targets must lie in [0, 1].
    """
    _check_reduction(reduction)
    p, dtype = _probabilities("binary_cross_entropy", p)
    t = _binary_targets("binary_cross_entropy", p, target)
    p = _clip_probabilities(p, clip_eps)
    with np.errstate(divide="ignore"):
        log_p = np.log(p)
        log_not_p = np.log1p(-p)
    if log_clamp is not None:
        np.maximum(log_p, log_clamp, out=log_p)
        np.maximum(log_not_p, log_clamp, out=log_not_p)
    losses = _weighted(t, log_p)
    losses += _weighted(1.0 - t, log_not_p)
    np.negative(losses, out=losses)
    return _reduce(_sum_outputs(losses, sum_outputs, sample_axis), reduction, dtype, sample_axis=sample_axis)


@_underflow_is_exact
def binary_cross_entropy_grad(
    p: ArrayLike,
    target: ArrayLike,
    reduction: str = "mean",
    log_clamp: float | None = -100.0,
    clip_eps: float | str | None = None,
    grad_floor: float | None = BCE_GRAD_EPS,
    sample_axis: int | None = None,
    sum_outputs: bool = False,
) -> np.ndarray:
    """dl/dp = (p - t) / (p (1 - p)).

    grad_floor (PyTorch: BCE_GRAD_EPS): the denominator is floored, (p - t) / max(p (1 - p), grad_floor),
    exactly binary_cross_entropy_backward; like PyTorch it ignores where the log clamp flattens the loss.
    grad_floor=None: the plain derivative (1 - t) / (1 - p) - t / p, a term with zero weight counting 0 (so
    it is infinite only where the loss is: p = 0 with t > 0, or p = 1 with t < 1).
    clip_eps (Keras, scikit-learn): 0 where the clip is active (p outside [eps, 1 - eps]). log_clamp does not
    enter. sum_outputs: "mean" divides by the number of samples (rows) instead of elements.
    """
    _check_reduction(reduction)
    p, dtype = _probabilities("binary_cross_entropy", p)
    t = _binary_targets("binary_cross_entropy", p, target)
    if grad_floor is None:
        grad = _weighted_reciprocal(1.0 - t, 1.0 - p)
        grad -= _weighted_reciprocal(t, p)
    else:
        denominator = 1.0 - p
        denominator *= p
        np.maximum(denominator, grad_floor, out=denominator)
        grad = p - t
        grad /= denominator
    if clip_eps is not None:
        grad[_clip_probabilities(p, clip_eps) != p] = 0.0
    return _scale_gradient(grad, reduction, dtype, _samples(p, sum_outputs, sample_axis), sample_axis)


def _weighted_reciprocal(weight: np.ndarray, value: np.ndarray) -> np.ndarray:
    """weight / value with 0 / 0 = 0 (a term whose weight is 0 contributes nothing)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        quotient = weight / value
    quotient[weight == 0] = 0.0
    return quotient


def _softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + exp(z)) = max(z, 0) + log(1 + exp(-|z|)): positive, never overflows, inf at +inf, 0 at -inf."""
    tail = np.abs(z)
    np.negative(tail, out=tail)
    with np.errstate(under="ignore"):
        np.exp(tail, out=tail)
    np.log1p(tail, out=tail)
    tail += np.maximum(z, 0.0)
    return tail


@_underflow_is_exact
def binary_cross_entropy_with_logits(
    logits: ArrayLike, target: ArrayLike, reduction: str = "mean", sample_axis: int | None = None
) -> np.ndarray:
    """Binary cross-entropy of sigmoid(z), from the logit z: l = -(t log s(z) + (1 - t) log(1 - s(z))).

    Since -log s(z) = softplus(-z) and -log(1 - s(z)) = softplus(z): l = t softplus(-z) + (1 - t) softplus(z),
    a sum of non-negative terms, so nothing cancels and small losses keep their digits (at z = 37.22, t = 1
    the loss is 6.8e-17, where max(z, 0) - z t + log(1 + exp(-|z|)) gives 0). A term of weight 0 is 0, also
    at z = +-inf. Targets must lie in [0, 1].
    """
    _check_reduction(reduction)
    z, dtype = _prediction(logits)
    t = _binary_targets("binary_cross_entropy_with_logits", z, target)
    losses = _weighted(t, _softplus(-z))
    losses += _weighted(1.0 - t, _softplus(z))
    return _reduce(losses, reduction, dtype, sample_axis=sample_axis)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """s(z) = 1 / (1 + exp(-z)) via e = exp(-|z|): 1 / (1 + e) for z >= 0, e / (1 + e) for z < 0."""
    e = np.abs(z)
    np.negative(e, out=e)
    with np.errstate(under="ignore"):
        np.exp(e, out=e)
    denominator = e + 1.0
    return np.where(z >= 0, 1.0, e) / denominator


def _sigmoid_minus_target(z: np.ndarray, t: np.ndarray) -> np.ndarray:
    """s(z) - t, as (1 - t) - s(-z) for z >= 0 so that s(z) close to 1 keeps its distance to t = 1."""
    return np.where(z >= 0, (1.0 - t) - _sigmoid(-z), _sigmoid(z) - t)


@_underflow_is_exact
def binary_cross_entropy_with_logits_grad(
    logits: ArrayLike, target: ArrayLike, reduction: str = "mean", sample_axis: int | None = None
) -> np.ndarray:
    """dl/dz = s(z) - t."""
    _check_reduction(reduction)
    z, dtype = _prediction(logits)
    t = _binary_targets("binary_cross_entropy_with_logits", z, target)
    grad = _sigmoid_minus_target(z, t)
    return _scale_gradient(grad, reduction, dtype, z.size, sample_axis)


@_underflow_is_exact
def sigmoid_binary_cross_entropy_grad(
    z: ArrayLike,
    target: ArrayLike,
    reduction: str = "mean",
    log_clamp: float | None = -100.0,
    clip_eps: float | str | None = None,
    grad_floor: float | None = BCE_GRAD_EPS,
    sample_axis: int | None = None,
    sum_outputs: bool = False,
) -> np.ndarray:
    """d/dz of binary_cross_entropy(sigmoid(z), t): a sigmoid output layer fused with its loss.

    The chain rule (p - t) / (p (1 - p)) * p (1 - p) reduces to s(z) - t; computed so, it does not depend on
    how p = s(z) was rounded (at z = 30, 1 - p keeps only three digits). The guards, as in
    `binary_cross_entropy_grad`: grad_floor scales by d / max(d, grad_floor) with d = s(z) s(-z) (1 where
    d >= grad_floor; taken through log d, since d underflows long before the product does), clip_eps gives 0
    where the clip is active.
    """
    _check_reduction(reduction)
    z, dtype = _prediction(z)
    t = _binary_targets("binary_cross_entropy", z, target)
    grad = _sigmoid_minus_target(z, t)
    if grad_floor is not None:                  # d / max(d, floor) = exp(min(log d - log floor, 0))
        log_d = _softplus(-np.abs(z))           # log d = -|z| - 2 log(1 + exp(-|z|)): d itself may underflow
        log_d *= -2.0
        log_d -= np.abs(z)
        grad *= np.exp(np.minimum(log_d - np.log(grad_floor), 0.0))
    if clip_eps is not None:
        p = _sigmoid(z).astype(dtype)
        grad[_clip_probabilities(p, clip_eps) != p] = 0.0
    return _scale_gradient(grad, reduction, dtype, _samples(z, sum_outputs, sample_axis), sample_axis)


# ---------------------------------------------------------------------------------------------------------
# Multi-class classification
# ---------------------------------------------------------------------------------------------------------


@_underflow_is_exact
def log_softmax(x: ArrayLike, axis: int = -1) -> np.ndarray:
    """log softmax(x)_i = (x_i - m) - log sum_j exp(x_j - m), m = max_j x_j: every exponent is <= 0.

    The maximum's own term is exactly 1, so the sum is 1 + r with r the sum over the other entries, and
    log(1 + r) is taken as log1p(r): a dominant class keeps its small loss (logits (40, 0): 4.2e-18, not 0).
    With k logits at +inf, those have log-probability -log k and the others -inf (the limit).
    """
    x, dtype = _prediction(x)
    m = np.max(x, axis=axis, keepdims=True)
    with np.errstate(invalid="ignore"):
        shifted = x - m
    # a +inf logit takes all the probability (shared among the k infinite ones): x - m is 0 there, -inf elsewhere
    shifted = np.where(np.isposinf(m), np.where(x == np.inf, 0.0, -np.inf), shifted)
    with np.errstate(under="ignore"):
        terms = np.exp(shifted)
    np.put_along_axis(terms, np.argmax(shifted, axis=axis, keepdims=True), 0.0, axis=axis)
    shifted -= np.log1p(np.sum(terms, axis=axis, keepdims=True))
    return shifted.astype(dtype, copy=False)


def _scores(name: str, scores: ArrayLike) -> tuple[np.ndarray, np.dtype]:
    scores, dtype = _prediction(scores)
    if scores.ndim != 2 or scores.shape[1] == 0:
        raise ValueError(f"{name}: input must have shape (N, C) with C >= 1, got {scores.shape}")
    return scores, dtype


def _class_indices(name: str, target: ArrayLike, n_samples: int, n_classes: int) -> np.ndarray:
    """Integer class indices of shape (N,), each in [0, C); floats holding whole numbers are accepted."""
    target = np.asarray(target)
    if target.shape != (n_samples,):
        raise ValueError(f"{name}: class-index target must have shape ({n_samples},), got {target.shape}")
    if target.dtype.kind == "f":
        if not np.all(np.isfinite(target)) or np.any(target != np.round(target)):
            raise ValueError(f"{name}: class-index target must hold whole numbers")
    elif target.dtype.kind not in "iub":
        raise ValueError(f"{name}: class-index target must be integer, got dtype {target.dtype}")
    indices = target.astype(np.intp)
    if indices.size and (indices.min() < 0 or indices.max() >= n_classes):
        raise ValueError(
            f"{name}: target class index out of range [0, {n_classes}): "
            f"found {int(indices.min())}..{int(indices.max())}"
        )
    return indices


def _is_probability_target(logits: np.ndarray, target: np.ndarray) -> bool:
    return target.ndim == 2 and target.shape == logits.shape and target.dtype.kind == "f"


@_underflow_is_exact
def cross_entropy(logits: ArrayLike, target: ArrayLike, reduction: str = "mean") -> np.ndarray:
    """Cross-entropy of softmax(logits) against a class index or a class distribution, per sample:

        index target y:        l_n = -log softmax(z_n)_y
        probability target q:  l_n = -sum_c q_c log softmax(z_n)_c

    logits have shape (N, C); the target is integer indices of shape (N,) or probabilities of shape (N, C).
    "mean" divides by N in both cases (as PyTorch does).
    """
    _check_reduction(reduction)
    z, dtype = _scores("cross_entropy", logits)
    target = np.asarray(target)
    log_probs = log_softmax(z)
    if _is_probability_target(z, target):
        losses = -np.sum(_weighted(target.astype(z.dtype), log_probs), axis=1)
    else:
        indices = _class_indices("cross_entropy", target, *z.shape)
        losses = -log_probs[np.arange(z.shape[0]), indices]
    return _reduce(losses, reduction, dtype, count=z.shape[0])


@_underflow_is_exact
def cross_entropy_grad(logits: ArrayLike, target: ArrayLike, reduction: str = "mean") -> np.ndarray:
    """dl_n/dz_n = softmax(z_n) * sum_c q_c - q (= softmax(z_n) - onehot(y) for an index target).

    Computed without cancelling 1 - softmax: for an index target the true class's entry softmax_y - 1 is
    -sum_{c != y} softmax_c, which keeps its digits when softmax_y is close to 1; for probabilities see below.
    """
    _check_reduction(reduction)
    z, dtype = _scores("cross_entropy", logits)
    target = np.asarray(target)
    with np.errstate(under="ignore"):
        grad = np.exp(log_softmax(z))
    if _is_probability_target(z, target):
        # p sum(q) - q = p (sum(q) - q) - q (1 - p), with 1 - p_c = sum_{j != c} p_j summed directly for the
        # largest p_c (where 1 - p_c would cancel); the others are at most 1/2 and subtract safely
        q = target.astype(z.dtype)
        rest = np.sum(grad, axis=1, keepdims=True) - grad
        top = np.argmax(grad, axis=1)[:, None]
        others = grad.copy()
        np.put_along_axis(others, top, 0.0, axis=1)
        np.put_along_axis(rest, top, np.sum(others, axis=1, keepdims=True), axis=1)
        with np.errstate(invalid="ignore"):
            grad = _weighted(np.sum(q, axis=1, keepdims=True) - q, grad) - _weighted(q, rest)
    else:
        indices = _class_indices("cross_entropy", target, *z.shape)
        rows = np.arange(z.shape[0])
        grad[rows, indices] = 0.0
        grad[rows, indices] = -np.sum(grad, axis=1)
    return _scale_gradient(grad, reduction, dtype, z.shape[0])


@_underflow_is_exact
def nll_loss(log_probs: ArrayLike, target: ArrayLike, reduction: str = "mean") -> np.ndarray:
    """Negative log-likelihood of log-probabilities a (N, C) and class indices y (N,): l_n = -a[n, y_n]."""
    _check_reduction(reduction)
    a, dtype = _scores("nll_loss", log_probs)
    indices = _class_indices("nll_loss", target, *a.shape)
    losses = -a[np.arange(a.shape[0]), indices]
    return _reduce(losses, reduction, dtype, count=a.shape[0])


@_underflow_is_exact
def nll_loss_grad(log_probs: ArrayLike, target: ArrayLike, reduction: str = "mean") -> np.ndarray:
    """dl_n/dlog_probs[n, c] = -1 if c == y_n else 0."""
    _check_reduction(reduction)
    a, dtype = _scores("nll_loss", log_probs)
    indices = _class_indices("nll_loss", target, *a.shape)
    grad = np.zeros_like(a)
    grad[np.arange(a.shape[0]), indices] = -1.0
    return _scale_gradient(grad, reduction, dtype, a.shape[0])


# ---------------------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------------------


TARGET_DRAWS: Mapping[str, str] = MappingProxyType({
    "real": "standard normal, pred's shape",
    "binary": "labels 0 or 1 (integers drawn uniformly), pred's shape",
    "index": "class indices drawn uniformly from [0, C), shape (N,)",
})
"""How the suite draws a target of each kind (`Loss.drawn_target`)."""


@dataclass(frozen=True)
class Loss:
    """A loss as data: its functions and everything the suite needs to know to use it.

    value(pred, target, reduction="mean", **params) and gradient(same) -> d value / d pred.
    target_kind: what it accepts: "real" (any real numbers, pred's shape), "binary" (in [0, 1], pred's shape),
        "index" (class indices (N,)), "index_or_prob" (class indices (N,) or probabilities (N, C)).
    output_activation: the output layer it is used with (sigmoid for BCE on probabilities, else identity).
    drawn_target: the kind of target the checks, the benchmarks and the tests draw for it (`TARGET_DRAWS`).
    fused_gradient: d loss(output_activation(z)) / dz computed directly, where the output layer and the loss
        simplify together (sigmoid + BCE: s(z) - t); None where the chain rule is used as is.
    """

    name: str
    value: Callable[..., np.ndarray]
    gradient: Callable[..., np.ndarray]
    target_kind: str
    default_params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    output_activation: str = "identity"
    drawn_target: str = "real"
    fused_gradient: Callable[..., np.ndarray] | None = None

    def params(self, **overrides: Any) -> dict[str, Any]:
        """The default parameters updated with `overrides`; unknown names raise ValueError."""
        unknown = sorted(set(overrides) - set(self.default_params))
        if unknown:
            known = sorted(self.default_params)
            raise ValueError(f"loss {self.name!r} has no parameter(s) {unknown}; known: {known}")
        return {**self.default_params, **overrides}

    def draw_target(self, rng: np.random.Generator, n: int, outputs: int) -> np.ndarray:
        """A target for n samples and `outputs` network outputs, drawn as `drawn_target` says (TARGET_DRAWS):
        int64 class indices (n,), or float64 labels 0/1 or standard normal values (n, outputs)."""
        if self.drawn_target == "index":
            return rng.integers(0, outputs, n).astype(np.int64)
        if self.drawn_target == "binary":
            return rng.integers(0, 2, (n, outputs)).astype(np.float64)
        return rng.normal(size=(n, outputs))


def _params(**values: Any) -> Mapping[str, Any]:
    return MappingProxyType(values)


_BCE_GUARDS = _params(log_clamp=-100.0, clip_eps=None, grad_floor=BCE_GRAD_EPS, sample_axis=None, sum_outputs=False)

LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        Loss("mse", mse, mse_grad, "real", _params(half=False, sample_axis=None)),
        Loss(
            "binary_cross_entropy",
            binary_cross_entropy,
            binary_cross_entropy_grad,
            "binary",
            _BCE_GUARDS,
            output_activation="sigmoid",
            drawn_target="binary",
            fused_gradient=sigmoid_binary_cross_entropy_grad,
        ),
        Loss(
            "binary_cross_entropy_with_logits",
            binary_cross_entropy_with_logits,
            binary_cross_entropy_with_logits_grad,
            "binary",
            _params(sample_axis=None),
            drawn_target="binary",
        ),
        Loss("cross_entropy", cross_entropy, cross_entropy_grad, "index_or_prob", drawn_target="index"),
        Loss("nll", nll_loss, nll_loss_grad, "index", drawn_target="index"),
        Loss("l1", l1, l1_grad, "real", _params(sample_axis=None)),
        Loss("huber", huber, huber_grad, "real", _params(delta=1.0, sample_axis=None)),
    )
}


def get_loss(name: str) -> Loss:
    """The registered loss called `name`; ValueError listing the known names otherwise."""
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown loss {name!r}; known: {', '.join(LOSSES)}") from None
