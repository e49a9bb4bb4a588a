"""The oracle itself as an implementation: every check of the suite must pass on it (the suite's self-test),
and it is the CPU baseline the benchmarks time.

It computes in the dtype it is handed (the oracle's functions accept any float dtype) and claims everything
the oracle has, in float32 and float64. Dropout masks are drawn from numpy.random.default_rng(dropout_seed),
one (batch, width) keep-mask per hidden layer in layer order, and reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mlpbench.impls.interface import (
    Capabilities,
    Implementation,
    LossClaim,
    ModelResult,
    Trainer,
    TrainRequest,
    TrainResult,
)
from mlpbench.reference import init as initializers
from mlpbench.reference.activations import ACTIVATIONS, get_activation
from mlpbench.reference.layers import draw_dropout_mask, dropout_forward
from mlpbench.reference.losses import LOSSES, get_loss
from mlpbench.reference.model import activation_backward, activation_params_for, loss_and_gradients, loss_params_for
from mlpbench.reference.optim import OPTIMIZERS, get_optimizer, make_hyper, public_state
from mlpbench.reference.spec import MLPSpec
from mlpbench.reference.training import TRAINING_OPTIONS
from mlpbench.reference.training import train as reference_train
from mlpbench.reference.training_step import TrainingStep


def _as(array: Any, dtype: np.dtype) -> np.ndarray:
    return np.asarray(array).astype(dtype, copy=False)


class ReferenceImplementation(Implementation):
    """reference/ (pure NumPy) behind the implementation interface, on the CPU."""

    name = "reference"
    kind = "built-in"
    device = "cpu"
    description = "the NumPy oracle (reference/), in the dtype under test"

    def capabilities(self) -> Capabilities:
        return Capabilities(
            activations=frozenset(ACTIVATIONS),
            losses={name: LossClaim() for name in LOSSES},  # every reduction, target kind, parameter
            initializers=frozenset(initializers.INITIALIZERS),
            optimizers={name: frozenset(entry.options) for name, entry in OPTIMIZERS.items()},
            dtypes=frozenset({"float32", "float64"}),
            model=True,
            training=True,
            early_stopping=True,
            dropout=True,
            deterministic=True,
            training_options=frozenset(TRAINING_OPTIONS),
        )

    # -- helpers
    def activation_params(self, name: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """The activation's defaults, the profile's GELU form unless given, then `params`."""
        activation = get_activation(name)
        activation.params(**params)  # unknown names raise
        return activation_params_for(activation, self.conventions, params)

    def hyper(self, name: str, hyper: Mapping[str, Any]) -> Any:
        """The oracle's hyperparameter dataclass with the profile applied where the caller did not choose."""
        return make_hyper(name, self.conventions, **dict(hyper))

    # -- interface
    def activation(self, name: str, x: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return _as(get_activation(name).forward(np.array(x), **self.activation_params(name, params)), x.dtype)

    def activation_grad(
        self, name: str, x: np.ndarray, grad_y: np.ndarray, params: Mapping[str, Any]
    ) -> np.ndarray:
        activation = get_activation(name)
        kwargs = self.activation_params(name, params)
        x = np.array(x)
        y = activation.forward(x, **kwargs) if activation.derivative is None else None
        grad = activation_backward(activation, kwargs, x, y, np.array(grad_y), self.conventions)
        return _as(grad, x.dtype)

    def loss(
        self, name: str, pred: np.ndarray, target: np.ndarray, reduction: str, params: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        loss = get_loss(name)
        kwargs = loss_params_for(loss, self.conventions, params)
        pred, target = np.array(pred), np.array(target)
        value = loss.value(pred, target, reduction=reduction, **kwargs)
        grad = loss.gradient(pred, target, reduction=reduction, **kwargs)
        return _as(value, pred.dtype), _as(grad, pred.dtype)

    def init(
        self, name: str, shape: tuple[int, ...], params: Mapping[str, Any], seed: int, dtype: str
    ) -> np.ndarray:
        if name not in initializers.INITIALIZERS:
            raise ValueError(f"unknown initializer {name!r}; known: {', '.join(initializers.INITIALIZERS)}")
        rng = np.random.default_rng(seed)
        return _as(
            initializers.INITIALIZERS[name](tuple(shape), rng, dtype=np.dtype(dtype), **params),
            np.dtype(dtype),
        )

    def dropout(self, x: np.ndarray, p: float, training: bool, seed: int) -> np.ndarray:
        y, _ = dropout_forward(np.array(x), p, training=training, rng=np.random.default_rng(seed))
        return _as(y, x.dtype)

    def dropout_masks(self, spec: MLPSpec, batch: int, seed: int | None, dtype: np.dtype) -> list[np.ndarray]:
        """One keep-mask (batch, width) per hidden layer, drawn in layer order from default_rng(seed)."""
        rng = np.random.default_rng(seed)
        return [draw_dropout_mask(rng, (batch, width), spec.dropout, dtype) for width in spec.hidden_sizes]

    def forward_backward(
        self,
        spec: MLPSpec,
        params: Sequence[np.ndarray],
        x: np.ndarray,
        target: np.ndarray,
        loss: str,
        *,
        reduction: str = "mean",
        loss_params: Mapping[str, Any] | None = None,
        training: bool = False,
        dropout_seed: int | None = None,
    ) -> ModelResult:
        dtype = x.dtype
        masks = None
        if training and spec.dropout > 0:
            masks = self.dropout_masks(spec, x.shape[0], dropout_seed, dtype)
        result = loss_and_gradients(
            spec,
            [np.array(p) for p in params],
            np.array(x),
            np.array(target),
            loss,
            reduction=reduction,
            loss_params=loss_params,
            training=training,
            dropout_masks=masks,
            conventions=self.conventions,
        )
        return ModelResult(
            output=_as(result.output, dtype),
            loss=_as(result.loss, dtype),
            param_grads=[_as(g, dtype) for g in result.param_grads],
            input_grad=_as(result.input_grad, dtype),
            dropout_masks=masks,
        )

    def optimizer_run(
        self,
        name: str,
        hyper: Mapping[str, Any],
        params: Sequence[np.ndarray],
        grads_per_step: Sequence[Sequence[np.ndarray]],
    ) -> tuple[list[np.ndarray], dict[str, Any]]:
        entry = get_optimizer(name)
        hyper_object = self.hyper(name, hyper)
        current = [np.array(p, copy=True) for p in params]
        state: dict = {}
        for grads in grads_per_step:
            grads = [_as(g, p.dtype) for g, p in zip(grads, current, strict=True)]
            current, state = entry.step(current, grads, state, hyper_object, inplace=True)
        return current, public_state(state)

    def train(self, request: TrainRequest) -> TrainResult:
        if request.reduction != "mean":
            raise NotImplementedError("the oracle's training loop averages batch losses (reduction 'mean')")
        dtype = np.asarray(request.x).dtype
        result = reference_train(
            request.spec,
            [np.array(p, copy=True) for p in request.params],
            np.array(request.x),
            np.array(request.y),
            loss=request.loss,
            optimizer=request.optimizer,
            hyper=make_hyper(request.optimizer, **dict(request.hyper)),  # the profile is train's to apply
            epochs=request.epochs,
            batch_size=request.batch_size,
            batch_orders=[np.asarray(order) for order in request.batch_orders],
            x_val=request.x_val,
            y_val=request.y_val,
            early_stopping=request.early_stopping,
            loss_params=request.loss_params,
            dropout_rng=np.random.default_rng(request.dropout_seed) if request.spec.dropout > 0 else None,
            conventions=self.conventions,
            clip_grad_norm=request.clip_grad_norm,
            clip_grad_value=request.clip_grad_value,
        )
        return TrainResult(
            params=[_as(p, dtype) for p in result.params],
            train_loss=[float(v) for v in result.train_loss],
            val_loss=[float(v) for v in result.val_loss],
            epochs_run=result.epochs_run,
            best_epoch=result.best_epoch,
            stopped_epoch=result.stopped_epoch,
        )

    def make_trainer(
        self,
        spec: MLPSpec,
        params: Sequence[np.ndarray],
        x: np.ndarray,
        target: np.ndarray,
        loss: str,
        optimizer: str,
        hyper: Mapping[str, Any],
    ) -> Trainer:
        hyper_object = self.hyper(optimizer, hyper)
        if spec.dropout > 0:
            return PlainReferenceTrainer(self, spec, params, x, target, loss, optimizer, hyper_object)
        return FastReferenceTrainer(spec, params, x, target, loss, optimizer, hyper_object, self.conventions)


class FastReferenceTrainer(Trainer):
    """mlpbench.reference.training.TrainingStep (preallocated buffers, fused ReLU and cross-entropy)."""

    def __init__(
        self,
        spec: MLPSpec,
        params: Sequence[np.ndarray],
        x: np.ndarray,
        target: np.ndarray,
        loss: str,
        optimizer: str,
        hyper: Any,
        conventions: Any,
    ) -> None:
        self.params = [np.array(p, copy=True) for p in params]
        self.x, self.target = np.array(x), np.array(target)
        self.training_step = TrainingStep(
            spec, loss=loss, optimizer=optimizer, hyper=hyper, conventions=conventions, dtype=self.x.dtype
        )

    def step(self) -> None:
        self.training_step(self.params, self.x, self.target)


class PlainReferenceTrainer(Trainer):
    """loss_and_gradients then the optimizer in place (the readable path; used where dropout is on)."""

    def __init__(
        self,
        impl: ReferenceImplementation,
        spec: MLPSpec,
        params: Sequence[np.ndarray],
        x: np.ndarray,
        target: np.ndarray,
        loss: str,
        optimizer: str,
        hyper: Any,
    ) -> None:
        self.impl, self.spec, self.loss, self.hyper = impl, spec, loss, hyper
        self.optimizer = get_optimizer(optimizer)
        self.params = [np.array(p, copy=True) for p in params]
        self.x, self.target = np.array(x), np.array(target)
        self.state: dict = {}
        self.rng = np.random.default_rng(0)

    def step(self) -> None:
        result = loss_and_gradients(
            self.spec,
            self.params,
            self.x,
            self.target,
            self.loss,
            training=True,
            rng=self.rng,
            conventions=self.impl.conventions,
        )
        self.optimizer.step(self.params, result.param_grads, self.state, self.hyper, inplace=True)
