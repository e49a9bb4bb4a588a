"""PyTorch with the whole training step under `torch.compile`: the forward pass and loss compiled (TorchInductor
generates the backward graph with it, which `loss.backward()` runs), and `optimizer.step` compiled (torch's
compiled optimizer). Element checks (activations and losses) run each module compiled on its own.

Compiling costs seconds per graph on a CPU, so compiled functions are cached by what makes a graph different
(the network's structure, loss, reduction, dtype, training mode; the optimizer and its hyperparameters) and
compiled with dynamic shapes, so a new batch size or width reuses the graph. Dynamo's recompile limit is raised
and hitting it is an error (`fail_on_recompile_limit_hit`): a step never falls back to eager silently.
Compile time is measured on its own (`Trainer.compile_s`, the first step of a benchmark trainer), never inside
a timed step.

Float64 and early stopping are not claimed (see `capabilities`). Dropout is not claimed: inside a compiled
graph TorchInductor draws dropout masks from its own generator and module hooks do not run, so the suite cannot
recover the masks a compiled step used.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from impls.interface import Capabilities, Trainer
from impls.torch_impl import TorchImplementation, TorchTrainer, torch
from reference.spec import MLPSpec

SETTLE_MIN_SECONDS = 3.0
"""At least this long a benchmark trainer steps after compiling (the slow phase lasts about a second here)."""
SETTLE_SECONDS = 30.0
"""At most this long a benchmark trainer steps after compiling until its step time settles."""


def settle(trainer: Trainer, window: int = 5, spread: float = 2.0) -> float:
    """Step until `window` consecutive steps each take at most `spread` times the fastest step so far (or
    SETTLE_SECONDS pass); return the seconds that took, the first (compiling) step included. After the first
    step TorchInductor still finishes kernels in the background here: the next steps take about 70 ms for a
    second or so, then under 1 ms. All of it is compile time, none of it is step time."""
    started = time.perf_counter()
    fastest, calm = float("inf"), 0
    while (calm < window or time.perf_counter() - started < SETTLE_MIN_SECONDS) and (
            time.perf_counter() - started < SETTLE_SECONDS):
        begin = time.perf_counter()
        trainer.step()
        trainer.synchronize()
        took = time.perf_counter() - begin
        fastest = min(fastest, took)
        calm = calm + 1 if took <= spread * fastest else 0
    return time.perf_counter() - started

RECOMPILE_LIMIT = 4096
"""Dynamo's per-function recompile limit in this engine's worker (its default, 8, would fall back to eager)."""


def configure_dynamo() -> None:
    """Raise the recompile limit and make hitting it an error rather than a silent eager fallback."""
    config = torch._dynamo.config
    config.recompile_limit = RECOMPILE_LIMIT
    config.accumulated_recompile_limit = RECOMPILE_LIMIT * 4
    config.fail_on_recompile_limit_hit = True


def _model_key(model: Any) -> tuple:
    return tuple(type(m).__name__ + repr(getattr(m, "__dict__", {}).get("approximate", "")) for m in model)


class TorchCompiledImplementation(TorchImplementation):
    """torch.nn and torch.optim with every step under torch.compile (TorchInductor)."""

    def __init__(self, device: str = "cpu", name: str | None = None, dynamic: bool | None = True) -> None:
        super().__init__(device=device, name=name)
        self.dynamic = dynamic
        self._cache: dict[tuple, Callable[..., Any]] = {}
        version = torch.__version__ if torch is not None else "not installed"
        self.description = f"PyTorch {version} on {device}, training step under torch.compile (inductor), TF32 off"

    def capabilities(self) -> Capabilities:
        """torch-cpu's claim less dropout (masks not recoverable), float64 (every compile paid twice would
        take the gate past ten minutes here) and early stopping (a float32 bias 1.15 times the tolerance after
        min_delta stopping, see the README's findings)."""
        return replace(super().capabilities(), dropout=False, early_stopping=False, dtypes=frozenset({"float32"}))

    def availability(self) -> tuple[bool, str]:
        available, reason = super().availability()
        if available:
            configure_dynamo()
        return available, reason

    # -- the cache
    def compiled(self, key: tuple, build: Callable[[], Callable[..., Any]]) -> Callable[..., Any]:
        """The compiled function for `key`, compiled on first use."""
        if key not in self._cache:
            configure_dynamo()
            self._cache[key] = torch.compile(build(), dynamic=self.dynamic)
        return self._cache[key]

    # -- compiled hooks
    def forward_loss(self, model: Any, x: Any, target: Any, loss: str, reduction: str,
                     loss_params: Mapping[str, Any]) -> tuple[Any, Any]:
        key = ("forward_loss", _model_key(model), model.training, loss, reduction,
               tuple(sorted(dict(loss_params).items())), x.dtype, target.dtype)

        def build() -> Callable[..., Any]:
            def forward_loss(module: Any, inputs: Any, labels: Any) -> tuple[Any, Any]:
                output = module(inputs)
                return output, self.compute_loss(loss, output, labels, reduction, loss_params)

            return forward_loss

        return self.compiled(key, build)(model, x, target)

    def optimizer_step(self, optimizer: Any) -> Callable[[], Any]:
        """torch's compiled optimizer step, with automatic dynamic shapes (dynamic=None): with dynamic=True,
        torch 2.13 compiles RMSprop's step with the wrong smoothing constant (see the README's findings)."""
        configure_dynamo()
        return torch.compile(optimizer.step, dynamic=None)

    def activation(self, name: str, x: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        with self.numerics(), torch.no_grad():
            module = self.build_activation(name, params)
            function = self.compiled(("activation", name, tuple(sorted(dict(params).items())), x.dtype.name),
                                     lambda: lambda m, t: m(t))
            return self.numpy(function(module, self.tensor(x)), x.dtype)

    def activation_grad(self, name: str, x: np.ndarray, grad_y: np.ndarray, params: Mapping[str, Any]
                        ) -> np.ndarray:
        with self.numerics():
            module = self.build_activation(name, params)
            function = self.compiled(("activation", name, tuple(sorted(dict(params).items())), x.dtype.name),
                                     lambda: lambda m, t: m(t))
            xt = self.tensor(x).requires_grad_(True)
            function(module, xt).backward(self.tensor(grad_y, xt.dtype))
            return self.numpy(xt.grad, x.dtype)

    def loss(self, name: str, pred: np.ndarray, target: np.ndarray, reduction: str, params: Mapping[str, Any]
             ) -> tuple[np.ndarray, np.ndarray]:
        with self.numerics():
            predt = self.tensor(pred).requires_grad_(True)
            targett = self.target_tensor(name, target, predt)
            key = ("loss", name, reduction, tuple(sorted(dict(params).items())), predt.dtype, targett.dtype)

            def build() -> Callable[..., Any]:
                return lambda p, t: self.compute_loss(name, p, t, reduction, params)

            value = self.compiled(key, build)(predt, targett)
            (value.sum() if reduction == "none" else value).backward()
            return self.numpy(value, pred.dtype), self.numpy(predt.grad, pred.dtype)

    # -- benchmarking: compile time on its own
    def make_trainer(self, spec: MLPSpec, params: Sequence[np.ndarray], x: np.ndarray, target: np.ndarray,
                     loss: str, optimizer: str, hyper: Mapping[str, Any]) -> Trainer:
        trainer = super().make_trainer(spec, params, x, target, loss, optimizer, hyper)
        assert isinstance(trainer, TorchTrainer)
        trainer.compile_s = settle(trainer)
        return trainer
