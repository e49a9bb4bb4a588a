"""The one tolerance policy: how close an implementation in its own dtype must come to the float64 oracle.

A tolerance is keyed by what is compared (the quantity), the implementation's dtype and its precision
mode ("ieee", or a labelled reduced-precision mode such as "tf32"). Every tolerance has both an rtol and an
atol, and an element passes when

    |actual - expected| <= atol + rtol * |expected|.

Bounds are derived from the dtype's machine epsilon eps (2**-23 for float32) and from the
size of the problem, following the standard error analysis of floating-point sums: a sum or dot product of n
terms computed in any order errs by at most about n * eps relative to the sum of magnitudes, and by about
sqrt(n) * eps for random rounding, which is what we use, times a safety factor of 16. Errors compound roughly
linearly through `depth` dense layers and the `steps` of an optimizer; over a training run of many steps
the independent rounding errors of the steps add up like a random walk (sqrt(steps)). The atol is the rtol
times the scale of the quantity (the largest |expected| of the tensor, or the natural magnitude the check
states), so that elements which cancel to near zero are judged against the rounding of the terms that
produced them, not against their own tiny value:

    elementwise        rtol = 16 eps                          (library functions are accurate to a few ulp)
    elementwise_relative rtol = 16 eps (1 + kappa)            (small but well-conditioned values, judged
                       relatively; kappa = max |x f'(x) / f(x)|, the oracle's condition number over the
                       inputs; atol = rtol * the dtype's smallest normal number: only underflow is absolute)
    loss               rtol = 16 eps (1 + log2 n)             (a reduction over n elements)
    loss_grad          rtol = 16 eps
    forward, gradient  rtol = 16 eps sqrt(fan_in) depth       (dot products of length fan_in, depth layers)
    params_after_steps rtol = 16 eps steps                    (also the optimizer state)
    training_curve     rtol = 16 eps sqrt(fan_in) depth sqrt(steps)  (losses per epoch, final parameters)
    exact              rtol = atol = 0                        (masks, determinism)

    atol = rtol * max(scale, tiny)

Data-parallel runs over W > 1 ranks add an all-reduce term to the growth of the quantities a rank's partial
results are summed into (loss, forward, gradient, training_curve): the global value is the sum of W per-rank
partial sums, added in whatever order the backend's all-reduce takes (gloo's ring or halving-doubling, NCCL's
ring or tree), and a sum of W terms in any order errs by at most (W - 1) eps relative to the sum of the
magnitudes; weighting a rank's loss by its share n_r / N of the samples, and DDP's scaling by W and division
by W, add at most 3 more roundings:

    all-reduce term    growth += W + 2                        (training_curve: inside the sqrt(steps) factor)

Reduced-precision modes replace eps by the mode's own for the matrix-product quantities (tf32: 2**-10). An
override multiplies or replaces a derived tolerance and always carries its reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SAFETY = 16.0
"""The safety factor on every derived bound."""

QUANTITIES = (
    "elementwise",
    "elementwise_relative",
    "loss",
    "loss_grad",
    "forward",
    "gradient",
    "params_after_steps",
    "training_curve",
    "exact",
)

DTYPE_EPS: dict[str, float] = {
    "float64": 2.0**-52,
    "float32": 2.0**-23,
    "float16": 2.0**-10,
    "bfloat16": 2.0**-7,
}
"""Machine epsilon (spacing of floats at 1.0) per dtype name."""

PRECISION_MATMUL_EPS: dict[str, float | None] = {
    "ieee": None,  # the dtype's own
    "tf32": 2.0**-10,  # TensorFloat-32 keeps 10 mantissa bits in matrix products
}
"""Epsilon of matrix products in a reduced-precision mode; None means the dtype's own."""

MATMUL_QUANTITIES = frozenset({"forward", "gradient", "training_curve"})

ALL_REDUCED_QUANTITIES = frozenset({"loss", "forward", "gradient", "training_curve"})
"""Quantities a data-parallel run sums across ranks (the all-reduce term applies to them)."""


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float
    reason: str

    def bound(self, expected: np.ndarray) -> np.ndarray:
        return self.atol + self.rtol * np.abs(expected)


@dataclass(frozen=True)
class Override:
    """Scale (factor) or replace (rtol, atol) a derived tolerance, for a stated reason."""

    reason: str
    factor: float = 1.0
    rtol: float | None = None
    atol: float | None = None


