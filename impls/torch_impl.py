"""PyTorch as an implementation under test: nn.Linear, activation modules, torch.nn.functional losses,
torch.nn.init, nn.Dropout, torch.optim and autograd, on the CPU or a CUDA device, in float32 or float64.

Conformance runs with TF32 off (precision "ieee"); precision "tf32" is a separate, labelled mode. Every public
method sets the TF32 flags for its own duration and restores the previous values.

The class is built from small overridable pieces (`build_activation`, `make_linear`, `make_dropout`,
`compute_loss`, `init_call`, `make_optimizer`, `batch_iterator`, `early_stopping_tracker`,
`restore_best_weights`, and for engines `forward_loss`, `optimizer_step`, `train_steps`) so that a subclass can
replace exactly one of them; that is how `mlpbench.impls.mutants` injects bugs and how the engine variants (foreach,
fused, compiled, CUDA-graphed) differ. Activations and losses dispatch through tables (`ACTIVATION_MODULES`,
`LOSS_FUNCTIONS`); optimizer paths through `OPTIMIZER_PATHS`.

This module imports without torch installed; the implementation then reports itself unavailable.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlpbench.impls.epochs import EpochSteps, run_epochs, suite_batches
from mlpbench.impls.interface import (
    Capabilities,
    Implementation,
    LossClaim,
    ModelResult,
    Trainer,
    TrainRequest,
    TrainResult,
)
from mlpbench.reference.early_stopping import EarlyStopping, EarlyStoppingTracker
from mlpbench.reference.spec import MLPSpec
from mlpbench.reference.training import TRAINING_OPTIONS

try:
    import torch
    import torch.nn.functional as F
    from torch import nn

    TORCH_IMPORT_ERROR: str | None = None
except ImportError as error:  # pragma: no cover - exercised only where torch is missing
    torch = None  # type: ignore[assignment]
    F = None  # type: ignore[assignment]
    nn = None  # type: ignore[assignment]
    TORCH_IMPORT_ERROR = f"{type(error).__name__}: {error}"

ACTIVATION_NAMES = (
    "identity",
    "step",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "gelu",
    "gelu_tanh",
    "softmax",
    "elu",
    "silu",
    "softplus",
)
LOSS_NAMES = (
    "mse",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "nll",
    "l1",
    "huber",
)
INITIALIZER_NAMES = (
    "zeros",
    "constant",
    "normal",
    "uniform",
    "xavier_uniform",
    "xavier_normal",
    "kaiming_uniform",
    "kaiming_normal",
    "truncated_normal",
    "variance_scaling",
    "lecun_normal",
    "lecun_uniform",
)
"""torch.nn.init's own schemes, then JAX's and Keras's (torch.nn.init has none of them but trunc_normal_):
`truncated_normal` is trunc_normal_ with its absolute bounds a, b at mean + lower std and mean + upper std;
`variance_scaling` and the lecun schemes are composed from trunc_normal_, normal_ and uniform_ and torch's fans
(`variance_scaling_`)."""
TRUNCATION_CORRECTION = 0.87962566103423978
"""JAX's and Keras's literal: the std of N(0, 1) truncated to (-2, 2)."""
OPTIMIZER_CLASSES = {
    "sgd": "SGD",
    "adam": "Adam",
    "adamw": "AdamW",
    "adagrad": "Adagrad",
    "adadelta": "Adadelta",
    "rmsprop": "RMSprop",
}
OPTIMIZER_OPTIONS: dict[str, frozenset[str]] = {
    "sgd": frozenset({"momentum", "dampening", "nesterov", "weight_decay", "maximize"}),
    "adam": frozenset({"weight_decay", "amsgrad", "maximize"}),
    "adamw": frozenset({"weight_decay", "amsgrad", "maximize"}),
    "adagrad": frozenset({"lr_decay", "weight_decay", "initial_accumulator_value"}),
    "adadelta": frozenset({"weight_decay"}),
    "rmsprop": frozenset({"weight_decay", "momentum", "centered"}),
}
"""The options of each torch.optim optimizer that the oracle also models (eps inside the square root is not
among them: torch.optim always divides by sqrt(v) + eps)."""

FUSED_CPU_OPTIMIZERS = ("sgd", "adam", "adamw", "adagrad")
"""The torch.optim optimizers with a fused CPU kernel (`fused=True`); the others have none."""
FUSED_CUDA_OPTIMIZERS = ("sgd", "adam", "adamw")
"""The torch.optim optimizers with a fused CUDA kernel (Adagrad's fused path is CPU only)."""


@dataclass(frozen=True)
class OptimizerPath:
    """One torch.optim implementation path: the keyword arguments that select it and the optimizers that have
    it on a device ("cpu" or "cuda"; None: every optimizer)."""

    kwargs: Mapping[str, Any]
    optimizers: Mapping[str, tuple[str, ...] | None]

    def supported(self, device: str) -> tuple[str, ...]:
        chosen = self.optimizers.get(device.split(":")[0], ())
        return tuple(OPTIMIZER_CLASSES) if chosen is None else chosen


OPTIMIZER_PATHS: dict[str, OptimizerPath] = {
    "default": OptimizerPath({}, {"cpu": None, "cuda": None}),  # torch's choice: for-loop on CPU, foreach on CUDA
    "for-loop": OptimizerPath({"foreach": False}, {"cpu": None, "cuda": None}),
    "foreach": OptimizerPath({"foreach": True}, {"cpu": None, "cuda": None}),
    "fused": OptimizerPath({"fused": True}, {"cpu": FUSED_CPU_OPTIMIZERS, "cuda": FUSED_CUDA_OPTIMIZERS}),
}
"""torch.optim's implementation paths (the `foreach` and `fused` switches), by name."""

LOSS_PARAMS_FIXED_BY_TORCH: dict[str, dict[str, Any]] = {
    "mse": {"half": False}, "binary_cross_entropy": {"log_clamp": -100.0},
}
"""Loss parameters torch does not expose: the value torch hard-codes is accepted, any other is refused."""


def claimed_optimizer_options() -> dict[str, frozenset[str]]:
    """OPTIMIZER_OPTIONS limited to the options the oracle names (mlpbench.reference.optim.OPTIMIZERS[...].options)."""
    from mlpbench.reference.optim import OPTIMIZERS

    return {
        name: options & frozenset(OPTIMIZERS[name].options) for name, options in OPTIMIZER_OPTIONS.items()
    }


def torch_dtype(dtype: Any) -> torch.dtype:
    """The torch dtype of a NumPy dtype or dtype name ("float32", "float64")."""
    return {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16}[
        np.dtype(dtype).name
    ]


@contextlib.contextmanager
def tf32_flags(enabled: bool) -> Iterator[None]:
    """Set torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32, restoring them after."""
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    previous = (matmul.allow_tf32, cudnn.allow_tf32)
    matmul.allow_tf32 = enabled
    cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        matmul.allow_tf32, cudnn.allow_tf32 = previous


# -- small torch parts
if torch is not None:

    class StepFunction(torch.autograd.Function):
        """Heaviside step H(x) = 1 where x >= 0 else 0, derivative 0 everywhere (torch.heaviside has none)."""

        @staticmethod
        def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
            return torch.heaviside(x, torch.ones((), dtype=x.dtype, device=x.device))

        @staticmethod
        def backward(ctx: Any, grad_output: torch.Tensor) -> torch.Tensor:
            return torch.zeros_like(grad_output)

    class Step(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return StepFunction.apply(x)


def scaled_std(tensor: torch.Tensor, scale: float, mode: str) -> float:
    """sqrt(scale / n), n the fan `mode` names (torch's fans: fan_in = size(1) * receptive field)."""
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(tensor)
    fans = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0,
            "fan_geo_avg": (fan_in * fan_out) ** 0.5}
    if mode not in fans:
        raise ValueError(f"variance_scaling: unknown mode {mode!r}")
    return (scale / fans[mode]) ** 0.5


def variance_scaling_(tensor: torch.Tensor, scale: float = 1.0, mode: str = "fan_in",
                      distribution: str = "truncated_normal", generator: Any = None) -> None:
    """jax.nn.initializers.variance_scaling / keras.initializers.VarianceScaling on torch.nn.init's samplers:
    std s = sqrt(scale / n) with n the fan `mode` names (torch's fans: fan_in = size(1) * receptive field);
    trunc_normal_ with std s / .87962566103423978 cut at +-2 of those stds, normal_ with std s, or
    uniform_ on +-sqrt(3) s."""
    if tensor.numel() == 0:
        return
    std = scaled_std(tensor, scale, mode)
    if distribution == "truncated_normal":
        cut = std / TRUNCATION_CORRECTION
        nn.init.trunc_normal_(tensor, 0.0, cut, -2.0 * cut, 2.0 * cut, generator=generator)
    elif distribution == "untruncated_normal":
        nn.init.normal_(tensor, 0.0, std, generator=generator)
    elif distribution == "uniform":
        nn.init.uniform_(tensor, -(3.0**0.5) * std, (3.0**0.5) * std, generator=generator)
    else:
        raise ValueError(f"variance_scaling: unknown distribution {distribution!r}")


def truncated_normal_(tensor: torch.Tensor, mean: float = 0.0, std: float = 1.0, lower: float = -2.0,
                      upper: float = 2.0, generator: Any = None) -> None:
    """torch.nn.init.trunc_normal_ with its absolute bounds at mean + lower std and mean + upper std."""
    nn.init.trunc_normal_(tensor, mean, std, mean + lower * std, mean + upper * std, generator=generator)


COMPOSED_INITIALIZERS: dict[str, Callable[..., None]] = {
    "truncated_normal": truncated_normal_,
    "variance_scaling": variance_scaling_,
    "lecun_normal": lambda tensor, generator=None: variance_scaling_(tensor, 1.0, "fan_in", "truncated_normal",
                                                                     generator),
    "lecun_uniform": lambda tensor, generator=None: variance_scaling_(tensor, 1.0, "fan_in", "uniform", generator),
}
"""The schemes torch.nn.init has no function for, written on its samplers."""


@dataclass(frozen=True)
class ActivationEntry:
    """How an oracle activation becomes a torch module: `build(**params)`, and the parameter names it takes."""

    build: Callable[..., Any]
    params: tuple[str, ...] = ()


@dataclass(frozen=True)
class LossEntry:
    """How an oracle loss becomes a torch.nn.functional call: `function(pred, target, reduction=..., **params)`."""

    function: Callable[..., Any]
    params: tuple[str, ...] = ()


ACTIVATION_MODULES: dict[str, ActivationEntry] = {}
"""Oracle activation name -> its torch module and parameters (empty where torch is missing)."""
LOSS_FUNCTIONS: dict[str, LossEntry] = {}
"""Oracle loss name -> its torch.nn.functional function and parameters (empty where torch is missing)."""

if torch is not None:
    ACTIVATION_MODULES.update({
        "identity": ActivationEntry(nn.Identity),
        "step": ActivationEntry(Step),
        "sigmoid": ActivationEntry(nn.Sigmoid),
        "tanh": ActivationEntry(nn.Tanh),
        "relu": ActivationEntry(nn.ReLU),
        "leaky_relu": ActivationEntry(nn.LeakyReLU, ("negative_slope",)),
        "gelu": ActivationEntry(nn.GELU, ("approximate",)),
        "gelu_tanh": ActivationEntry(lambda: nn.GELU(approximate="tanh")),
        "softmax": ActivationEntry(lambda axis=-1: nn.Softmax(dim=axis), ("axis",)),
        "elu": ActivationEntry(nn.ELU, ("alpha",)),
        "silu": ActivationEntry(nn.SiLU),
        "softplus": ActivationEntry(nn.Softplus, ("beta", "threshold")),
    })
    LOSS_FUNCTIONS.update({
        "mse": LossEntry(F.mse_loss),
        "binary_cross_entropy": LossEntry(F.binary_cross_entropy),
        "binary_cross_entropy_with_logits": LossEntry(F.binary_cross_entropy_with_logits),
        "cross_entropy": LossEntry(F.cross_entropy),
        "nll": LossEntry(F.nll_loss),
        "l1": LossEntry(F.l1_loss),
        "huber": LossEntry(F.huber_loss, ("delta",)),
    })


def _rng_state(device: str) -> torch.Tensor:
    return torch.cuda.get_rng_state(device) if device.startswith("cuda") else torch.get_rng_state()


def _set_rng_state(device: str, state: torch.Tensor) -> None:
    if device.startswith("cuda"):
        torch.cuda.set_rng_state(state, device)
    else:
        torch.set_rng_state(state)


@contextlib.contextmanager
def seeded(device: str, seed: int) -> Iterator[None]:
    """torch's global generators seeded with `seed` for the duration; their previous states restored after."""
    devices = [torch.device(device).index or 0] if device.startswith("cuda") else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class DropoutMaskRecorder:
    """Recovers the keep-mask each dropout module drew during a forward pass.

    Method: torch's dropout draws its noise into a fresh tensor shaped like the input (CPU: bernoulli_ into
    empty_like(input); CUDA: the fused native_dropout kernel, Philox from the generator's seed and offset), so
    the noise depends on the generator state and the shape, never on the input values. A pre-hook saves the
    generator state; a forward hook replays the same module on a tensor of ones from that state (then puts the
    generator back where the real call left it). The replay's nonzero entries are the keep-mask, exact even
    where the input was 0. Where the input is nonzero the real output must be nonzero exactly where the mask
    is 1; a disagreement raises RuntimeError rather than reporting a mask that might be wrong.
    """

    def __init__(self, modules: Sequence[nn.Module], device: str) -> None:
        self.device = device
        self.masks: list[np.ndarray] = []
        self._saved: torch.Tensor | None = None
        self._handles = []
        for module in modules:
            self._handles.append(module.register_forward_pre_hook(self._before))
            self._handles.append(module.register_forward_hook(self._after))

    def _before(self, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        self._saved = _rng_state(self.device)

    def _after(self, module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        (x,) = inputs
        if self._saved is None:
            raise RuntimeError("a dropout module's forward hook ran without its pre-hook")
        after = _rng_state(self.device)
        _set_rng_state(self.device, self._saved)
        with torch.no_grad():
            replay = module.forward(torch.ones_like(x))
        _set_rng_state(self.device, after)
        keep = replay != 0
        nonzero = x.detach() != 0
        if not torch.equal(keep[nonzero], (output.detach() != 0)[nonzero]):
            raise RuntimeError(
                "dropout mask replay disagrees with the dropout output; cannot report the mask"
            )
        self.masks.append(keep.to(dtype=x.dtype, device="cpu").numpy())

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


@dataclass
class BuiltModel:
    """An MLP as an nn.Sequential; `model.parameters()` yields [W0, b0, W1, b1, ...] in order."""

    model: nn.Sequential
    dropouts: list[nn.Module] = field(default_factory=list)


@dataclass
class ModuleSteps(EpochSteps):
    """The epoch loop's side of a torch module that its optimizer trains in place (mlpbench.impls.epochs.run_epochs).

    `step(rows)` trains the batch of these rows and returns its loss; `evaluate()` is the validation loss, called
    in evaluation mode without autograd. `model` runs the batches (on a data-parallel rank the DDP wrapper of
    `module`), `module` holds the weights. The batches, the tracker and the restoring go through the
    implementation's extension points, which the mutants replace.
    """

    impl: TorchImplementation
    model: nn.Module
    module: nn.Module
    step: Callable[[np.ndarray], float]
    evaluate: Callable[[], float]

    def batches(self, epoch: int) -> Iterator[np.ndarray]:
        self.model.train()
        return self.impl.batch_iterator(self.request, epoch)

    def tracker(self, config: EarlyStopping) -> EarlyStoppingTracker:
        return self.impl.early_stopping_tracker(config)

    def train_batch(self, rows: np.ndarray) -> float:
        return self.step(rows)

    def validate(self) -> float:
        self.model.eval()
        with torch.no_grad():
            return self.evaluate()

    def snapshot(self) -> list[torch.Tensor]:
        return [p.detach().clone() for p in self.module.parameters()]

    def restore(self, best: list[torch.Tensor]) -> None:
        if self.request.early_stopping is None:
            raise RuntimeError("restoring the best weights of a run without early stopping")
        self.impl.restore_best_weights(self.module, best, self.request.early_stopping)

    def current_weights(self) -> list[torch.Tensor]:
        return list(self.module.parameters())


class TorchTrainer(Trainer):
    """zero_grad, forward, loss, backward, optimizer step on tensors already on the device."""

    def __init__(
        self, impl: TorchImplementation, built: BuiltModel, optimizer: Any, x: Any, target: Any, loss: str
    ) -> None:
        self.impl, self.built, self.optimizer = impl, built, optimizer
        self.x, self.target, self.loss = x, target, loss
        self.optimizer_step = impl.optimizer_step(optimizer)
        built.model.train()

    def step(self) -> None:
        with self.impl.numerics():
            self.optimizer.zero_grad(set_to_none=True)
            _, loss = self.impl.forward_loss(self.built.model, self.x, self.target, self.loss, "mean", {})
            loss.backward()
            self.optimizer_step()

    def synchronize(self) -> None:
        if self.impl.device.startswith("cuda"):
            torch.cuda.synchronize(self.impl.device)


class TorchImplementation(Implementation):
    """torch.nn, torch.optim and autograd on a device ("cpu", "cuda", "cuda:N"); precision "ieee"|"tf32"."""

    kind = "built-in"

    def __init__(self, device: str = "cpu", precision: str = "ieee", name: str | None = None,
                 optimizer_path: str = "default") -> None:
        if precision not in ("ieee", "tf32"):
            raise ValueError(f"precision must be 'ieee' or 'tf32', not {precision!r}")
        if optimizer_path not in OPTIMIZER_PATHS:
            raise ValueError(f"optimizer_path must be one of {', '.join(OPTIMIZER_PATHS)}, not {optimizer_path!r}")
        self.device = device
        self.precision = precision
        self.optimizer_path = optimizer_path
        default_name = "torch-" + device.split(":")[0] + ("-tf32" if precision == "tf32" else "")
        if name is not None:
            self.name = name
        elif type(self).name == Implementation.name:
            self.name = default_name
        version = torch.__version__ if torch is not None else "not installed"
        if not self.description:
            self.description = f"PyTorch {version} on {device}, " + (
                "TF32 matmuls allowed" if precision == "tf32" else "TF32 off"
            ) + ("" if optimizer_path == "default" else f", torch.optim {optimizer_path} path")

    # -- what it is
    def availability(self) -> tuple[bool, str]:
        if torch is None:
            return False, f"torch is not importable ({TORCH_IMPORT_ERROR})"
        if self.device.startswith("cuda"):
            if not torch.cuda.is_available():
                build = (
                    "CPU-only torch build"
                    if torch.version.cuda is None
                    else f"CUDA {torch.version.cuda} build"
                )
                return False, (
                    f"CUDA not available: torch.cuda.is_available() is False ({build} {torch.__version__}"
                    + (")" if torch.version.cuda is None else ", no usable GPU or driver)")
                )
            index = torch.device(self.device).index or 0
            if index >= torch.cuda.device_count():
                return (
                    False,
                    f"CUDA device {index} not present "
                    f"(torch.cuda.device_count() is {torch.cuda.device_count()})",
                )
        elif self.device != "cpu":
            return False, f"unsupported device {self.device!r}"
        return True, ""

    def capabilities(self) -> Capabilities:
        return Capabilities(
            activations=frozenset(ACTIVATION_NAMES),
            losses={name: LossClaim() for name in LOSS_NAMES},  # every reduction, target kind, parameter
            initializers=frozenset(INITIALIZER_NAMES),
            optimizers={name: options for name, options in claimed_optimizer_options().items()
                        if name in OPTIMIZER_PATHS[self.optimizer_path].supported(self.device)},
            dtypes=frozenset({"float32", "float64"}),
            model=True,
            training=True,
            early_stopping=True,
            dropout=True,
            deterministic=True,
            training_options=frozenset(TRAINING_OPTIONS),
        )

    def numerics(self) -> contextlib.AbstractContextManager:
        """TF32 off for "ieee", on for "tf32", for the duration of a call. The flags govern CUDA's matmuls and
        convolutions only, so a CPU device runs under no context at all (a training step's cost stays the
        framework's, not ours)."""
        if not self.device.startswith("cuda"):
            return contextlib.nullcontext()
        return tf32_flags(self.precision == "tf32")

    # -- conversions
    def tensor(self, array: np.ndarray, dtype: torch.dtype | None = None) -> torch.Tensor:
        """A copy of `array` on the device (the caller's array is never shared)."""
        return torch.tensor(np.asarray(array), dtype=dtype, device=self.device)

    def target_tensor(self, loss: str, target: np.ndarray, like: torch.Tensor) -> torch.Tensor:
        """Class indices become int64; real-valued targets take the prediction's dtype."""
        target = np.asarray(target)
        if np.issubdtype(target.dtype, np.integer) or loss == "nll":
            return self.tensor(target, torch.long)
        return self.tensor(target, like.dtype)

    @staticmethod
    def numpy(tensor: torch.Tensor, dtype: Any) -> np.ndarray:
        return np.array(tensor.detach().to("cpu").numpy(), dtype=dtype, copy=True)

    @staticmethod
    def gradient_of(tensor: torch.Tensor) -> torch.Tensor:
        """The gradient backward left in `tensor`; RuntimeError when backward did not reach it."""
        if tensor.grad is None:
            raise RuntimeError("backward left no gradient in a tensor that requires one")
        return tensor.grad

    # -- overridable parts
    def build_activation(self, name: str, params: Mapping[str, Any]) -> nn.Module:
        """The activation module for an oracle activation name and its keyword parameters (ACTIVATION_MODULES)."""
        if name not in ACTIVATION_MODULES:
            raise ValueError(f"unknown activation {name!r}; known: {', '.join(ACTIVATION_NAMES)}")
        entry = ACTIVATION_MODULES[name]
        params = dict(params)
        unknown = sorted(set(params) - set(entry.params))
        if unknown:
            raise ValueError(f"activation {name!r} has no parameters {unknown}; it takes {list(entry.params)}")
        return entry.build(**params)

    def make_linear(self, in_features: int, out_features: int, dtype: torch.dtype) -> nn.Module:
        """A dense layer y = x W^T + b with weight (out, in) and bias (out,)."""
        return nn.Linear(in_features, out_features, dtype=dtype, device=self.device)

    def make_dropout(self, p: float) -> nn.Module:
        """Inverted dropout: in training keep each unit with probability 1 - p, scale kept ones by 1/(1-p)."""
        return nn.Dropout(p)

    def compute_loss(
        self, name: str, pred: torch.Tensor, target: torch.Tensor, reduction: str, params: Mapping[str, Any]
    ) -> torch.Tensor:
        """The torch.nn.functional loss for an oracle loss name."""
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")
        params = dict(params)
        for key, torch_value in LOSS_PARAMS_FIXED_BY_TORCH.get(name, {}).items():
            if key in params:
                value = params.pop(key)
                if value != torch_value:
                    raise NotImplementedError(
                        f"torch's {name} has {key}={torch_value!r} fixed; got {value!r}"
                    )
        if name not in LOSS_FUNCTIONS:
            raise ValueError(f"unknown loss {name!r}; known: {', '.join(LOSS_NAMES)}")
        entry = LOSS_FUNCTIONS[name]
        unknown = sorted(set(params) - set(entry.params))
        if unknown:
            raise ValueError(f"loss {name!r} has no parameters {unknown}")
        return entry.function(pred, target, reduction=reduction, **params)

    def init_call(self, name: str, tensor: torch.Tensor, params: Mapping[str, Any], generator: Any) -> None:
        """Fill `tensor` in place with torch.nn.init.<name>_ (or its composition, COMPOSED_INITIALIZERS) drawing from
        `generator`."""
        if name == "zeros":
            nn.init.zeros_(tensor)
        elif name == "constant":
            nn.init.constant_(
                tensor, float(dict(params).get("value", 0.0))
            )  # the oracle's "value" is torch's val
        elif name in COMPOSED_INITIALIZERS:
            COMPOSED_INITIALIZERS[name](tensor, **params, generator=generator)
        elif name in INITIALIZER_NAMES:
            getattr(nn.init, name + "_")(tensor, **params, generator=generator)
        else:
            raise ValueError(f"unknown initializer {name!r}; known: {', '.join(INITIALIZER_NAMES)}")

    def optimizer_kwargs(self, name: str, hyper: Mapping[str, Any]) -> dict[str, Any]:
        """The oracle's hyperparameters (PyTorch's names) as torch.optim keyword arguments."""
        kwargs = dict(hyper)
        if kwargs.pop("eps_inside_sqrt", False):
            raise NotImplementedError(
                "torch.optim divides by sqrt(v) + eps; eps inside the square root is not supported"
            )
        if "betas" in kwargs:
            kwargs["betas"] = tuple(float(b) for b in kwargs["betas"])
        return kwargs

    def make_optimizer(self, name: str, params: Sequence[torch.Tensor], hyper: Mapping[str, Any]) -> Any:
        """torch.optim.<Class>(params, **hyper), on this implementation's optimizer path (foreach, fused)."""
        if name not in OPTIMIZER_CLASSES:
            raise ValueError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZER_CLASSES)}")
        kwargs = {**self.optimizer_kwargs(name, hyper), **OPTIMIZER_PATHS[self.optimizer_path].kwargs}
        return getattr(torch.optim, OPTIMIZER_CLASSES[name])(list(params), **kwargs)

    def forward_loss(
        self, model: nn.Module, x: torch.Tensor, target: torch.Tensor, loss: str, reduction: str,
        loss_params: Mapping[str, Any],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(model output, loss value): the forward half of a training step (compiled engines compile it)."""
        output = model(x)
        return output, self.compute_loss(loss, output, target, reduction, loss_params)

    def clip_gradients(self, parameters: Sequence[torch.Tensor], max_norm: float | None,
                       clip_value: float | None) -> None:
        """The training options, between backward and the optimizer step: clip_grad_value_, then
        clip_grad_norm_ over all parameters together."""
        if clip_value is not None:
            torch.nn.utils.clip_grad_value_(parameters, clip_value)
        if max_norm is not None:
            torch.nn.utils.clip_grad_norm_(parameters, max_norm)

    def optimizer_step(self, optimizer: Any) -> Callable[[], Any]:
        """What applies one optimizer step (compiled engines return a compiled step)."""
        return optimizer.step

    def train_steps(self, model: nn.Module, optimizer: Any, loss: str, reduction: str,
                    loss_params: Mapping[str, Any]) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """What runs one training step on a batch (zero_grad, forward, loss, backward, optimizer step) and
        returns the batch's loss; engines that graph or compile the step replace it."""
        optimizer_step = self.optimizer_step(optimizer)

        def step(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            _, value = self.forward_loss(model, x, target, loss, reduction, loss_params)
            value.backward()
            optimizer_step()
            return value.detach()

        return step

    def batch_iterator(self, request: TrainRequest, epoch: int) -> Iterator[np.ndarray]:
        """The suite's batches: consecutive slices of request.batch_orders[epoch]."""
        return suite_batches(request, epoch)

    def row_index(self, rows: np.ndarray) -> torch.Tensor:
        """A batch's row indices as an index tensor on the device."""
        return torch.as_tensor(np.asarray(rows, dtype=np.int64), device=self.device)

    def early_stopping_tracker(self, config: EarlyStopping) -> EarlyStoppingTracker:
        return EarlyStoppingTracker(config)

    def restore_best_weights(
        self, model: nn.Module, best: list[torch.Tensor] | None, config: EarlyStopping
    ) -> None:
        """Copy the best epoch's parameters back into the model when the configuration asks for it."""
        if config.restore_best_weights and best is not None:
            with torch.no_grad():
                for param, value in zip(model.parameters(), best, strict=True):
                    param.copy_(value)

    # -- model assembly
    def build_model(self, spec: MLPSpec, dtype: torch.dtype) -> BuiltModel:
        """Linear, activation (and Dropout) per hidden layer, then Linear and the output activation."""
        layers: list[nn.Module] = []
        dropouts: list[nn.Module] = []
        for index, (fan_in, fan_out) in enumerate(zip(spec.sizes[:-1], spec.sizes[1:], strict=True)):
            layers.append(self.make_linear(fan_in, fan_out, dtype))
            if index < spec.n_layers - 1:
                layers.append(self.build_activation(spec.activation, spec.activation_kwargs()))
                if spec.dropout > 0:
                    dropouts.append(self.make_dropout(spec.dropout))
                    layers.append(dropouts[-1])
            else:
                layers.append(self.build_activation(spec.output_activation, {}))
        return BuiltModel(nn.Sequential(*layers).to(self.device), dropouts)

    def load_params(self, model: nn.Module, params: Sequence[np.ndarray]) -> None:
        model_params = list(model.parameters())
        if len(model_params) != len(params):
            raise ValueError(f"the model has {len(model_params)} parameter tensors, got {len(params)}")
        with torch.no_grad():
            for index, (param, value) in enumerate(zip(model_params, params, strict=True)):
                if tuple(param.shape) != np.shape(value):
                    raise ValueError(
                        f"parameter {index}: expected shape {tuple(param.shape)}, got {np.shape(value)}"
                    )
                param.copy_(self.tensor(value, param.dtype))

    # -- interface: elementwise and losses
    def activation(self, name: str, x: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        with self.numerics(), torch.no_grad():
            return self.numpy(self.build_activation(name, params)(self.tensor(x)), x.dtype)

    def activation_grad(
        self, name: str, x: np.ndarray, grad_y: np.ndarray, params: Mapping[str, Any]
    ) -> np.ndarray:
        with self.numerics():
            xt = self.tensor(x).requires_grad_(True)
            self.build_activation(name, params)(xt).backward(self.tensor(grad_y, xt.dtype))
            return self.numpy(self.gradient_of(xt), x.dtype)

    def loss(
        self, name: str, pred: np.ndarray, target: np.ndarray, reduction: str, params: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        with self.numerics():
            predt = self.tensor(pred).requires_grad_(True)
            value = self.compute_loss(name, predt, self.target_tensor(name, target, predt), reduction, params)
            (value.sum() if reduction == "none" else value).backward()
            return self.numpy(value, pred.dtype), self.numpy(self.gradient_of(predt), pred.dtype)

    # -- interface: initializers and dropout
    def init(
        self, name: str, shape: tuple[int, ...], params: Mapping[str, Any], seed: int, dtype: str
    ) -> np.ndarray:
        with self.numerics():
            generator = torch.Generator(device=self.device)
            generator.manual_seed(int(seed))
            tensor = torch.empty(tuple(shape), dtype=torch_dtype(dtype), device=self.device)
            with torch.no_grad():
                self.init_call(name, tensor, params, generator)
            return self.numpy(tensor, dtype)

    def dropout(self, x: np.ndarray, p: float, training: bool, seed: int) -> np.ndarray:
        with self.numerics(), torch.no_grad(), seeded(self.device, int(seed)):
            module = self.make_dropout(p).train(training)
            return self.numpy(module(self.tensor(x)), x.dtype)

    # -- interface: model
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
        dtype = x.dtype
        with self.numerics():
            built = self.build_model(spec, torch_dtype(dtype))
            self.load_params(built.model, params)
            built.model.train(training)
            recorder = (
                DropoutMaskRecorder(built.dropouts, self.device) if training and built.dropouts else None
            )
            xt = self.tensor(x).requires_grad_(True)
            try:
                with seeded(self.device, 0 if dropout_seed is None else int(dropout_seed)):
                    output, value = self.forward_loss(built.model, xt, self.target_tensor(loss, target, xt),
                                                      loss, reduction, loss_params or {})
            finally:
                if recorder is not None:
                    recorder.remove()
            (value.sum() if reduction == "none" else value).backward()
            return ModelResult(
                output=self.numpy(output, dtype),
                loss=self.numpy(value, dtype),
                param_grads=[self.numpy(self.gradient_of(p), dtype) for p in built.model.parameters()],
                input_grad=self.numpy(self.gradient_of(xt), dtype),
                dropout_masks=recorder.masks if recorder is not None else None,
            )

    # -- interface: optimizers
    def optimizer_run(
        self,
        name: str,
        hyper: Mapping[str, Any],
        params: Sequence[np.ndarray],
        grads_per_step: Sequence[Sequence[np.ndarray]],
    ) -> tuple[list[np.ndarray], dict[str, Any]]:
        dtypes = [np.asarray(p).dtype for p in params]
        with self.numerics():
            tensors = [nn.Parameter(self.tensor(p)) for p in params]
            optimizer = self.make_optimizer(name, tensors, hyper)
            step = self.optimizer_step(optimizer)
            for grads in grads_per_step:
                for tensor, grad in zip(tensors, grads, strict=True):
                    tensor.grad = self.tensor(grad, tensor.dtype)
                step()
            return [self.numpy(t, d) for t, d in zip(tensors, dtypes, strict=True)], self.oracle_state(
                optimizer, tensors, dtypes, len(grads_per_step)
            )

    def oracle_state(
        self, optimizer: Any, tensors: Sequence[torch.Tensor], dtypes: Sequence[Any], steps: int
    ) -> dict[str, Any]:
        """torch's per-parameter state as the oracle's {"step": int, buffer: [array or None per param]}."""
        state: dict[str, Any] = {"step": steps}
        names = sorted({key for t in tensors for key in optimizer.state.get(t, {}) if key != "step"})
        for key in names:
            state[key] = [
                None
                if optimizer.state.get(t, {}).get(key) is None
                else self.numpy(optimizer.state[t][key], d)
                for t, d in zip(tensors, dtypes, strict=True)
            ]
        return state

    # -- interface: training
    def train(self, request: TrainRequest) -> TrainResult:
        dtype = np.asarray(request.x).dtype
        with self.numerics(), seeded(self.device, int(request.dropout_seed)):
            model = self.build_model(request.spec, torch_dtype(dtype)).model
            self.load_params(model, request.params)
            optimizer = self.make_optimizer(request.optimizer, list(model.parameters()), request.hyper)
            if request.clip_grad_norm is not None or request.clip_grad_value is not None:
                parameters = list(model.parameters())
                optimizer.register_step_pre_hook(lambda *_: self.clip_gradients(
                    parameters, request.clip_grad_norm, request.clip_grad_value))
            train_step = self.train_steps(model, optimizer, request.loss, request.reduction, request.loss_params)
            x = self.tensor(request.x)
            y = self.target_tensor(request.loss, request.y, x)
            x_val = self.tensor(request.x_val) if request.x_val is not None else None
            y_val = self.target_tensor(request.loss, request.y_val, x) if request.y_val is not None else None

            def step(rows: np.ndarray) -> float:
                index = self.row_index(rows)
                return float(train_step(x[index], y[index]).detach())

            def evaluate() -> float:
                if x_val is None or y_val is None:
                    raise RuntimeError("evaluate() on a request without validation data")
                _, value = self.forward_loss(model, x_val, y_val, request.loss, request.reduction,
                                             request.loss_params)
                return float(value)

            run = run_epochs(ModuleSteps(request, self, model, model, step, evaluate))
            return run.result([self.numpy(p, dtype) for p in run.weights])

    # -- interface: benchmarking
    def make_trainer(
        self,
        spec: MLPSpec,
        params: Sequence[np.ndarray],
        x: np.ndarray,
        target: np.ndarray,
        loss: str,
        optimizer: str,
        hyper: Mapping[str, Any],
    ) -> TorchTrainer:
        with self.numerics():
            built = self.build_model(spec, torch_dtype(x.dtype))
            self.load_params(built.model, params)
            opt = self.make_optimizer(optimizer, list(built.model.parameters()), hyper)
            xt = self.tensor(x)
            trainer = TorchTrainer(self, built, opt, xt, self.target_tensor(loss, target, xt), loss)
        trainer.synchronize()
        return trainer

    def transfer_to_device(self, arrays: Sequence[np.ndarray]) -> None:
        for array in arrays:
            torch.from_numpy(np.ascontiguousarray(array)).to(self.device, copy=True)
        if self.device.startswith("cuda"):
            torch.cuda.synchronize(self.device)
