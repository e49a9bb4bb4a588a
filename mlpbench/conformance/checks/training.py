"""Mini-batch training: the loss of every epoch and the final parameters against the oracle's training loop.

The suite supplies everything random: initial parameters, data, and the batch order of every epoch (batches
are consecutive slices of it; the last may be smaller). Compared in epoch order: the training loss (the
sample-weighted mean of the batch losses, each computed before its update), the validation loss after the
epoch, then the number of epochs run and the final parameters. Errors grow with every optimizer step, so the
tolerance grows with the number of steps taken up to the epoch compared.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from mlpbench.conformance.checks.base import CheckContext, CheckFailed, check_kind
from mlpbench.conformance.checks.common import draw_params, draw_target, to_oracle
from mlpbench.impls.interface import TrainRequest
from mlpbench.reference.early_stopping import EarlyStopping
from mlpbench.reference.optim import hyperparameters, make_hyper
from mlpbench.reference.spec import MLPSpec
from mlpbench.reference.training import TrainingResult, evaluate_loss, make_batch_orders, train


def build_request(ctx: CheckContext, p: Any, *, early_stopping: EarlyStopping | None = None) -> TrainRequest:
    """The training run a case describes, every random input drawn by the suite."""
    spec = p["spec"]
    params = draw_params(ctx, spec)
    rng = ctx.rng(2)
    n = p["n"]
    x = ctx.cast(rng.normal(size=(n, spec.sizes[0])))
    y = draw_target(ctx, rng, p["loss"], n, spec.sizes[-1])
    x_val = y_val = None
    if p.get("validation", True):
        x_val = ctx.cast(rng.normal(size=(max(8, n // 2), spec.sizes[0])))
        y_val = draw_target(ctx, rng, p["loss"], len(x_val), spec.sizes[-1])
    orders = make_batch_orders(n, p["epochs"], ctx.case.seed)
    return TrainRequest(spec=spec, params=params, x=x, y=y, loss=p["loss"], optimizer=p["optimizer"],
                        hyper=hyperparameters(p["optimizer"], **p["hyper"]), epochs=p["epochs"],
                        batch_size=p["batch_size"],
                        batch_orders=orders, x_val=x_val, y_val=y_val, early_stopping=early_stopping,
                        dropout_seed=ctx.case.seed, **p.get("clip", {}))


def save_request(ctx: CheckContext, request: TrainRequest) -> None:
    ctx.save(params=request.params, x=request.x, y=request.y, x_val=request.x_val, y_val=request.y_val,
             batch_orders=request.batch_orders)


def oracle_training(ctx: CheckContext, request: TrainRequest) -> TrainingResult:
    """The oracle's run on the same (rounded) inputs in float64, under the implementation's conventions."""
    return train(
        request.spec, [to_oracle(w) for w in request.params], to_oracle(request.x), to_oracle(request.y),
        loss=request.loss, optimizer=request.optimizer, hyper=make_hyper(request.optimizer, **request.hyper),
        epochs=request.epochs, batch_size=request.batch_size, batch_orders=request.batch_orders,
        x_val=None if request.x_val is None else to_oracle(request.x_val),
        y_val=None if request.y_val is None else to_oracle(request.y_val),
        early_stopping=request.early_stopping, conventions=ctx.conventions,
        clip_grad_norm=request.clip_grad_norm, clip_grad_value=request.clip_grad_value,
    )


def curve_sizes(spec: MLPSpec, request: TrainRequest) -> dict[str, int]:
    return {"fan_in": max(max(spec.sizes), request.batch_size), "depth": spec.n_layers + 1}


def steps_per_epoch(request: TrainRequest) -> int:
    return math.ceil(len(request.x) / request.batch_size)


def result_fields(result: Any) -> Any:
    missing = [f for f in ("params", "train_loss", "val_loss", "epochs_run") if not hasattr(result, f)]
    if missing:
        raise CheckFailed(f"train returned {type(result).__name__} without {', '.join(missing)}")
    for name in ("train_loss", "val_loss"):
        if not isinstance(getattr(result, name), (list, tuple)):
            kind = type(getattr(result, name)).__name__
            raise CheckFailed(f"train result {name} is a {kind}, expected a list")
    return result


def compare_training(ctx: CheckContext, request: TrainRequest, result: Any, expected: TrainingResult,
                     *, factor: float = 1.0, prefix: str = "", after_curves: Any = None) -> None:
    """Curves epoch by epoch, then `after_curves(result)` if given, then epochs run and the final parameters."""
    result = result_fields(result)
    sizes = curve_sizes(request.spec, request)
    per_epoch = steps_per_epoch(request)

    def tol(reference: Any, steps: int):
        base = ctx.tol("training_curve", reference, steps=steps, **sizes)
        return type(base)(base.rtol * factor, base.atol * factor, base.reason)

    for epoch in range(len(expected.train_loss)):
        steps = (epoch + 1) * per_epoch
        if epoch < len(result.train_loss):
            wanted = np.float64(expected.train_loss[epoch])
            ctx.compare(f"{prefix}train loss at epoch {epoch}", np.float64(result.train_loss[epoch]), wanted,
                        tol(wanted, steps), check_dtype=False)
        if epoch < len(expected.val_loss) and epoch < len(result.val_loss):
            wanted = np.float64(expected.val_loss[epoch])
            ctx.compare(f"{prefix}validation loss after epoch {epoch}", np.float64(result.val_loss[epoch]),
                        wanted, tol(wanted, steps), check_dtype=False)
    if after_curves is not None:
        after_curves(result)
    ctx.value(f"{prefix}number of train loss entries", len(result.train_loss), len(expected.train_loss))
    ctx.value(f"{prefix}number of validation loss entries", len(result.val_loss), len(expected.val_loss))
    ctx.value(f"{prefix}epochs run", result.epochs_run, expected.epochs_run)
    params = ctx.list_of_arrays("train result params", result.params, len(expected.params))
    total_steps = max(1, expected.epochs_run) * per_epoch
    for name, actual, wanted in zip(request.spec.param_names(), params, expected.params, strict=True):
        ctx.compare(f"{prefix}final {name}", actual, wanted, tol(wanted, total_steps))


def compare_training_with_counterpart(ctx: CheckContext, counterpart: Any, p: Any, prefix: str) -> None:
    """Train the implementation and a trusted counterpart (its CPU or single-process twin) on one SGD request.
    Each errs from the exact run by at most one oracle tolerance, so they must agree within twice that."""
    request = build_request(ctx, {**p, "optimizer": "sgd", "hyper": {"lr": 0.1}})
    trusted = counterpart.train(request)
    result = ctx.call("train", request)
    expected = TrainingResult(list(trusted.params), list(trusted.train_loss), list(trusted.val_loss),
                              trusted.epochs_run, trusted.best_epoch, trusted.stopped_epoch)
    compare_training(ctx, request, result, expected, factor=2.0, prefix=prefix)


def check_dropout_training(ctx: CheckContext, request: TrainRequest) -> None:
    """Training with the implementation's own dropout masks, which the oracle cannot replay: the epochs run,
    finite parameters, and the last validation loss equal to the evaluation-mode (no dropout) loss of the
    returned parameters on the validation data."""
    result = result_fields(ctx.call("train", request))
    ctx.value("epochs run", result.epochs_run, request.epochs)
    ctx.value("number of validation loss entries", len(result.val_loss), request.epochs)
    params = ctx.list_of_arrays("train result params", result.params, 2 * request.spec.n_layers)
    for name, actual, given in zip(request.spec.param_names(), params, request.params, strict=True):
        if ctx.structure(f"final {name} shape, dtype and finiteness", actual, given.shape).problem:
            return
    if not result.val_loss:
        return
    if request.x_val is None or request.y_val is None:
        raise ValueError("a dropout training case's request has no validation data")
    spec = dataclasses.replace(request.spec, dropout=0.0)
    expected = evaluate_loss(spec, [to_oracle(np.asarray(w)) for w in params], to_oracle(request.x_val),
                             to_oracle(request.y_val), loss=request.loss, conventions=ctx.conventions)
    sizes = {"fan_in": max(spec.sizes[:-1]), "depth": spec.n_layers + 1}
    ctx.compare("validation loss after the last epoch (evaluation mode, at the returned parameters)",
                np.float64(result.val_loss[-1]), np.float64(expected),
                ctx.tol("forward", expected, **sizes), check_dtype=False)


@check_kind("training")
def check_training(ctx: CheckContext) -> None:
    request = build_request(ctx, ctx.case.params)
    save_request(ctx, request)
    ctx.details["spec"] = request.spec.describe()
    if request.spec.dropout > 0:
        check_dropout_training(ctx, request)
        return
    expected = oracle_training(ctx, request)
    result = ctx.call("train", request)
    compare_training(ctx, request, result, expected)
