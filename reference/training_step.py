"""One training step (forward, loss, backward, optimizer) with buffers reused across steps: the fast sibling.

`TrainingStep(spec, ...)(params, x, target)` computes exactly what

    result = loss_and_gradients(spec, params, x, target, loss)
    optimizer.step(params, result.param_grads, state, hyper, inplace=True)

computes (mlpbench.reference.model, mlpbench.reference.optim; tested equal in
suites/reference/test_oracle_training.py), arranged
for speed: matrix products into preallocated arrays, ReLU in place, and cross-entropy on logits fused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mlpbench.reference.activations import Activation
from mlpbench.reference.conventions import PYTORCH, Conventions
from mlpbench.reference.losses import Loss
from mlpbench.reference.model import (
    activation_backward,
    hidden_activation,
    loss_params_for,
    output_activation,
    output_gradient,
    resolve_loss,
)
from mlpbench.reference.optim import Optimizer, resolve_optimizer
from mlpbench.reference.spec import MLPSpec


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
        self.optimizer, self.hyper = resolve_optimizer(optimizer, hyper, conventions)
        self.hidden: tuple[Activation, dict[str, Any]] = hidden_activation(spec, conventions)
        self.output: tuple[Activation, dict[str, Any]] = output_activation(spec, conventions)
        self.fast_relu = spec.activation == "relu" and self.hidden[1].get("grad_at_zero", 0.0) == 0.0
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
        delta[ws.rows, target] = -delta.sum(axis=1)
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
