"""Training loops: mini-batch training with an optimizer and early stopping; full-batch gradient descent.

Mini-batch training, epoch e = 0, 1, ...:

    for each batch B of the epoch's order (consecutive slices of a permutation of the samples):
        L_B = loss(model(x_B), y_B);  g = dL_B/dparams;  params <- optimizer(params, g)
    train_loss[e] = sum_B |B| L_B / N    (sample-weighted mean of the batch losses, each before its update)
    val_loss[e]   = loss(model(x_val), y_val) in evaluation mode, after the epoch

`train` and `gradient_descent` are the readable reference. `TrainingStep` is the same step with preallocated
buffers, for speed (tested equal to `loss_and_gradients` + the optimizer).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reference.activations import Activation
from reference.conventions import PYTORCH, Conventions
from reference.early_stopping import EarlyStopping, EarlyStoppingTracker
from reference.losses import Loss
from reference.model import (
    activation_backward,
    hidden_activation,
    loss_and_gradients,
    loss_params_for,
    output_activation,
    output_gradient,
    predict,
    resolve_loss,
)
from reference.optim import Optimizer, apply_conventions, get_optimizer
from reference.spec import MLPSpec


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


def _resolve_optimizer(
    optimizer: str | Optimizer, hyper: Any, conventions: Conventions
) -> tuple[Optimizer, Any]:
    entry = get_optimizer(optimizer) if isinstance(optimizer, str) else optimizer
    if hyper is None:
        hyper = entry.hyper_class()
    return entry, apply_conventions(hyper, conventions)


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
) -> TrainingResult:
    """Mini-batch training (see the module docstring); `params` are copied, never modified.

    Batch orders: `batch_orders[e]` for epoch e, else `make_batch_orders(N, epochs, seed)`.
    Dropout masks (spec.dropout > 0) are drawn from `dropout_rng`, batch by batch, layer by layer.
    Early stopping watches val_loss (needs x_val, y_val) or train_loss; with restore_best_weights the result
    holds the params of the best epoch.
    """
    n_samples = len(x)
    if batch_orders is None:
        if seed is None:
            raise ValueError("give either batch_orders or a seed to draw them from")
        batch_orders = make_batch_orders(n_samples, epochs, seed)
    if len(batch_orders) < epochs:
        raise ValueError(f"need a batch order for each of the {epochs} epochs, got {len(batch_orders)}")
    has_val = x_val is not None and y_val is not None
    if early_stopping is not None and early_stopping.monitor == "val_loss" and not has_val:
        raise ValueError("early stopping on val_loss needs x_val and y_val")
    if spec.dropout > 0.0 and dropout_rng is None:
        raise ValueError("a spec with dropout needs dropout_rng to draw the masks")
    entry, hyper = _resolve_optimizer(optimizer, hyper, conventions)
    loss_fn = resolve_loss(loss)

    params = [np.array(p, copy=True) for p in params]
    state: dict = {}
    tracker = EarlyStoppingTracker(early_stopping) if early_stopping is not None else None
    best_params: list[np.ndarray] | None = None
    result = TrainingResult(params)
    for epoch in range(epochs):
        order = np.asarray(batch_orders[epoch])
        if sorted(order.tolist()) != list(range(n_samples)):
            raise ValueError(f"batch order of epoch {epoch} is not a permutation of range({n_samples})")
        weighted_sum = 0.0
        for batch in batches(order, batch_size):
            step = loss_and_gradients(
                spec, params, x[batch], y[batch], loss_fn, loss_params=loss_params, training=True,
                rng=dropout_rng, conventions=conventions,
            )
            weighted_sum += float(step.loss) * len(batch)
            params, state = entry.step(params, step.param_grads, state, hyper, inplace=True)
        result.train_loss.append(weighted_sum / n_samples)
        if has_val:
            val = evaluate_loss(
                spec, params, x_val, y_val, loss_fn, loss_params=loss_params, conventions=conventions
            )
            result.val_loss.append(val)
        result.epochs_run = epoch + 1
        if tracker is not None:
            monitored = result.val_loss[-1] if tracker.config.monitor == "val_loss" else result.train_loss[-1]
            improved = tracker.improves(monitored)
            stop = tracker.update(epoch, monitored)
            if improved and tracker.config.restore_best_weights:
                best_params = [p.copy() for p in params]
            if stop:
                break
    if tracker is not None:
        result.best_epoch, result.stopped_epoch = tracker.best_epoch, tracker.stopped_epoch
    result.params = best_params if best_params is not None else params
    return result


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


class _Workspace:
    """Buffers for one batch size: pre-activations z_l (activated in place), ReLU masks, deltas dL/dz_l."""

    def __init__(self, spec: MLPSpec, batch: int, dtype: np.dtype) -> None:
        widths = spec.sizes[1:]
        self.z = [np.empty((batch, width), dtype) for width in widths]
        self.delta = [np.empty((batch, width), dtype) for width in widths]
        self.positive = [np.empty((batch, width), bool) for width in widths[:-1]]
        self.row_max = np.empty((batch, 1), dtype)
        self.row_sum = np.empty((batch, 1), dtype)
        self.rows = np.arange(batch)


class TrainingStep:
    """One training step (forward, loss, backward, optimizer) with buffers reused across steps.

    The same mathematics as `loss_and_gradients` followed by `optimizer.step(..., inplace=True)`, arranged for
    speed: matrix products write into preallocated arrays (np.matmul(..., out=)), ReLU is applied in place and
    its backward multiplies by the stored mask z > 0, and cross-entropy on logits with class indices is fused
    (dL/dz = (softmax(z) - onehot(t)) / N). Other activations and losses use the reference functions.
    No dropout. `params` passed to a call are updated in place; `grads` and `state` stay available.
    """

    def __init__(
        self,
        spec: MLPSpec,
        *,
        loss: str | Loss = "cross_entropy",
        optimizer: str | Optimizer = "adam",
        hyper: Any = None,
        loss_params: Mapping[str, Any] | None = None,
        conventions: Conventions = PYTORCH,
        dtype: type | np.dtype = np.float64,
    ) -> None:
        if spec.dropout > 0.0:
            raise ValueError("TrainingStep has no dropout; use loss_and_gradients with masks")
        self.spec = spec
        self.dtype = np.dtype(dtype)
        self.conventions = conventions
        self.loss = resolve_loss(loss)
        self.loss_kwargs = loss_params_for(self.loss, conventions, loss_params)
        self.optimizer, self.hyper = _resolve_optimizer(optimizer, hyper, conventions)
        self.hidden: tuple[Activation, dict[str, Any]] = hidden_activation(spec, conventions)
        self.output: tuple[Activation, dict[str, Any]] = output_activation(spec, conventions)
        self.fast_relu = spec.activation == "relu" and conventions.relu_grad_at_zero == 0.0
        self.fused_cross_entropy = (
            self.loss.name == "cross_entropy" and spec.output_activation == "identity" and not loss_params
        )
        self.grads = [np.zeros(shape, self.dtype) for shape in spec.param_shapes()]
        self.state: dict = {}
        self._workspaces: dict[int, _Workspace] = {}

    def _workspace(self, batch: int) -> _Workspace:
        if batch not in self._workspaces:
            self._workspaces[batch] = _Workspace(self.spec, batch, self.dtype)
        return self._workspaces[batch]

    def _cross_entropy(
        self, logits: np.ndarray, target: np.ndarray, ws: _Workspace, delta: np.ndarray
    ) -> float:
        """L = mean_n (log sum_c exp(z_nc) - z_n,t_n); dL/dz = (softmax(z) - onehot(t)) / N -> delta."""
        n = logits.shape[0]
        np.max(logits, axis=1, keepdims=True, out=ws.row_max)
        np.subtract(logits, ws.row_max, out=delta)               # shifted logits s = z - max z
        picked = delta[ws.rows, target]                          # s_n,t_n
        np.exp(delta, out=delta)
        np.sum(delta, axis=1, keepdims=True, out=ws.row_sum)
        value = float(np.mean(np.log(ws.row_sum[:, 0]) - picked))
        ws.row_sum *= n
        np.divide(delta, ws.row_sum, out=delta)                  # softmax / N
        delta[ws.rows, target] = 0.0                             # (softmax_t - 1) / N = -sum_{c != t} softmax_c / N
        delta[ws.rows, target] = -np.sum(delta, axis=1)
        return value

    def gradients(self, params: list[np.ndarray], x: np.ndarray, target: np.ndarray) -> float:
        """Fill self.grads with dL/dparams for the batch (x, target); return the loss L (mean reduction)."""
        spec, ws = self.spec, self._workspace(x.shape[0])
        last = spec.n_layers - 1
        hidden, hidden_kwargs = self.hidden
        hidden_inputs: list[np.ndarray] = []   # z_l before activation, kept only for non-ReLU activations
        a = x
        for layer in range(spec.n_layers):
            z = ws.z[layer]
            np.matmul(a, params[2 * layer].T, out=z)
            z += params[2 * layer + 1]
            if layer < last:
                if self.fast_relu:
                    np.greater(z, 0.0, out=ws.positive[layer])
                    np.maximum(z, 0.0, out=z)
                else:
                    hidden_inputs.append(z.copy())
                    z[...] = hidden.forward(z, **hidden_kwargs)
            a = z

        delta = ws.delta[last]
        if self.fused_cross_entropy and np.ndim(target) == 1:   # class indices
            value = self._cross_entropy(ws.z[last], target, ws, delta)
        else:
            out_act, out_kwargs = self.output
            logits = ws.z[last]
            output = out_act.forward(logits, **out_kwargs)
            value = float(self.loss.value(output, target, **self.loss_kwargs))
            grad_output, fused = output_gradient(
                self.loss, out_act.name, logits, output, target, "mean", self.loss_kwargs
            )
            delta[...] = grad_output if fused else activation_backward(
                out_act, out_kwargs, logits, output, grad_output, self.conventions
            )

        for layer in range(last, -1, -1):
            layer_input = x if layer == 0 else ws.z[layer - 1]
            np.matmul(delta.T, layer_input, out=self.grads[2 * layer])     # dL/dW = delta^T a
            np.sum(delta, axis=0, out=self.grads[2 * layer + 1])          # dL/db = sum_n delta
            if layer == 0:
                break
            below = ws.delta[layer - 1]
            np.matmul(delta, params[2 * layer], out=below)                # dL/da = delta W
            if self.fast_relu:
                np.multiply(below, ws.positive[layer - 1], out=below)     # relu'(z) = [z > 0]
            else:
                z = hidden_inputs[layer - 1]
                below[...] = activation_backward(
                    hidden, hidden_kwargs, z, ws.z[layer - 1], below, self.conventions
                )
            delta = below
        return value

    def __call__(self, params: list[np.ndarray], x: np.ndarray, target: np.ndarray) -> float:
        """Compute the gradients, update `params` in place with the optimizer, and return the batch loss."""
        value = self.gradients(params, x, target)
        self.optimizer.step(params, self.grads, self.state, self.hyper, inplace=True)
        return value
