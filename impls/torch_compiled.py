"""PyTorch with the whole training step under `torch.compile`: the forward pass and loss compiled (TorchInductor
generates the backward graph with it, which `loss.backward()` runs), and `optimizer.step` compiled (torch's
compiled optimizer). Element checks (activations and losses) run each module compiled on its own.

Compiling costs seconds per graph on a CPU, so compiled functions are cached by what makes a graph different
(the network's structure, loss, reduction, dtype, training mode; the optimizer and its hyperparameters) and
compiled with dynamic shapes, so a new batch size or width reuses the graph. Dynamo's recompile limit is raised
and hitting it is an error (`fail_on_recompile_limit_hit`): a step never falls back to eager silently.
Compile time is measured on its own, never inside a timed step: `Trainer.compile_s` is the time of a benchmark
trainer's steps until the last one that compiled (`compile_steps`: TorchDynamo's frame count, not the step time,
says when compiling is over). With dynamic shapes, a trainer whose graph is already cached (the same network at
another batch size) pays only its new optimizer's compile.

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

from mlpbench.impls.interface import Capabilities, Trainer
from mlpbench.impls.torch_impl import TorchImplementation, TorchTrainer, torch
from mlpbench.reference.spec import MLPSpec

COMPILE_STEPS_LIMIT = 20
"""At most this many steps a benchmark trainer takes to stop compiling: a step that still compiles after that
recompiles on every call and cannot be timed (the cell becomes an error naming it)."""


def dynamo_frames() -> int:
    """Frames TorchDynamo has compiled (or tried to) in this process. A step that runs only cached graphs leaves
    the count unchanged; a first call, a recompile after a failed guard or a graph break's new frame raise it."""
    from torch._dynamo.utils import counters

    return int(counters["frames"]["total"])


def compile_steps(trainer: Trainer, quiet: int = 2, limit: int = COMPILE_STEPS_LIMIT) -> float:
    """Step until `quiet` consecutive steps compile nothing; return the seconds from the first step to the end
    of the last step that compiled. The first step compiles the forward and backward graph (unless a graph of
    the same structure is cached, dynamic in the batch size) and the step of this new optimizer; no later step
    compiles (no guard fails: Adam's step count is a tensor, lr a constant). TorchInductor compiles inside the
    step that needs it, nothing runs in the background afterwards; the harness's warm-up covers the few steps
    that are still a little slow. The criterion is what compiled, not how long steps took, so load from other
    processes on the machine cannot stretch it (a step-time criterion measured that load instead)."""
    started = time.perf_counter()
    compiled_until, calm = started, 0
    for _ in range(limit):
        before = dynamo_frames()
        trainer.step()
        trainer.synchronize()
        if dynamo_frames() != before:
            compiled_until, calm = time.perf_counter(), 0
            continue
        calm += 1
        if calm == quiet:
            return compiled_until - started
    raise RuntimeError(f"the training step still compiles after {limit} steps (TorchDynamo frames: "
                       f"{dynamo_frames()}): a step that recompiles on every call cannot be timed")


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
        min_delta stopping, see the README's findings) and gradient clipping (its optimizer-step hook is not
        proven under compilation)."""
        return replace(super().capabilities(), dropout=False, early_stopping=False, dtypes=frozenset({"float32"}),
                       training_options=frozenset())

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
            return self.numpy(self.gradient_of(xt), x.dtype)

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
            return self.numpy(value, pred.dtype), self.numpy(self.gradient_of(predt), pred.dtype)

    # -- benchmarking: compile time on its own
    def make_trainer(self, spec: MLPSpec, params: Sequence[np.ndarray], x: np.ndarray, target: np.ndarray,
                     loss: str, optimizer: str, hyper: Mapping[str, Any]) -> TorchTrainer:
        trainer = super().make_trainer(spec, params, x, target, loss, optimizer, hyper)
        trainer.compile_s = compile_steps(trainer)
        return trainer
