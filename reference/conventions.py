"""Convention profiles: the places where MLP libraries legitimately differ, as data.

The oracle takes a profile as a parameter; an implementation declares the profile it follows. PyTorch's is the
default. A new profile is one more row (`Conventions.from_dict`), not a fork of the code.

Every choice reaches the oracle through one lookup: `optimizer_defaults(name)`, `loss_defaults(loss)` and
`activation_defaults(name)` turn a profile into the keyword values of one optimizer, loss or activation. The
keywords are ordinary hyperparameters and loss parameters, so an explicit value always beats the profile's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from mlpbench.reference.losses import BCE_GRAD_EPS

EPS_PLACEMENTS = ("outside", "inside", "hat")
"""Where an adaptive optimizer adds eps (v is the second moment, bc2 = 1 - beta2^t for Adam):

    outside  m_hat / (sqrt(v_hat + eps_root) + eps)                        (PyTorch, optax)
    inside   m_hat / sqrt(v_hat + eps)                                      (textbook; Keras RMSprop, Adagrad)
    hat      lr sqrt(bc2) / bc1 * m / (sqrt(v) + eps), eps on the uncorrected sqrt(v)   (Keras Adam, AdamW)
"""

ADAPTIVE_OPTIMIZERS = ("adam", "adamw", "rmsprop", "adagrad")
ALL_OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta")

BCE_GRAD_FLOOR = BCE_GRAD_EPS
"""PyTorch's binary_cross_entropy_backward floor for p (1 - p): the constant 1e-12 held as a float32."""

DTYPE_EPS = "dtype"
"""A clip value meaning "the machine epsilon of the dtype under test", np.finfo(dtype).eps (scikit-learn's
log_loss: 2**-52 in float64, 2**-23 in float32); `Conventions.for_dtype` turns it into that number."""

PYTORCH_SOFTPLUS_THRESHOLD = 20.0
"""torch.nn.functional.softplus's default threshold: f(x) = x where beta x > 20."""


