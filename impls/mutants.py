"""Mutants: torch-cpu with exactly one realistic bug each, to prove the conformance checks can fail.

mlpbench.impls.mutant_table lists the mutants as data (MutantSpec: which extension point of TorchImplementation each
one swaps, for which name, and for what). This module holds the torch side: the replacements themselves (real
torch code: an optimizer subclass with its own step, a custom autograd.Function, a module, a tracker, or a
small function that changes what one call passes on), HOOKS, which says how a swap is applied at each extension
point, and `Mutant`, torch-cpu built from one MutantSpec. A mutant still claims everything torch-cpu claims,
including PyTorch's convention profile; `breaks` names the capability area (mlpbench.impls.interface.AREAS) whose checks
must catch it. Every mutant is deterministic.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mlpbench.impls.interface import TrainRequest
from mlpbench.impls.mutant_table import MUTANTS, MutantSpec
from mlpbench.impls.torch_impl import TRUNCATION_CORRECTION, TorchImplementation, scaled_std, variance_scaling_
from mlpbench.reference.early_stopping import EarlyStopping, EarlyStoppingTracker

__all__ = ["HOOKS", "MUTANTS", "Hook", "Mutant", "MutantSpec"]


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
    def step(self, closure: Any = None) -> None:  # type: ignore[override]  # no closure: the suite passes none
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
    def step(self, closure: Any = None) -> None:  # type: ignore[override]  # no closure: the suite passes none
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
    def step(self, closure: Any = None) -> None:  # type: ignore[override]  # no closure: the suite passes none
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


class AdadeltaWithoutLr(torch.optim.Adadelta):
    """Adadelta exactly as Zeiler (2012) writes it: no learning rate (the update is applied with step 1)."""

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # type: ignore[override]  # no closure: the suite passes none
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


# -- replacements for single calls -----------------------------------------------------------------------------
def relu_grad_one_at_zero(params: Mapping[str, Any]) -> nn.Module:
    """ReLU with derivative 1 at 0."""
    return FunctionModule(ReluGradOneAtZero)


def sigmoid_grad_at_output(params: Mapping[str, Any]) -> nn.Module:
    """Sigmoid whose derivative is evaluated at its output."""
    return FunctionModule(SigmoidGradAtOutput)


def softmax_without_max_shift(params: Mapping[str, Any]) -> nn.Module:
    """Softmax over params["axis"] (default -1) without the max shift."""
    return NaiveSoftmax(dim=dict(params).get("axis", -1))


class ShiftOnlyAt1e4Softmax(nn.Module):
    """softmax that subtracts the row maximum only when some |x| reaches 1e4 (a "fast path" for small inputs)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.abs().max() >= 1e4:
            x = x - x.amax(dim=self.dim, keepdim=True)
        e = torch.exp(x)
        return e / e.sum(dim=self.dim, keepdim=True)


class ZeroBelowCutoffSigmoid(nn.Module):
    """sigmoid(x) with 0 below x = -7.35, where sigmoid is 6.4e-4 (a truncated table or polynomial)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(x < -7.35, torch.zeros_like(x), torch.sigmoid(x))


class TanhViaSigmoid(nn.Module):
    """tanh(x) = 2 sigmoid(2x) - 1: exact in real numbers, cancels in floating point near 0."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * torch.sigmoid(2 * x) - 1


