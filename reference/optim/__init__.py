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

from reference.conventions import Conventions
from reference.optim._buffers import public_state
from reference.optim.adadelta import Adadelta, adadelta
from reference.optim.adagrad import Adagrad, adagrad
from reference.optim.adam import Adam, AdamW, adam, adamw
from reference.optim.rmsprop import RMSprop, rmsprop
from reference.optim.sgd import SGD, sgd


@dataclass(frozen=True)
class Optimizer:
    """A registered optimizer: its hyperparameter dataclass, its step function and the options it has.

    ``options`` are the hyperparameter names that change the algorithm (what a capability can claim).
    """

    name: str
    hyper_class: type
    step: Callable[..., tuple[list, dict]]
    options: tuple[str, ...]

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
        Optimizer("adagrad", Adagrad, adagrad, ("lr_decay", "weight_decay", "initial_accumulator_value")),
        Optimizer("adadelta", Adadelta, adadelta, ("weight_decay",)),
        Optimizer("rmsprop", RMSprop, rmsprop, ("momentum", "centered", "weight_decay")),
    )
}


def get_optimizer(name: str) -> Optimizer:
    try:
        return OPTIMIZERS[name]
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}") from None


def make_hyper(name: str, **kwargs: Any) -> Any:
    """The hyperparameter dataclass of optimizer ``name``; unknown keys raise ValueError naming them."""
    hyper_class = get_optimizer(name).hyper_class
    known = [f.name for f in fields(hyper_class)]
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        raise ValueError(f"unknown hyperparameters {unknown} for optimizer {name!r}; known: {known}")
    return hyper_class(**kwargs)


def hyperparameters(name: str, **overrides: Any) -> dict[str, Any]:
    """Every hyperparameter of optimizer ``name`` under PyTorch's names, defaults filled in: what the suite
    hands an implementation, so that no adapter has to know PyTorch's defaults.

    Keys a convention profile governs are left out unless ``overrides`` sets them: ``eps_inside_sqrt`` and
    Adagrad's ``initial_accumulator_value`` (see `apply_conventions`).
    """
    hyper = make_hyper(name, **overrides)
    governed = {"eps_inside_sqrt", "initial_accumulator_value"} - set(overrides)
    return {f.name: getattr(hyper, f.name) for f in fields(hyper) if f.name not in governed}


def apply_conventions(hyper: Any, conventions: Conventions) -> Any:
    """The hyperparameters with a convention profile's choices applied.

    ``eps_inside_sqrt`` is taken from the profile (Adam, AdamW, Adagrad, RMSprop). Adagrad's
    ``initial_accumulator_value`` is taken from the profile unless the hyperparameters set a non-default
    (non-zero) value themselves, which then wins.
    """
    changes: dict[str, Any] = {}
    names = {f.name for f in fields(hyper)}
    if "eps_inside_sqrt" in names:
        changes["eps_inside_sqrt"] = conventions.eps_inside_sqrt
    if "initial_accumulator_value" in names and hyper.initial_accumulator_value == 0.0:
        changes["initial_accumulator_value"] = conventions.adagrad_initial_accumulator
    return replace(hyper, **changes) if changes else hyper


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
    "hyperparameters",
    "make_hyper",
    "public_state",
    "rmsprop",
    "sgd",
]
