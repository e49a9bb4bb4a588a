"""Training loops: mini-batch training with an optimizer and early stopping; full-batch gradient descent.

Mini-batch training, epoch e = 0, 1, ...:

    for each batch B of the epoch's order (consecutive slices of a permutation of the samples):
        L_B = loss(model(x_B), y_B);  g = dL_B/dparams;  g <- clip(g);  params <- optimizer(params, g)
    train_loss[e] = sum_B |B| L_B / N    (sample-weighted mean of the batch losses, each before its update)
    (profile l2_penalty_in_loss: L_B + 0.5 wd sum ||W||^2 / |B|, and wd W / |B| in each weight's gradient)
    val_loss[e]   = loss(model(x_val), y_val) in evaluation mode, after the epoch
    clip (the training options, each off unless given): clip_grad_value, then clip_grad_norm (global)

`train` and `gradient_descent` are the readable reference. `TrainingStep` (mlpbench.reference.training_step, also
importable from here) is the same step with preallocated buffers, for speed, tested equal to
`loss_and_gradients` followed by the optimizer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlpbench.reference.conventions import PYTORCH, Conventions
from mlpbench.reference.early_stopping import EarlyStopping, EarlyStoppingTracker
from mlpbench.reference.losses import Loss
from mlpbench.reference.model import (
    loss_and_gradients,
    loss_params_for,
    predict,
    resolve_loss,
)
from mlpbench.reference.optim import Optimizer, loss_weight_decay, resolve_optimizer
from mlpbench.reference.spec import MLPSpec

TRAINING_OPTIONS = ("clip_grad_norm", "clip_grad_value")
"""Options of the training loop beyond the optimizer's own (`train`'s keyword arguments of these names)."""

CLIP_NORM_EPS = 1e-6
"""torch.nn.utils.clip_grad_norm_'s guard: the factor is max_norm / (norm + 1e-6)."""


def clip_grad_norm(grads: list[np.ndarray], max_norm: float, eps: float = CLIP_NORM_EPS) -> float:
    """Scales every gradient, in place, by one factor so that their global L2 norm is at most max_norm:

        n = sqrt(sum_i ||g_i||^2),   g_i <- g_i * min(1, max_norm / (n + eps))

    torch.nn.utils.clip_grad_norm_ (eps 1e-6); optax.clip_by_global_norm and Keras's global_clipnorm are the
    same with eps 0 (Keras's `clipnorm` is another rule: each gradient by its own norm). Returns n.
    """
    norm = float(np.sqrt(sum(float(np.sum(g * g)) for g in grads)))
    factor = min(1.0, max_norm / (norm + eps))
    for g in grads:
        g *= factor
    return norm


def clip_grad_value(grads: list[np.ndarray], clip_value: float) -> None:
    """g <- min(max(g, -clip_value), clip_value) elementwise, in place (torch.nn.utils.clip_grad_value_, Keras's
    clipvalue, optax.clip)."""
    for g in grads:
        np.clip(g, -clip_value, clip_value, out=g)


def clip_gradients(grads: list[np.ndarray], max_norm: float | None, clip_value: float | None) -> None:
    """The training options' clipping of one step's gradients, in place: by value, then by global norm."""
    if clip_value is not None:
        clip_grad_value(grads, clip_value)
    if max_norm is not None:
        clip_grad_norm(grads, max_norm)


@dataclass
class TrainingResult:
    """Final (or restored best) params, per-epoch losses, and where early stopping acted (0-based epochs)."""

    params: list[np.ndarray]
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    epochs_run: int = 0
    best_epoch: int | None = None
    stopped_epoch: int | None = None


def make_batch_orders(n_samples: int, epochs: int, seed: int) -> list[np.ndarray]:
    """One permutation of range(n_samples) per epoch, drawn in turn from numpy.random.default_rng(seed)."""
    rng = np.random.default_rng(seed)
    return [rng.permutation(n_samples) for _ in range(epochs)]


