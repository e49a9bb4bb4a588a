"""Whole networks: forward and backward over a matrix of depths, widths, activations and losses.

The suite draws the parameters (nn.Linear's default scheme), the data and the targets; the implementation
runs forward, loss and backward; the oracle does the same in float64 on the same (rounded) inputs. Compared:
the output, the loss, every parameter's gradient (last layer first, as backpropagation computes them) and the
gradient with respect to the input.
"""

from __future__ import annotations

from mlpbench.conformance.checks.base import CheckContext, check_kind
from mlpbench.conformance.checks.common import (
    compare_model_result,
    draw_network_case,
    to_oracle,
)
from mlpbench.reference.model import loss_and_gradients


@check_kind("model")
def check_model(ctx: CheckContext) -> None:
    p = ctx.case.params
    spec = p["spec"]
    params, x, target = draw_network_case(ctx, spec, p["loss"], p["batch"])
    ctx.details["spec"] = spec.describe()
    expected = loss_and_gradients(
        spec, [to_oracle(w) for w in params], to_oracle(x), to_oracle(target), p["loss"],
        reduction=p["reduction"], loss_params=dict(p.get("loss_params", {})), conventions=ctx.conventions,
    )
    result = ctx.call("forward_backward", spec, params, x, target, p["loss"], reduction=p["reduction"],
                      loss_params=dict(p.get("loss_params", {})), training=False)
    compare_model_result(ctx, spec, result, expected, p["batch"])
