"""A sequential MLP as functions of (spec, params): initialization, forward, backward, loss and gradients.

For dense layers l = 0 .. L-1 with a_0 = x:

    z_l = a_l W_l^T + b_l                                  (pre-activation)
    h_l = f(z_l)            for hidden layers, f = spec.activation
    a_{l+1} = h_l * m_l / (1 - p)   with keep-mask m_l     (inverted dropout, training mode only)
    output = g(z_{L-1})     g = spec.output_activation

Backward is the chain rule run from the output to the input: with delta = dL/dz_l,

    dL/dW_l = delta^T a_l,   dL/db_l = sum over the batch of delta,   dL/da_l = delta W_l,
    dL/dz_{l-1} = f'(z_{l-1}) * (dL/da_l * m_{l-1} / (1 - p)).

Parameters are a flat list [W0, b0, W1, b1, ...] in PyTorch's layout (W_l has shape (out, in)).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlpbench.reference import init as initializers
from mlpbench.reference.activations import Activation, get_activation
from mlpbench.reference.conventions import PYTORCH, Conventions
from mlpbench.reference.layers import dense_backward, dense_forward, dropout_backward, dropout_forward
from mlpbench.reference.losses import Loss, get_loss
from mlpbench.reference.spec import MLPSpec


@dataclass
class ForwardCache:
    """What backward needs from a forward pass.

    output: the network's output g(z_{L-1}).
    layer_inputs: a_l, the input of every dense layer (a_0 = x).
    pre_activations: z_l for every dense layer.
    activations: h_l = f(z_l) for every hidden layer (before dropout).
    masks: the keep-mask of every hidden layer (None where no dropout was applied).
    """

    output: np.ndarray
    layer_inputs: list[np.ndarray]
    pre_activations: list[np.ndarray]
    activations: list[np.ndarray]
    masks: list[np.ndarray | None]
    dropout: float = 0.0
    conventions: Conventions = field(default=PYTORCH)


@dataclass
class ModelGradients:
    """The output, the loss, dL/d(params) in [W0, b0, ...] order, and dL/dx."""

    output: np.ndarray
    loss: np.ndarray
    param_grads: list[np.ndarray]
    input_grad: np.ndarray


def hidden_activation(spec: MLPSpec, conventions: Conventions = PYTORCH) -> tuple[Activation, dict[str, Any]]:
    """The hidden activation and its keyword parameters (spec's, with the convention's GELU form)."""
    return _activation_with_params(spec.activation, spec.activation_kwargs(), conventions)


def output_activation(spec: MLPSpec, conventions: Conventions = PYTORCH) -> tuple[Activation, dict[str, Any]]:
    """The output activation and its keyword parameters (its defaults, with the convention's GELU form)."""
    return _activation_with_params(spec.output_activation, {}, conventions)


def _activation_with_params(
    name: str, params: Mapping[str, Any], conventions: Conventions
) -> tuple[Activation, dict[str, Any]]:
    activation = get_activation(name)
    return activation, activation_params_for(activation, conventions, params)


def activation_params_for(
    activation: Activation, conventions: Conventions, params: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The activation's keyword parameters: its defaults, the profile's choices, then `params`."""
    return {**activation.default_params, **conventions.activation_defaults(activation.name), **(params or {})}


def activation_backward(
    activation: Activation,
    params: Mapping[str, Any],
    z: np.ndarray,
    y: np.ndarray | None,
    grad_y: np.ndarray,
    conventions: Conventions = PYTORCH,
) -> np.ndarray:
    """dL/dz = f'(z) * dL/dy (the vector-Jacobian product for softmax, which needs y = f(z): None recomputes it).

    The profile's choices (ReLU's derivative at exactly 0, PyTorch: 0) fill what `params` leaves unset.
    """
    return activation.backward(z, y, grad_y, **{**conventions.activation_defaults(activation.name), **params})


def init_params(
    spec: MLPSpec,
    rng: np.random.Generator,
    scheme: str = "linear_default",
    dtype: type | np.dtype = np.float64,
    **scheme_params: Any,
) -> list[np.ndarray]:
    """Initial [W0, b0, W1, b1, ...].

    "linear_default" is nn.Linear's initialization: W and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    Any other name is an initializer of mlpbench.reference.init applied to every weight (with `scheme_params`);
    biases then start at zero.
    """
    params: list[np.ndarray] = []
    for fan_in, fan_out in zip(spec.sizes[:-1], spec.sizes[1:], strict=False):
        if scheme == "linear_default":
            weight, bias = initializers.linear_default(fan_in, fan_out, rng, dtype=dtype)
        else:
            if scheme not in initializers.INITIALIZERS:
                known = ", ".join(sorted(initializers.INITIALIZERS))
                raise ValueError(f"unknown init scheme {scheme!r}; known: linear_default, {known}")
            weight = initializers.INITIALIZERS[scheme]((fan_out, fan_in), rng, dtype=dtype, **scheme_params)
            bias = np.zeros(fan_out, dtype=dtype)
        params += [np.asarray(weight, dtype=dtype), np.asarray(bias, dtype=dtype)]
    return params


def _check_params(spec: MLPSpec, params: list[np.ndarray]) -> None:
    shapes = spec.param_shapes()
    if len(params) != len(shapes):
        raise ValueError(f"{spec.describe()} has {len(shapes)} parameter arrays, got {len(params)}")
    for name, shape, param in zip(spec.param_names(), shapes, params, strict=True):
        if tuple(np.shape(param)) != shape:
            raise ValueError(f"{name} must have shape {shape}, got {tuple(np.shape(param))}")


def forward(
    spec: MLPSpec,
    params: list[np.ndarray],
    x: np.ndarray,
    *,
    training: bool = False,
    dropout_masks: list[np.ndarray] | None = None,
    rng: np.random.Generator | None = None,
    conventions: Conventions = PYTORCH,
) -> ForwardCache:
    """Run the network on x (N, in), keeping what backward needs.

    Dropout acts only when spec.dropout > 0 and training: one keep-mask (N, width) per hidden layer, taken
    from `dropout_masks` or drawn from `rng`.
    """
    _check_params(spec, params)
    hidden, hidden_params = hidden_activation(spec, conventions)
    out_act, out_params = output_activation(spec, conventions)
    n_hidden = spec.n_layers - 1
    use_dropout = training and spec.dropout > 0.0
    if use_dropout and dropout_masks is not None and len(dropout_masks) != n_hidden:
        raise ValueError(f"need {n_hidden} dropout masks (one per hidden layer), got {len(dropout_masks)}")

    a = np.asarray(x)
    layer_inputs: list[np.ndarray] = []
    pre_activations: list[np.ndarray] = []
    activations: list[np.ndarray] = []
    masks: list[np.ndarray | None] = []
    for layer in range(spec.n_layers):
        layer_inputs.append(a)
        z = dense_forward(a, params[2 * layer], params[2 * layer + 1])
        pre_activations.append(z)
        if layer == n_hidden:
            output = out_act.forward(z, **out_params)
            break
        h = hidden.forward(z, **hidden_params)
        activations.append(h)
        mask = dropout_masks[layer] if (use_dropout and dropout_masks is not None) else None
        a, mask = dropout_forward(h, spec.dropout, training=use_dropout, mask=mask, rng=rng)
        masks.append(mask)
    return ForwardCache(output, layer_inputs, pre_activations, activations, masks, spec.dropout, conventions)


def backward(
    spec: MLPSpec,
    params: list[np.ndarray],
    cache: ForwardCache,
    grad_output: np.ndarray,
    *,
    output_fused: bool = False,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Given dL/d(output), return (dL/d[W0, b0, ...], dL/dx) by the chain rule (see the module docstring).

    output_fused: grad_output is already dL/dz of the output layer (the loss fused with its activation).
    """
    conventions = cache.conventions
    hidden, hidden_params = hidden_activation(spec, conventions)
    out_act, out_params = output_activation(spec, conventions)
    last = spec.n_layers - 1
    grad_z = grad_output if output_fused else activation_backward(
        out_act, out_params, cache.pre_activations[last], cache.output, grad_output, conventions
    )
    param_grads: list[np.ndarray] = [np.empty(0)] * (2 * spec.n_layers)
    for layer in range(last, -1, -1):
        grad_w, grad_b, grad_a = dense_backward(cache.layer_inputs[layer], params[2 * layer], grad_z)
        param_grads[2 * layer], param_grads[2 * layer + 1] = grad_w, grad_b
        if layer == 0:
            return param_grads, grad_a
        grad_h = dropout_backward(grad_a, cache.masks[layer - 1], cache.dropout)
        grad_z = activation_backward(
            hidden,
            hidden_params,
            cache.pre_activations[layer - 1],
            cache.activations[layer - 1],
            grad_h,
            conventions,
        )
    raise AssertionError("unreachable: an MLP has at least one layer")


def loss_params_for(loss: Loss, conventions: Conventions, loss_params: Mapping[str, Any] | None) -> dict:
    """The loss's keyword parameters: its defaults, the profile's choices among them, then `loss_params`."""
    profile = {k: v for k, v in conventions.loss_defaults(loss.name).items() if k in loss.default_params}
    return {**loss.default_params, **profile, **(loss_params or {})}


def output_gradient(
    loss: Loss, output_activation_name: str, z: np.ndarray, output: np.ndarray, target: np.ndarray,
    reduction: str, loss_kwargs: Mapping[str, Any],
) -> tuple[np.ndarray, bool]:
    """dL/dz of the output layer when the loss fuses with it (sigmoid + BCE: s(z) - t), else dL/d(output).

    Returns (gradient, fused): fused tells whether the output activation's backward is already included.
    """
    if loss.fused_gradient is not None and output_activation_name == loss.output_activation:
        return loss.fused_gradient(z, target, reduction=reduction, **loss_kwargs), True
    return loss.gradient(output, target, reduction=reduction, **loss_kwargs), False


def resolve_loss(loss: str | Loss) -> Loss:
    return get_loss(loss) if isinstance(loss, str) else loss


def loss_and_gradients(
    spec: MLPSpec,
    params: list[np.ndarray],
    x: np.ndarray,
    target: np.ndarray,
    loss: str | Loss,
    *,
    reduction: str = "mean",
    loss_params: Mapping[str, Any] | None = None,
    training: bool = False,
    dropout_masks: list[np.ndarray] | None = None,
    rng: np.random.Generator | None = None,
    conventions: Conventions = PYTORCH,
) -> ModelGradients:
    """Forward, the loss L = loss(output, target), and backward from dL/d(output).

    With reduction "none" the gradients are those of the sum of the per-element losses.
    """
    loss_fn = resolve_loss(loss)
    kwargs = loss_params_for(loss_fn, conventions, loss_params)
    cache = forward(
        spec, params, x, training=training, dropout_masks=dropout_masks, rng=rng, conventions=conventions
    )
    value = loss_fn.value(cache.output, target, reduction=reduction, **kwargs)
    grad_output, fused = output_gradient(
        loss_fn, spec.output_activation, cache.pre_activations[-1], cache.output, target, reduction, kwargs
    )
    param_grads, input_grad = backward(spec, params, cache, grad_output, output_fused=fused)
    return ModelGradients(cache.output, value, param_grads, input_grad)


def predict(
    spec: MLPSpec, params: list[np.ndarray], x: np.ndarray, *, conventions: Conventions = PYTORCH
) -> np.ndarray:
    """The network's output in evaluation mode (no dropout)."""
    return forward(spec, params, x, training=False, conventions=conventions).output
