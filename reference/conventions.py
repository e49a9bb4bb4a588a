"""Convention profiles: the places where MLP libraries legitimately differ, as data.

The oracle takes a profile as a parameter; an implementation declares the profile it follows. PyTorch's is the
default. A new profile is a dictionary (`Conventions.from_dict`), not a fork of the code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Conventions:
    """One library's choices.

    eps_inside_sqrt: adaptive optimizers divide by sqrt(v + eps) instead of sqrt(v) + eps (Adam, AdamW,
        RMSprop, Adagrad).
    adagrad_initial_accumulator: the value Adagrad's sum of squared gradients starts from.
    mse_half: MSE as 0.5 * (pred - target)**2 (the textbook "1/2 sum of squares" form) instead of the plain square.
    gelu_approximate: "none" (exact, with erf) or "tanh".
    bce_log_clamp: binary cross-entropy clamps log(p) and log(1 - p) from below at this value (PyTorch: -100);
        None means no clamp.
    relu_grad_at_zero: the derivative ReLU reports at exactly 0.
    """

    name: str = "pytorch"
    eps_inside_sqrt: bool = False
    adagrad_initial_accumulator: float = 0.0
    mse_half: bool = False
    gelu_approximate: str = "none"
    bce_log_clamp: float | None = -100.0
    relu_grad_at_zero: float = 0.0

    def __post_init__(self) -> None:
        if self.gelu_approximate not in ("none", "tanh"):
            raise ValueError(f"gelu_approximate must be 'none' or 'tanh', not {self.gelu_approximate!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Conventions:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown convention keys {unknown}; known: {sorted(known)}")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_changes(self, **changes: Any) -> Conventions:
        return replace(self, **changes)


PYTORCH = Conventions()
TEXTBOOK = Conventions(name="textbook", eps_inside_sqrt=True, mse_half=True, bce_log_clamp=None)
PROFILES: dict[str, Conventions] = {profile.name: profile for profile in (PYTORCH, TEXTBOOK)}
