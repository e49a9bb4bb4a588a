"""Determinism: the same call with the same inputs (and seeds) twice gives bitwise identical results.

Checked only when the implementation claims `deterministic`, for what else it claims: forward and backward
(through every loss), every optimizer alone and in a training run (or, for the general cases, the first
claimed one), the first claimed initializer and dropout.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlpbench.conformance.checks.base import CheckContext, check_kind
from mlpbench.conformance.checks.common import draw_network_case
from mlpbench.conformance.checks.optimizers import optimizer_inputs
from mlpbench.conformance.checks.training import build_request
from mlpbench.reference.optim import hyperparameters


def _exact_all(ctx: CheckContext, label: str, first: Any, second: Any) -> None:
    """Compare two results field by field, bitwise."""
    if isinstance(first, (list, tuple)) and isinstance(second, (list, tuple)) and len(first) == len(second):
        for i, (a, b) in enumerate(zip(first, second, strict=True)):
            _exact_all(ctx, f"{label}[{i}]", a, b)
    elif isinstance(first, dict) and isinstance(second, dict):
        for key in first:
            _exact_all(ctx, f"{label}[{key!r}]", first[key], second.get(key))
    elif hasattr(first, "__dataclass_fields__"):
        for name in first.__dataclass_fields__:
            _exact_all(ctx, f"{label}.{name}", getattr(first, name), getattr(second, name, None))
    elif isinstance(first, np.ndarray) or isinstance(second, np.ndarray):
        ctx.exact(f"second call's {label}", second, first)
    else:
        ctx.value(f"second call's {label}", second, first)


@check_kind("determinism")
def check_determinism(ctx: CheckContext) -> None:
    p, caps = ctx.case.params, ctx.capabilities
    target = p["target"]
    if target == "model":
        spec = p["spec"]
        params, x, y = draw_network_case(ctx, spec, p["loss"], p["batch"])
        training = {"training": True, "dropout_seed": ctx.case.seed} if spec.dropout > 0 else {}
        runs = [ctx.call("forward_backward", spec, params, x, y, p["loss"], **training) for _ in range(2)]
    elif target == "optimizer":
        name = p.get("optimizer") or sorted(caps.optimizers)[0]
        params, grads = optimizer_inputs(ctx, p["shapes"], p["steps"])
        ctx.save(params=params)
        ctx.details["optimizer"] = name
        runs = [ctx.call("optimizer_run", name, hyperparameters(name), params, grads) for _ in range(2)]
    elif target == "training":
        name = p.get("optimizer") or sorted(caps.optimizers)[0]
        case_params = {**p, "optimizer": name, "hyper": hyperparameters(name)}
        request = build_request(ctx, case_params)
        ctx.details["optimizer"] = name
        runs = [ctx.call("train", request) for _ in range(2)]
    elif target == "init":
        name = sorted(set(caps.initializers) - {"zeros", "constant"})[0]
        ctx.details["initializer"] = name
        runs = [ctx.call("init", name, tuple(p["shape"]), {}, ctx.case.seed, ctx.dtype) for _ in range(2)]
    else:
        x = ctx.cast(ctx.rng(0).uniform(0.5, 1.5, size=(p["n"] // 64, 64)))
        ctx.save(x=x)
        runs = [ctx.call("dropout", x, p["p"], True, ctx.case.seed) for _ in range(2)]
    _exact_all(ctx, target, runs[0], runs[1])
