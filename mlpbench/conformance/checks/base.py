"""What every check shares: the registry of check kinds and the `CheckContext` a check runs in.

A check kind is a function `check(ctx)`, registered under the name catalogue cases give as their `kind`;
what a case needs claimed is the case's own `needs`, answered by `Capabilities.missing`. The context calls
the implementation defensively (`ctx.call`): an exception (sys.exit included), a modified input or a
malformed result becomes a failed check with a message naming the method, never a crash of the suite.
Comparisons are recorded in order; the first that fails is "the first diverging quantity".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlpbench.catalogue.conformance import Case
from mlpbench.conformance.compare import check_structure, compare_arrays, compare_exact, compare_values, describe_type
from mlpbench.conformance.handles import ImplHandle
from mlpbench.conformance.results import Comparison
from mlpbench.conformance.tolerances import Tolerance, tolerance
from mlpbench.isolation.calls import Raised, RaisedKind
from mlpbench.isolation.wire import MalformedReply


class CheckFailed(Exception):
    """The implementation misbehaved in a way that ends the check (raised, modified an input, bad result)."""


CheckFunction = Callable[["CheckContext"], None]


@dataclass(frozen=True)
class CheckKind:
    name: str
    run: CheckFunction


CHECK_KINDS: dict[str, CheckKind] = {}


def check_kind(name: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register `function` as the check for cases of `kind` name."""

    def register(function: CheckFunction) -> CheckFunction:
        CHECK_KINDS[name] = CheckKind(name, function)
        return function

    return register