class SoftplusWithoutLog1p(nn.Module):
    """PyTorch's softplus (identity where beta x > threshold) with log(1 + exp(beta x)) instead of log1p."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.beta * x  # the clamp keeps exp finite in the branch torch.where discards (no NaN gradient)
        return torch.where(z > self.threshold, x, torch.log(1 + torch.exp(z.clamp(max=self.threshold))) / self.beta)


def softmax_shift_only_at_1e4(params: Mapping[str, Any]) -> nn.Module:
    """Softmax over params["axis"] that skips the max shift below max|x| = 1e4."""
    return ShiftOnlyAt1e4Softmax(dim=dict(params).get("axis", -1))


def sigmoid_zero_below_cutoff(params: Mapping[str, Any]) -> nn.Module:
    return ZeroBelowCutoffSigmoid()


def tanh_via_sigmoid(params: Mapping[str, Any]) -> nn.Module:
    return TanhViaSigmoid()


def softplus_without_log1p(params: Mapping[str, Any]) -> nn.Module:
    return SoftplusWithoutLog1p(**dict(params))


def _reduced(losses: torch.Tensor, reduction: str, count: int) -> torch.Tensor:
    total = losses.sum()
    return {"mean": lambda: total / count, "sum": lambda: total}.get(reduction, lambda: losses)()


def cross_entropy_shift_only_at_1e4(
    compute_loss: Callable[..., torch.Tensor],
    name: str,
    pred: torch.Tensor,
    target: torch.Tensor,
    reduction: str,
    params: Mapping[str, Any],
) -> torch.Tensor:
    """-log softmax(z)[y] = log sum exp(z) - z_y, the max subtracted first only when max|z| >= 1e4."""
    if target.dtype.is_floating_point:  # probability targets: the correct path
        return compute_loss(name, pred, target, reduction, params)
    z = pred - pred.amax(dim=1, keepdim=True) if pred.abs().max() >= 1e4 else pred
    losses = torch.log(torch.exp(z).sum(dim=1)) - z.gather(1, target[:, None])[:, 0]
    return _reduced(losses, reduction, len(losses))


def bce_mean_over_samples(
    compute_loss: Callable[..., torch.Tensor],
    name: str,
    pred: torch.Tensor,
    target: torch.Tensor,
    reduction: str,
    params: Mapping[str, Any],
) -> torch.Tensor:
    """Binary cross-entropy whose "mean" is the sum over the batch size (right only for one output a sample)."""
    if reduction != "mean":
        return compute_loss(name, pred, target, reduction, params)
    return compute_loss(name, pred, target, "sum", params) / pred.shape[0]


_REDUCTION_CALLS = itertools.count()
"""Calls of the rotating reduction so far (one counter for the worker process)."""


def cross_entropy_rotating_sum(
    compute_loss: Callable[..., torch.Tensor],
    name: str,
    pred: torch.Tensor,
    target: torch.Tensor,
    reduction: str,
    params: Mapping[str, Any],
) -> torch.Tensor:
    """Cross-entropy whose per-sample losses are summed one by one from a row that advances with each call."""
    losses = compute_loss(name, pred, target, "none", params)
    if reduction == "none" or losses.numel() < 2:
        return compute_loss(name, pred, target, reduction, params)
    start = next(_REDUCTION_CALLS) % len(losses)
    total = losses[start]
    for offset in range(1, len(losses)):  # each addition rounded in the loss's dtype, in this call's order
        total = total + losses[(start + offset) % len(losses)]
    return total / len(losses) if reduction == "mean" else total


def mean_as_sum(
    compute_loss: Callable[..., torch.Tensor],
    name: str,
    pred: torch.Tensor,
    target: torch.Tensor,
    reduction: str,
    params: Mapping[str, Any],
) -> torch.Tensor:
    """The loss with reduction "mean" computed as "sum"."""
    return compute_loss(name, pred, target, "sum" if reduction == "mean" else reduction, params)


def bce_without_clamp(
    compute_loss: Callable[..., torch.Tensor],
    name: str,
    pred: torch.Tensor,
    target: torch.Tensor,
    reduction: str,
    params: Mapping[str, Any],
) -> torch.Tensor:
    """Binary cross-entropy from the textbook formula, without clamping the logarithms at -100."""
    losses = -(target * torch.log(pred) + (1 - target) * torch.log1p(-pred))
    return {"mean": losses.mean, "sum": losses.sum}.get(reduction, lambda: losses)()


def kaiming_fan_out(
    init_call: Callable[..., None], name: str, tensor: torch.Tensor, params: Mapping[str, Any], generator: Any
) -> None:
    """Kaiming init with mode "fan_out" whatever mode was asked for."""
    init_call(name, tensor, {**params, "mode": "fan_out"}, generator)


def xavier_uniform_without_gain(
    init_call: Callable[..., None], name: str, tensor: torch.Tensor, params: Mapping[str, Any], generator: Any
) -> None:
    """Xavier uniform written out with bound sqrt(6 / (fan_in + fan_out)), ignoring params["gain"]."""
    fan_out, fan_in = tensor.shape[0], tensor.shape[1]
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    tensor.uniform_(-bound, bound, generator=generator)


def kaiming_leaky_relu_gain(
    init_call: Callable[..., None], name: str, tensor: torch.Tensor, params: Mapping[str, Any], generator: Any
) -> None:
    """Kaiming init written out with the leaky-ReLU gain sqrt(2 / (1 + a^2)), ignoring params["nonlinearity"]."""
    a, mode = float(params.get("a", 0.0)), params.get("mode", "fan_in")
    fan = tensor.shape[1] if mode == "fan_in" else tensor.shape[0]
    std = math.sqrt(2.0 / (1.0 + a * a)) / math.sqrt(fan)
    if name == "kaiming_uniform":
        tensor.uniform_(-math.sqrt(3.0) * std, math.sqrt(3.0) * std, generator=generator)
    else:
        tensor.normal_(0.0, std, generator=generator)


LECUN = {"lecun_normal": (1.0, "fan_in", "truncated_normal"), "lecun_uniform": (1.0, "fan_in", "uniform")}


def _scaling(name: str, params: Mapping[str, Any]) -> tuple[float, str, str]:
    """(scale, mode, distribution) of variance_scaling or a lecun scheme."""
    if name in LECUN:
        return LECUN[name]
    return (float(params.get("scale", 1.0)), params.get("mode", "fan_in"),
            params.get("distribution", "truncated_normal"))


def truncated_at_3_std(
    init_call: Callable[..., None], name: str, tensor: torch.Tensor, params: Mapping[str, Any], generator: Any
) -> None:
    """Truncated normals cut at 3 stds of the untruncated normal instead of 2 (lower and upper ignored; the
    .8796 correction, which is for a cut at 2, kept)."""
    if name == "truncated_normal":
        mean, std = float(params.get("mean", 0.0)), float(params.get("std", 1.0))
        nn.init.trunc_normal_(tensor, mean, std, mean - 3.0 * std, mean + 3.0 * std, generator=generator)
        return
    scale, mode, distribution = _scaling(name, params)
    if distribution != "truncated_normal":
        init_call(name, tensor, params, generator)
        return
    std = scaled_std(tensor, scale, mode) / TRUNCATION_CORRECTION
    nn.init.trunc_normal_(tensor, 0.0, std, -3.0 * std, 3.0 * std, generator=generator)


def truncated_without_correction(
    init_call: Callable[..., None], name: str, tensor: torch.Tensor, params: Mapping[str, Any], generator: Any
) -> None:
    """variance_scaling's truncated normal with std sqrt(scale / n) before the cut at 2 stds: the division by
    .87962566103423978 (the std of N(0, 1) truncated to (-2, 2)) is missing, so the draws' std is 0.88 of the
    target."""
    scale, mode, distribution = _scaling(name, params)
    if distribution != "truncated_normal":
        init_call(name, tensor, params, generator)
        return
    std = scaled_std(tensor, scale, mode)
    nn.init.trunc_normal_(tensor, 0.0, std, -2.0 * std, 2.0 * std, generator=generator)


def variance_scaling_fans_swapped(
    init_call: Callable[..., None], name: str, tensor: torch.Tensor, params: Mapping[str, Any], generator: Any
) -> None:
    """variance_scaling with Keras's fans, fan_in = shape[0] and fan_out = shape[1], read off PyTorch's
    (out, in) tensor: fan_in and fan_out swapped (lecun_normal and lecun_uniform scaled by fan_out)."""
    scale, mode, distribution = _scaling(name, params)
    swapped = {"fan_in": "fan_out", "fan_out": "fan_in"}.get(mode, mode)
    variance_scaling_(tensor, scale, swapped, distribution, generator)


def lecun_normal_as_uniform(
    init_call: Callable[..., None], name: str, tensor: torch.Tensor, params: Mapping[str, Any], generator: Any
) -> None:
    """lecun_normal drawn as lecun_uniform: the same mean and std (1 / sqrt(fan_in)) and a support inside the
    truncated normal's, another distribution."""
    variance_scaling_(tensor, 1.0, "fan_in", "uniform", generator)


