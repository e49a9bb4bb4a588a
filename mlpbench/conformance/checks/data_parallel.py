"""Data-parallel dropout: the suite's seed owns the masks, whatever the number of ranks.

A data-parallel implementation (one with `world_size` > 1 and a `single_process_counterpart()`) splits the
global batch across ranks. The suite hands it one dropout seed, and the masks it draws must be those its
single-process counterpart draws from that seed for the whole batch: no two ranks may share a mask (every
rank drawing the same one), and no rank may draw a mask the seed does not determine (a per-rank seed, a rank's
own generator). Compared: the keep-mask of every hidden layer exactly, then output, loss and every gradient
within twice the oracle tolerance (each result errs from the exact one by at most one tolerance); for a
training run with dropout, the loss of every epoch and the final parameters the same way.

Single-process implementations do not claim this check.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlpbench.conformance.checks.base import CheckContext, CheckFailed, NotClaimed, check_kind
from mlpbench.conformance.checks.common import compare_model_result, counterpart_gradients, draw_network_case
from mlpbench.conformance.checks.training import compare_training_with_counterpart
from mlpbench.conformance.handles import ImplHandle


def single_process_counterpart(impl: ImplHandle) -> Any:
    """The single-process twin's methods, run in the implementation's own process."""
    if impl.world_size <= 1:
        raise NotClaimed("runs in a single process (world size 1)")
    if not impl.has_counterpart("single_process_counterpart"):
        raise NotClaimed(f"{impl.name} names no single-process counterpart (single_process_counterpart())")
    return impl.counterpart("single_process_counterpart")


def _masks(ctx: CheckContext, label: str, result: Any, count: int) -> list[np.ndarray]:
    masks = getattr(result, "dropout_masks", None)
    if masks is None:
        raise CheckFailed(f"{label} forward_backward in training mode with dropout reported no dropout_masks")
    return ctx.list_of_arrays(f"{label} dropout_masks", masks, count)


@check_kind("dropout_data_parallel")
def check_dropout_data_parallel(ctx: CheckContext) -> None:
    single = single_process_counterpart(ctx.impl)
    p = ctx.case.params
    spec = p["spec"]
    ctx.details["world_size"] = ctx.world_size
    if p["target"] == "model":
        params, x, y = draw_network_case(ctx, spec, p["loss"], p["batch"])
        reference = single.forward_backward(spec, params, x, y, p["loss"], training=True,
                                            dropout_seed=ctx.case.seed)
        result = ctx.call("forward_backward", spec, params, x, y, p["loss"], training=True,
                          dropout_seed=ctx.case.seed)
        wanted = _masks(ctx, "single-process", reference, len(spec.hidden_sizes))
        for layer, (mask, expected) in enumerate(zip(_masks(ctx, "data-parallel", result, len(wanted)), wanted,
                                                     strict=True)):
            ctx.exact(f"dropout keep-mask of hidden layer {layer} (rows of every rank, against the "
                      "single-process mask of the suite's seed)", np.asarray(mask).astype(np.float64),
                      np.asarray(expected).astype(np.float64))
        compare_model_result(ctx, spec, result, counterpart_gradients(reference), p["batch"], factor=2.0,
                             prefix="data-parallel vs single ")
    else:
        compare_training_with_counterpart(ctx, single, p, prefix="data-parallel vs single ")
