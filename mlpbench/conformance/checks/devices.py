"""Devices: an implementation running on a CUDA device agrees with its CPU counterpart.

The counterpart is the implementation's `cpu_counterpart()` when it has one, else "torch-cpu" for the
built-in torch implementations. Both results err from the exact answer by at most one tolerance each, so they
must agree within twice the tolerance the oracle comparison uses. Single-device implementations (device cpu)
do not claim this area; without CUDA the check is skipped with the reason.
"""

from __future__ import annotations

from typing import Any

from impls.interface import Implementation
from mlpbench.conformance.checks.base import CheckContext, NotClaimed, Skipped, check_kind
from mlpbench.conformance.checks.common import compare_model_result, draw_data, draw_params
from mlpbench.conformance.checks.training import build_request, compare_training
from reference.model import ModelGradients
from reference.training import TrainingResult


def cpu_counterpart(impl: Implementation) -> Implementation:
    if not str(impl.device).startswith("cuda"):
        raise NotClaimed(f"runs on a single device ({impl.device})")
    available, reason = impl.availability()
    if not available:
        raise Skipped(reason)
    factory = getattr(impl, "cpu_counterpart", None)
    if callable(factory):
        return factory()
    if impl.name.startswith("torch"):
        from impls.registry import resolve

        return resolve("torch-cpu")
    raise NotClaimed(f"{impl.name} names no CPU counterpart (cpu_counterpart())")


@check_kind("devices")
def check_devices(ctx: CheckContext) -> None:
    cpu = cpu_counterpart(ctx.impl)
    p = ctx.case.params
    if p["target"] == "model":
        spec = p["spec"]
        params = draw_params(ctx, spec)
        x, y = draw_data(ctx, spec, p["loss"], p["batch"])
        ctx.save(params=params, x=x, target=y)
        on_cpu: Any = cpu.forward_backward(spec, params, x, y, p["loss"])
        on_device = ctx.call("forward_backward", spec, params, x, y, p["loss"])
        expected = ModelGradients(on_cpu.output, on_cpu.loss, list(on_cpu.param_grads), on_cpu.input_grad)
        compare_model_result(ctx, spec, on_device, expected, p["batch"], factor=2.0, prefix="CPU vs CUDA ")
    else:
        request = build_request(ctx, {**p, "optimizer": "sgd", "hyper": {"lr": 0.1}})
        on_cpu = cpu.train(request)
        on_device = ctx.call("train", request)
        expected = TrainingResult(list(on_cpu.params), list(on_cpu.train_loss), list(on_cpu.val_loss),
                                  on_cpu.epochs_run, on_cpu.best_epoch, on_cpu.stopped_epoch)
        compare_training(ctx, request, on_device, expected, factor=2.0, prefix="CPU vs CUDA ")
