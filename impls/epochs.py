"""The mini-batch epoch loop of every engine, written once: `run_epochs`.

The loop follows the suite's batch orders (consecutive slices of each epoch's permutation), records the
sample-weighted training loss of each epoch and the evaluation-mode validation loss after it, applies early
stopping with the oracle's tracker and, when the configuration asks for it, puts the best epoch's weights back.

What an engine does inside the loop is an `EpochSteps`: train one batch, take the validation loss, copy and
restore the weights. `FunctionalSteps` serves the functional engines (JAX with optax, Keras 3's stateless API),
whose step takes the weights and the optimizer state and returns new ones with the batch's loss:
`step(weights, opt_state, xb, yb) -> (weights, opt_state, loss)`. The torch engines, which train a module in
place, use `mlpbench.impls.torch_impl.ModuleSteps` (one process, or one rank of a data-parallel run).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlpbench.impls.interface import TrainRequest, TrainResult
from mlpbench.reference.early_stopping import EarlyStopping, EarlyStoppingTracker


@dataclass
class EpochRun:
    weights: Any = None  # the final weights: the best epoch's when early stopping restores them
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    epochs_run: int = 0
    best_epoch: int | None = None
    stopped_epoch: int | None = None

    def result(self, params: list[np.ndarray]) -> TrainResult:
        """The run as the interface's TrainResult, with `params` (the final weights as NumPy arrays)."""
        return TrainResult(params=params, train_loss=self.train_loss, val_loss=self.val_loss,
                           epochs_run=self.epochs_run, best_epoch=self.best_epoch, stopped_epoch=self.stopped_epoch)


def suite_batches(request: TrainRequest, epoch: int) -> Iterator[np.ndarray]:
    """The suite's batches of `epoch`: consecutive slices of request.batch_orders[epoch]."""
    order = np.asarray(request.batch_orders[epoch])
    for start in range(0, len(order), request.batch_size):
        yield order[start:start + request.batch_size]


def check_request(request: TrainRequest) -> None:
    """Refuse a request the loop cannot run: a batch order missing, or val_loss monitored without validation data."""
    config = request.early_stopping
    if config is not None and config.monitor == "val_loss" and request.x_val is None:
        raise ValueError("early stopping monitors val_loss but no validation data was given")
    if len(request.batch_orders) < request.epochs:
        raise ValueError(
            f"{request.epochs} epochs need {request.epochs} batch orders, got {len(request.batch_orders)}")


@dataclass
class EpochSteps(ABC):
    """An engine's side of the epoch loop for one training request."""

    request: TrainRequest

    def batches(self, epoch: int) -> Iterable[np.ndarray]:
        """The row indices of each batch of `epoch`, in training order."""
        return suite_batches(self.request, epoch)

    def tracker(self, config: EarlyStopping) -> EarlyStoppingTracker:
        return EarlyStoppingTracker(config)

    @abstractmethod
    def train_batch(self, rows: np.ndarray) -> float:
        """One optimizer step on the batch of these rows; the batch's loss."""

    @abstractmethod
    def validate(self) -> float:
        """The evaluation-mode loss on the validation data."""

    @abstractmethod
    def snapshot(self) -> Any:
        """A copy of the current weights that later steps leave alone."""

    @abstractmethod
    def restore(self, best: Any) -> None:
        """Make a snapshot the current weights again."""

    @abstractmethod
    def current_weights(self) -> Any:
        """The weights as they stand."""


def train_epoch(steps: EpochSteps, epoch: int) -> float:
    """One pass over the batches of `epoch`; the sample-weighted mean of the batch losses."""
    total, count = 0.0, 0
    for rows in steps.batches(epoch):
        total += steps.train_batch(rows) * len(rows)
        count += len(rows)
    return total / count


def run_epochs(steps: EpochSteps) -> EpochRun:
    """Train for request.epochs epochs or until early stopping stops; see the module docstring."""
    request = steps.request
    check_request(request)
    config = request.early_stopping
    tracker = steps.tracker(config) if config is not None else None
    monitors_val_loss = config is not None and config.monitor == "val_loss"
    restores = config is not None and config.restore_best_weights
    run, best = EpochRun(), None
    for epoch in range(request.epochs):
        run.train_loss.append(train_epoch(steps, epoch))
        if request.x_val is not None:
            run.val_loss.append(steps.validate())
        run.epochs_run = epoch + 1
        if tracker is not None:
            stop = tracker.update(epoch, run.val_loss[-1] if monitors_val_loss else run.train_loss[-1])
            if tracker.best_epoch == epoch:
                best = steps.snapshot()
            if stop:
                break
    if tracker is not None:
        if restores and best is not None:
            steps.restore(best)
        run.best_epoch, run.stopped_epoch = tracker.best_epoch, tracker.stopped_epoch
    run.weights = steps.current_weights()
    return run


@dataclass
class FunctionalSteps(EpochSteps):
    """A functional engine: `step` returns new weights and optimizer state, `evaluate(weights, x, y)` is the
    evaluation-mode loss, `put` moves a batch to the engine's device."""

    weights: Any
    opt_state: Any
    step: Callable[..., tuple]
    evaluate: Callable[[Any, Any, Any], Any]
    put: Callable[[Any], Any] = np.asarray

    def train_batch(self, rows: np.ndarray) -> float:
        xb, yb = self.put(np.asarray(self.request.x)[rows]), self.put(np.asarray(self.request.y)[rows])
        self.weights, self.opt_state, value = self.step(self.weights, self.opt_state, xb, yb)
        return float(value)

    def validate(self) -> float:
        return float(self.evaluate(self.weights, self.put(self.request.x_val), self.put(self.request.y_val)))

    def snapshot(self) -> Any:
        return list(self.weights)

    def restore(self, best: Any) -> None:
        self.weights = best

    def current_weights(self) -> Any:
        return self.weights


def functional_epochs(request: TrainRequest, weights: Any, opt_state: Any, step: Callable[..., tuple],
                      evaluate: Callable[[Any, Any, Any], Any], put: Callable[[Any], Any] = np.asarray
                      ) -> EpochRun:
    """`run_epochs` for a functional engine (see FunctionalSteps)."""
    return run_epochs(FunctionalSteps(request, weights, opt_state, step, evaluate, put))