OVERRIDES: dict[tuple[str, str, str], Override] = {
    # (quantity, dtype or "*", precision or "*") -> Override(reason, factor | rtol/atol)
}


def eps_of(dtype: str | np.dtype, precision: str = "ieee", quantity: str = "elementwise") -> float:
    """The epsilon a quantity is computed with: the dtype's, or the precision mode's for matrix products."""
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in DTYPE_EPS:
        raise ValueError(f"no tolerance policy for dtype {name!r}; known: {', '.join(DTYPE_EPS)}")
    if precision not in PRECISION_MATMUL_EPS:
        raise ValueError(f"unknown precision mode {precision!r}; known: {', '.join(PRECISION_MATMUL_EPS)}")
    eps = DTYPE_EPS[name]
    mode_eps = PRECISION_MATMUL_EPS[precision]
    if mode_eps is not None and quantity in MATMUL_QUANTITIES:
        eps = max(eps, mode_eps)
    return eps


def tolerance(
    quantity: str,
    dtype: str | np.dtype,
    precision: str = "ieee",
    *,
    n: int = 1,
    fan_in: int = 1,
    depth: int = 1,
    steps: int = 1,
    scale: float = 1.0,
    world_size: int = 1,
    condition: float = 0.0,
) -> Tolerance:
    """The tolerance for comparing `quantity` computed in `dtype` under `precision` with the float64 oracle.

    n: number of elements a loss reduces; fan_in: the largest fan-in of the network; depth: number of dense
    layers; steps: optimizer steps taken; scale: the magnitude of the quantity (largest |expected|);
    world_size: ranks whose partial results a data-parallel run all-reduces (1: a single process);
    condition: the oracle's condition number kappa of an elementwise_relative comparison.
    """
    if quantity not in QUANTITIES:
        raise ValueError(f"unknown quantity {quantity!r}; known: {', '.join(QUANTITIES)}")
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if quantity == "exact":
        return Tolerance(0.0, 0.0, "must be identical")
    eps = eps_of(name, precision, quantity)
    n, fan_in, depth, steps = max(1, n), max(1, fan_in), max(1, depth), max(1, steps)
    growth, how = _growth(quantity, n, fan_in, depth, steps, condition)
    if world_size > 1 and quantity in ALL_REDUCED_QUANTITIES:
        term = world_size + 2.0
        if quantity == "training_curve":
            growth += term * math.sqrt(steps)
            how += f" + all-reduce (W={world_size} + 2) sqrt(steps)"
        else:
            growth += term
            how += f" + all-reduce (W={world_size} + 2)"
    rtol = SAFETY * eps * growth
    magnitude = max(float(scale), np.finfo(np.float64).tiny) if math.isfinite(scale) else 1.0
    atol = rtol * magnitude
    reason = f"{quantity} {name}/{precision}: {SAFETY:g} eps{how}"
    override = _find_override(quantity, name, precision)
    if override is not None:
        rtol = override.rtol if override.rtol is not None else rtol * override.factor
        atol = override.atol if override.atol is not None else atol * override.factor
        reason += f"; override: {override.reason}"
    return Tolerance(rtol=rtol, atol=atol, reason=reason)


def _growth(quantity: str, n: int, fan_in: int, depth: int, steps: int, condition: float) -> tuple[float, str]:
    """The factor on 16 eps for `quantity` (see the module docstring), and how it was computed."""
    if quantity in ("elementwise", "loss_grad"):
        return 1.0, ""
    if quantity == "elementwise_relative":
        return 1.0 + condition, f" (1 + kappa={condition:.3g})"
    if quantity == "loss":
        return 1.0 + math.log2(n), f" (1 + log2 n={n})"
    if quantity in ("forward", "gradient"):
        return math.sqrt(fan_in) * depth, f" sqrt(fan_in={fan_in}) depth={depth}"
    if quantity == "params_after_steps":
        return float(steps), f" steps={steps}"
    # training_curve: independent rounding errors of many steps add up like a random walk
    return math.sqrt(fan_in) * depth * math.sqrt(steps), f" sqrt(fan_in={fan_in}) depth={depth} sqrt(steps={steps})"


def _find_override(quantity: str, dtype: str, precision: str) -> Override | None:
    for key in ((quantity, dtype, precision), (quantity, dtype, "*"), (quantity, "*", precision)):
        if key in OVERRIDES:
            return OVERRIDES[key]
    return None
