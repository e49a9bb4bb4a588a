"""Floating-point operation counts of a training step, per dense layer, from the architecture.

A dense layer l maps in_l features to out_l for a batch of B samples. Its matrix products are
  forward           Z = X W^T        2 * B * in_l * out_l
  weight gradient   dW = dZ^T X      2 * B * in_l * out_l
  input gradient    dX = dZ W        2 * B * in_l * out_l, for every layer but the first (nothing consumes
                                     the gradient with respect to the network's input, so no step computes it)
so a step costs sum_l 2 * B * in_l * out_l * (3 if l > 1 else 2) FLOPs of matrix products. These are the
FLOPs compared with the GEMM peak (efficiency).

Counted separately and excluded from FLOP/s and efficiency: the element-wise work of the bias add and bias
gradient (B * out_l each), the activations and their derivatives, the loss, and the optimizer update
(O(parameters)); all of it is O(B * width) or O(parameters), not the O(B * width^2) of the products.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlpbench.reference.spec import MLPSpec

TRAINING_STEP_FORMULA = (
    "FLOPs per training step = sum over dense layers l (in_l -> out_l) of 2*B*in_l*out_l (forward) "
    "+ 2*B*in_l*out_l (weight gradient) + 2*B*in_l*out_l (input gradient, every layer but the first); "
    "bias, activation, loss and optimizer work are excluded"
)
GEMM_FORMULA = "FLOPs of an n x n by n x n matrix product = 2 * n^3"


@dataclass(frozen=True)
class LayerFlops:
    """Matrix-product FLOPs of one dense layer in one training step."""

    fan_in: int
    fan_out: int
    forward: int
    weight_gradient: int
    input_gradient: int

    @property
    def total(self) -> int:
        return self.forward + self.weight_gradient + self.input_gradient


def layer_flops(spec: MLPSpec, batch_size: int) -> list[LayerFlops]:
    """The per-layer count of the module docstring; the first layer has no input gradient."""
    out = []
    for index, (fan_in, fan_out) in enumerate(zip(spec.sizes[:-1], spec.sizes[1:])):
        product = 2 * batch_size * fan_in * fan_out
        out.append(LayerFlops(fan_in, fan_out, product, product, product if index > 0 else 0))
    return out


def training_step_flops(spec: MLPSpec, batch_size: int) -> int:
    """Matrix-product FLOPs of one training step (forward, weight gradients, input gradients but the first)."""
    return sum(layer.total for layer in layer_flops(spec, batch_size))


def gemm_flops(n: int) -> int:
    """2 * n^3 (n^3 multiply-adds)."""
    return 2 * n**3
