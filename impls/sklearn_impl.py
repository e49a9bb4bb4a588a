"""scikit-learn's MLP as an implementation under test, driven through its own internals on the CPU: the
activations and their derivatives of `sklearn.neural_network._base` (ACTIVATIONS, DERIVATIVES), its losses
(LOSS_FUNCTIONS), `BaseMultilayerPerceptron._backprop` for a forward and backward pass with `coefs_` and
`intercepts_` set from the suite's parameters, and `SGDOptimizer` / `AdamOptimizer` for the updates; training
runs `_fit_stochastic`'s inner loop (`_backprop`, then `update_params`) over the suite's batches, so the suite
owns the batch order where `fit` would shuffle with its own generator. float32 and float64.

It follows the `sklearn` convention profile (squared loss halved, BCE clipped at the dtype's epsilon and summed
over the outputs, Adam's eps on the uncorrected sqrt(v), alpha as an L2 penalty in the loss). Weights are
transposed between the suite's (out, in) and scikit-learn's `coefs_` (in, out). SGDOptimizer keeps its velocity
as -lr times torch's momentum buffer (v <- momentum v - lr g), reported divided by -lr; AdamOptimizer's ms and vs
are exp_avg and exp_avg_sq.

Claimed: the activations identity, sigmoid (scikit-learn's logistic, scipy's expit), tanh and relu; SGD with
momentum and Nesterov; Adam. Not claimed, each a finding (docs/engines.md, "Findings"): every loss, and with
them the model and training areas. scikit-learn has no loss gradient of its own: `_backprop` starts from the
canonical-link delta `activations[-1] - y` divided by n_samples, the gradient with respect to the output layer's
pre-activation. For the squared loss with several outputs that is (number of outputs) times the gradient of the
`squared_loss` value it reports, which averages over every element; for log loss on probabilities it is not the
gradient with respect to the probabilities at all. softmax is not claimed: DERIVATIVES has none (scikit-learn
folds it into log loss's delta). Not in scikit-learn: its other activations and losses, dampening, maximize,
AdamW, Adagrad, RMSprop, Adadelta, AMSGrad, its own initializers and dropout (it has none), early stopping by the
oracle's rule (scikit-learn stops on `tol` and `n_iter_no_change` with a validation split it draws itself).

This module imports without scikit-learn installed; the implementation then reports itself unavailable with the
command that installs it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlpbench.impls.epochs import EpochSteps, run_epochs
from mlpbench.impls.interface import (
    Capabilities,
    Implementation,
    ModelResult,
    Trainer,
    TrainRequest,
    TrainResult,
)
from mlpbench.reference.conventions import SKLEARN
from mlpbench.reference.spec import MLPSpec

try:
    import sklearn
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.neural_network._base import ACTIVATIONS, DERIVATIVES, LOSS_FUNCTIONS
    from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

    SKLEARN_IMPORT_ERROR: str | None = None
except ImportError as error:  # pragma: no cover - exercised only where scikit-learn is missing
    sklearn = None
    SKLEARN_IMPORT_ERROR = f"{type(error).__name__}: {error}"

INSTALL = "pip install 'mlpbench[sklearn]'"

ACTIVATION_NAMES: dict[str, str] = {"identity": "identity", "sigmoid": "logistic", "tanh": "tanh", "relu": "relu"}
"""Oracle activation name -> scikit-learn's name in ACTIVATIONS and DERIVATIVES (both have these four)."""

OUTPUT_NAMES: dict[str, str] = {**ACTIVATION_NAMES, "softmax": "softmax"}
"""Output activations scikit-learn's forward pass applies (softmax only there: DERIVATIVES has no softmax)."""


@dataclass(frozen=True)
class LossRoute:
    """How an oracle loss runs in scikit-learn: the estimator whose `_backprop` computes it, its `loss`
    parameter, and the output activation (`out_activation_`) its canonical-link delta assumes."""

    estimator: str  # "regressor" | "classifier"
    sklearn_loss: str
    output: str  # oracle output activation


