"""The mini-batch epoch loop of a functional engine (JAX with optax, Keras 3's stateless API), written once.

A functional step takes the weights and the optimizer state and returns new ones with the batch's loss:
`step(weights, opt_state, xb, yb) -> (weights, opt_state, loss)`. The loop follows the suite's batch orders
(consecutive slices of each epoch's permutation), records the sample-weighted training loss of each epoch and
the evaluation-mode validation loss after it, and applies early stopping with the oracle's tracker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from impls.interface import TrainRequest
from reference.early_stopping import EarlyStoppingTracker


@dataclass
class EpochRun:
    weights: Any  # the final weights: the best epoch's when early stopping restores them
    train_loss: list[float]
    val_loss: list[float]
    epochs_run: int
    best_epoch: int | None
    stopped_epoch: int | None


def functional_epochs(request: TrainRequest, weights: Any, opt_state: Any, step: Callable[..., tuple],
                      evaluate: Callable[[Any, Any, Any], Any], put: Callable[[Any], Any] = np.asarray
                      ) -> EpochRun:
    """Train with `step`; `evaluate(weights, x, y)` is the evaluation-mode loss; `put` moves a batch to the
    engine's device."""
    config = request.early_stopping
    tracker = EarlyStoppingTracker(config) if config is not None else None
    x, y = np.asarray(request.x), np.asarray(request.y)
    best, train_losses, val_losses, epochs_run = None, [], [], 0
    for epoch in range(request.epochs):
        order = np.asarray(request.batch_orders[epoch])
        total = 0.0
        for start in range(0, len(order), request.batch_size):
            batch = order[start:start + request.batch_size]
            weights, opt_state, value = step(weights, opt_state, put(x[batch]), put(y[batch]))
            total += float(value) * len(batch)
        train_losses.append(total / len(order))
        if request.x_val is not None:
            val_losses.append(float(evaluate(weights, put(request.x_val), put(request.y_val))))
        epochs_run = epoch + 1
        if tracker is not None:
            stop = tracker.update(epoch, val_losses[-1] if config.monitor == "val_loss" else train_losses[-1])
            if tracker.best_epoch == epoch:
                best = list(weights)
            if stop:
                break
    if tracker is not None and config.restore_best_weights and best is not None:
        weights = best
    return EpochRun(weights, train_losses, val_losses, epochs_run,
                    tracker.best_epoch if tracker is not None else None,
                    tracker.stopped_epoch if tracker is not None else None)
