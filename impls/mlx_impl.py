"""MLX on the CPU as an implementation under test: mlx.nn's activations and losses, mlx.optimizers, gradients by
`mx.value_and_grad` and `mx.vjp`, evaluated with `mx.eval`, on MLX's CPU device, in float32 (float64, a CPU-only
dtype in MLX, is a finding, not claimed).

It follows the `mlx` convention profile: PyTorch's, except that MLX's SGD dampens from the first step (v starts
at zero, v <- momentum v + (1 - dampening) g), its softplus is the exact logaddexp(x, 0), and leaky_relu
(mx.maximum(slope x, x)) has derivative 1 at +-0. Adam and AdamW are
built with MLX's own `bias_correction=True` (its default is False, which is not Adam as the oracle or PyTorch
define it): MLX then divides lr / (1 - beta1^t) m by sqrt(v) / sqrt(1 - beta2^t) + eps, PyTorch's form.
Parameters keep the suite's layout (weight (out, in), y = x W^T + b). MLX's optimizer state is reported in torch's
names (m -> exp_avg, v -> exp_avg_sq for Adam, momentum_buffer for SGD, square_avg for RMSprop and Adadelta, sum
for Adagrad, u -> acc_delta). Every random stream is the suite's.

Not claimed, because MLX has no such option: SGD's maximize; Adam's weight decay, AMSGrad and maximize; AdamW's
AMSGrad; RMSprop's momentum, centered and weight decay; Adagrad's lr_decay, initial accumulator and weight
decay; Adadelta's weight decay; its own initializers and dropout (not wired up here); softplus's beta and
threshold (mlx.nn.softplus takes neither; softplus is not claimed until activation claims can be narrowed).
Not claimed because MLX differs from the oracle, each a finding (docs/engines.md, "Findings"): float64 (MLX's
float64 exp is accurate to about 3.6e-6 relative, float32's precision, and learning rates are held as float32
arrays, so every exp-based activation, loss and optimizer step is off by 1e-8 to 1e-6); elu (NaN derivative at
x = 100 in float32: the unused exp branch of mx.where overflows, 0 * inf; and exp(x) - 1 instead of expm1
returns 0 for x = -1e-8); binary_cross_entropy on probabilities (NaN gradient at p = 0 and 1: the -100 clamp
is applied to log(p) after the log, so the gradient is 1/0 times 0); early stopping (the min_delta case's final
bias 1.15 tolerances off, as torch-cpu-compile and Keras).

This module imports without mlx installed; the implementation then reports itself unavailable with the command
that installs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from importlib import metadata
from typing import Any

import numpy as np

from mlpbench.impls.epochs import functional_epochs
from mlpbench.impls.interface import (
    Capabilities,
    Implementation,
    LossClaim,
    ModelResult,
    Trainer,
    TrainRequest,
    TrainResult,
)
from mlpbench.reference.conventions import MLX
from mlpbench.reference.spec import MLPSpec

try:
    import mlx.core as mx
    import mlx.nn as nn
    import mlx.optimizers as optim

    MLX_IMPORT_ERROR: str | None = None
except ImportError as error:  # pragma: no cover - exercised only where mlx is missing
    mx = nn = optim = None  # type: ignore[assignment]
    MLX_IMPORT_ERROR = f"{type(error).__name__}: {error}"

INSTALL = "pip install 'mlpbench[mlx]'"

DTYPES = ("float32",)

def _huber(pred: Any, target: Any, reduction: Any, delta: float = 1.0) -> Any:
    return nn.losses.huber_loss(pred, target, delta=delta, reduction=reduction)


ACTIVATIONS: dict[str, tuple[Callable[..., Any], tuple[str, ...]]] = {}
"""Oracle activation name -> (mlx.nn function of x and its parameters, parameter names)."""
LOSSES: dict[str, Callable[..., Any]] = {}
"""Oracle loss name -> mlx.nn.losses function of (pred, target, reduction, **params)."""

if mx is not None:
    ACTIVATIONS.update({
        "identity": (lambda x: x, ()),
        "sigmoid": (nn.sigmoid, ()),
        "tanh": (nn.tanh, ()),
        "relu": (nn.relu, ()),
        "gelu": (nn.gelu, ()),
        "softmax": (nn.softmax, ("axis",)),
        "silu": (nn.silu, ()),
        "leaky_relu": (nn.leaky_relu, ("negative_slope",)),
    })
    LOSSES.update({
        "mse": lambda p, t, reduction: nn.losses.mse_loss(p, t, reduction=reduction),
        "l1": lambda p, t, reduction: nn.losses.l1_loss(p, t, reduction=reduction),
        "huber": _huber,
        "binary_cross_entropy_with_logits": lambda p, t, reduction: nn.losses.binary_cross_entropy(
            p, t, with_logits=True, reduction=reduction),
        "cross_entropy": lambda p, t, reduction: nn.losses.cross_entropy(p, t, reduction=reduction),
        "nll": lambda p, t, reduction: nn.losses.nll_loss(p, t, reduction=reduction),
    })
LOSS_PARAMS = {"huber": ("delta",)}

OPTIMIZER_OPTIONS: dict[str, frozenset[str]] = {
    "sgd": frozenset({"momentum", "dampening", "nesterov", "weight_decay"}),
    "adam": frozenset(),
    "adamw": frozenset(),
    "rmsprop": frozenset(),
    "adagrad": frozenset(),
    "adadelta": frozenset(),
}
"""The options of each optimizer that mlx.optimizers has, in the oracle's (PyTorch's) names."""

REFUSED: dict[str, tuple[str, ...]] = {
    "sgd": ("maximize",),
    "adam": ("weight_decay", "amsgrad", "maximize"),
    "adamw": ("amsgrad", "maximize"),
    "rmsprop": ("momentum", "centered", "weight_decay", "maximize"),
    "adagrad": ("lr_decay", "initial_accumulator_value", "weight_decay", "maximize"),
    "adadelta": ("weight_decay", "maximize"),
}

STATE_NAMES: dict[str, dict[str, str]] = {
    "sgd": {"v": "momentum_buffer"},
    "adam": {"m": "exp_avg", "v": "exp_avg_sq"},
    "adamw": {"m": "exp_avg", "v": "exp_avg_sq"},
    "rmsprop": {"v": "square_avg"},
    "adagrad": {"v": "sum"},
    "adadelta": {"v": "square_avg", "u": "acc_delta"},
}
"""Per optimizer: MLX's state key -> the oracle's (torch's) buffer name."""


def _refuse(name: str, hyper: Mapping[str, Any]) -> None:
    for key in REFUSED[name]:
        if hyper.get(key):
            raise NotImplementedError(f"mlx.optimizers' {name} has no {key}")


def _betas(h: Mapping[str, Any]) -> list[float]:
    return [float(b) for b in h.get("betas", (0.9, 0.999))]


OPTIMIZERS: dict[str, Callable[[Mapping[str, Any]], Any]] = {}
if mx is not None:
    OPTIMIZERS.update({
        "sgd": lambda h: optim.SGD(float(h["lr"]), momentum=float(h.get("momentum", 0.0)),
                                   weight_decay=float(h.get("weight_decay", 0.0)),
                                   dampening=float(h.get("dampening", 0.0)), nesterov=bool(h.get("nesterov"))),
        "adam": lambda h: optim.Adam(float(h["lr"]), betas=_betas(h), eps=float(h.get("eps", 1e-8)),
                                     bias_correction=True),
        "adamw": lambda h: optim.AdamW(float(h["lr"]), betas=_betas(h), eps=float(h.get("eps", 1e-8)),
                                       weight_decay=float(h.get("weight_decay", 0.01)), bias_correction=True),
        "rmsprop": lambda h: optim.RMSprop(float(h["lr"]), alpha=float(h.get("alpha", 0.99)),
                                           eps=float(h.get("eps", 1e-8))),
        "adagrad": lambda h: optim.Adagrad(float(h["lr"]), eps=float(h.get("eps", 1e-10))),
        "adadelta": lambda h: optim.AdaDelta(float(h.get("lr", 1.0)), rho=float(h.get("rho", 0.9)),
                                             eps=float(h.get("eps", 1e-6))),
    })


def make_optimizer(name: str, hyper: Mapping[str, Any]) -> Any:
    if name not in OPTIMIZERS:
        raise NotImplementedError(f"optimizer {name!r} is not claimed")
    _refuse(name, hyper)
    return OPTIMIZERS[name](hyper)


class MlxImplementation(Implementation):
    """MLX on its CPU device."""

    kind = "built-in"
    device = "cpu"
    conventions = MLX

    def __init__(self, name: str = "mlx-cpu") -> None:
        self.name = name
        version = metadata.version("mlx") if mx is not None else "not installed"
        self.description = f"MLX {version} on its CPU device (mlx.nn, mlx.optimizers, mx.value_and_grad)"

    def availability(self) -> tuple[bool, str]:
        if mx is None:
            return False, f"mlx is not importable ({MLX_IMPORT_ERROR}); install with: {INSTALL}"
        try:
            mx.eval(mx.array([1.0], dtype=mx.float64) + 1)
        except Exception as error:
            return False, f"MLX's CPU device does not run here ({type(error).__name__}: {error})"
        return True, ""

    def capabilities(self) -> Capabilities:
        return Capabilities(
            activations=frozenset(ACTIVATIONS),
            losses={name: LossClaim() for name in LOSSES},
            optimizers=OPTIMIZER_OPTIONS,
            dtypes=frozenset(DTYPES),
            model=True, training=True, early_stopping=False, dropout=False, deterministic=True,
        )

    # -- helpers
    @staticmethod
    def put(array: Any) -> Any:
        """A NumPy array as an MLX array of the same dtype (mx.array alone makes float64 data float32)."""
        mx.set_default_device(mx.cpu)
        array = np.asarray(array)
        dtype = getattr(mx, array.dtype.name, None) if array.dtype.kind == "f" else None
        return mx.array(np.array(array, copy=True), dtype=dtype) if dtype is not None else mx.array(array)

    @staticmethod
    def numpy(array: Any, dtype: Any) -> np.ndarray:
        mx.eval(array)
        return np.array(array, dtype=dtype, copy=True)

    @staticmethod
    def activation_fn(name: str, params: Mapping[str, Any]) -> Callable[[Any], Any]:
        if name not in ACTIVATIONS:
            raise NotImplementedError(f"activation {name!r} is not claimed")
        function, allowed = ACTIVATIONS[name]
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise NotImplementedError(f"mlx.nn's {name} has no parameters {unknown}")
        return partial(function, **dict(params))

    @staticmethod
    def loss_fn(name: str, reduction: str, params: Mapping[str, Any]) -> Callable[[Any, Any], Any]:
        if name not in LOSSES:
            raise NotImplementedError(f"loss {name!r} is not claimed")
        params = dict(params)
        unknown = sorted(set(params) - set(LOSS_PARAMS.get(name, ())))
        if unknown:
            raise NotImplementedError(f"mlx.nn.losses' {name} has no parameters {unknown}")
        return lambda pred, target: LOSSES[name](pred, target, reduction, **params)

    def forward(self, spec: MLPSpec, params: Sequence[Any], x: Any) -> Any:
        hidden = self.activation_fn(spec.activation, spec.activation_kwargs())
        output = self.activation_fn(spec.output_activation, {})
        a = x
        for layer in range(spec.n_layers):
            z = a @ params[2 * layer].T + params[2 * layer + 1]
            a = hidden(z) if layer < spec.n_layers - 1 else output(z)
        return a

    # -- interface: elementwise and losses
    def activation(self, name: str, x: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return self.numpy(self.activation_fn(name, params)(self.put(x)), x.dtype)

    def activation_grad(self, name: str, x: np.ndarray, grad_y: np.ndarray, params: Mapping[str, Any]
                        ) -> np.ndarray:
        function = self.activation_fn(name, params)
        _, (grad,) = mx.vjp(lambda v: [function(v)], [self.put(x)], [self.put(grad_y)])
        return self.numpy(grad, x.dtype)

    def loss(self, name: str, pred: np.ndarray, target: np.ndarray, reduction: str, params: Mapping[str, Any]
             ) -> tuple[np.ndarray, np.ndarray]:
        """The loss and the gradient of its sum (for reduction "none", the sum of the per-element losses)."""
        function = self.loss_fn(name, reduction, params)
        t = self.put(target)
        captured: dict[str, Any] = {}

        def total(p: Any) -> Any:
            captured["value"] = function(p, t)
            return mx.sum(captured["value"])

        _, grad = mx.value_and_grad(total)(self.put(pred))
        return self.numpy(captured["value"], pred.dtype), self.numpy(grad, pred.dtype)

    # -- interface: model
    def forward_backward(self, spec: MLPSpec, params: Sequence[np.ndarray], x: np.ndarray, target: np.ndarray,
                         loss: str, *, reduction: str = "mean", loss_params: Mapping[str, Any] | None = None,
                         training: bool = False, dropout_seed: int | None = None) -> ModelResult:
        if training and spec.dropout > 0:
            raise NotImplementedError("dropout is not claimed")
        function = self.loss_fn(loss, reduction, loss_params or {})
        t = self.put(target)
        captured: dict[str, Any] = {}

        def objective(ps: list[Any], xs: Any) -> Any:
            output = self.forward(spec, ps, xs)
            value = function(output, t)
            captured["output"], captured["value"] = output, value
            return mx.sum(value)

        _, (grads, input_grad) = mx.value_and_grad(objective, argnums=(0, 1))(
            [self.put(p) for p in params], self.put(x))
        dtype = x.dtype
        return ModelResult(output=self.numpy(captured["output"], dtype), loss=self.numpy(captured["value"], dtype),
                           param_grads=[self.numpy(g, dtype) for g in grads],
                           input_grad=self.numpy(input_grad, dtype))

    # -- interface: optimizers
    def optimizer_run(self, name: str, hyper: Mapping[str, Any], params: Sequence[np.ndarray],
                      grads_per_step: Sequence[Sequence[np.ndarray]]) -> tuple[list[np.ndarray], dict[str, Any]]:
        dtypes = [np.asarray(p).dtype for p in params]
        optimizer = make_optimizer(name, hyper)
        current = as_tree([self.put(p) for p in params])
        optimizer.init(current)
        for grads in grads_per_step:
            current = optimizer.apply_gradients(as_tree([self.put(g) for g in grads]), current)
            mx.eval(current, optimizer.state)
        state: dict[str, Any] = {"step": len(grads_per_step)}
        entries = [optimizer.state[key] for key in current]
        for key, oracle_name in STATE_NAMES[name].items():
            if all(key in entry for entry in entries):
                state[oracle_name] = [self.numpy(entry[key], d) for entry, d in zip(entries, dtypes, strict=True)]
        return [self.numpy(p, d) for p, d in zip(current.values(), dtypes, strict=True)], state

    # -- interface: training
    def step_function(self, spec: MLPSpec, loss: str, reduction: str, loss_params: Mapping[str, Any]
                      ) -> Callable[..., tuple[Any, Any, Any]]:
        """(params, optimizer, x, y) -> (new params, the optimizer, loss): one step, evaluated."""
        function = self.loss_fn(loss, reduction, loss_params)
        grad_fn = mx.value_and_grad(lambda ps, xb, yb: function(self.forward(spec, ps, xb), yb))

        def step(ps: list[Any], optimizer: Any, xb: Any, yb: Any) -> tuple[list[Any], Any, Any]:
            value, grads = grad_fn(ps, xb, yb)
            updated = list(optimizer.apply_gradients(as_tree(grads), as_tree(ps)).values())
            mx.eval(updated, optimizer.state, value)
            return updated, optimizer, value

        return step

    def train(self, request: TrainRequest) -> TrainResult:
        if request.spec.dropout > 0:
            raise NotImplementedError("dropout is not claimed")
        dtype = np.asarray(request.x).dtype
        optimizer = make_optimizer(request.optimizer, request.hyper)
        params = [self.put(p) for p in request.params]
        optimizer.init(as_tree(params))
        step = self.step_function(request.spec, request.loss, request.reduction, request.loss_params)
        function = self.loss_fn(request.loss, request.reduction, request.loss_params)
        run = functional_epochs(request, params, optimizer, step,
                                lambda ps, xs, ys: function(self.forward(request.spec, ps, xs), ys), put=self.put)
        return run.result([self.numpy(p, dtype) for p in run.weights])

    # -- interface: benchmarking
    def make_trainer(self, spec: MLPSpec, params: Sequence[np.ndarray], x: np.ndarray, target: np.ndarray,
                     loss: str, optimizer: str, hyper: Mapping[str, Any]) -> Trainer:
        return MlxTrainer(self, spec, params, x, target, loss, make_optimizer(optimizer, hyper))


def as_tree(arrays: Sequence[Any]) -> dict[str, Any]:
    """Parameters as the dict tree MLX's optimizers key their state by ("0", "1", ... in parameter order)."""
    return {str(index): array for index, array in enumerate(arrays)}


class MlxTrainer(Trainer):
    """MLX's step (lazy graph, evaluated with mx.eval at the end of each step) on resident arrays."""

    def __init__(self, impl: MlxImplementation, spec: MLPSpec, params: Sequence[np.ndarray], x: np.ndarray,
                 target: np.ndarray, loss: str, optimizer: Any) -> None:
        self.params = [impl.put(p) for p in params]
        self.optimizer = optimizer
        optimizer.init(as_tree(self.params))
        self.x, self.target = impl.put(x), impl.put(target)
        self._step = impl.step_function(spec, loss, "mean", {})

    def step(self) -> None:
        self.params, self.optimizer, _ = self._step(self.params, self.optimizer, self.x, self.target)

    def synchronize(self) -> None:
        mx.eval(self.params)