def xavier_normal_truncated(
    init_call: Callable[..., None], name: str, tensor: torch.Tensor, params: Mapping[str, Any], generator: Any
) -> None:
    """xavier_normal ported from JAX's or Keras's glorot_normal, variance_scaling(gain^2, fan_avg,
    truncated_normal): the same std, cut at 2.27 of it."""
    variance_scaling_(tensor, float(params.get("gain", 1.0)) ** 2, "fan_avg", "truncated_normal", generator)


def without_weight_decay(
    optimizer_kwargs: Callable[..., dict[str, Any]], name: str, hyper: Mapping[str, Any]
) -> dict[str, Any]:
    """The optimizer's keyword arguments with weight_decay left out."""
    kwargs = optimizer_kwargs(name, hyper)
    kwargs.pop("weight_decay", None)
    return kwargs


def without_centered(
    optimizer_kwargs: Callable[..., dict[str, Any]], name: str, hyper: Mapping[str, Any]
) -> dict[str, Any]:
    """The optimizer's keyword arguments with centered left out."""
    kwargs = optimizer_kwargs(name, hyper)
    kwargs.pop("centered", None)
    return kwargs


def tracker_without_min_delta(config: EarlyStopping) -> EarlyStoppingTracker:
    """The correct tracker, given the configuration with min_delta = 0."""
    return EarlyStoppingTracker(replace(config, min_delta=0.0))


