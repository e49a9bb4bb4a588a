"""The interface an MLP engine adapts to so that mlpbench can check and time it.

An adapter receives NumPy arrays from the suite and returns NumPy arrays. The suite owns every random stream
(initial parameters, data, batch order, dropout masks); only the statistical checks of an implementation's own
initializers and dropout use the implementation's generators. An adapter declares what it supports in
`Capabilities` and its conventions in a `Conventions` profile, and is checked only on what it claims: a method
for a capability it does not claim may simply raise `NotImplementedError`.

Array conventions: a dense layer's weight has PyTorch's layout (out_features, in_features); a model's parameters
are the flat list `[W0, b0, W1, b1, ...]`. Every array handed to a method already has the dtype under test, and
every returned array must have that dtype and the documented shape; the suite treats anything else (another
shape or dtype, NaN where the oracle is finite, a modified input) as a failed check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlpbench.impls.capabilities import (  # noqa: F401  (re-exported for adapters)
    ActivationClaim,
    Capabilities,
    InitializerClaim,
    LossClaim,
    Needs,
)
from mlpbench.reference.conventions import PYTORCH, Conventions
from mlpbench.reference.early_stopping import EarlyStopping
from mlpbench.reference.spec import MLPSpec

AREAS = (
    "activations",
    "losses",
    "init",
    "model",
    "optimizers",
    "training",
    "early_stopping",
    "dropout",
    "determinism",
    "devices",
)
"""The capability areas a conformance report is broken into, in report order."""


@dataclass
class ModelResult:
    """One forward and backward pass through an MLP with a loss on top."""

    output: np.ndarray  # (batch, out)
    loss: np.ndarray  # 0-d
    param_grads: list[np.ndarray]  # same shapes as params
    input_grad: np.ndarray  # (batch, in)
    dropout_masks: list[np.ndarray] | None = None  # keep-masks (0/1) the implementation used, one per hidden layer


@dataclass
class TrainRequest:
    """A mini-batch training run, fully specified by the suite."""

    spec: MLPSpec
    params: list[np.ndarray]
    x: np.ndarray
    y: np.ndarray
    loss: str
    optimizer: str
    hyper: dict[str, Any]  # keyword arguments of the optimizer's hyperparameter dataclass (PyTorch names)
    epochs: int
    batch_size: int
    batch_orders: list[np.ndarray]  # one permutation of range(len(x)) per epoch; batches are consecutive slices
    loss_params: dict[str, Any] = field(default_factory=dict)
    reduction: str = "mean"
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    early_stopping: EarlyStopping | None = None
    dropout_seed: int = 0  # seeds the implementation's own dropout generator when spec.dropout > 0
    clip_grad_norm: float | None = None  # training option: clip each step's gradients to this global L2 norm
    clip_grad_value: float | None = None  # training option: clamp each gradient element into [-v, v]


@dataclass
class TrainResult:
    params: list[np.ndarray]  # final parameters (the restored best ones when early stopping restores)
    train_loss: list[float]  # per epoch: sample-weighted mean of the batch losses seen during the epoch
    val_loss: list[float]  # per epoch, evaluation mode, after the epoch; empty without validation data
    epochs_run: int
    best_epoch: int | None = None  # 0-based
    stopped_epoch: int | None = None  # 0-based epoch at which early stopping stopped, None if it did not


class Trainer:
    """A training step bound to data already resident on the device; what the benchmark harness times.

    `step()` runs forward, loss, backward and optimizer step once on the resident batch. `synchronize()` waits
    for queued device work (a no-op on the CPU). Timing code calls `synchronize()` around timed blocks.
    """

    compile_s: float | None = None  # compile or jit time spent building the trainer (None: nothing compiled)

    def step(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def synchronize(self) -> None:
        return None


class Implementation:
    """Base class for adapters. Override what you claim; leave the rest raising NotImplementedError."""

    name: str = "unnamed"
    kind: str = "plug-in"  # "built-in" | "plug-in" | "mutant"
    device: str = "cpu"  # "cpu" | "cuda" | anything the adapter names
    precision: str = "ieee"  # "ieee" (conformance) or a labelled reduced-precision mode such as "tf32"
    conventions: Conventions = PYTORCH
    description: str = ""

    def capabilities(self) -> Capabilities:
        return Capabilities()

    def availability(self) -> tuple[bool, str]:
        """(available here, reason when not), e.g. (False, "CUDA not available: torch.cuda.is_available() is False")."""
        return True, ""

    # -- elementwise and losses -------------------------------------------------------------------------------
    def activation(self, name: str, x: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        """y = f(x), same shape and dtype as x."""
        raise NotImplementedError

    def activation_grad(
        self, name: str, x: np.ndarray, grad_y: np.ndarray, params: Mapping[str, Any]
    ) -> np.ndarray:
        """grad_x = grad_y * f'(x) (the vector-Jacobian product for softmax)."""
        raise NotImplementedError

    def loss(
        self, name: str, pred: np.ndarray, target: np.ndarray, reduction: str, params: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(loss value, gradient of the reduced loss with respect to pred). For reduction "none" the gradient is
        that of the sum of the per-element losses."""
        raise NotImplementedError

    # -- initializers (the implementation's own generator) ---------------------------------------------------
    def init(self, name: str, shape: tuple[int, ...], params: Mapping[str, Any], seed: int, dtype: str) -> np.ndarray:
        """Draw a tensor of `shape` with the implementation's own initializer `name` seeded with `seed`."""
        raise NotImplementedError

    # -- model ------------------------------------------------------------------------------------------------
    def forward_backward(
        self,
        spec: MLPSpec,
        params: Sequence[np.ndarray],
        x: np.ndarray,
        target: np.ndarray,
        loss: str,
        *,
        reduction: str = "mean",
        loss_params: Mapping[str, Any] | None = None,
        training: bool = False,
        dropout_seed: int | None = None,
    ) -> ModelResult:
        """Forward through the MLP, the loss, and backward. With `training` and spec.dropout > 0 the
        implementation applies its own dropout (seeded by dropout_seed) and must report the keep-masks it used."""
        raise NotImplementedError

    def dropout(self, x: np.ndarray, p: float, training: bool, seed: int) -> np.ndarray:
        """The implementation's own dropout applied to x (statistical checks)."""
        raise NotImplementedError

    # -- optimizers -------------------------------------------------------------------------------------------
    def optimizer_run(
        self,
        name: str,
        hyper: Mapping[str, Any],
        params: Sequence[np.ndarray],
        grads_per_step: Sequence[Sequence[np.ndarray]],
    ) -> tuple[list[np.ndarray], dict[str, Any]]:
        """Apply len(grads_per_step) optimizer steps, step k using grads_per_step[k] as the gradients.

        Returns (final params, state) with state laid out as the oracle's: {"step": int, "<buffer>": [array per
        param], ...}, buffer names as in torch.optim's state (exp_avg, exp_avg_sq, momentum_buffer, ...)."""
        raise NotImplementedError

    # -- training ---------------------------------------------------------------------------------------------
    def train(self, request: TrainRequest) -> TrainResult:
        raise NotImplementedError

    # -- benchmarking -----------------------------------------------------------------------------------------
    def make_trainer(
        self,
        spec: MLPSpec,
        params: Sequence[np.ndarray],
        x: np.ndarray,
        target: np.ndarray,
        loss: str,
        optimizer: str,
        hyper: Mapping[str, Any],
    ) -> Trainer:
        """A Trainer with x and target copied to the device once (not timed) and the given initial params."""
        raise NotImplementedError

    def transfer_to_device(self, arrays: Sequence[np.ndarray]) -> None:
        """Copy arrays host -> device and wait for completion (timed as its own row by the harness)."""
        return None
