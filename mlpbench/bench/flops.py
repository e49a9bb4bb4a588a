"""Floating-point operation counts used for achieved FLOP/s and efficiency.

A dense layer with P = out*in weights does, per sample, P multiply-adds in the forward pass (2P FLOPs), 2P
for the gradient with respect to its input and 2P for the gradient with respect to its weights: 6P FLOPs.
Summed over layers, and counting biases with the weights as the customary approximation, one training step
costs about 6 * batch * parameters FLOPs. Activations, the loss and the optimizer update are O(batch * width)
or O(parameters) and are left out, so the figure slightly understates the work of a step.
"""

from __future__ import annotations

from reference.spec import MLPSpec

TRAINING_STEP_FORMULA = "FLOPs per training step = 6 * batch * parameters (forward 2, backward 4 per parameter)"
GEMM_FORMULA = "FLOPs of an n x n by n x n matrix product = 2 * n^3"


def training_step_flops(spec: MLPSpec, batch_size: int) -> int:
    """6 * batch * parameters."""
    return 6 * batch_size * spec.n_params


def gemm_flops(n: int) -> int:
    """2 * n^3 (n^3 multiply-adds)."""
    return 2 * n**3
