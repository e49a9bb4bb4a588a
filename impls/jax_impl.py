"""JAX with optax as an implementation under test: jax.nn activations, optax losses and optimizers, gradients by
`jax.value_and_grad`, a jitted training step, on the CPU or a CUDA GPU, in float32 and float64 (x64 mode).

It follows the `optax` convention profile (eps inside the square root for RMSprop and Adagrad, Adagrad's
accumulator starting at 0.1, decoupled weight decay for AdamW only, GELU in its tanh form, BCE without a clamp,
leaky_relu's derivative 1 at 0 and softplus exact, as jax.nn computes them).
Parameters keep the suite's layout (weight (out, in), y = x W^T + b); optax's state is reported in torch's names
(mu -> exp_avg, nu -> exp_avg_sq, trace -> momentum_buffer, sum_of_squares -> sum). Every random stream is the
suite's: initial parameters, data and batch orders come in as arrays, except in the `init` area, which checks
jax.nn.initializers' own (keyed by jax.random.key(seed), with in_axis=1, out_axis=0 for the suite's (out, in)
layout): truncated_normal (mean 0), variance_scaling (every mode and distribution, "untruncated_normal" being
JAX's "normal"), lecun_normal, lecun_uniform, zeros, constant, normal (mean 0), uniform (on [0, scale)),
glorot_uniform as xavier_uniform at gain 1 and he_uniform as kaiming_uniform's default; glorot_normal and he_normal
are truncated, so they are not PyTorch's xavier_normal or kaiming_normal, which are not claimed
(docs/engines.md, "Findings"). What optax does not provide is not claimed: dropout (not wired up here), BCE on
probabilities and NLL (optax has neither), SGD's dampening and every optimizer's maximize, Adagrad's lr_decay and
weight decay, RMSprop's momentum (optax applies it after the learning rate, so its buffer is lr times torch's),
Adadelta. Not claimed because JAX differs from the
oracle (README, "Findings"): gelu_tanh (float64 derivative
in the far tail), l1 (d|x|/dx at 0 is 1, not 0), AMSGrad (optax keeps the maximum of the bias-corrected second
moment, torch the maximum of the raw one).

This module imports without jax installed; the implementation then reports itself unavailable with the command
that installs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np

from mlpbench.impls.epochs import functional_epochs
from mlpbench.impls.interface import (
    Capabilities,
    Implementation,
    InitializerClaim,
    LossClaim,
    ModelResult,
    Trainer,
    TrainRequest,
    TrainResult,
)
from mlpbench.reference.conventions import OPTAX
from mlpbench.reference.spec import MLPSpec

try:
    import jax
    import jax.numpy as jnp
    import optax

    JAX_IMPORT_ERROR: str | None = None
except ImportError as error:  # pragma: no cover - exercised only where jax is missing
    jax = jnp = optax = None  # type: ignore[assignment]
    JAX_IMPORT_ERROR = f"{type(error).__name__}: {error}"

INSTALL = "pip install 'mlpbench[jax]'"


def _softplus(x: Any, beta: float = 1.0, threshold: float | None = OPTAX.softplus_threshold) -> Any:
    """jax.nn.softplus (exact, the optax profile's form); PyTorch's linear cutoff only when a threshold is given."""
    exact = jax.nn.softplus(beta * x) / beta
    return exact if threshold is None else jnp.where(beta * x > threshold, x, exact)


def _leaky_relu(x: Any, negative_slope: float = 0.01) -> Any:
    return jax.nn.leaky_relu(x, negative_slope)


def _gelu(x: Any, approximate: str = OPTAX.gelu_approximate) -> Any:
    return jax.nn.gelu(x, approximate=approximate == "tanh")


def _softmax(x: Any, axis: int = -1) -> Any:
    return jax.nn.softmax(x, axis=axis)


def _elu(x: Any, alpha: float = 1.0) -> Any:
    return jax.nn.elu(x, alpha)


def _huber(p: Any, t: Any, delta: float = 1.0) -> Any:
    return optax.huber_loss(p, t, delta=delta)


ACTIVATIONS: dict[str, tuple[Callable[..., Any], tuple[str, ...]]] = {}
"""Oracle activation name -> (function of x and its parameters, parameter names)."""
LOSSES: dict[str, Callable[..., Any]] = {}
"""Oracle loss name -> elementwise or per-sample loss of (pred, target, **params) from optax."""

if jax is not None:
    ACTIVATIONS.update({
        "identity": (lambda x: x, ()),
        "step": (lambda x: jnp.where(x >= 0, jnp.ones_like(x), jnp.zeros_like(x)), ()),
        "sigmoid": (jax.nn.sigmoid, ()),
        "tanh": (jnp.tanh, ()),
        "relu": (jax.nn.relu, ()),
        "gelu": (_gelu, ("approximate",)),
        "softmax": (_softmax, ("axis",)),
        "elu": (_elu, ("alpha",)),
        "silu": (jax.nn.silu, ()),
        "softplus": (_softplus, ("beta", "threshold")),
        "leaky_relu": (_leaky_relu, ("negative_slope",)),  # derivative 1 at +-0: the optax profile's value
    })
    LOSSES.update({
        "mse": lambda p, t: optax.squared_error(p, t),
        "binary_cross_entropy_with_logits": lambda p, t: optax.sigmoid_binary_cross_entropy(p, t),
        # class indices as one-hot rows: optax 0.2.8's softmax_cross_entropy_with_integer_labels forms
        # logsumexp(z) - z_y, which cancels at large logits (relative error 4.1e-5, 350 ulp, in float32 at a row
        # maximum of 5000: headroom 2.6, and 3.9 in float64); softmax_cross_entropy takes log_softmax's shifted
        # form, exact to a few ulp
        "cross_entropy": lambda p, t: optax.softmax_cross_entropy(
            p, jax.nn.one_hot(t, p.shape[-1], dtype=p.dtype) if jnp.issubdtype(t.dtype, jnp.integer) else t),
        "huber": _huber,
    })

LOSS_PARAMS = {"huber": ("delta",)}

TORCH_LAYOUT = {"in_axis": 1, "out_axis": 0}
"""jax.nn.initializers' axes for the suite's (out, in, *kernel) layout: the same fans as JAX's default
(in_axis=-2, out_axis=-1) on its own (*kernel, in, out) layout."""


def _jax_initializer(name: str, params: Mapping[str, Any]) -> Any:
    """The jax.nn.initializers initializer for an oracle name and its parameters (those FIXED_INIT_PARAMS
    leaves free)."""
    init, p = jax.nn.initializers, dict(params)
    distribution = p.get("distribution", "truncated_normal")  # the oracle's defaults are Keras's; JAX has none
    builders: dict[str, Callable[[], Any]] = {
        "zeros": lambda: init.zeros,
        "constant": lambda: init.constant(p.get("value", 0.0)),
        "normal": lambda: init.normal(stddev=p.get("std", 1.0)),
        "uniform": lambda: init.uniform(scale=p.get("b", 1.0)),  # U[0, scale)
        "truncated_normal": lambda: init.truncated_normal(stddev=p.get("std", 1.0), lower=p.get("lower", -2.0),
                                                          upper=p.get("upper", 2.0)),
        "variance_scaling": lambda: init.variance_scaling(
            p.get("scale", 1.0), p.get("mode", "fan_in"),
            "normal" if distribution == "untruncated_normal" else distribution, **TORCH_LAYOUT),  # JAX's name
        "lecun_normal": lambda: init.lecun_normal(**TORCH_LAYOUT),
        "lecun_uniform": lambda: init.lecun_uniform(**TORCH_LAYOUT),
        "xavier_uniform": lambda: init.glorot_uniform(**TORCH_LAYOUT),
        "kaiming_uniform": lambda: init.he_uniform(**TORCH_LAYOUT),  # variance_scaling(2, fan_in, uniform)
    }
    if name not in builders:
        raise NotImplementedError(f"initializer {name!r} is not claimed")
    for param, value in p.items():
        fixed = FIXED_INIT_PARAMS.get(name, {}).get(param)
        if fixed is not None and value not in fixed:
            raise NotImplementedError(f"{name}: {param}={value!r} is not claimed (jax.nn.initializers has "
                                      f"{', '.join(map(repr, sorted(fixed)))})")
    return builders[name]()


INITIALIZER_PARAMS: dict[str, dict[str, frozenset | None]] = {
    "zeros": {},
    "constant": {"value": None},
    "normal": {"mean": frozenset({0.0}), "std": None},  # normal(stddev): mean 0
    "uniform": {"a": frozenset({0.0}), "b": None},  # uniform(scale): U[0, scale)
    "truncated_normal": {"mean": frozenset({0.0}), "std": None, "lower": None, "upper": None},
    "variance_scaling": {"scale": None, "mode": None, "distribution": None},
    "lecun_normal": {},
    "lecun_uniform": {},
    "xavier_uniform": {"gain": frozenset({1.0})},  # glorot_uniform
    "kaiming_uniform": {"a": frozenset({0.0}), "mode": frozenset({"fan_in"}),
                        "nonlinearity": frozenset({"relu", "leaky_relu"})},  # he_uniform: gain sqrt(2), fan_in
}
"""What of each initializer is claimed: parameter -> the values jax.nn.initializers can take (None: any)."""
FIXED_INIT_PARAMS = {name: {param: values for param, values in claim.items() if values is not None}
                     for name, claim in INITIALIZER_PARAMS.items()}

OPTIMIZER_OPTIONS: dict[str, frozenset[str]] = {
    "sgd": frozenset({"momentum", "nesterov", "weight_decay"}),
    "adam": frozenset({"weight_decay"}),
    "adamw": frozenset(),
    "adagrad": frozenset({"initial_accumulator_value"}),
    "rmsprop": frozenset({"centered", "weight_decay"}),
}
"""The options of each claimed optimizer that optax has, in the oracle's (PyTorch's) names."""

STATE_NAMES = {"mu": "exp_avg", "nu": "exp_avg_sq", "trace": "momentum_buffer",
               "sum_of_squares": "sum"}
"""optax state field -> the oracle's (torch's) buffer name."""


def _refuse(name: str, hyper: Mapping[str, Any], *keys: str) -> None:
    for key in keys:
        if hyper.get(key):
            raise NotImplementedError(f"optax's {name} has no {key}")


def _decay(hyper: Mapping[str, Any]) -> list[Any]:
    wd = float(hyper.get("weight_decay", 0.0))
    return [optax.add_decayed_weights(wd)] if wd else []


def _sgd(h: Mapping[str, Any]) -> Any:
    _refuse("sgd", h, "dampening", "maximize")
    momentum = float(h.get("momentum", 0.0))
    return optax.chain(*_decay(h), optax.sgd(h["lr"], momentum=momentum or None, nesterov=bool(h.get("nesterov"))))


def _adam(h: Mapping[str, Any]) -> Any:
    _refuse("adam", h, "amsgrad", "maximize")
    b1, b2 = h.get("betas", (0.9, 0.999))
    return optax.chain(*_decay(h), optax.adam(h["lr"], b1=b1, b2=b2, eps=h.get("eps", 1e-8)))


def _adamw(h: Mapping[str, Any]) -> Any:
    _refuse("adamw", h, "amsgrad", "maximize")
    b1, b2 = h.get("betas", (0.9, 0.999))
    eps, wd = h.get("eps", 1e-8), float(h.get("weight_decay", 0.01))
    return optax.adamw(h["lr"], b1=b1, b2=b2, eps=eps, weight_decay=wd)


def _adagrad(h: Mapping[str, Any]) -> Any:
    _refuse("adagrad", h, "lr_decay", "weight_decay", "maximize")
    return optax.adagrad(h["lr"], initial_accumulator_value=h.get("initial_accumulator_value",
                                                                  OPTAX.adagrad_initial_accumulator),
                         eps=h.get("eps", 1e-10))


def _rmsprop(h: Mapping[str, Any]) -> Any:
    _refuse("rmsprop", h, "momentum", "maximize")
    return optax.chain(*_decay(h), optax.rmsprop(h["lr"], decay=h.get("alpha", 0.99), eps=h.get("eps", 1e-8),
                                                 centered=bool(h.get("centered"))))


OPTIMIZERS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "sgd": _sgd, "adam": _adam, "adamw": _adamw, "adagrad": _adagrad, "rmsprop": _rmsprop,
}


def _state_buffers(state: Any, found: dict[str, Any]) -> dict[str, Any]:
    """optax's nested state -> {torch buffer name: list of arrays}, walking tuples and named tuples."""
    fields = getattr(state, "_fields", None)
    if fields is not None:
        for name in fields:
            value = getattr(state, name)
            if name in STATE_NAMES and isinstance(value, list):
                key = STATE_NAMES[name]
                if type(state).__name__ == "ScaleByRStdDevState" and name == "mu":
                    key = "grad_avg"
                if type(state).__name__ in ("ScaleByRmsState", "ScaleByRStdDevState") and name == "nu":
                    key = "square_avg"
                found[key] = value
            else:
                _state_buffers(value, found)
    elif isinstance(state, (tuple, list)):
        for item in state:
            _state_buffers(item, found)
    return found


