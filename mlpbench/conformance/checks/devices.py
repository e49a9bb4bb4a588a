"""Devices: an implementation running on a CUDA device agrees with its CPU counterpart.

The counterpart is the implementation's `cpu_counterpart()` when it has one, else "torch-cpu" for the
built-in torch implementations. Both results err from the exact answer by at most one tolerance each, so they
must agree within twice the tolerance the oracle comparison uses. Single-device implementations (device cpu)
do not claim this area; without CUDA the check is skipped with the reason.
"""

from __future__ import annotations

from typing import Any

from mlpbench.conformance.checks.base import CheckContext, NotClaimed, Skipped, check_kind
from mlpbench.conformance.checks.common import compare_model_result, counterpart_gradients, draw_network_case
from mlpbench.conformance.checks.training import compare_training_with_counterpart
from mlpbench.conformance.handles import ImplHandle


def cpu_counterpart(impl: ImplHandle) -> Any:
    """The CPU twin's methods, run in the implementation's own process."""
    if not str(impl.device).startswith("cuda"):
        raise NotClaimed(f"runs on a single device ({impl.device})")
    if not impl.available:
        raise Skipped(impl.reason)
    if not impl.has_counterpart("cpu_counterpart"):
        raise NotClaimed(f"{impl.name} names no CPU counterpart (cpu_counterpart())")
    return impl.counterpart("cpu_counterpart")


@check_kind("devices")
def check_devices(ctx: CheckContext) -> None:
    cpu = cpu_counterpart(ctx.impl)
    p = ctx.case.params
    if p["target"] == "model":
        spec = p["spec"]
        params, x, y = draw_network_case(ctx, spec, p["loss"], p["batch"])
        on_cpu: Any = cpu.forward_backward(spec, params, x, y, p["loss"])
        on_device = ctx.call("forward_backward", spec, params, x, y, p["loss"])
        compare_model_result(ctx, spec, on_device, counterpart_gradients(on_cpu), p["batch"], factor=2.0,
                             prefix="CPU vs CUDA ")
    else:
        compare_training_with_counterpart(ctx, cpu, p, prefix="CPU vs CUDA ")