class _Table(dict):
    """A per-optimizer table inside a frozen profile: a dict that hashes by its items (profiles are values)."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items())))


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return _Table(mapping)


@dataclass(frozen=True)
class Conventions:
    """One library's choices.

    eps_placement: per optimizer (adam, adamw, rmsprop, adagrad), "outside", "inside" or "hat"
        (`EPS_PLACEMENTS`); an optimizer not listed is "outside".
    eps_root: optax's term added to v_hat inside the square root (Adam, AdamW), next to eps outside.
    decoupled_weight_decay: the optimizers whose weight_decay is decoupled, p <- p - lr wd p before the update
        (AdamW always is), instead of an L2 term wd p added to the gradient.
    adagrad_initial_accumulator: the value Adagrad's sum of squared gradients starts from.
    nesterov_zero_momentum: SGD accepts nesterov=True with momentum 0 (then it is plain SGD).
    mse_half: MSE as 0.5 * (pred - target)**2 (the textbook "1/2 sum of squares" form) instead of the plain square.
    gelu_approximate: "none" (exact, with erf) or "tanh".
    bce_log_clamp: binary cross-entropy clamps log(p) and log(1 - p) from below at this value (PyTorch: -100);
        None means no clamp.
    bce_clip_eps: BCE first clips p into [eps, 1 - eps], with zero gradient outside (Keras: 1e-7); None: no clip.
    bce_grad_floor: BCE's gradient divides by max(p (1 - p), floor) (PyTorch: float32(1e-12)); None: no floor.
    bce_clip_eps may also be "dtype" (`DTYPE_EPS`): the clip is the machine epsilon of the dtype under test
        (scikit-learn's log_loss: np.finfo(y_prob.dtype).eps), resolved by `for_dtype`.
    bce_sum_outputs: multi-label BCE sums each sample's losses over its outputs (the last axis) before the
        reduction, so "mean" divides by the number of samples, not of elements (scikit-learn's binary_log_loss:
        -(sum of xlogy terms) / n_samples). False: PyTorch's mean over every element.
    sample_axis: elementwise losses average each sample over this axis before the reduction (Keras: -1).
    relu_grad_at_zero: the derivative ReLU reports at exactly 0 (and -0.0).
    leaky_relu_grad_at_zero: the derivative leaky_relu reports at exactly 0 (and -0.0); None: negative_slope,
        PyTorch's (leaky_relu_backward: x > 0 ? 1 : slope; also TensorFlow's). JAX's jax.nn.leaky_relu is
        where(x >= 0, x, slope x), so its derivative there is 1 (optax profile).
    softplus_threshold: softplus switches to the identity where beta x > threshold (PyTorch: 20, its
        `threshold` default); None: the exact log(1 + exp(beta x)) / beta everywhere (jax.nn.softplus,
        keras.activations.softplus, MLX, tinygrad). A case's own threshold beats the profile's.
    l2_penalty_in_loss: an optimizer's coupled weight_decay wd is an L2 penalty on the weights only (not the
        biases), part of each batch's loss: 0.5 wd sum ||W||^2 / n with n the batch's samples, its gradient
        wd W / n (scikit-learn's alpha: `loss += (0.5 * alpha) * values / n_samples` in _backprop,
        `coef_grads += alpha * coefs; coef_grads /= n_samples` in _compute_loss_grad). The training loss
        reports it; the validation loss does not; a bare optimizer step (given gradients) applies no decay.
        False: PyTorch's g + wd p on every parameter inside the optimizer.
    sgd_dampening_first_step: SGD with momentum dampens the first step too, buf <- (1 - dampening) g from a
        zero buffer (MLX: v <- momentum v + (1 - dampening) g, v starting at 0); False: PyTorch's buf <- g on
        the first step, dampening only from the second.
    """

    name: str = "pytorch"
    eps_placement: Mapping[str, str] = field(default_factory=lambda: _frozen({}))
    eps_root: float = 0.0
    decoupled_weight_decay: frozenset[str] = frozenset()
    adagrad_initial_accumulator: float = 0.0
    nesterov_zero_momentum: bool = False
    mse_half: bool = False
    gelu_approximate: str = "none"
    bce_log_clamp: float | None = -100.0
    bce_clip_eps: float | str | None = None
    bce_grad_floor: float | None = BCE_GRAD_FLOOR
    bce_sum_outputs: bool = False
    sample_axis: int | None = None
    relu_grad_at_zero: float = 0.0
    leaky_relu_grad_at_zero: float | None = None
    softplus_threshold: float | None = PYTORCH_SOFTPLUS_THRESHOLD
    sgd_dampening_first_step: bool = False
    l2_penalty_in_loss: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "eps_placement", _frozen(self.eps_placement))
        object.__setattr__(self, "decoupled_weight_decay", frozenset(self.decoupled_weight_decay))
        if self.gelu_approximate not in ("none", "tanh"):
            raise ValueError(f"gelu_approximate must be 'none' or 'tanh', not {self.gelu_approximate!r}")
        for optimizer, placement in self.eps_placement.items():
            if optimizer not in ADAPTIVE_OPTIMIZERS:
                raise ValueError(f"eps_placement: {optimizer!r} is not one of {', '.join(ADAPTIVE_OPTIMIZERS)}")
            if placement not in EPS_PLACEMENTS:
                raise ValueError(f"eps_placement[{optimizer!r}] must be one of {EPS_PLACEMENTS}, not {placement!r}")
        unknown = sorted(self.decoupled_weight_decay - set(ALL_OPTIMIZERS))
        if unknown:
            raise ValueError(f"decoupled_weight_decay: unknown optimizers {unknown}")
        if isinstance(self.bce_clip_eps, str) and self.bce_clip_eps != DTYPE_EPS:
            raise ValueError(f"bce_clip_eps must be a number, None or {DTYPE_EPS!r}, not {self.bce_clip_eps!r}")

    # -- the lookup ------------------------------------------------------------------------------------------
    def optimizer_defaults(self, optimizer: str) -> dict[str, Any]:
        """The hyperparameters this profile chooses for `optimizer` (the oracle keeps those it has)."""
        return {
            "eps_placement": self.eps_placement.get(optimizer, "outside"),
            "eps_root": self.eps_root,
            "decoupled_weight_decay": optimizer in self.decoupled_weight_decay,
            "initial_accumulator_value": self.adagrad_initial_accumulator,
            "nesterov_zero_momentum": self.nesterov_zero_momentum,
            "dampening_first_step": self.sgd_dampening_first_step,
        }

    def loss_defaults(self, loss: str) -> dict[str, Any]:
        """The loss parameters this profile chooses (the loss keeps those among its own parameters)."""
        defaults: dict[str, Any] = {"sample_axis": self.sample_axis}
        defaults.update({key: getattr(self, f.name) for key, f in _LOSS_FIELDS.get(loss, {}).items()})
        return defaults

    def activation_defaults(self, activation: str) -> dict[str, Any]:
        """The activation parameters this profile chooses."""
        return {key: getattr(self, attribute.name) for key, attribute in _ACTIVATION_FIELDS.get(activation, {}).items()}

    # -- construction ----------------------------------------------------------------------------------------
    @property
    def eps_inside_sqrt(self) -> bool:
        """True when every adaptive optimizer puts eps inside the square root (the former single switch)."""
        return all(self.eps_placement.get(name) == "inside" for name in ADAPTIVE_OPTIMIZERS)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Conventions:
        """A profile from plain data; the former switch eps_inside_sqrt=True means "inside" for every optimizer."""
        data = dict(data)
        if "eps_inside_sqrt" in data:
            inside = data.pop("eps_inside_sqrt")
            placements = {name: "inside" if inside else "outside" for name in ADAPTIVE_OPTIMIZERS}
            data["eps_placement"] = {**placements, **dict(data.get("eps_placement", {}))}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown convention keys {unknown}; known: {sorted(known)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["eps_placement"] = dict(self.eps_placement)
        data["decoupled_weight_decay"] = sorted(self.decoupled_weight_decay)
        return data

    def with_changes(self, **changes: Any) -> Conventions:
        return replace(self, **changes)

    def for_dtype(self, dtype: str | np.dtype) -> Conventions:
        """This profile with its per-dtype values ("dtype" clips) made the numbers of `dtype`."""
        if self.bce_clip_eps != DTYPE_EPS:
            return self
        return replace(self, bce_clip_eps=float(np.finfo(np.dtype(dtype)).eps))


@dataclass(frozen=True)
class _Field:
    name: str


_LOSS_FIELDS: dict[str, dict[str, _Field]] = {
    "mse": {"half": _Field("mse_half")},
    "binary_cross_entropy": {
        "log_clamp": _Field("bce_log_clamp"),
        "clip_eps": _Field("bce_clip_eps"),
        "grad_floor": _Field("bce_grad_floor"),
        "sum_outputs": _Field("bce_sum_outputs"),
    },
}
_ACTIVATION_FIELDS: dict[str, dict[str, _Field]] = {
    "gelu": {"approximate": _Field("gelu_approximate")},
    "relu": {"grad_at_zero": _Field("relu_grad_at_zero")},
    "leaky_relu": {"grad_at_zero": _Field("leaky_relu_grad_at_zero")},
    "softplus": {"threshold": _Field("softplus_threshold")},
}


PYTORCH = Conventions()
TEXTBOOK = Conventions(
    name="textbook",
    eps_placement={name: "inside" for name in ADAPTIVE_OPTIMIZERS},
    mse_half=True,
    bce_log_clamp=None,
    bce_grad_floor=None,
    softplus_threshold=None,
)
KERAS = Conventions(
    name="keras",
    eps_placement={"adam": "hat", "adamw": "hat", "rmsprop": "inside", "adagrad": "inside"},
    decoupled_weight_decay=frozenset(ALL_OPTIMIZERS),
    adagrad_initial_accumulator=0.1,
    nesterov_zero_momentum=True,
    bce_log_clamp=None,
    bce_clip_eps=1e-7,
    bce_grad_floor=None,
    sample_axis=-1,
    softplus_threshold=None,
)
OPTAX = Conventions(
    name="optax",
    eps_placement={"adam": "outside", "adamw": "outside", "rmsprop": "inside", "adagrad": "inside"},
    decoupled_weight_decay=frozenset({"adamw"}),
    adagrad_initial_accumulator=0.1,
    nesterov_zero_momentum=True,
    gelu_approximate="tanh",
    bce_log_clamp=None,
    bce_grad_floor=None,
    leaky_relu_grad_at_zero=1.0,
    softplus_threshold=None,
)
SKLEARN = Conventions(
    name="sklearn",
    eps_placement={"adam": "hat"},
    mse_half=True,
    bce_log_clamp=None,
    bce_clip_eps=DTYPE_EPS,
    bce_grad_floor=None,
    bce_sum_outputs=True,
    softplus_threshold=None,
    l2_penalty_in_loss=True,
)
"""scikit-learn's MLP (sklearn/neural_network/_base.py, _stochastic_optimizers.py), each value from its source:
squared_loss = ((y_true - y_pred) ** 2).mean() / 2 (mse_half); log_loss and binary_log_loss clip y_prob into
[eps, 1 - eps] with eps = np.finfo(y_prob.dtype).eps, no log clamp, and binary_log_loss divides the sum over
samples and outputs by y_prob.shape[0] (bce_sum_outputs); alpha is 0.5 alpha ||W||^2 / n_samples in the
loss, on the coefficients only (l2_penalty_in_loss, with alpha as weight_decay); AdamOptimizer steps with
learning_rate_init sqrt(1 - beta_2^t) / (1 - beta_1^t) and divides by sqrt(v) + epsilon on the uncorrected v
("hat"); ReLU's derivative is 0 where its output is 0 (inplace_relu_derivative: delta[Z == 0] = 0), as
PyTorch's. scikit-learn has no softplus, leaky ReLU, dampening, Adagrad, RMSprop or Adadelta: the values there
are the exact ones and PyTorch's."""
MLX = Conventions(
    name="mlx",
    sgd_dampening_first_step=True,
    softplus_threshold=None,
    leaky_relu_grad_at_zero=1.0,
)
"""MLX (mlx/optimizers/optimizers.py, mlx/nn/layers/activations.py): PyTorch's conventions except that SGD starts
its momentum buffer at zero and always computes v = momentum v + (1 - dampening) g (dampened from the first
step), softplus is the exact logaddexp(x, 0), and leaky_relu is mx.maximum(negative_slope * x, x), whose
derivative at x = +0 and -0 (a tie) is 1. Adam with `bias_correction=True` divides by
sqrt(v) / sqrt(1 - beta2^t) + eps (eps outside, as PyTorch); RMSprop and Adagrad add eps outside the root."""
PROFILES: dict[str, Conventions] = {
    profile.name: profile for profile in (PYTORCH, TEXTBOOK, KERAS, OPTAX, SKLEARN, MLX)
}