class CheckContext:
    """One check of one case for one implementation in one dtype."""

    def __init__(self, impl: ImplHandle, case: Case, dtype: str) -> None:
        self.impl = impl  # a handle: the implementation itself lives in its worker (or, for torchrun, here)
        self.case = case
        self.dtype = dtype
        self.np_dtype = np.dtype(dtype)
        self.conventions = impl.conventions.for_dtype(dtype)  # per-dtype values (a "dtype" clip) made numbers
        self.precision = impl.precision
        self.capabilities = impl.capabilities()
        self.world_size = impl.world_size  # ranks a data-parallel run all-reduces over
        self.comparisons: list[Comparison] = []
        self.inputs: dict[str, np.ndarray] = {}
        self.details: dict[str, Any] = {}

    # -- randomness (the suite owns it) ---------------------------------------------------------------------
    def rng(self, stream: int = 0) -> np.random.Generator:
        """The case's generator for `stream` (independent streams for data, params, grads, ...)."""
        return np.random.default_rng([self.case.seed, stream])

    def cast(self, array: np.ndarray) -> np.ndarray:
        """An oracle-drawn float64 array in the dtype under test."""
        return np.ascontiguousarray(array, dtype=self.np_dtype)

    # -- inputs kept for the reproduction file --------------------------------------------------------------
    def save(self, **values: Any) -> None:
        """Record inputs (arrays, lists of arrays, scalars) for the reproduction .npz of a failure."""
        for name, value in values.items():
            if isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    self.save(**{f"{name}.{i}": item})
            elif value is not None:
                self.inputs[name] = np.asarray(value)

    # -- calling the implementation -------------------------------------------------------------------------
    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """impl.<method>(*args, **kwargs) through the handle; the check fails if the method raises, modifies an
        array it was given, or sends back something that is not plain data. The value is a copy."""
        try:
            outcome = self.impl.invoke(method, args, kwargs)
        except MalformedReply as error:
            raise CheckFailed(f"{method} sent back a malformed reply: {error}") from None
        raised = outcome.raised
        if raised is not None:
            raise CheckFailed(_raised_message(method, raised)) from None
        if outcome.modified:
            raise CheckFailed(f"{method} modified its input {outcome.modified[0]} in place")
        return outcome.value

    # -- comparisons ----------------------------------------------------------------------------------------
    def tol(self, quantity: str, expected: Any = None, **sizes: Any) -> Tolerance:
        """The policy's tolerance for `quantity` in this dtype and precision; scale from `expected`."""
        scale = 1.0
        if expected is not None:
            magnitudes = np.abs(np.asarray(expected, dtype=np.float64))
            finite = magnitudes[np.isfinite(magnitudes)]
            scale = float(finite.max()) if finite.size else 1.0
        return tolerance(quantity, self.dtype, self.precision, scale=sizes.pop("scale", scale),
                         world_size=self.world_size, **sizes)

    def compare(self, quantity: str, actual: Any, expected: Any, tol: Tolerance, *, check_dtype: bool = True
                ) -> Comparison:
        dtype = self.np_dtype if check_dtype else None
        comparison = compare_arrays(quantity, actual, expected, tol, dtype=dtype)
        self.comparisons.append(comparison)
        return comparison

    def structure(self, quantity: str, actual: Any, shape: tuple[int, ...]) -> Comparison:
        """`actual` must be a finite array of `shape` in the dtype under test."""
        comparison = check_structure(quantity, actual, shape, self.np_dtype)
        self.comparisons.append(comparison)
        return comparison

    def exact(self, quantity: str, actual: Any, expected: Any) -> Comparison:
        comparison = compare_exact(quantity, actual, expected)
        self.comparisons.append(comparison)
        return comparison

    def value(self, quantity: str, actual: Any, expected: Any) -> Comparison:
        comparison = compare_values(quantity, actual, expected)
        self.comparisons.append(comparison)
        return comparison

    def problem(self, quantity: str, problem: str) -> Comparison:
        """Record a failed structural expectation that does not end the check."""
        comparison = Comparison(quantity, False, float("inf"), float("inf"), 0.0, 0.0, float("inf"),
                                problem=problem)
        self.comparisons.append(comparison)
        return comparison

    def statistic(self, quantity: str, observed: float, expected: float, allowed: float, reason: str
                  ) -> Comparison:
        """A statistical test: |observed - expected| <= allowed (headroom = deviation / allowed)."""
        deviation = abs(observed - expected)
        headroom = deviation / allowed if allowed > 0 else (0.0 if deviation == 0 else float("inf"))
        if not np.isfinite(observed):
            headroom = float("inf")
        summary = f"observed {observed:.6g}, expected {expected:.6g} +- {allowed:.3g}"
        comparison = Comparison(
            quantity,
            passed=bool(headroom <= 1.0),
            worst_abs=float(deviation),
            worst_rel=float(deviation / abs(expected)) if expected else float(deviation),
            rtol=0.0,
            atol=float(allowed),
            headroom=float(headroom),
            tolerance_reason=reason,
            problem="" if headroom <= 1.0 else f"{summary} ({reason})",
        )
        self.comparisons.append(comparison)
        return comparison

    def require(self, condition: bool, message: str) -> None:
        if not condition:
            raise CheckFailed(message)

    def list_of_arrays(self, what: str, value: Any, count: int) -> list[Any]:
        """`value` must be a list or tuple of `count` items (else the check fails naming `what`)."""
        if not isinstance(value, (list, tuple)):
            raise CheckFailed(f"{what} is a {describe_type(value)}, expected a list of {count} arrays")
        if len(value) != count:
            raise CheckFailed(f"{what} has {len(value)} entries, expected {count}")
        return list(value)


def _raised_message(method: str, raised: Raised) -> str:
    if raised.kind is RaisedKind.NOT_IMPLEMENTED:
        detail = f": {raised.message}" if raised.message else ""
        return f"{method} raised NotImplementedError although the capability is claimed{detail}"
    if raised.kind is RaisedKind.EXIT:
        return f"{method} called sys.exit({raised.exit_code})"
    if raised.kind is RaisedKind.INTERRUPT:
        return f"the implementation raised {raised.type_name}({raised.message})"
    where = f" (at {raised.where})" if raised.where else ""
    return f"{method} raised {raised.type_name}: {raised.message}{where}"


class NotClaimed(Exception):
    """Raised by a check that finds, once running, that the capability is not claimed (e.g. no CPU twin)."""


class Skipped(Exception):
    """Raised by a check that cannot run here (e.g. no CUDA device); the message is the reason."""
