"""Early stopping: the same stopping epoch, the same best epoch and the same restored weights.

The catalogue's runs over-fit a small noisy training set, so the validation loss turns up after a few
epochs. Before comparing, the check verifies on the oracle's curve that every improve/no-improve decision
(value < best - min_delta) has a margin of at least ten times the training-curve tolerance: a conforming
implementation can then not legitimately decide differently, and a different stopping epoch is a real
divergence.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from mlpbench.conformance.checks.base import CheckContext, check_kind
from mlpbench.conformance.checks.common import draw_params
from mlpbench.conformance.checks.training import (
    compare_training,
    curve_sizes,
    oracle_training,
    save_request,
    steps_per_epoch,
)
from mlpbench.impls.interface import TrainRequest
from mlpbench.reference.early_stopping import EarlyStopping
from mlpbench.reference.optim import hyperparameters
from mlpbench.reference.training import TrainingResult, make_batch_orders

MARGIN = 10.0
"""Every stopping decision of a catalogue case is at least this many tolerances away from a tie."""


def early_stopping_request(ctx: CheckContext) -> TrainRequest:
    """y = tanh(x w) + noise on a few training samples; noise-free validation samples."""
    p = ctx.case.params
    spec = p["spec"]
    params = draw_params(ctx, spec)
    rng = ctx.rng(2)
    w = rng.normal(size=(spec.sizes[0], spec.sizes[-1]))
    x = rng.normal(size=(p["n"], spec.sizes[0]))
    y = np.tanh(x @ w) + p["noise"] * rng.normal(size=(p["n"], spec.sizes[-1]))
    x_val = rng.normal(size=(p["n_val"], spec.sizes[0]))
    y_val = np.tanh(x_val @ w)
    config = EarlyStopping(monitor=p["monitor"], patience=p["patience"], min_delta=p["min_delta"],
                           restore_best_weights=p["restore_best_weights"])
    orders = make_batch_orders(p["n"], p["epochs"], ctx.case.seed)
    return TrainRequest(spec=spec, params=params, x=ctx.cast(x), y=ctx.cast(y), loss=p["loss"],
                        optimizer=p["optimizer"], hyper=hyperparameters(p["optimizer"], **p["hyper"]),
                        epochs=p["epochs"],
                        batch_size=p["batch_size"], batch_orders=orders,
                        x_val=ctx.cast(x_val), y_val=ctx.cast(y_val), early_stopping=config)


def _config(request: TrainRequest) -> EarlyStopping:
    """The early stopping of a request `early_stopping_request` built (it always has one)."""
    if request.early_stopping is None:
        raise ValueError("an early-stopping case's request has no early_stopping configuration")
    return request.early_stopping


def decision_margin(ctx: CheckContext, request: TrainRequest, expected: TrainingResult) -> float:
    """The smallest distance of a monitored value from its improvement threshold, in tolerances."""
    config = _config(request)
    values = expected.val_loss if config.monitor == "val_loss" else expected.train_loss
    sizes, per_epoch = curve_sizes(request.spec, request), steps_per_epoch(request)
    best, worst_ratio = None, float("inf")
    for epoch, value in enumerate(values):
        if best is not None:
            threshold = best - config.min_delta if config.mode == "min" else best + config.min_delta
            tol = ctx.tol("training_curve", value, steps=(epoch + 1) * per_epoch, **sizes)
            worst_ratio = min(worst_ratio, abs(value - threshold) / (tol.atol + tol.rtol * abs(value)))
        improved = best is None or (value < best - config.min_delta if config.mode == "min"
                                    else value > best + config.min_delta)
        if improved:
            best = value
    return worst_ratio


def monitored(config: EarlyStopping, result: TrainingResult) -> list[float]:
    return list(result.val_loss if config.monitor == "val_loss" else result.train_loss)


def boundary_min_delta(ctx: CheckContext, request: TrainRequest, epoch: int, ratio: float) -> float:
    """The min_delta at which the oracle's improvement at `epoch` (over the best before it, trained without
    stopping) is `ratio` times min_delta: 1.5 counts as an improvement, 0.7 does not, and a min_delta
    applied 1.5 (or 1 / 0.7) times too large or too small flips that one decision."""
    config = _config(request)
    free = oracle_training(ctx, replace(request, early_stopping=replace(config, min_delta=0.0,
                                                                        patience=request.epochs)))
    values = monitored(config, free)
    improvement = min(values[:epoch]) - values[epoch]
    if improvement <= 0:
        raise RuntimeError(f"catalogue case {ctx.case.id}: epoch {epoch} does not improve on the oracle's curve")
    return improvement / ratio


@check_kind("early_stopping")
def check_early_stopping(ctx: CheckContext) -> None:
    request = early_stopping_request(ctx)
    boundary = ctx.case.params.get("boundary")
    if boundary is not None:  # min_delta derived from the oracle's own curve (see boundary_min_delta)
        min_delta = boundary_min_delta(ctx, request, boundary["epoch"], boundary["ratio"])
        request = replace(request, early_stopping=replace(_config(request), min_delta=min_delta))
        ctx.details["min_delta"] = min_delta
    save_request(ctx, request)
    expected = oracle_training(ctx, request)
    margin = decision_margin(ctx, request, expected)
    ctx.details.update(oracle_stopped_epoch=expected.stopped_epoch, oracle_best_epoch=expected.best_epoch,
                       decision_margin_in_tolerances=margin)
    if expected.stopped_epoch is None or margin < MARGIN:
        raise RuntimeError(
            f"catalogue case {ctx.case.id} is not decisive (oracle stopped at {expected.stopped_epoch}, "
            f"closest decision {margin:.3g} tolerances from a tie; need a stop and >= {MARGIN:g})"
        )
    config = _config(request)
    if config.min_delta > 0:
        without = oracle_training(ctx, replace(request, early_stopping=replace(config, min_delta=0.0)))
        if (without.stopped_epoch, without.best_epoch) == (expected.stopped_epoch, expected.best_epoch):
            raise RuntimeError(f"catalogue case {ctx.case.id} does not depend on min_delta (the oracle stops "
                               f"at the same epoch with the same best epoch without it)")
    result = ctx.call("train", replace(request))

    def stopping_epochs(actual: Any) -> None:
        ctx.value("stopped epoch", getattr(actual, "stopped_epoch", "missing"), expected.stopped_epoch)
        ctx.value("best epoch", getattr(actual, "best_epoch", "missing"), expected.best_epoch)

    compare_training(ctx, request, result, expected, after_curves=stopping_epochs)