def batches(order: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """Consecutive slices order[0:bs], order[bs:2 bs], ...; the last one may be smaller."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def evaluate_loss(
    spec: MLPSpec,
    params: list[np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    loss: str | Loss,
    *,
    loss_params: Mapping[str, Any] | None = None,
    conventions: Conventions = PYTORCH,
) -> float:
    """The mean loss of the network in evaluation mode (no dropout) on (x, y)."""
    loss_fn = resolve_loss(loss)
    output = predict(spec, params, x, conventions=conventions)
    kwargs = loss_params_for(loss_fn, conventions, loss_params)
    return float(loss_fn.value(output, y, reduction="mean", **kwargs))


def train(
    spec: MLPSpec,
    params: list[np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    *,
    loss: str | Loss,
    optimizer: str | Optimizer,
    hyper: Any = None,
    epochs: int,
    batch_size: int,
    batch_orders: list[np.ndarray] | None = None,
    seed: int | None = None,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    early_stopping: EarlyStopping | None = None,
    loss_params: Mapping[str, Any] | None = None,
    dropout_rng: np.random.Generator | None = None,
    conventions: Conventions = PYTORCH,
    clip_grad_norm: float | None = None,
    clip_grad_value: float | None = None,
) -> TrainingResult:
    """Mini-batch training (see the module docstring); `params` are copied, never modified.

    Batch orders: `batch_orders[e]` for epoch e, else `make_batch_orders(N, epochs, seed)`.
    Dropout masks (spec.dropout > 0) are drawn from `dropout_rng`, batch by batch, layer by layer.
    Early stopping watches val_loss (needs x_val, y_val) or train_loss; with restore_best_weights the result
    holds the params of the best epoch.
    """
    n_samples = len(x)
    batch_orders = _batch_orders(n_samples, epochs, batch_orders, seed)
    validation = (x_val, y_val) if x_val is not None and y_val is not None else None
    if early_stopping is not None and early_stopping.monitor == "val_loss" and validation is None:
        raise ValueError("early stopping on val_loss needs x_val and y_val")
    if spec.dropout > 0.0 and dropout_rng is None:
        raise ValueError("a spec with dropout needs dropout_rng to draw the masks")
    entry, raw_hyper = resolve_optimizer(optimizer, hyper, conventions)
    penalty = loss_weight_decay(entry.hyper_class() if hyper is None else hyper, conventions)
    hyper = raw_hyper  # without the weight decay the profile moves into the loss
    loss_fn = resolve_loss(loss)

    params = [np.array(p, copy=True) for p in params]
    state: dict = {}
    tracker = EarlyStoppingTracker(early_stopping) if early_stopping is not None else None
    best_params: list[np.ndarray] | None = None
    result = TrainingResult(params)
    for epoch in range(epochs):
        order = _epoch_order(batch_orders, epoch, n_samples)
        weighted_sum = 0.0
        for batch in batches(order, batch_size):
            step = loss_and_gradients(
                spec, params, x[batch], y[batch], loss_fn, loss_params=loss_params, training=True,
                rng=dropout_rng, conventions=conventions,
            )
            penalty_value = add_l2_penalty(params, step.param_grads, penalty, len(batch)) if penalty else 0.0
            weighted_sum += (float(step.loss) + penalty_value) * len(batch)
            clip_gradients(step.param_grads, clip_grad_norm, clip_grad_value)
            params, state = entry.step(params, step.param_grads, state, hyper, inplace=True)
        result.train_loss.append(weighted_sum / n_samples)
        if validation is not None:
            val = evaluate_loss(
                spec, params, *validation, loss_fn, loss_params=loss_params, conventions=conventions
            )
            result.val_loss.append(val)
        result.epochs_run = epoch + 1
        if tracker is not None:
            keep, stop = _watch(tracker, epoch, result)
            if keep:
                best_params = [p.copy() for p in params]
            if stop:
                break
    if tracker is not None:
        result.best_epoch, result.stopped_epoch = tracker.best_epoch, tracker.stopped_epoch
    result.params = best_params if best_params is not None else params
    return result


def add_l2_penalty(params: list[np.ndarray], grads: list[np.ndarray], weight_decay: float, n: int) -> float:
    """scikit-learn's alpha on a batch of n samples: adds wd W / n to each weight's gradient (the biases' stay)
    and returns the penalty 0.5 wd sum ||W||^2 / n that joins the batch's loss."""
    total = 0.0
    for weight, grad in zip(params[0::2], grads[0::2], strict=True):
        grad += (weight_decay / n) * weight
        total += float(np.sum(weight * weight))
    return 0.5 * weight_decay * total / n


def _batch_orders(
    n_samples: int, epochs: int, batch_orders: list[np.ndarray] | None, seed: int | None
) -> list[np.ndarray]:
    """The given batch orders, or one permutation per epoch drawn from `seed`; at least one per epoch."""
    if batch_orders is None:
        if seed is None:
            raise ValueError("give either batch_orders or a seed to draw them from")
        batch_orders = make_batch_orders(n_samples, epochs, seed)
    if len(batch_orders) < epochs:
        raise ValueError(f"need a batch order for each of the {epochs} epochs, got {len(batch_orders)}")
    return batch_orders


def _epoch_order(batch_orders: list[np.ndarray], epoch: int, n_samples: int) -> np.ndarray:
    """The order of `epoch`, which must be a permutation of range(n_samples)."""
    order = np.asarray(batch_orders[epoch])
    if sorted(order.tolist()) != list(range(n_samples)):
        raise ValueError(f"batch order of epoch {epoch} is not a permutation of range({n_samples})")
    return order


def _watch(tracker: EarlyStoppingTracker, epoch: int, result: TrainingResult) -> tuple[bool, bool]:
    """Early stopping after `epoch`: (keep, stop).

    The monitored loss is val_loss[e] or train_loss[e]; keep: it improved and the best weights are to be
    restored (so this epoch's params are the best so far); stop: patience is exhausted.
    """
    monitored = result.val_loss[-1] if tracker.config.monitor == "val_loss" else result.train_loss[-1]
    improved = tracker.improves(monitored)
    stop = tracker.update(epoch, monitored)
    return improved and tracker.config.restore_best_weights, stop


def gradient_descent(
    spec: MLPSpec,
    params: list[np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    *,
    loss: str | Loss,
    lr: float,
    steps: int,
    loss_params: Mapping[str, Any] | None = None,
    conventions: Conventions = PYTORCH,
) -> TrainingResult:
    """Full-batch gradient descent: params <- params - lr * dL/dparams on all of (x, y), `steps` times.

    train_loss[k] is the loss before update k (one "epoch" per step); `params` are copied, never modified.
    """
    params = [np.array(p, copy=True) for p in params]
    result = TrainingResult(params)
    for _ in range(steps):
        step = loss_and_gradients(spec, params, x, y, loss, loss_params=loss_params, conventions=conventions)
        result.train_loss.append(float(step.loss))
        for param, grad in zip(params, step.param_grads, strict=True):
            param -= lr * grad
    result.epochs_run = steps
    return result


from mlpbench.reference.training_step import TrainingStep  # noqa: E402  (the fast sibling, re-exported)

__all__ = ["TrainingResult", "TrainingStep", "batches", "evaluate_loss", "gradient_descent", "make_batch_orders",
           "train"]
