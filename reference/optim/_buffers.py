"""State and buffer handling shared by the optimizers.

Every optimizer is a pure function ``step(params, grads, state, hyper, *, inplace=False) -> (params, state)``.

* ``inplace=False``: nothing passed in is modified; params and state buffers are copied first.
* ``inplace=True``: params and state buffers are updated in place and the same objects are returned.

State is a dict ``{"step": int, "<buffer>": [array | None per parameter], ...}``; ``{}`` is a fresh state.
Keys starting with ``_`` are private working memory (``"_scratch"``: reusable temporaries, one list per
parameter), never part of the optimizer's mathematical state and never copied.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any, TypeVar

import numpy as np

SCRATCH_KEY = "_scratch"


def is_private(key: str) -> bool:
    """Keys of working memory that is not optimizer state (excluded from comparisons)."""
    return key.startswith("_")


def public_state(state: dict) -> dict:
    """The state without private working memory."""
    return {key: value for key, value in state.items() if not is_private(key)}


def check_inputs(params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
    """Params and grads must pair up one to one, shape for shape."""
    if len(params) != len(grads):
        raise ValueError(f"got {len(params)} parameters but {len(grads)} gradients")
    for index, (param, grad) in enumerate(zip(params, grads, strict=True)):
        if grad is None:
            raise ValueError(f"gradient {index} is None")
        if np.shape(param) != np.shape(grad):
            raise ValueError(
                f"parameter {index} has shape {np.shape(param)} but its gradient {np.shape(grad)}"
            )


def _copy_buffer(value: object) -> object:
    if isinstance(value, list):
        return [None if item is None else np.array(item, copy=True) for item in value]
    if isinstance(value, np.ndarray):
        return value.copy()
    return value


def begin(
    params: Sequence[np.ndarray], grads: Sequence[np.ndarray], state: dict, inplace: bool
) -> tuple[list[np.ndarray], dict]:
    """Validate and return the (params, state) the update will write into.

    In place: the caller's own list and dict. Otherwise: deep copies (private keys dropped).
    """
    check_inputs(params, grads)
    if inplace:
        if not isinstance(params, list):
            raise TypeError("inplace=True needs params as a list of arrays")
        for index, param in enumerate(params):
            if not isinstance(param, np.ndarray) or not param.flags.writeable:
                raise TypeError(f"inplace=True needs writeable ndarrays; parameter {index} is not")
        return params, state
    new_params = [np.array(param, copy=True) for param in params]
    new_state = {key: _copy_buffer(value) for key, value in state.items() if not is_private(key)}
    return new_params, new_state


def buffers(state: dict, key: str, params: Sequence[np.ndarray], fill: float = 0.0) -> list[np.ndarray]:
    """The per-parameter buffer list ``state[key]``, created filled with ``fill`` if missing."""
    existing = state.get(key)
    if existing is None:
        existing = [np.full_like(param, fill) for param in params]
        state[key] = existing
    elif len(existing) != len(params):
        raise ValueError(f"state[{key!r}] has {len(existing)} entries for {len(params)} parameters")
    return existing


def scratch_pool(state: dict, params: Sequence[np.ndarray], inplace: bool) -> list[list[np.ndarray]]:
    """Reusable temporaries, one list per parameter; kept in ``state["_scratch"]`` when updating in place."""
    if not inplace:
        return [[] for _ in params]
    pool = state.get(SCRATCH_KEY)
    if pool is None or len(pool) != len(params):
        pool = [[] for _ in params]
        state[SCRATCH_KEY] = pool
    return pool


def scratch(slots: list[np.ndarray], slot: int, like: np.ndarray) -> np.ndarray:
    """Scratch array number ``slot`` shaped and typed like ``like`` (allocated on first use)."""
    while len(slots) <= slot:
        slots.append(np.empty_like(like))
    if slots[slot].shape != like.shape or slots[slot].dtype != like.dtype:
        slots[slot] = np.empty_like(like)
    return slots[slot]


def effective_grad(
    grad: np.ndarray, param: np.ndarray, weight_decay: float, maximize: bool, slots: list[np.ndarray]
) -> np.ndarray:
    """g = (-grad if maximize else grad) + weight_decay * param.

    Returns ``grad`` itself when nothing changes it (no copy), else scratch slot 1 filled with the result
    (the caller's gradient is never written to).
    """
    if weight_decay == 0 and not maximize:
        return grad
    out = scratch(slots, 1, param)
    if weight_decay != 0:
        np.multiply(param, weight_decay, out=out)
        if maximize:
            out -= grad
        else:
            out += grad
        return out
    return np.negative(grad, out=out)


def with_defaults(hyper: Any) -> Any:
    """The hyperparameters with every profile-governed field still None (not chosen) set to PyTorch's choice."""
    names = _GOVERNED.get(type(hyper))
    if names is None:
        names = _GOVERNED[type(hyper)] = tuple(f.name for f in fields(hyper) if f.default is None)
    unset = [name for name in names if getattr(hyper, name) is None]
    if not unset:
        return hyper
    from mlpbench.reference.conventions import PYTORCH

    defaults = PYTORCH.optimizer_defaults(type(hyper).__name__.lower())
    return replace(hyper, **{name: defaults[name] for name in unset})


_GOVERNED: dict[type, tuple[str, ...]] = {}

_T = TypeVar("_T")


def chosen(value: _T | None, name: str) -> _T:
    """A profile-governed field of hyperparameters that went through `with_defaults`: it is never None there."""
    if value is None:
        raise AssertionError(f"{name} is None after with_defaults: the profile did not choose it")
    return value


def decay_weights(param: np.ndarray, lr: float, weight_decay: float) -> None:
    """Decoupled weight decay, applied before the update: p <- p (1 - lr wd)."""
    if weight_decay != 0:
        param *= 1.0 - lr * weight_decay


def moving_average(average: np.ndarray, value: np.ndarray, beta: float, work: np.ndarray) -> None:
    """average <- beta average + (1 - beta) value, in place.

    The two weighted terms are added, never average + (1 - beta)(value - average): that form cancels to 0
    when |average| >> |value| and beta = 0, and value - average can overflow.
    """
    average *= beta
    np.multiply(value, 1.0 - beta, out=work)
    average += work


def moving_average_of_squares(average: np.ndarray, g: np.ndarray, beta: float, work: np.ndarray) -> None:
    """average <- beta average + ((1 - beta) g) g, in place: (1 - beta) is applied before squaring, so
    (1 - beta) g^2 stays finite for |g| up to sqrt(DBL_MAX / (1 - beta)) and is 0, not NaN, when beta = 1."""
    average *= beta
    np.multiply(g, 1.0 - beta, out=work)
    work *= g
    average += work


def bias_correction(beta: float, step: int) -> float:
    """1 - beta^t, as -expm1(t log(beta)) with log(beta) = log1p(-(1 - beta)): 1 - beta is exact for beta in
    [1/2, 1], so nothing cancels (1 - 0.999**2 computed directly keeps only 13 digits)."""
    if beta == 0.0:
        return 1.0
    return -math.expm1(step * math.log1p(-(1.0 - beta)))


def next_step(state: dict) -> int:
    """Increment and return the step counter (torch increments before using it)."""
    step = int(state.get("step", 0)) + 1
    state["step"] = step
    return step


def check_nonnegative(**values: float) -> None:
    for name, value in values.items():
        if not value >= 0.0:
            raise ValueError(f"Invalid {name} value: {value} (must be >= 0)")
