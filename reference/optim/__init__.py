"""Optimizers as pure functions with PyTorch's semantics and defaults.

Each optimizer is ``step(params, grads, state, hyper, *, inplace=False) -> (params, state)``:
``params``/``grads`` are lists of arrays, ``state`` a dict laid out like torch's optimizer state
(``{"step": int, "<buffer>": [array | None per parameter]}``; ``{}`` is fresh), ``hyper`` a frozen dataclass.
With ``inplace=False`` nothing passed in is modified; with ``inplace=True`` params and buffers are updated in
place and the same objects are returned. Keys starting with ``_`` are scratch memory, not state
(``public_state`` drops them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

from mlpbench.reference.conventions import Conventions
from mlpbench.reference.optim._buffers import public_state
from mlpbench.reference.optim._chunks import limit_threads
from mlpbench.reference.optim.adadelta import Adadelta, adadelta
from mlpbench.reference.optim.adagrad import Adagrad, adagrad
from mlpbench.reference.optim.adam import Adam, AdamW, adam, adamw
from mlpbench.reference.optim.rmsprop import RMSprop, rmsprop
from mlpbench.reference.optim.sgd import SGD, sgd


@dataclass(frozen=True)
class Optimizer:
    """A registered optimizer: its hyperparameter dataclass, its step function and the options it has.

    ``options`` are the hyperparameter names that change the algorithm (what a capability can claim).
    ``extensions`` are hyperparameters PyTorch does not have (optax's RMSprop options); like the fields a
    profile governs, they are handed to an implementation only when a case sets them.
    """

    name: str
    hyper_class: type
    step: Callable[..., tuple[list, dict]]
    options: tuple[str, ...]
    extensions: tuple[str, ...] = ()

    @property
    def state_keys(self) -> tuple[str, ...]:
        return _STATE_KEYS[self.name]


_STATE_KEYS: dict[str, tuple[str, ...]] = {
    "sgd": ("step", "momentum_buffer"),
    "adam": ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    "adamw": ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    "adagrad": ("step", "sum"),
    "adadelta": ("step", "square_avg", "acc_delta"),
    "rmsprop": ("step", "square_avg", "momentum_buffer", "grad_avg"),
}

OPTIMIZERS: dict[str, Optimizer] = {
    entry.name: entry
    for entry in (
        Optimizer("sgd", SGD, sgd, ("momentum", "dampening", "nesterov", "weight_decay", "maximize")),
        Optimizer("adam", Adam, adam, ("weight_decay", "amsgrad", "maximize")),
        Optimizer("adamw", AdamW, adamw, ("amsgrad", "maximize")),
        Optimizer("adagrad", Adagrad, adagrad,
                  ("lr_decay", "weight_decay", "initial_accumulator_value", "maximize")),
        Optimizer("adadelta", Adadelta, adadelta, ("weight_decay", "maximize")),
        Optimizer("rmsprop", RMSprop, rmsprop, ("momentum", "centered", "weight_decay", "maximize"),
                  ("initial_scale", "bias_correction", "nesterov")),
    )
}
"""The options are those PyTorch has. Convention-governed fields (`governed_fields`) and optax's RMSprop
options (initial_scale, bias_correction, nesterov) are hyperparameters too, outside the PyTorch vocabulary."""


def governed_fields(name: str) -> tuple[str, ...]:
    """The hyperparameters of optimizer `name` that a convention profile chooses unless they are given."""
    return tuple(f.name for f in fields(get_optimizer(name).hyper_class) if f.default is None)


def get_optimizer(name: str) -> Optimizer:
    try:
        return OPTIMIZERS[name]
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}") from None


def make_hyper(name: str, conventions: Conventions | None = None, **kwargs: Any) -> Any:
    """The hyperparameter dataclass of optimizer ``name``; unknown keys raise ValueError naming them.

    With `conventions`, the fields the profile governs and ``kwargs`` leave unset take the profile's values
    (an explicit value, even one equal to PyTorch's default, always wins).
    """
    hyper_class = get_optimizer(name).hyper_class
    known = [f.name for f in fields(hyper_class)]
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        raise ValueError(f"unknown hyperparameters {unknown} for optimizer {name!r}; known: {known}")
    if conventions is not None:
        defaults = conventions.optimizer_defaults(name)
        kwargs = {**{key: defaults[key] for key in governed_fields(name) if kwargs.get(key) is None}, **{
            key: value for key, value in kwargs.items() if value is not None}}
        return apply_conventions(hyper_class(**kwargs), conventions)
    return hyper_class(**kwargs)


def hyperparameters(name: str, **overrides: Any) -> dict[str, Any]:
    """Every hyperparameter of optimizer ``name`` under PyTorch's names, defaults filled in: what the suite
    hands an implementation, so that no adapter has to know PyTorch's defaults.

    Keys a convention profile governs (`governed_fields`) and non-PyTorch extensions are left out unless
    ``overrides`` sets them.
    """
    hyper = make_hyper(name, **overrides)
    hidden = set(get_optimizer(name).extensions) - set(overrides)
    return {
        f.name: getattr(hyper, f.name)
        for f in fields(hyper)
        if getattr(hyper, f.name) is not None and f.name not in hidden
    }


def _fill_governed(hyper: Any, conventions: Conventions) -> Any:
    name = _NAMES[type(hyper)]
    defaults = conventions.optimizer_defaults(name)
    changes = {key: defaults[key] for key in governed_fields(name) if getattr(hyper, key) is None}
    return replace(hyper, **changes) if changes else hyper


def loss_weight_decay(hyper: Any, conventions: Conventions) -> float:
    """The weight decay that the profile moves out of the optimizer into the loss (`l2_penalty_in_loss`,
    scikit-learn's alpha): a coupled weight_decay, not AdamW's or a decoupled one; 0.0 otherwise."""
    hyper = _fill_governed(hyper, conventions)
    coupled = _NAMES[type(hyper)] != "adamw" and not getattr(hyper, "decoupled_weight_decay", False)
    return float(getattr(hyper, "weight_decay", 0.0)) if conventions.l2_penalty_in_loss and coupled else 0.0


def apply_conventions(hyper: Any, conventions: Conventions) -> Any:
    """The hyperparameters with a convention profile's choices filled into the governed fields left unset
    (None); a field the hyperparameters set explicitly keeps its value. A weight decay the profile puts into
    the loss (`loss_weight_decay`) is 0 in the optimizer: a bare step given gradients applies none."""
    filled = _fill_governed(hyper, conventions)
    return replace(filled, weight_decay=0.0) if loss_weight_decay(filled, conventions) else filled


_NAMES: dict[type, str] = {entry.hyper_class: entry.name for entry in OPTIMIZERS.values()}


def resolve_optimizer(optimizer: str | Optimizer, hyper: Any, conventions: Conventions) -> tuple[Optimizer, Any]:
    """The registry entry and its hyperparameters (defaults when None) with the profile applied."""
    entry = get_optimizer(optimizer) if isinstance(optimizer, str) else optimizer
    return entry, apply_conventions(entry.hyper_class() if hyper is None else hyper, conventions)


__all__ = [
    "OPTIMIZERS",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Optimizer",
    "RMSprop",
    "adadelta",
    "adagrad",
    "adam",
    "adamw",
    "apply_conventions",
    "get_optimizer",
    "governed_fields",
    "hyperparameters",
    "limit_threads",
    "loss_weight_decay",
    "make_hyper",
    "public_state",
    "resolve_optimizer",
    "rmsprop",
    "sgd",
]