class JaxImplementation(Implementation):
    """jax + optax on a device ("cpu" or "cuda")."""

    kind = "built-in"
    conventions = OPTAX

    def __init__(self, device: str = "cpu", name: str | None = None) -> None:
        self.device = device
        self.name = name or f"jax-{device}"
        version = jax.__version__ if jax is not None else "not installed"
        self.description = f"JAX {version} with optax on {device}, jitted training step, x64 mode for float64"
        self._jitted: dict[tuple, Callable[..., Any]] = {}

    def availability(self) -> tuple[bool, str]:
        if jax is None:
            return False, f"jax or optax is not importable ({JAX_IMPORT_ERROR}); install with: {INSTALL}"
        jax.config.update("jax_enable_x64", True)
        platform = "gpu" if self.device == "cuda" else "cpu"
        try:
            jax.devices(platform)
        except RuntimeError as error:
            return False, (f"no JAX {platform} device ({' '.join(str(error).split())[:160]}); "
                           "a CUDA build installs with: pip install 'jax[cuda12]'")
        return True, ""

    def capabilities(self) -> Capabilities:
        return Capabilities(
            activations=frozenset(ACTIVATIONS),
            losses={name: (LossClaim(targets=frozenset({"index", "probabilities"})) if name == "cross_entropy"
                           else LossClaim()) for name in LOSSES},
            initializers={name: InitializerClaim(params=claim) for name, claim in INITIALIZER_PARAMS.items()},
            optimizers=OPTIMIZER_OPTIONS,
            dtypes=frozenset({"float32", "float64"}),
            model=True,
            training=True,
            early_stopping=True,
            dropout=False,
            deterministic=True,
        )

    # -- helpers
    @property
    def jax_device(self) -> Any:
        return jax.devices("gpu" if self.device == "cuda" else "cpu")[0]

    def put(self, array: Any) -> Any:
        jax.config.update("jax_enable_x64", True)
        return jax.device_put(np.array(array, copy=True), self.jax_device)

    @staticmethod
    def numpy(array: Any, dtype: Any) -> np.ndarray:
        return np.array(array, dtype=dtype, copy=True)

    def activation_fn(self, name: str, params: Mapping[str, Any]) -> Callable[[Any], Any]:
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}")
        function, allowed = ACTIVATIONS[name]
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise ValueError(f"activation {name!r} has no parameters {unknown}")
        return partial(function, **dict(params))

    def loss_fn(self, name: str, reduction: str, params: Mapping[str, Any]) -> Callable[[Any, Any], Any]:
        if name not in LOSSES:
            raise NotImplementedError(f"optax has no {name} loss")
        params = dict(params)
        if name == "mse" and params.pop("half", False):
            raise NotImplementedError("optax.squared_error is the plain square (optax.l2_loss is the half form)")
        unknown = sorted(set(params) - set(LOSS_PARAMS.get(name, ())))
        if unknown:
            raise ValueError(f"loss {name!r} has no parameters {unknown}")
        elementwise = partial(LOSSES[name], **params)
        reduce = {"mean": jnp.mean, "sum": jnp.sum, "none": lambda v: v}[reduction]
        return lambda pred, target: reduce(elementwise(pred, target))

    def forward(self, spec: MLPSpec, params: Sequence[Any], x: Any) -> Any:
        hidden = self.activation_fn(spec.activation, spec.activation_kwargs())
        output = self.activation_fn(spec.output_activation, {})
        a = x
        for layer in range(spec.n_layers):
            z = a @ params[2 * layer].T + params[2 * layer + 1]
            a = hidden(z) if layer < spec.n_layers - 1 else output(z)
        return a

    def jitted(self, key: tuple, build: Callable[[], Callable[..., Any]]) -> Callable[..., Any]:
        if key not in self._jitted:
            self._jitted[key] = jax.jit(build())
        return self._jitted[key]

    # -- interface: elementwise and losses
    def activation(self, name: str, x: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return self.numpy(jax.jit(self.activation_fn(name, params))(self.put(x)), x.dtype)

    def activation_grad(self, name: str, x: np.ndarray, grad_y: np.ndarray, params: Mapping[str, Any]
                        ) -> np.ndarray:
        _, vjp = jax.vjp(self.activation_fn(name, params), self.put(x))
        return self.numpy(vjp(self.put(grad_y))[0], x.dtype)

    def loss(self, name: str, pred: np.ndarray, target: np.ndarray, reduction: str, params: Mapping[str, Any]
             ) -> tuple[np.ndarray, np.ndarray]:
        function = self.loss_fn(name, reduction, params)
        value, vjp = jax.vjp(lambda p: function(p, self.put(target)), self.put(pred))
        grad = vjp(jnp.ones_like(value))[0]
        return self.numpy(value, pred.dtype), self.numpy(grad, pred.dtype)

    # -- interface: initializers
    def init(self, name: str, shape: tuple[int, ...], params: Mapping[str, Any], seed: int, dtype: str
             ) -> np.ndarray:
        """jax.nn.initializers' own initializer, keyed by jax.random.key(seed), on the suite's layout."""
        jax.config.update("jax_enable_x64", True)
        initializer = _jax_initializer(name, params)
        with jax.default_device(self.jax_device):
            return self.numpy(initializer(jax.random.key(int(seed)), tuple(shape), jnp.dtype(dtype)), dtype)

    # -- interface: model
    def forward_backward(self, spec: MLPSpec, params: Sequence[np.ndarray], x: np.ndarray, target: np.ndarray,
                         loss: str, *, reduction: str = "mean", loss_params: Mapping[str, Any] | None = None,
                         training: bool = False, dropout_seed: int | None = None) -> ModelResult:
        if training and spec.dropout > 0:
            raise NotImplementedError("dropout is not claimed")
        loss_params = dict(loss_params or {})

        def build() -> Callable[..., Any]:
            function = self.loss_fn(loss, reduction, loss_params)

            def objective(ps: Any, xs: Any, ts: Any) -> tuple[Any, tuple[Any, Any]]:
                output = self.forward(spec, ps, xs)
                value = function(output, ts)
                return jnp.sum(value), (output, value)

            return jax.value_and_grad(objective, argnums=(0, 1), has_aux=True)

        key = ("forward_backward", spec, loss, reduction, tuple(sorted(loss_params.items())))
        (_, (output, value)), (grads, input_grad) = self.jitted(key, build)(
            [self.put(p) for p in params], self.put(x), self.put(target))
        dtype = x.dtype
        return ModelResult(output=self.numpy(output, dtype), loss=self.numpy(value, dtype),
                           param_grads=[self.numpy(g, dtype) for g in grads],
                           input_grad=self.numpy(input_grad, dtype))

    # -- interface: optimizers
    def make_optimizer(self, name: str, hyper: Mapping[str, Any]) -> Any:
        if name not in OPTIMIZERS:
            raise NotImplementedError(f"optimizer {name!r} is not claimed")
        return OPTIMIZERS[name](hyper)

    def optimizer_run(self, name: str, hyper: Mapping[str, Any], params: Sequence[np.ndarray],
                      grads_per_step: Sequence[Sequence[np.ndarray]]) -> tuple[list[np.ndarray], dict[str, Any]]:
        dtypes = [np.asarray(p).dtype for p in params]
        optimizer = self.make_optimizer(name, hyper)
        current = [self.put(p) for p in params]
        state = optimizer.init(current)

        def build() -> Callable[..., Any]:
            def apply(ps: Any, st: Any, gs: Any) -> tuple[Any, Any]:
                updates, st = optimizer.update(gs, st, ps)
                return optax.apply_updates(ps, updates), st

            return apply

        step = self.jitted(("optimizer", name, tuple(sorted(dict(hyper).items()))), build)

        for grads in grads_per_step:
            current, state = step(current, state, [self.put(g) for g in grads])
        buffers = _state_buffers(state, {})
        result: dict[str, Any] = {"step": len(grads_per_step)}
        for key, arrays in buffers.items():
            result[key] = [self.numpy(a, d) for a, d in zip(arrays, dtypes, strict=True)]
        return [self.numpy(p, d) for p, d in zip(current, dtypes, strict=True)], result

    # -- interface: training
    def train_step(self, spec: MLPSpec, loss: str, reduction: str, loss_params: Mapping[str, Any],
                   optimizer: Any) -> Callable[..., Any]:
        return jax.jit(self.step_function(spec, loss, reduction, loss_params, optimizer))

    def step_function(self, spec: MLPSpec, loss: str, reduction: str, loss_params: Mapping[str, Any],
                      optimizer: Any) -> Callable[..., tuple[Any, Any, Any]]:
        """(params, optimizer state, x, y) -> (new params, new state, loss): one step, before jax.jit."""
        function = self.loss_fn(loss, reduction, loss_params)

        def step(ps: Any, st: Any, xb: Any, yb: Any) -> tuple[Any, Any, Any]:
            value, grads = jax.value_and_grad(lambda q: function(self.forward(spec, q, xb), yb))(ps)
            updates, st = optimizer.update(grads, st, ps)
            return optax.apply_updates(ps, updates), st, value

        return step

    def cached_train_step(self, request: TrainRequest, optimizer: Any) -> Callable[..., Any]:
        key = ("train", request.spec, request.loss, request.reduction, tuple(sorted(request.loss_params.items())),
               request.optimizer, tuple(sorted(dict(request.hyper).items())))
        return self.jitted(key, lambda: self.step_function(request.spec, request.loss, request.reduction,
                                                           request.loss_params, optimizer))

    def train(self, request: TrainRequest) -> TrainResult:
        if request.spec.dropout > 0:
            raise NotImplementedError("dropout is not claimed")
        dtype = np.asarray(request.x).dtype
        optimizer = self.make_optimizer(request.optimizer, request.hyper)
        params = [self.put(p) for p in request.params]
        state = optimizer.init(params)
        step = self.cached_train_step(request, optimizer)
        function = self.loss_fn(request.loss, request.reduction, request.loss_params)
        evaluate = self.jitted(("evaluate", request.spec, request.loss, request.reduction,
                                tuple(sorted(request.loss_params.items()))),
                               lambda: lambda ps, xs, ys: function(self.forward(request.spec, ps, xs), ys))
        run = functional_epochs(request, params, state, step, evaluate, put=self.put)
        return run.result([self.numpy(p, dtype) for p in run.weights])

    # -- interface: benchmarking
    def make_trainer(self, spec: MLPSpec, params: Sequence[np.ndarray], x: np.ndarray, target: np.ndarray,
                     loss: str, optimizer: str, hyper: Mapping[str, Any]) -> Trainer:
        return JaxTrainer(self, spec, params, x, target, loss, self.make_optimizer(optimizer, hyper))

    def transfer_to_device(self, arrays: Sequence[np.ndarray]) -> None:
        for array in arrays:
            jax.block_until_ready(self.put(array))


class JaxTrainer(Trainer):
    """The jitted step on device-resident data; the first call (tracing and XLA compilation) is `compile_s`."""

    def __init__(self, impl: JaxImplementation, spec: MLPSpec, params: Sequence[np.ndarray], x: np.ndarray,
                 target: np.ndarray, loss: str, optimizer: Any) -> None:
        import time

        self.params = [impl.put(p) for p in params]
        self.state = optimizer.init(self.params)
        self.x, self.target = impl.put(x), impl.put(target)
        self._step = impl.train_step(spec, loss, "mean", {}, optimizer)
        started = time.perf_counter()
        self.step()
        self.synchronize()
        self.compile_s = time.perf_counter() - started

    def step(self) -> None:
        self.params, self.state, self._loss = self._step(self.params, self.state, self.x, self.target)

    def synchronize(self) -> None:
        jax.block_until_ready(self.params)