def tracker_with_min_delta_doubled(config: EarlyStopping) -> EarlyStoppingTracker:
    """The correct tracker, given the configuration with min_delta doubled."""
    return EarlyStoppingTracker(replace(config, min_delta=2.0 * config.min_delta))


def keep_last_weights(model: nn.Module, best: list[torch.Tensor] | None, config: EarlyStopping) -> None:
    """Leaves the last epoch's parameters in the model whatever restore_best_weights says."""
    return None


def own_batch_order(request: TrainRequest, epoch: int) -> Iterator[np.ndarray]:
    """Batches from torch.randperm seeded with the epoch number instead of request.batch_orders[epoch]."""
    generator = torch.Generator().manual_seed(epoch)
    order = torch.randperm(len(request.x), generator=generator).numpy()
    for start in range(0, len(order), request.batch_size):
        yield order[start : start + request.batch_size]


def clip_norm_per_parameter(parameters: Sequence[torch.Tensor], max_norm: float | None,
                            clip_value: float | None) -> None:
    """Each gradient scaled by min(1, max_norm / (||g_i|| + 1e-6)) on its own, instead of by the global norm."""
    if clip_value is not None:
        torch.nn.utils.clip_grad_value_(parameters, clip_value)
    if max_norm is not None:
        for parameter in parameters:
            torch.nn.utils.clip_grad_norm_([parameter], max_norm)


def no_clipping(parameters: Sequence[torch.Tensor], max_norm: float | None, clip_value: float | None) -> None:
    """The gradients left as backward made them."""


def without_loss_params(forward_backward: Callable[..., Any], *args: Any, **options: Any) -> Any:
    """forward_backward with loss_params not passed on."""
    return forward_backward(*args, **{**options, "loss_params": None})


def dropout_seed_from_global_generator(forward_backward: Callable[..., Any], *args: Any, **options: Any) -> Any:
    """forward_backward with the dropout seed drawn from torch's global generator, not options["dropout_seed"]."""
    own_seed = int(torch.randint(0, 2**31 - 1, ()).item())
    return forward_backward(*args, **{**options, "dropout_seed": own_seed})


# -- how a swap is applied at each extension point -------------------------------------------------------------
def _build_optimizer(impl: TorchImplementation, swap: Any, original: Any, name: str, params: Any, hyper: Any) -> Any:
    return swap(list(params), **impl.optimizer_kwargs(name, hyper))


