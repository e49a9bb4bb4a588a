"""Mutants: torch-cpu with exactly one realistic bug each, to prove the conformance checks can fail.

Each mutant overrides one small part of TorchImplementation with real torch code (a custom autograd.Function,
an optimizer subclass with its own step, a module) and still claims everything torch-cpu claims, including
PyTorch's convention profile. `breaks` names the capability area (impls.interface.AREAS) whose checks must
catch it; every mutant is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from impls.interface import TrainRequest
from impls.torch_impl import TorchImplementation
from reference.early_stopping import EarlyStopping, EarlyStoppingTracker


class Mutant(TorchImplementation):
    """torch-cpu with one injected bug."""

    kind = "mutant"
    breaks: str = ""

    def __init__(self) -> None:
        super().__init__(device="cpu", precision="ieee")


# -- hand-written torch parts the mutants use ----------------------------------------------------------------
class HandwrittenAdam(torch.optim.Adam):
    """Adam written out step by step (as people do when porting it), with two switches for classic mistakes.

    m <- beta1 m + (1 - beta1) g;  v <- beta2 v + (1 - beta2) g^2;  (amsgrad: v_max <- max(v_max, v))
    correct:              p <- p - lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps),   bc_i = 1 - beta_i^t
    bias_correction off:  bc1 = bc2 = 1
    eps_inside_sqrt on:   denominator sqrt(v / bc2 + eps)
    """

    bias_correction = True
    eps_inside_sqrt = False

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = -param.grad if group["maximize"] else param.grad
                if weight_decay:
                    grad = grad.add(param, alpha=weight_decay)
                state = self.state[param]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(param)
                    state["exp_avg_sq"] = torch.zeros_like(param)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = torch.zeros_like(param)
                state["step"] += 1
                t = float(state["step"])
                state["exp_avg"].lerp_(grad, 1 - beta1)
                state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                second = state["exp_avg_sq"]
                if group["amsgrad"]:
                    torch.maximum(state["max_exp_avg_sq"], second, out=state["max_exp_avg_sq"])
                    second = state["max_exp_avg_sq"]
                bc1 = 1 - beta1**t if self.bias_correction else 1.0
                bc2 = 1 - beta2**t if self.bias_correction else 1.0
                if self.eps_inside_sqrt:
                    denom = (second / bc2).add_(eps).sqrt_()
                else:
                    denom = (second.sqrt() / math.sqrt(bc2)).add_(eps)
                param.addcdiv_(state["exp_avg"], denom, value=-lr / bc1)


class AdamWithoutBiasCorrection(HandwrittenAdam):
    bias_correction = False


class AdamEpsInsideSqrt(HandwrittenAdam):
    eps_inside_sqrt = True


class HandwrittenSGD(torch.optim.SGD):
    """SGD with momentum written out, with switches for two classic mistakes.

    correct: buf <- g on the first step, then buf <- momentum buf + (1 - dampening) g;
             direction = g + momentum buf (nesterov) or buf.
    nesterov_uses_old_buffer: direction = g + momentum buf_previous (the buffer before this step's update).
    ignore_dampening: buf <- momentum buf + g.
    """

    nesterov_uses_old_buffer = False
    ignore_dampening = False

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = -param.grad if group["maximize"] else param.grad
                if group["weight_decay"]:
                    grad = grad.add(param, alpha=group["weight_decay"])
                direction = grad
                if momentum:
                    state = self.state[param]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        previous = torch.zeros_like(grad)
                        buf = state["momentum_buffer"] = grad.clone()
                    else:
                        previous = buf.clone()
                        buf.mul_(momentum).add_(grad, alpha=1.0 if self.ignore_dampening else 1 - dampening)
                    if group["nesterov"]:
                        direction = grad.add(
                            previous if self.nesterov_uses_old_buffer else buf, alpha=momentum
                        )
                    else:
                        direction = buf
                param.add_(direction, alpha=-lr)


class SGDNesterovOldBuffer(HandwrittenSGD):
    nesterov_uses_old_buffer = True


class SGDWithoutDampening(HandwrittenSGD):
    ignore_dampening = True


class AdagradWithoutLrDecay(torch.optim.Adagrad):
    """Adagrad whose step size ignores lr_decay: clr = lr instead of lr / (1 + (t - 1) lr_decay)."""

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = -param.grad if group["maximize"] else param.grad
                if group["weight_decay"]:
                    grad = grad.add(param, alpha=group["weight_decay"])
                state = self.state[param]
                state["step"] += 1
                state["sum"].addcmul_(grad, grad, value=1)
                clr = group["lr"]
                param.addcdiv_(grad, state["sum"].sqrt().add_(group["eps"]), value=-clr)


class ReluGradOneAtZero(torch.autograd.Function):
    """ReLU whose backward uses x >= 0 (derivative 1 at 0) where PyTorch uses x > 0."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x.clamp_min(0)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad_output * (x >= 0).to(grad_output.dtype)


class SigmoidGradAtOutput(torch.autograd.Function):
    """Sigmoid whose backward evaluates sigma' at the output y, not the input: sigma(y)(1 - sigma(y))."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        y = torch.sigmoid(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        s = torch.sigmoid(y)
        return grad_output * s * (1 - s)


class LinearBiasGradMean(torch.autograd.Function):
    """y = x W^T + b with a hand-written backward that averages dL/db over the batch instead of summing."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        return x @ weight.T + bias

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, weight = ctx.saved_tensors
        return grad_output @ weight, grad_output.T @ x, grad_output.mean(dim=0)


class FunctionModule(nn.Module):
    """A module applying an autograd.Function to its input."""

    def __init__(self, function: type[torch.autograd.Function]) -> None:
        super().__init__()
        self.function = function

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.function.apply(x)


class NaiveSoftmax(nn.Module):
    """softmax(x) = exp(x) / sum exp(x) without subtracting max(x) first: exp overflows for large inputs."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = torch.exp(x)
        return e / e.sum(dim=self.dim, keepdim=True)


class UnscaledDropout(nn.Module):
    """Dropout that zeroes units with probability p but forgets to scale the kept ones by 1 / (1 - p)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        return x * torch.empty_like(x).bernoulli_(1 - self.p)


class AlwaysOnDropout(nn.Dropout):
    """nn.Dropout's functional call with training hard-wired to True, so evaluation mode drops units too."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.p, training=True)


class BiasGradMeanLinear(nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return LinearBiasGradMean.apply(x, self.weight, self.bias)


class Float32Linear(nn.Linear):
    """A dense layer that computes in float32 whatever its dtype, and casts the result back."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x.float(), self.weight.float(), self.bias.float()).to(x.dtype)


class LateEarlyStoppingTracker(EarlyStoppingTracker):
    """Stops once the wait exceeds patience (wait > patience) instead of reaching it: one epoch late."""

    def update(self, epoch: int, value: float) -> bool:
        if self.improves(value):
            self.best_value, self.best_epoch, self.wait = float(value), epoch, 0
            return False
        self.wait += 1
        if self.wait > self.config.patience:
            self.stopped_epoch = epoch
            return True
        return False


# -- the mutants ---------------------------------------------------------------------------------------------
class AdadeltaWithoutLr(torch.optim.Adadelta):
    """Adadelta exactly as Zeiler (2012) writes it: no learning rate (the update is applied with step 1)."""

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:
        for group in self.param_groups:
            rho, eps, weight_decay = group["rho"], group["eps"], group["weight_decay"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad
                if weight_decay:
                    grad = grad.add(param, alpha=weight_decay)
                state = self.state[param]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["square_avg"] = torch.zeros_like(param)
                    state["acc_delta"] = torch.zeros_like(param)
                state["step"] += 1
                state["square_avg"].mul_(rho).addcmul_(grad, grad, value=1 - rho)
                std = state["square_avg"].add(eps).sqrt_()
                delta = state["acc_delta"].add(eps).sqrt_().div_(std).mul_(grad)
                state["acc_delta"].mul_(rho).addcmul_(delta, delta, value=1 - rho)
                param.add_(delta, alpha=-1.0)


class AdamNoBiasCorrectionMutant(Mutant):
    name = "mutant-adam-no-bias-correction"
    breaks = "optimizers"
    description = "Adam without bias correction (bc1 = bc2 = 1): early steps too small"

    def make_optimizer(self, name: str, params: Sequence[torch.Tensor], hyper: Mapping[str, Any]) -> Any:
        if name == "adam":
            return AdamWithoutBiasCorrection(list(params), **self.optimizer_kwargs(name, hyper))
        return super().make_optimizer(name, params, hyper)


class AdamEpsInsideSqrtMutant(Mutant):
    name = "mutant-adam-eps-inside-sqrt"
    breaks = "optimizers"
    description = "Adam divides by sqrt(v_hat + eps) while claiming PyTorch's sqrt(v_hat) + eps"

    def make_optimizer(self, name: str, params: Sequence[torch.Tensor], hyper: Mapping[str, Any]) -> Any:
        if name == "adam":
            return AdamEpsInsideSqrt(list(params), **self.optimizer_kwargs(name, hyper))
        return super().make_optimizer(name, params, hyper)


class ReluGradAtZeroMutant(Mutant):
    name = "mutant-relu-grad-one-at-zero"
    breaks = "activations"
    description = "ReLU'(0) = 1 (backward uses x >= 0; PyTorch uses x > 0)"

    def build_activation(self, name: str, params: Mapping[str, Any]) -> nn.Module:
        if name == "relu":
            return FunctionModule(ReluGradOneAtZero)
        return super().build_activation(name, params)


class SigmoidGradMutant(Mutant):
    name = "mutant-sigmoid-grad-at-output"
    breaks = "activations"
    description = (
        "sigmoid derivative evaluated at the output, sigma(y)(1 - sigma(y)), instead of at the input"
    )

    def build_activation(self, name: str, params: Mapping[str, Any]) -> nn.Module:
        if name == "sigmoid":
            return FunctionModule(SigmoidGradAtOutput)
        return super().build_activation(name, params)


class SoftmaxNoMaxShiftMutant(Mutant):
    name = "mutant-softmax-no-max-shift"
    breaks = "activations"
    description = "softmax without subtracting the row maximum: exp overflows to inf/NaN at large inputs"

    def build_activation(self, name: str, params: Mapping[str, Any]) -> nn.Module:
        if name == "softmax":
            return NaiveSoftmax(dim=dict(params).get("axis", -1))
        return super().build_activation(name, params)


class LossSumMutant(Mutant):
    name = "mutant-loss-sum-not-mean"
    breaks = "losses"
    description = "reduction 'mean' computed as a sum (loss and gradient N times too large)"

    def compute_loss(
        self, name: str, pred: torch.Tensor, target: torch.Tensor, reduction: str, params: Mapping[str, Any]
    ) -> torch.Tensor:
        return super().compute_loss(name, pred, target, "sum" if reduction == "mean" else reduction, params)


class BceNoClampMutant(Mutant):
    name = "mutant-bce-no-clamp"
    breaks = "losses"
    description = "binary cross-entropy as -(t log p + (1 - t) log(1 - p)) without PyTorch's clamp at -100"

    def compute_loss(
        self, name: str, pred: torch.Tensor, target: torch.Tensor, reduction: str, params: Mapping[str, Any]
    ) -> torch.Tensor:
        if name != "binary_cross_entropy":
            return super().compute_loss(name, pred, target, reduction, params)
        losses = -(target * torch.log(pred) + (1 - target) * torch.log1p(-pred))
        return {"mean": losses.mean, "sum": losses.sum}.get(reduction, lambda: losses)()


class HeInitFanOutMutant(Mutant):
    name = "mutant-he-init-fan-out"
    breaks = "init"
    description = "Kaiming (He) init scaled by fan_out instead of fan_in (the requested mode is ignored)"

    def init_call(self, name: str, tensor: torch.Tensor, params: Mapping[str, Any], generator: Any) -> None:
        if name in ("kaiming_uniform", "kaiming_normal"):
            params = {**params, "mode": "fan_out"}
        super().init_call(name, tensor, params, generator)


class BiasGradMeanMutant(Mutant):
    name = "mutant-bias-grad-mean"
    breaks = "model"
    description = "dense layer backward averages the bias gradient over the batch instead of summing it"

    def make_linear(self, in_features: int, out_features: int, dtype: torch.dtype) -> nn.Module:
        return BiasGradMeanLinear(in_features, out_features, dtype=dtype, device=self.device)


class Float32AccumulationMutant(Mutant):
    name = "mutant-float32-accumulation"
    breaks = "model"
    description = "dense layers compute in float32 even when float64 is claimed (results cast back)"

    def make_linear(self, in_features: int, out_features: int, dtype: torch.dtype) -> nn.Module:
        return Float32Linear(in_features, out_features, dtype=dtype, device=self.device)


class SGDNesterovMutant(Mutant):
    name = "mutant-sgd-nesterov-old-buffer"
    breaks = "optimizers"
    description = "Nesterov SGD steps along g + momentum * (buffer before this step's update)"

    def make_optimizer(self, name: str, params: Sequence[torch.Tensor], hyper: Mapping[str, Any]) -> Any:
        if name == "sgd":
            return SGDNesterovOldBuffer(list(params), **self.optimizer_kwargs(name, hyper))
        return super().make_optimizer(name, params, hyper)


class SGDDampeningMutant(Mutant):
    name = "mutant-sgd-dampening-ignored"
    breaks = "optimizers"
    description = "SGD momentum buffer accumulates g instead of (1 - dampening) g"

    def make_optimizer(self, name: str, params: Sequence[torch.Tensor], hyper: Mapping[str, Any]) -> Any:
        if name == "sgd":
            return SGDWithoutDampening(list(params), **self.optimizer_kwargs(name, hyper))
        return super().make_optimizer(name, params, hyper)


class SGDWeightDecayMutant(Mutant):
    name = "mutant-sgd-weight-decay-ignored"
    breaks = "optimizers"
    description = "SGD's weight_decay is accepted but never passed on to torch.optim.SGD"

    def optimizer_kwargs(self, name: str, hyper: Mapping[str, Any]) -> dict[str, Any]:
        kwargs = super().optimizer_kwargs(name, hyper)
        if name == "sgd":
            kwargs.pop("weight_decay", None)
        return kwargs


class AdagradLrDecayMutant(Mutant):
    name = "mutant-adagrad-lr-decay-ignored"
    breaks = "optimizers"
    description = "Adagrad's step size ignores lr_decay (clr = lr)"

    def make_optimizer(self, name: str, params: Sequence[torch.Tensor], hyper: Mapping[str, Any]) -> Any:
        if name == "adagrad":
            return AdagradWithoutLrDecay(list(params), **self.optimizer_kwargs(name, hyper))
        return super().make_optimizer(name, params, hyper)


class RMSpropCenteredMutant(Mutant):
    name = "mutant-rmsprop-centered-ignored"
    breaks = "optimizers"
    description = "RMSprop's centered option is accepted but never passed on (no grad_avg subtraction)"

    def optimizer_kwargs(self, name: str, hyper: Mapping[str, Any]) -> dict[str, Any]:
        kwargs = super().optimizer_kwargs(name, hyper)
        if name == "rmsprop":
            kwargs.pop("centered", None)
        return kwargs


class DropoutNoScaleMutant(Mutant):
    name = "mutant-dropout-no-scale"
    breaks = "dropout"
    description = "dropout zeroes units but does not scale kept ones by 1/(1-p)"

    def make_dropout(self, p: float) -> nn.Module:
        return UnscaledDropout(p)


class DropoutInEvalMutant(Mutant):
    name = "mutant-dropout-in-eval"
    breaks = "dropout"
    description = "dropout stays active in evaluation mode (F.dropout called with training=True)"

    def make_dropout(self, p: float) -> nn.Module:
        return AlwaysOnDropout(p)


class EarlyStoppingLateMutant(Mutant):
    name = "mutant-early-stopping-late"
    breaks = "early_stopping"
    description = "early stopping waits patience + 1 epochs without improvement (wait > patience)"

    def early_stopping_tracker(self, config: EarlyStopping) -> EarlyStoppingTracker:
        return LateEarlyStoppingTracker(config)


class BestWeightsNotRestoredMutant(Mutant):
    name = "mutant-best-weights-not-restored"
    breaks = "early_stopping"
    description = "restore_best_weights is ignored: the last epoch's parameters are returned"

    def restore_best_weights(
        self, model: nn.Module, best: list[torch.Tensor] | None, config: EarlyStopping
    ) -> None:
        return None


class OwnBatchOrderMutant(Mutant):
    name = "mutant-own-batch-order"
    breaks = "training"
    description = (
        "mini-batches follow torch.randperm with the implementation's own seed, not the suite's order"
    )

    def batch_iterator(self, request: TrainRequest, epoch: int) -> Iterator[np.ndarray]:
        generator = torch.Generator().manual_seed(epoch)
        order = torch.randperm(len(request.x), generator=generator).numpy()
        for start in range(0, len(order), request.batch_size):
            yield order[start : start + request.batch_size]


class XavierUniformGainIgnoredMutant(Mutant):
    name = "mutant-xavier-uniform-gain-ignored"
    breaks = "init"
    description = "hand-written Xavier uniform: bound = sqrt(6 / (fan_in + fan_out)), the gain is dropped"

    def init_call(self, name: str, tensor: torch.Tensor, params: Mapping[str, Any], generator: Any) -> None:
        if name == "xavier_uniform":
            fan_out, fan_in = tensor.shape[0], tensor.shape[1]
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            tensor.uniform_(-bound, bound, generator=generator)
            return
        super().init_call(name, tensor, params, generator)


class KaimingGainIgnoresNonlinearityMutant(Mutant):
    name = "mutant-kaiming-gain-ignores-nonlinearity"
    breaks = "init"
    description = "He init with gain sqrt(2 / (1 + a^2)) whatever the nonlinearity (tanh, linear, ...)"

    def init_call(self, name: str, tensor: torch.Tensor, params: Mapping[str, Any], generator: Any) -> None:
        if name in ("kaiming_uniform", "kaiming_normal"):
            a, mode = float(params.get("a", 0.0)), params.get("mode", "fan_in")
            fan = tensor.shape[1] if mode == "fan_in" else tensor.shape[0]
            std = math.sqrt(2.0 / (1.0 + a * a)) / math.sqrt(fan)
            if name == "kaiming_uniform":
                tensor.uniform_(-math.sqrt(3.0) * std, math.sqrt(3.0) * std, generator=generator)
            else:
                tensor.normal_(0.0, std, generator=generator)
            return
        super().init_call(name, tensor, params, generator)


class AdadeltaLrIgnoredMutant(Mutant):
    name = "mutant-adadelta-lr-ignored"
    breaks = "optimizers"
    description = "Adadelta as in Zeiler's paper: the lr hyperparameter is accepted but never applied"

    def make_optimizer(self, name: str, params: Sequence[torch.Tensor], hyper: Mapping[str, Any]) -> Any:
        if name == "adadelta":
            return AdadeltaWithoutLr(list(params), **self.optimizer_kwargs(name, hyper))
        return super().make_optimizer(name, params, hyper)


class EarlyStoppingMinDeltaIgnoredMutant(Mutant):
    name = "mutant-early-stopping-min-delta-ignored"
    breaks = "early_stopping"
    description = "early stopping counts any decrease as an improvement (min_delta ignored)"

    def early_stopping_tracker(self, config: EarlyStopping) -> EarlyStoppingTracker:
        return EarlyStoppingTracker(replace(config, min_delta=0.0))


class LossParamsDroppedMutant(Mutant):
    name = "mutant-model-loss-params-dropped"
    breaks = "model"
    description = "forward_backward does not pass loss_params on (Huber uses delta = 1 inside the model)"

    def forward_backward(self, spec, params, x, target, loss, *, reduction="mean", loss_params=None,
                         training=False, dropout_seed=None):
        return super().forward_backward(spec, params, x, target, loss, reduction=reduction, loss_params=None,
                                        training=training, dropout_seed=dropout_seed)


class DropoutSeedIgnoredMutant(Mutant):
    name = "mutant-dropout-seed-ignored"
    breaks = "determinism"
    description = "forward_backward seeds dropout from torch's global generator instead of dropout_seed"

    def forward_backward(self, spec, params, x, target, loss, *, reduction="mean", loss_params=None,
                         training=False, dropout_seed=None):
        own_seed = int(torch.randint(0, 2**31 - 1, ()).item())
        return super().forward_backward(spec, params, x, target, loss, reduction=reduction,
                                        loss_params=loss_params, training=training, dropout_seed=own_seed)


MUTANTS: tuple[type[Mutant], ...] = (
    AdamNoBiasCorrectionMutant,
    AdamEpsInsideSqrtMutant,
    ReluGradAtZeroMutant,
    SigmoidGradMutant,
    SoftmaxNoMaxShiftMutant,
    LossSumMutant,
    BceNoClampMutant,
    HeInitFanOutMutant,
    BiasGradMeanMutant,
    Float32AccumulationMutant,
    SGDNesterovMutant,
    SGDDampeningMutant,
    SGDWeightDecayMutant,
    AdagradLrDecayMutant,
    RMSpropCenteredMutant,
    DropoutNoScaleMutant,
    DropoutInEvalMutant,
    EarlyStoppingLateMutant,
    BestWeightsNotRestoredMutant,
    OwnBatchOrderMutant,
    XavierUniformGainIgnoredMutant,
    KaimingGainIgnoresNonlinearityMutant,
    AdadeltaLrIgnoredMutant,
    EarlyStoppingMinDeltaIgnoredMutant,
    LossParamsDroppedMutant,
    DropoutSeedIgnoredMutant,
)
"""Every mutant, in report order."""
