"""Where the oracle deliberately differs from PyTorch's float64 result, and why.

PyTorch is the default convention profile, and the oracle matches it wherever PyTorch is numerically sound.
Where PyTorch's own float64 formula loses accuracy (it cancels, overflows or produces NaN where the exact
value is finite), the oracle stays exact (proven against mpmath in suites/reference/test_oracle_accuracy.py)
and the difference is listed here, as data: which functions, on which inputs, and the reason.

The differential run against PyTorch (suites/conformance/test_differential_torch.py) requires every
disagreement beyond 1e-12 relative to fall under one of these entries, and settles the activation entries
against mpmath (the oracle must be the closer). A conformance check can read the same table to explain a
difference that is PyTorch's, not the implementation's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

EXP_UNDERFLOW = -708.39  # log(DBL_MIN): below it exp(x) is subnormal


@dataclass(frozen=True)
class Deviation:
    """functions: the oracle functions affected ("tanh'" is the derivative, "<loss>_grad" a loss gradient,
    an optimizer name its step, "sigmoid+binary_cross_entropy" the fused output layer). applies(**context)
    -> bool mask of the inputs it covers (context: x for activations; pred and target for losses, one row
    per sample for cross-entropy; config, grads and params for optimizers). reason: what PyTorch computes
    and why it is inaccurate there (or, for an ill-conditioned zero, why no two formulas agree there)."""

    name: str
    functions: tuple[str, ...]
    applies: Callable[..., np.ndarray]
    reason: str


def _x(predicate: Callable[[np.ndarray], np.ndarray]) -> Callable[..., np.ndarray]:
    def applies(x: np.ndarray, **_: Any) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return predicate(np.asarray(x, np.float64))

    return applies


def _small_bce_with_logits_loss(pred: np.ndarray, target: np.ndarray, **_: Any) -> np.ndarray:
    from mlpbench.reference.losses import binary_cross_entropy_with_logits

    with np.errstate(all="ignore"):
        return ~np.isfinite(pred) | (binary_cross_entropy_with_logits(pred, target, "none") < 1e-3)


def _near_zero_of_sigmoid_minus_target(pred: np.ndarray, target: np.ndarray, **_: Any) -> np.ndarray:
    from mlpbench.reference.activations import sigmoid

    with np.errstate(all="ignore"):
        s = sigmoid(np.asarray(pred, np.float64))
        return np.abs(s - target) < 1e-3 * np.maximum(s, np.abs(target))


def _dominant_true_class(pred: np.ndarray, target: np.ndarray, **_: Any) -> np.ndarray:
    from mlpbench.reference.losses import log_softmax

    rows = np.arange(np.shape(pred)[0])
    with np.errstate(all="ignore"):
        return log_softmax(pred)[rows, np.asarray(target)] > np.log1p(-1e-3)


def _config(predicate: Callable[[dict, list, np.ndarray], bool]) -> Callable[..., np.ndarray]:
    def applies(config: dict, grads: list, params: np.ndarray, **_: Any) -> np.ndarray:
        return np.full(np.shape(params), predicate(config, grads, params))

    return applies


DEVIATIONS: tuple[Deviation, ...] = (
    Deviation(
        "subnormal exp tails",
        ("sigmoid", "sigmoid'", "silu", "silu'", "softplus", "softplus'"),
        _x(lambda x: x < EXP_UNDERFLOW),
        "below log(DBL_MIN) the result is subnormal; PyTorch's 1 / (1 + exp(-x)) overflows exp(-x) to inf and "
        "returns 0 (and its vectorized exp rounds subnormals differently), the oracle keeps exp(x) / (1 + exp(x))",
    ),
    Deviation(
        "sigmoid derivative from the rounded output",
        ("sigmoid'",),
        _x(lambda x: x > 8.0),
        "sigmoid_backward computes y (1 - y) from the rounded y; 1 - y cancels as y nears 1 (relative error "
        "about eps exp(x)); the oracle uses exp(-|x|) / (1 + exp(-|x|))^2",
    ),
    Deviation(
        "tanh derivative from the rounded output",
        ("tanh'",),
        _x(lambda x: np.abs(x) > 5.0),
        "tanh_backward computes 1 - y^2 from the rounded y, which cancels in both tails (relative error about "
        "eps exp(2|x|) / 4); the oracle uses 4 e / (1 + e)^2, e = exp(-2|x|)",
    ),
    Deviation(
        "erf-based GELU in the negative tail",
        ("gelu", "gelu'"),
        _x(lambda x: x < -4.0),
        "PyTorch computes x (1 + erf(x / sqrt 2)) / 2, and 1 + erf cancels below about -4 (all digits lost by "
        "-38); the oracle uses erfc(-x / sqrt 2) / 2",
    ),
    Deviation(
        "tanh-approximated GELU in the negative tail",
        ("gelu_tanh", "gelu_tanh'"),
        _x(lambda x: x < -3.9),
        "PyTorch computes x (1 + tanh(u)) / 2, and 1 + tanh(u) cancels below about -3.9; the oracle uses "
        "x s(2u) (s the sigmoid), the same function without the cancellation",
    ),
    Deviation(
        "limits at infinite inputs",
        ("silu", "silu'", "gelu", "gelu'", "gelu_tanh", "gelu_tanh'"),
        _x(np.isinf),
        "PyTorch evaluates x * s(x) or x * Phi(x) at x = -inf as -inf * 0 = NaN (and NaN derivatives at +-inf); "
        "the oracle returns the limits (-0 and 0, inf and 1)",
    ),
    Deviation(
        "softplus with a threshold beyond exp's range",
        ("softplus",),
        lambda x, beta=1.0, threshold=20.0, **_: (np.asarray(x, np.float64) * beta > 709.78)
        & (np.asarray(x, np.float64) * beta <= threshold),
        "below its threshold PyTorch computes log1p(exp(beta x)) / beta, and exp overflows for beta x > 709.78 "
        "(inf where the value is about x); the oracle uses max(z, 0) + log1p(exp(-|z|))",
    ),
    Deviation(
        "tanh-approximated GELU derivative where x^2 overflows",
        ("gelu_tanh'",),
        _x(lambda x: np.abs(x) > 1.3e154),
        "PyTorch's gelu_backward forms x^2 and x^3, which overflow above 1.3e154, and multiplies inf by "
        "1 - tanh(u)^2 = 0 (NaN); the oracle's derivative is 1 (and 0 for negative x), the exact value",
    ),
    Deviation(
        "zero of the SiLU derivative",
        ("silu'",),
        _x(lambda x: np.abs(x + 1.2784645) < 1e-3),
        "silu'(x) = s(x) (1 + x s(-x)) has a zero at x = -1.2784645; every formula cancels there, so the two "
        "disagree beyond 1e-12 relative while both are within their condition-number bound",
    ),
    Deviation(
        "small losses of BCE with logits",
        ("binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_grad"),
        _small_bce_with_logits_loss,
        "PyTorch computes (1 - t) z + m + log(exp(-m) + exp(-z - m)), m = max(-z, 0): log of 1 + tiny without "
        "log1p, so a loss below about 1e-3 keeps only eps / loss of its digits (0 at z = 37.22, t = 1, where "
        "it is 6.8e-17), and an infinite logit gives NaN; the oracle sums t softplus(-z) + (1 - t) softplus(z)",
    ),
    Deviation(
        "zero of the BCE-with-logits gradient",
        ("binary_cross_entropy_with_logits_grad",),
        _near_zero_of_sigmoid_minus_target,
        "s(z) - t vanishes where s(z) = t and cancels near there in every formula (PyTorch subtracts t from the "
        "rounded s(z), the oracle computes (1 - t) - s(-z) for z >= 0); both are within their condition-number "
        "bound but differ beyond 1e-12 relative",
    ),
    Deviation(
        "cross-entropy with a dominant true class",
        ("cross_entropy", "cross_entropy_grad"),
        _dominant_true_class,
        "with softmax_y above 1 - 1e-3, PyTorch's loss log(sum exp(z - m)) - (z_y - m) takes log(1 + r) "
        "without log1p and its gradient softmax_y - 1 cancels; the oracle uses log1p(r) and -sum_{c != y} "
        "softmax_c",
    ),
    Deviation(
        "soft-target cross-entropy with infinite logits",
        ("cross_entropy", "cross_entropy_grad"),
        lambda pred, target, **_: np.any(np.isinf(np.asarray(pred, np.float64)), axis=-1),
        "PyTorch's log_softmax subtracts the row maximum, inf - inf = NaN; the oracle takes the limit (the k "
        "logits at +inf share the probability, the others have none), so a finite loss stays finite",
    ),
    Deviation(
        "sigmoid output fused with BCE",
        ("sigmoid+binary_cross_entropy",),
        _x(lambda z: np.abs(z) > 8.0),
        "PyTorch multiplies (p - t) / max(p (1 - p), 1e-12) by p (1 - p), both from the rounded p = s(z); as p "
        "nears 0 or 1 the factors no longer cancel (relative error 3.6e-8 at z = 20, 1e-3 at 30); the oracle "
        "computes s(z) - t directly (with the gradient floor as the same factor d / max(d, floor))",
    ),
    Deviation(
        "centred RMSprop at alpha = 0",
        ("rmsprop",),
        _config(lambda c, g, p: bool(c.get("centered")) and c.get("alpha", 0.99) == 0.0),
        "with alpha = 0 the centred second moment is g^2 - g^2 = 0 exactly; PyTorch's fused addcmul evaluates "
        "it as the rounding error of g^2 (and its lerp can overflow to NaN), a value of either sign whose "
        "square root then dominates eps; the oracle gets the exact 0",
    ),
    Deviation(
        "Adagrad when the sum of squares overflows",
        ("adagrad",),
        _config(lambda c, g, p: max(float(np.max(np.abs(step[0]), initial=0.0)) for step in g) > 1e150),
        "PyTorch divides by sqrt(sum) after sum += g^2 has overflowed to inf, so the step is 0; the oracle "
        "takes sqrt(sum + g^2) as hypot(sqrt(sum), g), the exact step, on the step that overflows",
    ),
)


def covering(function: str, **context: Any) -> np.ndarray:
    """The inputs of `function` (a mask shaped like its per-element or per-sample result) that a documented
    deviation covers."""
    masks = [np.asarray(d.applies(**context), bool) for d in DEVIATIONS if function in d.functions]
    if not masks:
        return np.zeros(_shape(context), bool)
    return np.logical_or.reduce(np.broadcast_arrays(*masks))


def _shape(context: dict[str, Any]) -> tuple[int, ...]:
    if "x" in context:
        return np.shape(context["x"])
    if "pred" in context:
        return np.shape(context["pred"])[:1] if np.ndim(context["pred"]) == 2 else np.shape(context["pred"])
    return np.shape(context["params"])
