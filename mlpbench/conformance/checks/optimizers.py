"""Optimizers: parameters and the full optimizer state after k >= 10 steps with suite-supplied gradients.

For every optimizer and every valid combination of its options the catalogue draws parameters and a fresh set
of N(0, 1) gradients per step; the implementation applies them all (`optimizer_run`), the oracle steps the
same gradients in float64 with the implementation's convention profile (eps inside the square root, Adagrad's
initial accumulator). Compared: every parameter and every state buffer (exp_avg, exp_avg_sq, momentum_buffer,
sum, ...) and the step count. When something differs the check replays the implementation on the first
1, 2, ... steps to name the first step at which it diverges.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlpbench.conformance.checks.base import CheckContext, CheckFailed, check_kind
from mlpbench.conformance.compare import compare_arrays, compare_values
from mlpbench.conformance.results import Comparison
from mlpbench.reference.optim import apply_conventions, get_optimizer, hyperparameters, make_hyper, public_state


def optimizer_inputs(
    ctx: CheckContext, shapes: Any, steps: int
) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """Parameters ~ N(0, 1) and `steps` sets of gradients ~ N(0, 1), in the dtype under test."""
    rng = ctx.rng(0)
    params = [ctx.cast(rng.normal(size=shape)) for shape in shapes]
    grads = [[ctx.cast(rng.normal(size=shape)) for shape in shapes] for _ in range(steps)]
    return params, grads


def oracle_trajectory(ctx: CheckContext, name: str, hyper: dict[str, Any], params: list[np.ndarray],
                      grads: list[list[np.ndarray]]) -> list[tuple[list[np.ndarray], dict]]:
    """(params, public state) after each step 1..k, in float64."""
    entry = get_optimizer(name)
    oracle_hyper = apply_conventions(make_hyper(name, **hyper), ctx.conventions)
    current = [p.astype(np.float64) for p in params]
    state: dict = {}
    trajectory = []
    for step_grads in grads:
        current, state = entry.step(current, [g.astype(np.float64) for g in step_grads], state, oracle_hyper)
        trajectory.append(([p.copy() for p in current], _copy_state(public_state(state))))
    return trajectory


def _copy_state(state: dict) -> dict:
    return {k: ([None if b is None else np.array(b) for b in v] if isinstance(v, list) else v)
            for k, v in state.items()}


def compare_optimizer_result(ctx: CheckContext, result: Any, expected: tuple[list[np.ndarray], dict],
                             step: int, suffix: str) -> list[Comparison]:
    """State buffers (updated first within a step) then parameters; comparisons are returned, not recorded."""
    if not (isinstance(result, tuple) and len(result) == 2):
        raise CheckFailed(f"optimizer_run returned {type(result).__name__}, expected (params, state)")
    params, state = result
    expected_params, expected_state = expected
    params = ctx.list_of_arrays("optimizer_run params", params, len(expected_params))
    if not isinstance(state, dict):
        raise CheckFailed(f"optimizer_run state is a {type(state).__name__}, expected a dict")
    comparisons = []
    if "step" in expected_state:
        comparisons.append(compare_values(f"optimizer state step count{suffix}", state.get("step"),
                                          expected_state["step"]))
    for key, buffers in expected_state.items():
        if key == "step" or not isinstance(buffers, list) or all(b is None for b in buffers):
            continue
        if key not in state:
            comparisons.append(Comparison(f"optimizer state {key}{suffix}", False, float("inf"), float("inf"),
                                          0.0, 0.0, float("inf"), problem="missing from the returned state"))
            continue
        got = ctx.list_of_arrays(f"optimizer state {key}", state[key], len(buffers))
        for index, (actual, wanted) in enumerate(zip(got, buffers, strict=True)):
            if wanted is None:
                continue
            tol = ctx.tol("params_after_steps", wanted, steps=step)
            quantity = f"optimizer state {key} of param {index}{suffix}"
            comparisons.append(compare_arrays(quantity, actual, wanted, tol, dtype=ctx.np_dtype))
    for index, (actual, wanted) in enumerate(zip(params, expected_params, strict=True)):
        tol = ctx.tol("params_after_steps", wanted, steps=step)
        comparisons.append(compare_arrays(f"param {index}{suffix}", actual, wanted, tol, dtype=ctx.np_dtype))
    return comparisons


@check_kind("optimizer")
def check_optimizer(ctx: CheckContext) -> None:
    p = ctx.case.params
    name, hyper, steps = p["optimizer"], hyperparameters(p["optimizer"], **p["hyper"]), p["steps"]
    params, grads = optimizer_inputs(ctx, p["shapes"], steps)
    ctx.save(params=params, **{f"grads_step{k + 1}": g for k, g in enumerate(grads)})
    ctx.details["hyper"] = hyper
    trajectory = oracle_trajectory(ctx, name, hyper, params, grads)
    result = ctx.call("optimizer_run", name, hyper, params, grads)
    final = compare_optimizer_result(ctx, result, trajectory[-1], steps, f" after {steps} steps")
    if all(c.passed for c in final):
        ctx.comparisons.extend(final)
        return
    # localize: the first step after which anything differs
    for step in range(1, steps):
        partial = ctx.call("optimizer_run", name, hyper, params, grads[:step])
        found = compare_optimizer_result(ctx, partial, trajectory[step - 1], step, f" at step {step}")
        if not all(c.passed for c in found):
            ctx.details["first_diverging_step"] = step
            ctx.comparisons.extend(c for c in found if not c.passed)
            break
    else:
        ctx.details["first_diverging_step"] = steps
    ctx.comparisons.extend(final)