def _build_activation(impl: TorchImplementation, swap: Any, original: Any, name: str, params: Any) -> nn.Module:
    return swap(params)


def _build_linear(
    impl: TorchImplementation, swap: Any, original: Any, in_features: int, out_features: int, dtype: torch.dtype
) -> nn.Module:
    return swap(in_features, out_features, dtype=dtype, device=impl.device)


def _call(impl: TorchImplementation, swap: Any, original: Any, *args: Any, **kwargs: Any) -> Any:
    return swap(*args, **kwargs)


def _wrap(impl: TorchImplementation, swap: Any, original: Any, *args: Any, **kwargs: Any) -> Any:
    return swap(original, *args, **kwargs)


@dataclass(frozen=True)
class Hook:
    """An extension point of TorchImplementation: the method a swap replaces, and how the swap is called.

    keyed: the method's first argument is an optimizer/activation/loss/initializer name, matched against
    MutantSpec.key; calls for other names go to the original method. apply(impl, swap, original, *args,
    **kwargs) computes the call with the swap in place (`original` is torch-cpu's bound method).
    """

    method: str
    keyed: bool
    apply: Callable[..., Any]


HOOKS: dict[str, Hook] = {
    # swap: an optimizer class, built as swap(params, **optimizer_kwargs(name, hyper))
    "optimizer": Hook("make_optimizer", True, _build_optimizer),
    # swap(optimizer_kwargs, name, hyper) -> the keyword arguments
    "optimizer_kwargs": Hook("optimizer_kwargs", True, _wrap),
    # swap(params) -> the activation module
    "activation": Hook("build_activation", True, _build_activation),
    # swap(compute_loss, name, pred, target, reduction, params) -> the loss
    "loss": Hook("compute_loss", True, _wrap),
    # swap(init_call, name, tensor, params, generator) fills the tensor
    "init": Hook("init_call", True, _wrap),
    # swap: a dense-layer class, built as swap(in_features, out_features, dtype=..., device=...)
    "linear": Hook("make_linear", False, _build_linear),
    # swap(p) -> the dropout module
    "dropout": Hook("make_dropout", False, _call),
    # swap(config) -> the early-stopping tracker
    "early_stopping_tracker": Hook("early_stopping_tracker", False, _call),
    # swap(model, best, config) restores (or not) the best epoch's parameters
    "restore_best_weights": Hook("restore_best_weights", False, _call),
    # swap(request, epoch) -> the batches' row indices
    "batch_iterator": Hook("batch_iterator", False, _call),
    # swap(forward_backward, spec, params, x, target, loss, **options) -> the ModelResult
    "forward_backward": Hook("forward_backward", False, _wrap),
    # swap(parameters, max_norm, clip_value) clips the gradients in place
    "clip_gradients": Hook("clip_gradients", False, _call),
}


class Mutant(TorchImplementation):
    """torch-cpu with one injected bug: the swap a MutantSpec names, in place of one extension point.

    Only the hooked method differs from torch-cpu: the instance's own attribute of that name calls the swap for
    the names the spec's key covers and torch-cpu's method for the others.
    """

    kind = "mutant"
    breaks: str = ""

    def __init__(self, spec: MutantSpec) -> None:
        if spec.swap not in globals():
            raise ValueError(f"mutant {spec.name!r}: mlpbench.impls.mutants has no {spec.swap!r}")
        if spec.key is not None and not HOOKS[spec.hook].keyed:
            raise ValueError(f"mutant {spec.name!r}: hook {spec.hook!r} takes no key, got {spec.key!r}")
        self.spec = spec
        self.name, self.description, self.breaks = spec.name, spec.description, spec.breaks
        super().__init__(device="cpu", precision="ieee", name=spec.name)
        hook, swap = HOOKS[spec.hook], globals()[spec.swap]
        original = getattr(self, hook.method)

        def hooked(*args: Any, **kwargs: Any) -> Any:
            if hook.keyed and not spec.applies_to(args[0] if args else kwargs["name"]):
                return original(*args, **kwargs)
            return hook.apply(self, swap, original, *args, **kwargs)

        setattr(self, hook.method, hooked)