LOSS_ROUTES: dict[str, LossRoute] = {
    "mse": LossRoute("regressor", "squared_error", "identity"),
    "binary_cross_entropy": LossRoute("classifier", "log_loss", "sigmoid"),
}
"""The oracle losses scikit-learn's backpropagation can compute, with the output layer it needs (MLPClassifier's
log loss on a logistic output is binary_log_loss, summed over the outputs)."""

OPTIMIZER_OPTIONS: dict[str, frozenset[str]] = {
    "sgd": frozenset({"momentum", "nesterov"}),
    "adam": frozenset(),
}
"""The optimizers scikit-learn has and the options of each that it has (in the oracle's, PyTorch's, names)."""

REFUSED: dict[str, tuple[str, ...]] = {
    "sgd": ("dampening", "maximize", "weight_decay"),
    "adam": ("amsgrad", "maximize", "weight_decay"),
}
"""Per optimizer: hyperparameters scikit-learn's optimizer object has no counterpart for (alpha, scikit-learn's
weight decay, lives in the loss, so a bare optimizer has none)."""


def _refuse(name: str, hyper: Mapping[str, Any], keys: Sequence[str]) -> None:
    for key in keys:
        if hyper.get(key):
            raise NotImplementedError(f"scikit-learn's {name} optimizer has no {key}")


def make_optimizer(name: str, hyper: Mapping[str, Any], params: list[np.ndarray]) -> Any:
    """scikit-learn's optimizer for the oracle's `name` and hyperparameters, updating `params` in place."""
    if name not in OPTIMIZER_OPTIONS:
        raise NotImplementedError(f"scikit-learn has no {name!r} optimizer")
    _refuse(name, hyper, REFUSED[name])
    if name == "sgd":
        momentum = float(hyper.get("momentum", 0.0))
        return SGDOptimizer(params, learning_rate_init=float(hyper["lr"]), lr_schedule="constant",
                            momentum=momentum, nesterov=bool(hyper.get("nesterov")))
    beta_1, beta_2 = hyper.get("betas", (0.9, 0.999))
    return AdamOptimizer(params, learning_rate_init=float(hyper["lr"]), beta_1=float(beta_1),
                         beta_2=float(beta_2), epsilon=float(hyper.get("eps", 1e-8)))


def optimizer_state(name: str, hyper: Mapping[str, Any], optimizer: Any, steps: int,
                    dtypes: Sequence[np.dtype]) -> dict[str, Any]:
    """scikit-learn's optimizer state in the oracle's names and layout."""
    state: dict[str, Any] = {"step": steps}
    if name == "sgd" and float(hyper.get("momentum", 0.0)):
        lr = float(hyper["lr"])
        state["momentum_buffer"] = [np.array(v / -lr, dtype=d) for v, d in zip(optimizer.velocities, dtypes)]
    if name == "adam":
        state["exp_avg"] = [np.array(m, dtype=d) for m, d in zip(optimizer.ms, dtypes)]
        state["exp_avg_sq"] = [np.array(v, dtype=d) for v, d in zip(optimizer.vs, dtypes)]
    return state


