"""PyTorch DistributedDataParallel as an implementation under test: `torch-ddp` (CPU, gloo) and
`torch-ddp-cuda` (NCCL, one GPU per rank), with a world size chosen by name: `torch-ddp:4` runs 4 ranks,
`torch-ddp` runs 2.

The adapter runs inside the gate's worker and drives a persistent pool of rank processes
(`mlpbench.impls.ddp_pool.RankPool`); every batch the suite hands it is split across the ranks by rows and every rank
runs its shard (`mlpbench.impls.ddp_rank`, which states the semantics: global-batch losses with ranks weighted by their
sample counts, parameters broadcast from rank 0, gradients all-reduced, dropout masks those of the
single-process run for the suite's seed). What it claims: the model (forward_backward), training with early
stopping, every optimizer (each rank steps its replica), dropout, the elementwise activations and losses (rows
split across ranks), float32 and float64, determinism for a given world size. Not claimed: initializers (the
parameters of a data-parallel run come from rank 0's broadcast; the engine's own initializers are torch-cpu's).

This module imports without torch; the implementation then reports itself unavailable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mlpbench.impls.interface import Capabilities, Implementation, LossClaim, ModelResult, TrainRequest, TrainResult
from mlpbench.reference.spec import MLPSpec

DEFAULT_WORLD_SIZE = 2
MAX_WORLD_SIZE = 64
CALL_TIMEOUT_S = 30.0
"""Seconds one call may take on the ranks before the pool is stopped and the call fails as hung (the gate's own
per-check time limit, 60 s by default, stays above it)."""


class TorchDDPImplementation(Implementation):
    """Data-parallel torch over `world_size` ranks on "cpu" (gloo) or "cuda" (NCCL)."""

    kind = "built-in"
    engine = "mlpbench.impls.ddp_rank:RankEngine"

    def __init__(self, world_size: int = DEFAULT_WORLD_SIZE, device: str = "cpu", name: str | None = None,
                 call_timeout_s: float = CALL_TIMEOUT_S) -> None:
        if not 1 <= int(world_size) <= MAX_WORLD_SIZE:
            raise ValueError(f"world size must be 1 to {MAX_WORLD_SIZE}, not {world_size}")
        if device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', not {device!r}")
        self.world_size = int(world_size)
        self.device = device
        self.call_timeout_s = call_timeout_s
        base = "torch-ddp" + ("-cuda" if device == "cuda" else "")
        if name is not None:
            self.name = name
        elif type(self).name == Implementation.name:
            self.name = base if self.world_size == DEFAULT_WORLD_SIZE else f"{base}:{self.world_size}"
        backend = "NCCL" if device == "cuda" else "gloo"
        self.description = (f"PyTorch DistributedDataParallel, {self.world_size} ranks on {device} ({backend}), "
                            "TF32 off")
        self._pool: Any = None

    # -- what it is
    def availability(self) -> tuple[bool, str]:
        try:
            import torch
            import torch.distributed as dist
        except ImportError as error:
            return False, f"torch is not importable ({type(error).__name__}: {error})"
        if not dist.is_available():
            return False, "this torch build has no torch.distributed"
        if self.device == "cuda":
            if not torch.cuda.is_available():
                return False, "CUDA not available: torch.cuda.is_available() is False"
            if not dist.is_nccl_available():
                return False, "this torch build has no NCCL backend"
            if torch.cuda.device_count() < self.world_size:
                return False, (f"{self.world_size} ranks need {self.world_size} CUDA devices, "
                               f"torch.cuda.device_count() is {torch.cuda.device_count()}")
        elif not dist.is_gloo_available():
            return False, "this torch build has no gloo backend"
        return True, ""

    def capabilities(self) -> Capabilities:
        from mlpbench.impls.torch_impl import ACTIVATION_NAMES, LOSS_NAMES, claimed_optimizer_options

        return Capabilities(activations=frozenset(ACTIVATION_NAMES), losses={name: LossClaim() for name in LOSS_NAMES},
                            optimizers=claimed_optimizer_options(), dtypes=frozenset({"float32", "float64"}),
                            model=True, training=True, early_stopping=True, dropout=True, deterministic=True)

    def single_process_counterpart(self) -> Implementation:
        """The same engine in one process: the run a data-parallel one must reproduce."""
        from mlpbench.impls.torch_impl import TorchImplementation

        return TorchImplementation(device=self.device)

    # -- the ranks
    def pool(self) -> Any:
        if self._pool is None:
            from mlpbench.impls.ddp_pool import RankPool

            self._pool = RankPool(self.world_size, self.device, self.engine)
        return self._pool

    def ranks(self, op: str, timeout_s: float | None = None, **kwargs: Any) -> list[Any]:
        """Every rank's answer to `op` (raises mlpbench.impls.ddp_pool.RankFailure when a rank crashed, hung or
        raised)."""
        return self.pool().call(op, self.call_timeout_s if timeout_s is None else timeout_s, **kwargs)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()

    @staticmethod
    def rows(parts: Sequence[np.ndarray], like: np.ndarray) -> np.ndarray:
        """The ranks' row shards put back together (a 0-d input was computed whole by every rank)."""
        return parts[0] if np.ndim(like) == 0 else np.concatenate(parts, axis=0)

    # -- interface
    def activation(self, name: str, x: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return self.rows(self.ranks("activation", name=name, x=x, params=dict(params), grad_y=None), x)

    def activation_grad(self, name: str, x: np.ndarray, grad_y: np.ndarray, params: Mapping[str, Any]
                        ) -> np.ndarray:
        return self.rows(self.ranks("activation", name=name, x=x, params=dict(params), grad_y=grad_y), x)

    def loss(self, name: str, pred: np.ndarray, target: np.ndarray, reduction: str, params: Mapping[str, Any]
             ) -> tuple[np.ndarray, np.ndarray]:
        answers = self.ranks("loss", name=name, pred=pred, target=target, reduction=reduction, params=dict(params))
        grad = self.rows([a["grad"] for a in answers], pred)
        if reduction == "none":
            return self.rows([a["loss"] for a in answers], pred), grad
        return answers[0]["loss"], grad

    def dropout(self, x: np.ndarray, p: float, training: bool, seed: int) -> np.ndarray:
        return self.rows(self.ranks("dropout", x=x, p=p, training=training, seed=seed), x)

    def forward_backward(self, spec: MLPSpec, params: Sequence[np.ndarray], x: np.ndarray, target: np.ndarray,
                         loss: str, *, reduction: str = "mean", loss_params: Mapping[str, Any] | None = None,
                         training: bool = False, dropout_seed: int | None = None) -> ModelResult:
        answers = self.ranks("forward_backward", spec=spec, params=list(params), x=x, target=target, loss=loss,
                             reduction=reduction, loss_params=dict(loss_params or {}), training=training,
                             dropout_seed=dropout_seed)
        first = answers[0]
        masks = None
        if first["masks"] is not None:
            masks = [np.concatenate([a["masks"][layer] for a in answers]) for layer in range(len(first["masks"]))]
        loss_value = (np.concatenate([a["loss"] for a in answers]) if reduction == "none" else first["loss"])
        return ModelResult(output=np.concatenate([a["output"] for a in answers]), loss=loss_value,
                           param_grads=first["param_grads"],
                           input_grad=np.concatenate([a["input_grad"] for a in answers]), dropout_masks=masks)

    def optimizer_run(self, name: str, hyper: Mapping[str, Any], params: Sequence[np.ndarray],
                      grads_per_step: Sequence[Sequence[np.ndarray]]) -> tuple[list[np.ndarray], dict[str, Any]]:
        return self.ranks("optimizer_run", name=name, hyper=dict(hyper), params=list(params),
                          grads_per_step=[list(g) for g in grads_per_step])[0]

    def train(self, request: TrainRequest) -> TrainResult:
        return self.ranks("train", request=request)[0]

    def replicas(self, request: TrainRequest) -> list[TrainResult]:
        """Every rank's result of a training run (their parameters must be identical: the replicas stay in step)."""
        return self.ranks("train", request=request)

    def bench(self, spec: MLPSpec, params: Sequence[np.ndarray], x: np.ndarray, target: np.ndarray, loss: str,
              optimizer: str, hyper: Mapping[str, Any], *, steps: int, blocks: int, warmup: int,
              timeout_s: float = 600.0) -> list[dict[str, Any]]:
        """Timed data-parallel training steps on the ranks (mlpbench.impls.ddp_rank.RankEngine.op_bench), per rank."""
        return self.ranks("bench", timeout_s, spec=spec, params=list(params), x=x, target=target, loss=loss,
                          optimizer=optimizer, hyper=dict(hyper), steps=steps, blocks=blocks, warmup=warmup)


def parse_world_size(text: str) -> int:
    """The N of "torch-ddp:N": a whole number from 1 to MAX_WORLD_SIZE, else ValueError."""
    if not text.isdigit() or not 1 <= int(text) <= MAX_WORLD_SIZE:
        raise ValueError(f"the world size must be a whole number from 1 to {MAX_WORLD_SIZE}, not {text!r}")
    return int(text)
