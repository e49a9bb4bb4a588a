"""The architecture of a sequential MLP, as plain data shared by the oracle and every implementation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MLPSpec:
    """Dense layers of the given sizes, `activation` after every hidden layer, `output_activation` at the end.

    sizes: (inputs, hidden..., outputs), at least two entries.
    activation_params: keyword parameters of the hidden activation, e.g. (("negative_slope", 0.2),).
    dropout: inverted-dropout probability applied after every hidden activation (training mode only).
    """

    sizes: tuple[int, ...]
    activation: str = "relu"
    output_activation: str = "identity"
    activation_params: tuple[tuple[str, Any], ...] = ()
    dropout: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", tuple(int(s) for s in self.sizes))
        if len(self.sizes) < 2 or any(s < 1 for s in self.sizes):
            raise ValueError(f"sizes must be at least (inputs, outputs), all positive; got {self.sizes}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def n_layers(self) -> int:
        """Number of dense layers."""
        return len(self.sizes) - 1

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        return self.sizes[1:-1]

    def activation_kwargs(self) -> dict[str, Any]:
        return dict(self.activation_params)

    def param_shapes(self) -> list[tuple[int, ...]]:
        shapes: list[tuple[int, ...]] = []
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:]):
            shapes += [(fan_out, fan_in), (fan_out,)]
        return shapes

    def param_names(self) -> list[str]:
        return [f"layers.{i}.{kind}" for i in range(self.n_layers) for kind in ("weight", "bias")]

    @property
    def n_params(self) -> int:
        return sum(fan_out * fan_in + fan_out for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:]))

    def describe(self) -> str:
        text = "-".join(str(s) for s in self.sizes) + f" {self.activation}"
        if self.activation_params:
            text += "(" + ", ".join(f"{k}={v}" for k, v in self.activation_params) + ")"
        if self.output_activation != "identity":
            text += f" -> {self.output_activation}"
        if self.dropout:
            text += f" dropout={self.dropout}"
        return text
