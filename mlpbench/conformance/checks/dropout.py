"""Dropout, exactly and statistically.

Exact: the implementation runs forward and backward in training mode with its own dropout and reports the
keep-masks it used; the masks must be 0/1 with one (batch, width) mask per hidden layer and keep a plausible
fraction of units (Hoeffding bound); the oracle then recomputes the pass with those masks, so output, loss
and every gradient must agree as in the model check. In evaluation mode dropout is the identity: the result
must equal the oracle's pass without dropout.

Statistical: the implementation's `dropout(x, p)` on 200000 units keeps a fraction 1 - p of them (Hoeffding
bound, false-failure probability 1e-6), scales kept units by exactly 1 / (1 - p), zeroes the others, and in
evaluation mode returns x unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlpbench.conformance.checks.base import CheckContext, CheckFailed, check_kind
from mlpbench.conformance.checks.common import compare_model_result, draw_network_case, to_oracle
from mlpbench.conformance.checks.stats import FALSE_FAILURE, hoeffding_bound
from mlpbench.reference.model import loss_and_gradients


def check_masks(ctx: CheckContext, masks: Any, shapes: list[tuple[int, int]], p: float) -> list[np.ndarray]:
    """The reported keep-masks: one per hidden layer, right shape, only 0 and 1, a plausible keep rate."""
    if masks is None:
        raise CheckFailed("forward_backward in training mode with dropout reported no dropout_masks")
    masks = ctx.list_of_arrays("dropout_masks", masks, len(shapes))
    checked = []
    for layer, (mask, shape) in enumerate(zip(masks, shapes, strict=True)):
        mask = np.asarray(mask)
        if mask.shape != shape:
            raise CheckFailed(f"dropout mask of hidden layer {layer} has shape {mask.shape}, expected {shape}")
        values = mask.astype(np.float64)
        if not np.all((values == 0.0) | (values == 1.0)):
            odd = values[(values != 0.0) & (values != 1.0)]
            raise CheckFailed(f"dropout mask of hidden layer {layer} holds {odd[0]!r}; keep-masks are 0 or 1")
        checked.append(values)
    kept = np.concatenate([m.ravel() for m in checked])
    ctx.statistic("fraction of units kept by the reported masks", float(kept.mean()), 1.0 - p,
                  hoeffding_bound(kept.size, 1.0, FALSE_FAILURE),
                  f"Hoeffding, n={kept.size}, false-failure probability {FALSE_FAILURE:g}")
    return checked


@check_kind("dropout_exact")
def check_dropout_exact(ctx: CheckContext) -> None:
    p = ctx.case.params
    spec = p["spec"]
    params, x, target = draw_network_case(ctx, spec, p["loss"], p["batch"])
    training = p["training"]
    result = ctx.call("forward_backward", spec, params, x, target, p["loss"], reduction="mean", loss_params={},
                      training=training, dropout_seed=ctx.case.seed)
    masks = None
    if training:
        shapes = [(p["batch"], width) for width in spec.hidden_sizes]
        masks = check_masks(ctx, getattr(result, "dropout_masks", None), shapes, p["p"])
        ctx.save(dropout_masks=masks)
    expected = loss_and_gradients(spec, [to_oracle(w) for w in params], to_oracle(x), to_oracle(target),
                                  p["loss"], training=training, dropout_masks=masks, conventions=ctx.conventions)
    compare_model_result(ctx, spec, result, expected, p["batch"])


@check_kind("dropout_stats")
def check_dropout_stats(ctx: CheckContext) -> None:
    rate, n = ctx.case.params["p"], ctx.case.params["n"]
    x = ctx.cast(ctx.rng(0).uniform(0.5, 1.5, size=(n // 100, 100)))
    ctx.save(x=x)
    y = ctx.call("dropout", x, rate, True, ctx.case.seed)
    shape_ok = ctx.structure("training-mode output shape, dtype and finiteness", y, x.shape)
    if shape_ok.problem:
        return
    kept = y != 0
    alpha = FALSE_FAILURE
    ctx.statistic(f"fraction kept at p={rate}", float(kept.mean()), 1.0 - rate, hoeffding_bound(x.size, 1.0, alpha),
                  f"Hoeffding, n={x.size}, false-failure probability {alpha:g}")
    scale = 1.0 / (1.0 - rate)
    expected_kept = x[kept].astype(np.float64) * scale
    ctx.compare(f"kept units scaled by 1/(1-p) = {scale:.6g}", y[kept], expected_kept, ctx.tol("elementwise"))
    y_eval = ctx.call("dropout", x, rate, False, ctx.case.seed)
    ctx.exact("evaluation-mode output (identity)", y_eval, x)

