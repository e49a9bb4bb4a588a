"""Inputs and comparisons shared by the checks of whole networks (model, dropout, training, determinism,
devices): suite-drawn parameters, data and targets, and the comparison of a forward-backward result with the
oracle's in the order backpropagation computes it."""

from __future__ import annotations

from typing import Any

import numpy as np

from mlpbench.conformance.checks.base import CheckContext, CheckFailed
from mlpbench.conformance.compare import describe_type
from mlpbench.reference.losses import get_loss
from mlpbench.reference.model import ModelGradients, init_params
from mlpbench.reference.spec import MLPSpec


def draw_params(ctx: CheckContext, spec: MLPSpec, stream: int = 1) -> list[np.ndarray]:
    """nn.Linear's default initialization drawn by the suite, in the dtype under test."""
    return [ctx.cast(p) for p in init_params(spec, ctx.rng(stream))]


def draw_data(ctx: CheckContext, spec: MLPSpec, loss: str, n: int, stream: int = 2
              ) -> tuple[np.ndarray, np.ndarray]:
    """x ~ N(0, 1) of shape (n, in) and a target suited to the loss."""
    rng = ctx.rng(stream)
    x = ctx.cast(rng.normal(size=(n, spec.sizes[0])))
    return x, draw_target(ctx, rng, loss, n, spec.sizes[-1])


def draw_network_case(ctx: CheckContext, spec: MLPSpec, loss: str, batch: int
                      ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """The suite's parameters, inputs and targets for a network case, saved for its repro file."""
    params = draw_params(ctx, spec)
    x, target = draw_data(ctx, spec, loss, batch)
    ctx.save(params=params, x=x, target=target)
    return params, x, target


def draw_target(ctx: CheckContext, rng: np.random.Generator, loss: str, n: int, outputs: int) -> np.ndarray:
    """The loss's own target draw (mlpbench.reference.losses.Loss.draw_target), float targets in the dtype under
    test."""
    target = get_loss(loss).draw_target(rng, n, outputs)
    return target if target.dtype.kind == "i" else ctx.cast(target)


def to_oracle(array: np.ndarray) -> np.ndarray:
    """The implementation-dtype array as the oracle sees it: float64 (integer targets stay integer)."""
    return array if array.dtype.kind in "iub" else array.astype(np.float64)


def model_result_fields(ctx: CheckContext, result: Any, spec: MLPSpec) -> tuple[Any, Any, list, Any]:
    """(output, loss, param_grads, input_grad) of a ModelResult, failing the check if it is malformed."""
    missing = [f for f in ("output", "loss", "param_grads", "input_grad") if not hasattr(result, f)]
    if missing:
        raise CheckFailed(f"forward_backward returned {describe_type(result)} without {', '.join(missing)}")
    grads = ctx.list_of_arrays("forward_backward param_grads", result.param_grads, 2 * spec.n_layers)
    return result.output, result.loss, grads, result.input_grad


def gradient_tolerance_sizes(spec: MLPSpec, batch: int) -> dict[str, int]:
    """Dot products in backward run over widths and over the batch; one more 'layer' for the loss."""
    return {"fan_in": max(max(spec.sizes), batch), "depth": spec.n_layers + 1}


def compare_model_result(ctx: CheckContext, spec: MLPSpec, result: Any, expected: ModelGradients, batch: int,
                         *, factor: float = 1.0, prefix: str = "") -> None:
    """Output, loss, then parameter gradients from the last layer to the first, then the input gradient: the
    order backpropagation computes them, so the first failing one is where the error entered."""
    output, loss, grads, input_grad = model_result_fields(ctx, result, spec)
    forward_sizes = {"fan_in": max(spec.sizes[:-1]), "depth": spec.n_layers}
    backward_sizes = gradient_tolerance_sizes(spec, batch)

    def tol(quantity: str, reference: Any, **sizes: int):
        base = ctx.tol(quantity, reference, **sizes)
        reason = base.reason + (f" x{factor:g}" if factor != 1 else "")
        return type(base)(base.rtol * factor, base.atol * factor, reason)

    ctx.compare(f"{prefix}output", output, expected.output, tol("forward", expected.output, **forward_sizes))
    loss_sizes = {"fan_in": forward_sizes["fan_in"], "depth": spec.n_layers + 1}
    ctx.compare(f"{prefix}loss", loss, expected.loss, tol("forward", expected.loss, **loss_sizes))
    names = spec.param_names()
    for index in reversed(range(len(names))):
        ctx.compare(f"{prefix}{names[index]} grad", grads[index], expected.param_grads[index],
                    tol("gradient", expected.param_grads[index], **backward_sizes))
    ctx.compare(f"{prefix}input grad", input_grad, expected.input_grad,
                tol("gradient", expected.input_grad, **backward_sizes))


def counterpart_gradients(result: Any) -> ModelGradients:
    """A trusted counterpart implementation's forward_backward result as the expected side of a comparison."""
    return ModelGradients(result.output, result.loss, list(result.param_grads), result.input_grad)