def to_sklearn(params: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The suite's [W0, b0, W1, b1, ...] (W as (out, in)) -> scikit-learn's coefs_ (in, out) and intercepts_."""
    coefs = [np.array(np.asarray(w).T, copy=True, order="C") for w in params[0::2]]
    intercepts = [np.array(b, copy=True) for b in params[1::2]]
    return coefs, intercepts


def from_sklearn(coefs: Sequence[np.ndarray], intercepts: Sequence[np.ndarray], dtype: Any) -> list[np.ndarray]:
    """scikit-learn's coefs_ and intercepts_ -> the suite's flat list, in `dtype`."""
    flat: list[np.ndarray] = []
    for coef, intercept in zip(coefs, intercepts, strict=True):
        flat += [np.array(np.asarray(coef).T, dtype=dtype, copy=True), np.array(intercept, dtype=dtype, copy=True)]
    return flat


def network(spec: MLPSpec, loss: str, params: Sequence[np.ndarray], alpha: float = 0.0) -> Any:
    """A scikit-learn MLP estimator set up as `fit` would leave it, with the suite's parameters as its
    coefs_ and intercepts_: what `_backprop` and `_forward_pass_fast` read."""
    route = LOSS_ROUTES.get(loss)
    if route is None:
        raise NotImplementedError(f"scikit-learn's backpropagation has no {loss!r} loss")
    if spec.activation not in ACTIVATION_NAMES:
        raise NotImplementedError(f"scikit-learn has no hidden activation {spec.activation!r}")
    if spec.output_activation != route.output:
        raise NotImplementedError(f"scikit-learn computes {loss!r} on a {route.output} output layer only")
    if spec.dropout > 0:
        raise NotImplementedError("scikit-learn's MLP has no dropout")
    cls = MLPRegressor if route.estimator == "regressor" else MLPClassifier
    model = cls(hidden_layer_sizes=tuple(spec.sizes[1:-1]), activation=ACTIVATION_NAMES[spec.activation],
                alpha=alpha)
    model.loss = route.sklearn_loss  # MLPClassifier fixes it to "log_loss" in __init__; MLPRegressor takes it
    model.n_layers_ = spec.n_layers + 1
    model.n_outputs_ = spec.sizes[-1]
    model.out_activation_ = OUTPUT_NAMES[route.output]
    model.coefs_, model.intercepts_ = to_sklearn(params)
    return model


def backprop(model: Any, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray], list[np.ndarray],
                                                                  list[np.ndarray], list[np.ndarray]]:
    """scikit-learn's `_backprop` on one batch: (loss, coef_grads, intercept_grads, activations, deltas)."""
    n_layers = model.n_layers_
    activations: list[Any] = [x] + [None] * (n_layers - 1)
    deltas: list[Any] = [None] * (n_layers - 1)
    coef_grads: list[Any] = [None] * (n_layers - 1)
    intercept_grads: list[Any] = [None] * (n_layers - 1)
    loss, coef_grads, intercept_grads = model._backprop(x, y, None, activations, deltas, coef_grads,
                                                        intercept_grads)
    return loss, coef_grads, intercept_grads, activations, deltas


def targets_2d(target: np.ndarray, dtype: Any) -> np.ndarray:
    """Targets as scikit-learn's estimators hold them after fit's validation: (n_samples, n_outputs)."""
    array = np.asarray(target, dtype=dtype)
    return array.reshape(-1, 1) if array.ndim == 1 else array


class SklearnImplementation(Implementation):
    """scikit-learn's MLP internals on the CPU (sklearn profile)."""

    kind = "built-in"
    device = "cpu"
    conventions = SKLEARN

    def __init__(self, name: str = "sklearn-cpu") -> None:
        self.name = name
        version = sklearn.__version__ if sklearn is not None else "not installed"
        self.description = f"scikit-learn {version} MLP internals (_backprop, SGDOptimizer, AdamOptimizer), CPU"

    def availability(self) -> tuple[bool, str]:
        if sklearn is None:
            return False, f"scikit-learn is not importable ({SKLEARN_IMPORT_ERROR}); install with: {INSTALL}"
        return True, ""

    def capabilities(self) -> Capabilities:
        return Capabilities(
            activations=frozenset(ACTIVATION_NAMES),
            optimizers=OPTIMIZER_OPTIONS,
            dtypes=frozenset({"float32", "float64"}),
            model=False, training=False, early_stopping=False, dropout=False, deterministic=True,
        )

    # -- interface: elementwise and losses
    @staticmethod
    def _sklearn_activation(name: str, params: Mapping[str, Any]) -> str:
        if name not in ACTIVATION_NAMES:
            raise NotImplementedError(f"scikit-learn has no activation {name!r} with a derivative")
        if params:
            raise NotImplementedError(f"scikit-learn's {name} takes no parameters ({sorted(params)})")
        return ACTIVATION_NAMES[name]

    def activation(self, name: str, x: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        out = np.array(x, copy=True)
        ACTIVATIONS[self._sklearn_activation(name, params)](out)
        return out

    def activation_grad(self, name: str, x: np.ndarray, grad_y: np.ndarray, params: Mapping[str, Any]
                        ) -> np.ndarray:
        """DERIVATIVES work from the activation's output Z, as `_backprop` calls them."""
        sklearn_name = self._sklearn_activation(name, params)
        z = np.array(x, copy=True)
        ACTIVATIONS[sklearn_name](z)
        delta = np.array(grad_y, dtype=x.dtype, copy=True)
        DERIVATIVES[sklearn_name](z, delta)
        return delta

    def loss(self, name: str, pred: np.ndarray, target: np.ndarray, reduction: str, params: Mapping[str, Any]
             ) -> tuple[np.ndarray, np.ndarray]:
        """The value from LOSS_FUNCTIONS; the gradient is `_backprop`'s output delta (activations[-1] - y) /
        n_samples, the only loss gradient scikit-learn computes (with respect to the output layer's
        pre-activation; for the identity output of the squared loss that is the prediction)."""
        route = LOSS_ROUTES.get(name)
        if route is None or reduction != "mean" or params:
            raise NotImplementedError(f"scikit-learn has no {name!r} loss with reduction {reduction!r} {dict(params)}")
        shape = pred.shape
        p = pred.reshape(len(pred), -1) if pred.ndim > 1 else pred.reshape(-1, 1)
        t = targets_2d(target, pred.dtype).reshape(p.shape)
        function = "binary_log_loss" if route.output == "sigmoid" else route.sklearn_loss
        value = LOSS_FUNCTIONS[function](t, p)
        grad = (p - t) / p.shape[0]
        return np.array(value, dtype=pred.dtype), np.array(grad.reshape(shape), dtype=pred.dtype)

    # -- interface: model
    def forward_backward(self, spec: MLPSpec, params: Sequence[np.ndarray], x: np.ndarray, target: np.ndarray,
                         loss: str, *, reduction: str = "mean", loss_params: Mapping[str, Any] | None = None,
                         training: bool = False, dropout_seed: int | None = None) -> ModelResult:
        """`_backprop` with the suite's parameters. scikit-learn's loop stops at the first layer's delta; the
        input gradient is deltas[0] @ coefs_[0].T / n_samples, the step that loop takes for every other layer
        (its deltas are not yet divided by n_samples; `_compute_loss_grad` divides the parameters' gradients)."""
        if reduction != "mean" or loss_params:
            raise NotImplementedError("scikit-learn's losses have one reduction (its mean) and no parameters")
        model = network(spec, loss, params)
        x = np.array(x, copy=True)
        value, coef_grads, intercept_grads, activations, deltas = backprop(model, x, targets_2d(target, x.dtype))
        input_grad = deltas[0] @ model.coefs_[0].T / x.shape[0]
        dtype = x.dtype
        output = np.asarray(activations[-1]).reshape(np.shape(target)) if np.ndim(target) == 1 else activations[-1]
        return ModelResult(output=np.array(output, dtype=dtype), loss=np.array(value, dtype=dtype),
                           param_grads=from_sklearn(coef_grads, intercept_grads, dtype),
                           input_grad=np.array(input_grad, dtype=dtype))

    # -- interface: optimizers
    def optimizer_run(self, name: str, hyper: Mapping[str, Any], params: Sequence[np.ndarray],
                      grads_per_step: Sequence[Sequence[np.ndarray]]) -> tuple[list[np.ndarray], dict[str, Any]]:
        current = [np.array(p, copy=True) for p in params]
        optimizer = make_optimizer(name, hyper, current)
        for grads in grads_per_step:
            optimizer.update_params(current, [np.asarray(g) for g in grads])
        dtypes = [p.dtype for p in current]
        return current, optimizer_state(name, hyper, optimizer, len(grads_per_step), dtypes)

    # -- interface: training
    def train(self, request: TrainRequest) -> TrainResult:
        if request.reduction != "mean" or request.loss_params:
            raise NotImplementedError("scikit-learn's losses have one reduction (its mean) and no parameters")
        if request.early_stopping is not None:
            raise NotImplementedError("scikit-learn's early stopping is its own rule (tol, n_iter_no_change)")
        steps = SklearnSteps.build(request)
        run = run_epochs(steps)
        return run.result(from_sklearn(steps.model.coefs_, steps.model.intercepts_, np.asarray(request.x).dtype))

    # -- interface: benchmarking
    def make_trainer(self, spec: MLPSpec, params: Sequence[np.ndarray], x: np.ndarray, target: np.ndarray,
                     loss: str, optimizer: str, hyper: Mapping[str, Any]) -> Trainer:
        return SklearnTrainer(spec, params, x, target, loss, optimizer, hyper)


@dataclass
class SklearnSteps(EpochSteps):
    """`_fit_stochastic`'s inner loop over the suite's batches: `_backprop`, then the optimizer's
    `update_params` on coefs_ + intercepts_ (the same list objects, updated in place)."""

    model: Any = None
    optimizer: Any = None
    y: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def build(cls, request: TrainRequest) -> SklearnSteps:
        hyper = dict(request.hyper)
        alpha = float(hyper.pop("weight_decay", 0.0))  # the sklearn profile: weight decay is alpha, in the loss
        model = network(request.spec, request.loss, request.params, alpha=alpha)
        optimizer = make_optimizer(request.optimizer, hyper, model.coefs_ + model.intercepts_)
        dtype = np.asarray(request.x).dtype
        return cls(request, model, optimizer, targets_2d(request.y, dtype))

    def train_batch(self, rows: np.ndarray) -> float:
        x = np.asarray(self.request.x)[rows]
        loss, coef_grads, intercept_grads, _, _ = backprop(self.model, x, self.y[rows])
        self.optimizer.update_params(self.model.coefs_ + self.model.intercepts_, coef_grads + intercept_grads)
        return float(loss)

    def validate(self) -> float:
        """The loss without the penalty, of the forward pass scikit-learn predicts with."""
        x_val, y_val = np.asarray(self.request.x_val), np.asarray(self.request.y_val)
        output = self.model._forward_pass_fast(x_val, check_input=False)
        route = LOSS_ROUTES[self.request.loss]
        function = "binary_log_loss" if route.output == "sigmoid" else route.sklearn_loss
        return float(LOSS_FUNCTIONS[function](targets_2d(y_val, x_val.dtype), output))

    def snapshot(self) -> Any:
        return [np.array(p, copy=True) for p in self.model.coefs_ + self.model.intercepts_]

    def restore(self, best: Any) -> None:
        for param, saved in zip(self.model.coefs_ + self.model.intercepts_, best, strict=True):
            param[...] = saved

    def current_weights(self) -> Any:
        return self.model.coefs_ + self.model.intercepts_


class SklearnTrainer(Trainer):
    """One `_backprop` and `update_params` per step on the resident batch (NumPy: nothing to compile)."""

    def __init__(self, spec: MLPSpec, params: Sequence[np.ndarray], x: np.ndarray, target: np.ndarray, loss: str,
                 optimizer: str, hyper: Mapping[str, Any]) -> None:
        self.model = network(spec, loss, params)
        self.optimizer = make_optimizer(optimizer, hyper, self.model.coefs_ + self.model.intercepts_)
        self.x, self.y = np.array(x, copy=True), targets_2d(target, np.asarray(x).dtype)

    def step(self) -> None:
        _, coef_grads, intercept_grads, _, _ = backprop(self.model, self.x, self.y)
        self.optimizer.update_params(self.model.coefs_ + self.model.intercepts_, coef_grads + intercept_grads)
