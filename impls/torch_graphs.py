"""PyTorch on a CUDA GPU with the training step captured in a CUDA graph (`torch.cuda.graphs`), for training
runs and the benchmark's trainer; single calls (activations, losses, one forward and backward, optimizer runs on
given gradients) run eagerly as in torch-cuda.

Correct by construction, following torch's whole-network capture recipe: each batch shape first runs
`WARMUP_STEPS` ordinary steps on a side stream (they are real steps of the run, so nothing is thrown away or
restored), then the step (zero_grad, forward, loss, backward, optimizer step) is captured once with static input
tensors; later batches of that shape are copied into the static inputs and the graph is replayed. Optimizers run
with `capturable=True` (their step counters live on the GPU); an optimizer without that switch is not claimed,
except SGD, which keeps no step counter. Dropout is not claimed: a replayed graph runs no module hooks, so the
suite cannot recover its masks.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mlpbench.impls.interface import Capabilities
from mlpbench.impls.torch_impl import OPTIMIZER_CLASSES, TorchImplementation, TorchTrainer, torch

WARMUP_STEPS = 3
"""Eager steps per batch shape before its capture (torch's recipe warms up on a side stream)."""


def capturable(name: str) -> bool:
    """Whether torch.optim's `name` can run inside a CUDA graph: it takes capturable=True, or it is SGD."""
    if torch is None:
        return False
    return name == "sgd" or "capturable" in inspect.signature(getattr(torch.optim, OPTIMIZER_CLASSES[name])).parameters


@dataclass
class CapturedStep:
    graph: Any
    x: Any
    target: Any
    loss: Any


class GraphedStep:
    """A training step that warms up eagerly per batch shape, then captures and replays a CUDA graph."""

    def __init__(self, impl: TorchImplementation, model: Any, optimizer: Any, loss: str, reduction: str,
                 loss_params: Mapping[str, Any]) -> None:
        self.impl, self.model, self.optimizer = impl, model, optimizer
        self.loss, self.reduction, self.loss_params = loss, reduction, dict(loss_params)
        self.seen: dict[tuple, int] = {}
        self.captured: dict[tuple, CapturedStep] = {}
        self.side = torch.cuda.Stream(device=impl.device)

    def _eager(self, x: Any, target: Any) -> Any:
        self.optimizer.zero_grad(set_to_none=True)
        _, value = self.impl.forward_loss(self.model, x, target, self.loss, self.reduction, self.loss_params)
        value.backward()
        self.optimizer.step()
        return value.detach()

    def _capture(self, x: Any, target: Any) -> CapturedStep:
        static_x, static_target = x.clone(), target.clone()
        graph = torch.cuda.CUDAGraph()
        self.optimizer.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):
            _, value = self.impl.forward_loss(self.model, static_x, static_target, self.loss, self.reduction,
                                              self.loss_params)
            value.backward()
            self.optimizer.step()
        return CapturedStep(graph, static_x, static_target, value.detach())

    def __call__(self, x: Any, target: Any) -> Any:
        key = (tuple(x.shape), tuple(target.shape))
        step = self.captured.get(key)
        if step is not None:
            step.x.copy_(x)
            step.target.copy_(target)
            step.graph.replay()
            return step.loss
        self.side.wait_stream(torch.cuda.current_stream(self.impl.device))
        with torch.cuda.stream(self.side):
            value = self._eager(x, target)
        torch.cuda.current_stream(self.impl.device).wait_stream(self.side)
        self.seen[key] = self.seen.get(key, 0) + 1
        if self.seen[key] >= WARMUP_STEPS:
            self.captured[key] = self._capture(x, target)
        return value


class GraphedTrainer(TorchTrainer):
    """The benchmark's trainer with its step replayed from a CUDA graph after the warm-up."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.graphed = GraphedStep(self.impl, self.built.model, self.optimizer, self.loss, "mean", {})

    def step(self) -> None:
        with self.impl.numerics():
            self.graphed(self.x, self.target)


class TorchGraphedImplementation(TorchImplementation):
    """torch-cuda with training steps captured in CUDA graphs."""

    def __init__(self, device: str = "cuda", name: str | None = None) -> None:
        super().__init__(device=device, name=name)
        self.description = (f"PyTorch {torch.__version__ if torch is not None else 'not installed'} on {device}, "
                            "training step captured in a CUDA graph, TF32 off")

    def capabilities(self) -> Capabilities:
        caps = super().capabilities()
        return replace(caps, dropout=False, training_options=frozenset(),  # clipping is not in the captured step
                       optimizers={n: o for n, o in caps.optimizers.items() if capturable(n)})

    def optimizer_kwargs(self, name: str, hyper: Mapping[str, Any]) -> dict[str, Any]:
        kwargs = super().optimizer_kwargs(name, hyper)
        if name != "sgd":
            kwargs["capturable"] = True
        return kwargs

    def train_steps(self, model: Any, optimizer: Any, loss: str, reduction: str, loss_params: Mapping[str, Any]
                    ) -> Callable[[Any, Any], Any]:
        return GraphedStep(self, model, optimizer, loss, reduction, loss_params)

    def make_trainer(self, spec: Any, params: Sequence[Any], x: Any, target: Any, loss: str, optimizer: str,
                     hyper: Mapping[str, Any]) -> TorchTrainer:
        trainer = super().make_trainer(spec, params, x, target, loss, optimizer, hyper)
        graphed = GraphedTrainer(self, trainer.built, trainer.optimizer, trainer.x, trainer.target, loss)
        graphed.synchronize()
        return graphed
