"""Keras 3 as an implementation under test, on its JAX backend (the backend that installs beside it here):
keras.layers.Dense, keras.activations, keras.losses and keras.optimizers, gradients by jax.value_and_grad through
`Model.stateless_call`, training steps through `Optimizer.stateless_apply`, jitted; float32.

It follows the `keras` convention profile (eps on the uncorrected sqrt(v) for Adam and AdamW, "epsilon hat";
inside the square root for RMSprop and Adagrad; decoupled weight decay; Adagrad's accumulator from 0.1; BCE
clipping p into [1e-7, 1 - 1e-7]; elementwise losses averaged over each sample's last axis). The suite's
PyTorch layout (weight (out, in)) is transposed to Keras' kernel (in, out) and back. Keras' state is reported in
the oracle's names (momentum -> exp_avg, velocity -> exp_avg_sq or square_avg, accumulator -> sum,
average_gradient -> grad_avg); Keras' SGD keeps its velocity as -lr times torch's momentum buffer, reported
divided by -lr.

The `init` area checks keras.initializers' own, seeded with the case's seed, drawn in Keras's (in, out) layout and
transposed (`INITIALIZER_PARAMS`): TruncatedNormal (cut at 2 stds: lower -2, upper 2), VarianceScaling (modes
fan_in, fan_out, fan_avg; every distribution), LecunNormal, LecunUniform, Zeros, Constant, RandomNormal,
RandomUniform, GlorotUniform as xavier_uniform at gain 1, HeUniform as kaiming_uniform's default. GlorotNormal and
HeNormal are truncated (not PyTorch's xavier_normal and kaiming_normal, which are not claimed).

Softplus is claimed at its defaults only (keras.activations.softplus takes no beta or threshold, and is the
exact log(1 + exp(x)), the keras profile's `softplus_threshold = None`). Each activation is claimed with the
parameters Keras takes (`ACTIVATION_PARAMS`), at any value; a case setting another is not claimed.
Not claimed because Keras differs from the oracle (README, "Findings"): l1 (its gradient at a tie is not 0),
binary_cross_entropy on probabilities (the 1e-7 clip is applied in float32, where 1 - 1e-7 rounds to
1 - 2^-23), early stopping (a float32 bias 1.15 times the tolerance after min_delta stopping), float64 (results
agree with the oracle only to about 1e-8 relative: part of the computation stays in float32). Not claimed:
dropout (not wired up here), reduction "none" (Keras returns one loss per sample, the
oracle one per element), every optimizer's maximize and SGD's dampening (Keras has neither),
Adagrad's lr_decay, RMSprop's momentum (Keras applies it after the learning rate), Adadelta, and NLL (no Keras
loss takes log-probabilities with class indices).

This module imports without keras installed; the implementation then reports itself unavailable with the command
that installs it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np

from mlpbench.impls.epochs import functional_epochs
from mlpbench.impls.interface import (
    ActivationClaim,
    Capabilities,
    Implementation,
    InitializerClaim,
    LossClaim,
    ModelResult,
    Trainer,
    TrainRequest,
    TrainResult,
)
from mlpbench.reference.conventions import KERAS
from mlpbench.reference.spec import MLPSpec

os.environ.setdefault("KERAS_BACKEND", "jax")
try:
    import jax
    import keras

    KERAS_IMPORT_ERROR: str | None = None
except ImportError as error:  # pragma: no cover - exercised only where keras is missing
    jax = keras = None  # type: ignore[assignment]
    KERAS_IMPORT_ERROR = f"{type(error).__name__}: {error}"

INSTALL = "pip install 'mlpbench[keras]'"

ACTIVATIONS: dict[str, str] = {
    "identity": "linear", "sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu", "softmax": "softmax",
    "elu": "elu", "silu": "silu", "softplus": "softplus",
}
"""Oracle activation name -> keras.activations name."""

LOSSES: dict[str, Callable[..., Any]] = {}
"""Oracle loss name -> keras.losses class (with its arguments) for a reduction."""


def _huber(reduction: str, target: Any, dtype: Any, delta: float = 1.0) -> Any:
    return keras.losses.Huber(delta=delta, reduction=reduction, dtype=dtype)


if keras is not None:
    LOSSES.update({
        "mse": lambda reduction, target, dtype: keras.losses.MeanSquaredError(reduction=reduction, dtype=dtype),
        "huber": _huber,
        "binary_cross_entropy_with_logits": lambda reduction, target, dtype: keras.losses.BinaryCrossentropy(
            from_logits=True, reduction=reduction, dtype=dtype),
        "cross_entropy": lambda reduction, target, dtype: (
            keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=reduction, dtype=dtype)
            if np.issubdtype(target.dtype, np.integer)
            else keras.losses.CategoricalCrossentropy(from_logits=True, reduction=reduction, dtype=dtype)),
    })
ACTIVATION_PARAMS = {"elu": ("alpha",), "softmax": ("axis",)}
"""The parameters a keras.activations function takes (at any value); the others take none."""
REDUCTIONS = {"mean": "sum_over_batch_size", "sum": "sum"}
LOSS_PARAMS = {"huber": ("delta",)}

INITIALIZER_PARAMS: dict[str, dict[str, frozenset | None]] = {
    "zeros": {},
    "constant": {"value": None},
    "normal": {"mean": None, "std": None},  # RandomNormal(mean, stddev)
    "uniform": {"a": None, "b": None},  # RandomUniform(minval, maxval)
    "truncated_normal": {"mean": None, "std": None, "lower": frozenset({-2.0}),
                         "upper": frozenset({2.0})},  # TruncatedNormal(mean, stddev): cut at 2 stds
    "variance_scaling": {"scale": None, "mode": frozenset({"fan_in", "fan_out", "fan_avg"}), "distribution": None},
    "lecun_normal": {},
    "lecun_uniform": {},
    "xavier_uniform": {"gain": frozenset({1.0})},  # GlorotUniform
    "kaiming_uniform": {"a": frozenset({0.0}), "mode": frozenset({"fan_in"}),
                        "nonlinearity": frozenset({"relu", "leaky_relu"})},  # HeUniform: gain sqrt(2), fan_in
}
"""What of each initializer is claimed: parameter -> the values keras.initializers can take (None: any).
GlorotNormal and HeNormal are truncated (VarianceScaling's truncated_normal), not xavier_normal or kaiming_normal."""


def _keras_initializer(name: str, params: Mapping[str, Any], seed: int) -> Any:
    """The keras.initializers initializer for an oracle name and its parameters, seeded with `seed`."""
    init, p = keras.initializers, dict(params)
    for param, value in p.items():
        values = INITIALIZER_PARAMS.get(name, {}).get(param, frozenset())
        if values is not None and value not in values:
            raise NotImplementedError(f"{name}: {param}={value!r} is not claimed")
    builders: dict[str, Callable[[], Any]] = {
        "zeros": lambda: init.Zeros(),
        "constant": lambda: init.Constant(p.get("value", 0.0)),
        "normal": lambda: init.RandomNormal(mean=p.get("mean", 0.0), stddev=p.get("std", 1.0), seed=seed),
        "uniform": lambda: init.RandomUniform(minval=p.get("a", 0.0), maxval=p.get("b", 1.0), seed=seed),
        "truncated_normal": lambda: init.TruncatedNormal(mean=p.get("mean", 0.0), stddev=p.get("std", 1.0),
                                                         seed=seed),
        "variance_scaling": lambda: init.VarianceScaling(scale=p.get("scale", 1.0), mode=p.get("mode", "fan_in"),
                                                         distribution=p.get("distribution", "truncated_normal"),
                                                         seed=seed),
        "lecun_normal": lambda: init.LecunNormal(seed=seed),
        "lecun_uniform": lambda: init.LecunUniform(seed=seed),
        "xavier_uniform": lambda: init.GlorotUniform(seed=seed),
        "kaiming_uniform": lambda: init.HeUniform(seed=seed),
    }
    if name not in builders:
        raise NotImplementedError(f"initializer {name!r} is not claimed")
    return builders[name]()


OPTIMIZER_OPTIONS: dict[str, frozenset[str]] = {
    "sgd": frozenset({"momentum", "nesterov", "weight_decay"}),
    "adam": frozenset({"weight_decay", "amsgrad"}),
    "adamw": frozenset({"amsgrad"}),
    "adagrad": frozenset({"initial_accumulator_value", "weight_decay"}),
    "rmsprop": frozenset({"centered", "weight_decay"}),
}


def _refuse(name: str, hyper: Mapping[str, Any], *keys: str) -> None:
    for key in keys:
        if hyper.get(key):
            raise NotImplementedError(f"keras' {name} has no {key}")


def _wd(h: Mapping[str, Any]) -> float | None:
    return float(h["weight_decay"]) if h.get("weight_decay") else None


def _optimizer(name: str, h: Mapping[str, Any]) -> Any:
    lr = float(h["lr"])
    b1, b2 = h.get("betas", (0.9, 0.999))
    if name == "sgd":
        _refuse(name, h, "dampening", "maximize")
        return keras.optimizers.SGD(lr, momentum=float(h.get("momentum", 0.0)), nesterov=bool(h.get("nesterov")),
                                    weight_decay=_wd(h))
    if name in ("adam", "adamw"):
        _refuse(name, h, "maximize")
        cls = keras.optimizers.AdamW if name == "adamw" else keras.optimizers.Adam
        wd = float(h.get("weight_decay", 0.01)) if name == "adamw" else _wd(h)
        return cls(lr, beta_1=b1, beta_2=b2, epsilon=float(h.get("eps", 1e-8)), amsgrad=bool(h.get("amsgrad")),
                   weight_decay=wd)
    if name == "adagrad":
        _refuse(name, h, "lr_decay", "maximize")
        return keras.optimizers.Adagrad(lr, initial_accumulator_value=float(h.get(
            "initial_accumulator_value", KERAS.adagrad_initial_accumulator)), epsilon=float(h.get("eps", 1e-10)),
            weight_decay=_wd(h))
    if name == "rmsprop":
        _refuse(name, h, "momentum", "maximize")
        return keras.optimizers.RMSprop(lr, rho=float(h.get("alpha", 0.99)), epsilon=float(h.get("eps", 1e-8)),
                                        centered=bool(h.get("centered")), weight_decay=_wd(h))
    raise NotImplementedError(f"optimizer {name!r} is not claimed")


STATE_ATTRIBUTES: dict[str, dict[str, str]] = {
    "sgd": {"momentums": "momentum_buffer"},
    "adam": {"_momentums": "exp_avg", "_velocities": "exp_avg_sq", "_velocity_hats": "max_exp_avg_sq"},
    "adamw": {"_momentums": "exp_avg", "_velocities": "exp_avg_sq", "_velocity_hats": "max_exp_avg_sq"},
    "adagrad": {"_accumulators": "sum"},
    "rmsprop": {"_velocities": "square_avg", "_average_gradients": "grad_avg"},
}
"""Per optimizer: Keras' state attribute -> the oracle's buffer name."""


class KerasImplementation(Implementation):
    """Keras 3 (JAX backend) on the CPU."""

    kind = "built-in"
    device = "cpu"
    conventions = KERAS

    def __init__(self, name: str = "keras") -> None:
        self.name = name
        version = keras.__version__ if keras is not None else "not installed"
        self.description = f"Keras {version} on its JAX backend, CPU (keras profile)"
        self._jitted: dict[tuple, Callable[..., Any]] = {}

    def availability(self) -> tuple[bool, str]:
        if keras is None:
            return False, f"keras is not importable ({KERAS_IMPORT_ERROR}); install with: {INSTALL}"
        if keras.backend.backend() != "jax":
            return False, f"keras runs on the {keras.backend.backend()} backend here; set KERAS_BACKEND=jax"
        jax.config.update("jax_enable_x64", True)
        return True, ""

    def capabilities(self) -> Capabilities:
        reductions = frozenset(REDUCTIONS)
        return Capabilities(
            activations={name: ActivationClaim(params={param: None for param in ACTIVATION_PARAMS.get(name, ())})
                         for name in ACTIVATIONS},
            losses={name: LossClaim(reductions=reductions) for name in LOSSES},
            initializers={name: InitializerClaim(params=claim) for name, claim in INITIALIZER_PARAMS.items()},
            optimizers=OPTIMIZER_OPTIONS,
            dtypes=frozenset({"float32"}),
            model=True, training=True, early_stopping=False, dropout=False, deterministic=True,
        )

    # -- helpers
    def activation_fn(self, name: str, params: Mapping[str, Any]) -> Callable[[Any], Any]:
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}")
        params = dict(params)
        unknown = sorted(set(params) - set(ACTIVATION_PARAMS.get(name, ())))
        if unknown:
            raise ValueError(f"activation {name!r} has no parameters {unknown}")
        return partial(keras.activations.get(ACTIVATIONS[name]), **params)

    def loss_object(self, name: str, reduction: str, params: Mapping[str, Any], target: np.ndarray,
                    dtype: str) -> Any:
        if name not in LOSSES or reduction not in REDUCTIONS:
            raise NotImplementedError(f"loss {name!r} with reduction {reduction!r} is not claimed")
        unknown = sorted(set(params) - set(LOSS_PARAMS.get(name, ())))
        if unknown:
            raise NotImplementedError(f"loss {name!r} parameters {unknown} are not claimed")
        return LOSSES[name](REDUCTIONS[reduction], np.asarray(target), dtype, **dict(params))

    def build_model(self, spec: MLPSpec, dtype: str) -> Any:
        layers = [keras.Input(shape=(spec.sizes[0],), dtype=dtype)]
        for index, width in enumerate(spec.sizes[1:]):
            last = index == spec.n_layers - 1
            activation = spec.output_activation if last else spec.activation
            params = {} if last else spec.activation_kwargs()
            layers.append(keras.layers.Dense(width, activation=self.activation_fn(activation, params), dtype=dtype))
        return keras.Sequential(layers)

    @staticmethod
    def to_keras(params: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [np.array(p.T if p.ndim == 2 else p, copy=True) for p in params]

    @staticmethod
    def from_keras(values: Sequence[Any], dtype: Any) -> list[np.ndarray]:
        arrays = [np.asarray(v) for v in values]
        return [np.array(a.T if a.ndim == 2 else a, dtype=dtype, copy=True) for a in arrays]

    def jitted(self, key: tuple, build: Callable[[], Callable[..., Any]]) -> Callable[..., Any]:
        if key not in self._jitted:
            self._jitted[key] = jax.jit(build())
        return self._jitted[key]

    # -- interface: elementwise and losses
    def activation(self, name: str, x: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return np.array(self.activation_fn(name, params)(jax.numpy.asarray(x)), dtype=x.dtype, copy=True)

    def activation_grad(self, name: str, x: np.ndarray, grad_y: np.ndarray, params: Mapping[str, Any]
                        ) -> np.ndarray:
        _, vjp = jax.vjp(self.activation_fn(name, params), jax.numpy.asarray(x))
        return np.array(vjp(jax.numpy.asarray(grad_y))[0], dtype=x.dtype, copy=True)

    def loss(self, name: str, pred: np.ndarray, target: np.ndarray, reduction: str, params: Mapping[str, Any]
             ) -> tuple[np.ndarray, np.ndarray]:
        function = self.loss_object(name, reduction, params, target, pred.dtype.name)
        value, grad = jax.value_and_grad(lambda p: function(jax.numpy.asarray(target), p))(jax.numpy.asarray(pred))
        return np.array(value, dtype=pred.dtype), np.array(grad, dtype=pred.dtype, copy=True)

    # -- interface: initializers
    def init(self, name: str, shape: tuple[int, ...], params: Mapping[str, Any], seed: int, dtype: str
             ) -> np.ndarray:
        """keras.initializers' own initializer seeded with `seed`, drawn in Keras's layout (*kernel, in, out), where
        it reads fan_in from axis -2 and fan_out from axis -1, and transposed to the suite's (out, in, *kernel)."""
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError(f"the suite's layout needs at least 2 dimensions, got {shape}")
        keras_shape = (*shape[2:], shape[1], shape[0])
        drawn = np.asarray(_keras_initializer(name, params, int(seed))(keras_shape, dtype=dtype))
        n = len(shape)
        return np.array(np.transpose(drawn, (n - 1, n - 2, *range(n - 2))), dtype=dtype, copy=True)

    # -- interface: model
    def forward_backward(self, spec: MLPSpec, params: Sequence[np.ndarray], x: np.ndarray, target: np.ndarray,
                         loss: str, *, reduction: str = "mean", loss_params: Mapping[str, Any] | None = None,
                         training: bool = False, dropout_seed: int | None = None) -> ModelResult:
        model = self.build_model(spec, x.dtype.name)
        function = self.loss_object(loss, reduction, loss_params or {}, target, x.dtype.name)

        def objective(weights: Any, xs: Any) -> tuple[Any, tuple[Any, Any]]:
            output, _ = model.stateless_call(weights, [], xs)
            value = function(jax.numpy.asarray(target), output)
            return value, (output, value)

        (_, (output, value)), (grads, input_grad) = jax.value_and_grad(objective, argnums=(0, 1), has_aux=True)(
            [jax.numpy.asarray(w) for w in self.to_keras(params)], jax.numpy.asarray(x))
        dtype = x.dtype
        return ModelResult(output=np.array(output, dtype=dtype), loss=np.array(value, dtype=dtype),
                           param_grads=self.from_keras(grads, dtype), input_grad=np.array(input_grad, dtype=dtype))

    # -- interface: optimizers
    def optimizer_run(self, name: str, hyper: Mapping[str, Any], params: Sequence[np.ndarray],
                      grads_per_step: Sequence[Sequence[np.ndarray]]) -> tuple[list[np.ndarray], dict[str, Any]]:
        dtypes = [np.asarray(p).dtype for p in params]
        optimizer = _optimizer(name, hyper)
        variables = [keras.Variable(np.array(p, copy=True), dtype=np.asarray(p).dtype.name) for p in params]
        optimizer.build(variables)
        for grads in grads_per_step:
            optimizer.apply([jax.numpy.asarray(g) for g in grads], variables)
        state: dict[str, Any] = {"step": len(grads_per_step)}
        for attribute, key in STATE_ATTRIBUTES[name].items():
            buffers = getattr(optimizer, attribute, None)
            if buffers:
                arrays = [np.asarray(b) for b in buffers]
                if name == "sgd":  # Keras' velocity m <- momentum m - lr g is -lr times torch's buffer
                    arrays = [a / -float(hyper["lr"]) for a in arrays]
                state[key] = [np.array(a, dtype=d, copy=True) for a, d in zip(arrays, dtypes, strict=True)]
        return [np.array(v.numpy(), dtype=d, copy=True) for v, d in zip(variables, dtypes, strict=True)], state

    # -- interface: training
    def stateless_step(self, spec: MLPSpec, params: Sequence[np.ndarray], loss: str, reduction: str,
                       loss_params: Mapping[str, Any], target: np.ndarray, optimizer_name: str,
                       hyper: Mapping[str, Any]) -> tuple[Callable[..., Any], Callable[..., Any], list[Any], list[Any]]:
        """(jitted step (weights, optimizer variables, x, y) -> (weights, variables, loss), jitted loss of
        (weights, x, y), initial weights, initial optimizer variables), the Keras 3 JAX-backend idiom."""
        dtype = params[0].dtype.name
        model = self.build_model(spec, dtype)
        optimizer = _optimizer(optimizer_name, hyper)
        optimizer.build(model.trainable_variables)
        function = self.loss_object(loss, reduction, loss_params, target, dtype)

        def objective(ws: Any, xb: Any, yb: Any) -> Any:
            output, _ = model.stateless_call(ws, [], xb)
            return function(yb, output)

        def step(ws: Any, ov: Any, xb: Any, yb: Any) -> tuple[Any, Any, Any]:
            value, grads = jax.value_and_grad(objective)(ws, xb, yb)
            ws, ov = optimizer.stateless_apply(ov, grads, ws)
            return ws, ov, value

        weights = [jax.numpy.asarray(w) for w in self.to_keras(params)]
        return jax.jit(step), jax.jit(objective), weights, [v.value for v in optimizer.variables]

    def make_trainer(self, spec: MLPSpec, params: Sequence[np.ndarray], x: np.ndarray, target: np.ndarray,
                     loss: str, optimizer: str, hyper: Mapping[str, Any]) -> Trainer:
        step, _, weights, opt_vars = self.stateless_step(spec, params, loss, "mean", {}, target, optimizer, hyper)
        return KerasTrainer(step, weights, opt_vars, jax.numpy.asarray(x), jax.numpy.asarray(target))

    def train(self, request: TrainRequest) -> TrainResult:
        dtype = np.asarray(request.x).dtype
        step, evaluate, weights, opt_vars = self.stateless_step(
            request.spec, request.params, request.loss, request.reduction, request.loss_params, request.y,
            request.optimizer, request.hyper)
        run = functional_epochs(request, weights, opt_vars, step, evaluate)
        return run.result(self.from_keras(run.weights, dtype))


class KerasTrainer(Trainer):
    """The jitted stateless step on device-resident data; the first call (tracing, XLA compile) is `compile_s`."""

    def __init__(self, step: Callable[..., Any], weights: list[Any], opt_vars: list[Any], x: Any, target: Any
                 ) -> None:
        import time

        self._step, self.weights, self.opt_vars, self.x, self.target = step, weights, opt_vars, x, target
        started = time.perf_counter()
        self.step()
        self.synchronize()
        self.compile_s = time.perf_counter() - started

    def step(self) -> None:
        self.weights, self.opt_vars, _ = self._step(self.weights, self.opt_vars, self.x, self.target)

    def synchronize(self) -> None:
        jax.block_until_ready(self.weights)
