"""The conformance cases: what `mlpbench check` and `pytest suites/conformance` run, in one place.

A case is data: an id "area/name", the kind of check that runs it, its parameters and its seed. Every random
input (data, initial parameters, gradients, batch orders, dropout seeds) is drawn by the check from
`numpy.random.default_rng(case.seed)`; seeds derive from the case id (CRC-32), so adding a case never shifts
another case's inputs.

Sizes are small on purpose: the whole catalogue runs in seconds on two CPU cores, because the gate is run on
every mutant. The matrix still spans depth 1 to 5, widths 1 to 32, every activation, loss, initializer and
optimizer option combination the oracle knows.
"""

from __future__ import annotations

import fnmatch
import itertools
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, is_dataclass, replace
from typing import Any

import numpy as np

from mlpbench.impls.capabilities import ANY, RANDOM_INITIALIZER, Capabilities, Needs
from mlpbench.impls.interface import AREAS
from mlpbench.reference.activations import ACTIVATIONS
from mlpbench.reference.losses import LOSSES
from mlpbench.reference.optim import OPTIMIZERS, make_hyper
from mlpbench.reference.spec import MLPSpec

SEED_BASE = 20_240_611
"""Added to the CRC-32 of a case id to give the case's seed."""

CONFORMANCE_DTYPES = ("float32", "float64")
"""The dtypes conformance runs in (those an implementation claims, of these)."""

AREA_ORDER = AREAS
"""Report order of the capability areas."""


@dataclass(frozen=True, eq=False)
class Case:
    """One conformance case. `kind` selects the check function; `params` are that check's inputs; `needs` is
    what the implementation must claim for the case to run (otherwise it is reported "not claimed")."""

    id: str
    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)
    quick: bool = False  # part of the quick check the benchmark harness runs before timing
    needs: Needs = Needs()

    @property
    def area(self) -> str:
        return self.id.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.id.split("/", 1)[1]

    @property
    def seed(self) -> int:
        return SEED_BASE + zlib.crc32(self.id.encode())

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "seed": self.seed, "params": _plain(self.params)}


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _case(case_id: str, kind: str, quick: bool = False, **params: Any) -> Case:
    """A case of `kind`; a network's sizes and activations become one typed `MLPSpec` under params["spec"]."""
    if "sizes" in params:
        dropout = params.pop("p" if kind == "dropout_exact" else "dropout", 0.0)
        if kind == "dropout_exact":
            params["p"] = dropout
        params["spec"] = MLPSpec(
            tuple(params.pop("sizes")), activation=params.pop("activation"),
            output_activation=params.pop("output_activation", LOSS_OUTPUT[params["loss"]][0]),
            activation_params=tuple(sorted(dict(params.pop("activation_params", {})).items())),
            dropout=float(dropout))
    return Case(case_id, kind, params, quick, NEEDS[kind](params))


# -- what each kind of case needs claimed -------------------------------------------------------------------
def _target_of(loss: str, inputs: str = "typical") -> str:
    """The target kind a loss case draws: probabilities for soft inputs, else the loss's natural kind."""
    if inputs in ("soft", "probabilities"):
        return "probabilities"
    return LOSS_OUTPUT[loss][1]


def _network_needs(p: Mapping[str, Any], *features: str) -> Needs:
    spec: MLPSpec = p["spec"]
    output = spec.output_activation
    activations = (spec.activation,) + (() if output == "identity" else (output,))
    return Needs(features=features + (("dropout",) if spec.dropout else ()),
                 activations=tuple(dict.fromkeys(activations)),
                 activation_params=tuple((spec.activation, k, v) for k, v in spec.activation_params),
                 loss=p["loss"],
                 reduction=p.get("reduction", "mean"), target=_target_of(p["loss"]),
                 loss_params=tuple(p.get("loss_params", {})))


def _training_needs(p: Mapping[str, Any], *features: str) -> Needs:
    return replace(_network_needs(p, "training", *features), optimizer=p.get("optimizer", ANY),
                   options=tuple(p.get("options", ())), training_options=tuple(p.get("clip", {})))


def _activation_needs(p: Mapping[str, Any]) -> Needs:
    return Needs(activations=(p["activation"],),
                 activation_params=tuple((p["activation"], k, v) for k, v in p["params"].items()))


def _determinism_needs(p: Mapping[str, Any]) -> Needs:
    by_target = {
        "model": lambda: _network_needs(p, "deterministic", "model"),
        "optimizer": lambda: Needs(features=("deterministic",), optimizer=p.get("optimizer", ANY)),
        "training": lambda: _training_needs(p, "deterministic"),
        "init": lambda: Needs(features=("deterministic",), initializer=RANDOM_INITIALIZER),
        "dropout": lambda: Needs(features=("deterministic", "dropout")),
    }
    return by_target[p["target"]]()


NEEDS: dict[str, Callable[[Mapping[str, Any]], Needs]] = {
    "activation": _activation_needs,
    "activation_tail": _activation_needs,
    "loss": lambda p: Needs(loss=p["loss"], reduction=p["reduction"], target=_target_of(p["loss"], p["inputs"]),
                            loss_params=tuple(p.get("params", {}))),
    "init": lambda p: Needs(initializer=p["initializer"], initializer_params=tuple(p["params"].items())),
    "init_distribution": lambda p: Needs(initializer=p["initializer"], initializer_params=tuple(p["params"].items())),
    "model": lambda p: _network_needs(p, "model"),
    "optimizer": lambda p: Needs(optimizer=p["optimizer"], options=tuple(p["options"])),
    "training": lambda p: _training_needs(p),
    "early_stopping": lambda p: _training_needs(p, "early_stopping"),
    "dropout_exact": lambda p: _network_needs(p, "model"),
    "dropout_stats": lambda p: Needs(features=("dropout",)),
    "determinism": _determinism_needs,
    "devices": lambda p: (_network_needs(p, "model") if p["target"] == "model"
                          else _training_needs({**p, "optimizer": "sgd"})),
    "dropout_data_parallel": lambda p: (_network_needs(p, "model") if p["target"] == "model"
                                        else _training_needs({**p, "optimizer": "sgd"})),
}
"""Case kind -> the claims a case of that kind needs, from its parameters."""


# -- activations ------------------------------------------------------------------------------------------
ACTIVATION_PARAM_VARIANTS: dict[str, list[dict[str, Any]]] = {
    "leaky_relu": [{"negative_slope": 0.2}],
    "elu": [{"alpha": 0.5}],
    "softplus": [{"beta": 2.0, "threshold": 10.0}],
}


def _param_label(params: Mapping[str, Any]) -> str:
    return "-".join(f"{k}{v:g}" if isinstance(v, float) else f"{k}{v}" for k, v in params.items())


def activation_cases() -> list[Case]:
    """Every activation with its defaults, plus a non-default parameter variant where it has parameters.

    The inputs (drawn by the check) mix N(0, 3^2) values with the kinks 0 and +-0, points near the
    softplus threshold and +-1e4, where naive formulas overflow.
    """
    cases = []
    for name in ACTIVATIONS:
        cases.append(_case(f"activations/{name}", "activation", quick=name in ("relu", "sigmoid"),
                           activation=name, params={}))
        for variant in ACTIVATION_PARAM_VARIANTS.get(name, []):
            cases.append(_case(f"activations/{name}-{_param_label(variant)}", "activation",
                               activation=name, params=variant))
    return cases


@dataclass(frozen=True)
class TailGrid:
    """A dense grid of inputs where an activation's value is small but well conditioned: `count` points
    evenly spaced from `start` to `stop` ("linear") or geometrically ("log"), and their negatives too when
    `mirrored`."""

    spacing: str
    start: float
    stop: float
    count: int
    mirrored: bool = False

    def points(self) -> np.ndarray:
        if self.spacing not in ("linear", "log"):
            raise ValueError(f"grid spacing must be 'linear' or 'log', not {self.spacing!r}")
        space = np.linspace if self.spacing == "linear" else np.geomspace
        values = np.asarray(space(self.start, self.stop, self.count), dtype=np.float64)
        return np.concatenate([values, -values]) if self.mirrored else values


NEGATIVE_TAIL = TailGrid("linear", -40.0, -7.0, 133)
"""sigmoid, softplus and silu from 7e-4 down to 4e-18 (every quarter unit)."""
NEAR_ZERO = TailGrid("log", 1e-8, 1e-2, 97, mirrored=True)
"""+-1e-8 to +-1e-2, 16 points a decade: f(x) ~ x (tanh, silu, elu) or x / 2 (gelu)."""

ACTIVATION_TAILS: tuple[tuple[str, str, TailGrid], ...] = (
    ("sigmoid", "negative-tail", NEGATIVE_TAIL),
    ("softplus", "negative-tail", NEGATIVE_TAIL),
    ("silu", "negative-tail", NEGATIVE_TAIL),
    ("tanh", "near-zero", NEAR_ZERO),
    ("silu", "near-zero", NEAR_ZERO),
    ("elu", "near-zero", NEAR_ZERO),
    ("gelu", "near-zero", NEAR_ZERO),
    ("gelu_tanh", "near-zero", NEAR_ZERO),
)
"""(activation, region, grid) judged relatively (`activation_tail`). GELU's negative tail is not among them:
torch and JAX compute x Phi(x) as x (1 + erf(x / sqrt 2)) / 2, which cancels to 0 below x = -5.3 (float32) and
-8 (float64) (a finding, see docs/conventions.md); its absolute error there is below 1e-15."""


def activation_tail_cases() -> list[Case]:
    """Activations where their value is small but well conditioned, compared relatively (see
    mlpbench.conformance.checks.activations.check_activation_tail); softmax on large logits, both signs."""
    cases = [_case(f"activations/{name}-{region}", "activation_tail", activation=name, params={}, grid=grid)
             for name, region, grid in ACTIVATION_TAILS]
    cases.append(_case("activations/softmax-large-logits", "activation", activation="softmax", params={},
                       inputs="large_logits"))
    return cases


# -- losses -----------------------------------------------------------------------------------------------
def loss_cases() -> list[Case]:
    """Every loss under every reduction, plus the edge cases: BCE at p = 0 and 1 (the log clamp), very large
    logits for BCE-with-logits and cross-entropy, probability targets, ties for L1, Huber with delta 0.5."""
    cases = []
    for name in LOSSES:
        for reduction in ("mean", "sum", "none"):
            cases.append(_case(f"losses/{name}-{reduction}", "loss", quick=(name == "mse" and reduction == "mean"),
                               loss=name, reduction=reduction, inputs="typical", params={}))
    cases += [
        _case("losses/binary_cross_entropy-saturated", "loss", loss="binary_cross_entropy", reduction="mean",
              inputs="saturated", params={}),
        _case("losses/binary_cross_entropy-saturated-none", "loss", loss="binary_cross_entropy",
              reduction="none", inputs="saturated", params={}),
        _case("losses/binary_cross_entropy-soft-targets", "loss", loss="binary_cross_entropy", reduction="mean",
              inputs="soft", params={}),
        # several outputs a sample (multi-label): "mean" over elements (PyTorch) or over samples (scikit-learn)
        _case("losses/binary_cross_entropy-multilabel", "loss", loss="binary_cross_entropy", reduction="mean",
              inputs="multilabel", params={}),
        _case("losses/binary_cross_entropy-multilabel-none", "loss", loss="binary_cross_entropy",
              reduction="none", inputs="multilabel", params={}),
        _case("losses/binary_cross_entropy_with_logits-multilabel", "loss",
              loss="binary_cross_entropy_with_logits", reduction="mean", inputs="multilabel", params={}),
        _case("losses/binary_cross_entropy_with_logits-large", "loss", loss="binary_cross_entropy_with_logits",
              reduction="none", inputs="large", params={}),
        _case("losses/cross_entropy-large", "loss", loss="cross_entropy", reduction="none", inputs="large",
              params={}),
        _case("losses/cross_entropy-probabilities", "loss", loss="cross_entropy", reduction="mean",
              inputs="probabilities", params={}),
        # row maxima from 50 to 5000, positive and negative: exp overflows float32 above 88, float64 above 709
        _case("losses/cross_entropy-large-logits", "loss", loss="cross_entropy", reduction="none",
              inputs="large_logits", params={}),
        _case("losses/cross_entropy-large-logits-mean", "loss", loss="cross_entropy", reduction="mean",
              inputs="large_logits", params={}),
        _case("losses/l1-ties", "loss", loss="l1", reduction="sum", inputs="ties", params={}),
        _case("losses/huber-delta0.5", "loss", loss="huber", reduction="mean", inputs="typical",
              params={"delta": 0.5}),
    ]
    return cases


# -- initializers -----------------------------------------------------------------------------------------
INIT_SHAPE = (256, 512)
"""(out_features, in_features): 131072 draws, fan_in 512, fan_out 256."""

INIT_VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("zeros", {}),
    ("constant", {"value": 0.25}),
    ("normal", {"mean": 0.5, "std": 0.2}),
    ("uniform", {"a": -0.3, "b": 0.7}),
    ("xavier_uniform", {}),
    ("xavier_uniform", {"gain": 0.5}),
    ("xavier_normal", {"gain": 5.0 / 3.0}),
    ("kaiming_uniform", {}),
    ("kaiming_uniform", {"a": 0.2, "mode": "fan_out", "nonlinearity": "leaky_relu"}),
    ("kaiming_normal", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal", {"nonlinearity": "tanh"}),
    # JAX's, Flax's and Keras's schemes (mlpbench.reference.init): truncation at 2 stds, variance_scaling's modes
    # and distributions (Keras's he_normal and glorot_normal are variance_scaling(2, fan_in) and (1, fan_avg))
    ("normal", {"std": 0.05}),  # mean 0: JAX's normal(stddev)
    ("uniform", {"a": 0.0, "b": 0.5}),  # JAX's uniform(scale) on [0, scale)
    ("truncated_normal", {"std": 0.05}),
    ("truncated_normal", {"mean": 0.5, "std": 0.2}),
    ("truncated_normal", {"std": 0.1, "lower": -1.0, "upper": 3.0}),
    ("variance_scaling", {}),
    ("variance_scaling", {"scale": 2.0, "mode": "fan_in", "distribution": "truncated_normal"}),
    ("variance_scaling", {"scale": 1.0, "mode": "fan_avg", "distribution": "truncated_normal"}),
    ("variance_scaling", {"scale": 0.5, "mode": "fan_out", "distribution": "untruncated_normal"}),
    ("variance_scaling", {"scale": 2.0, "mode": "fan_out", "distribution": "uniform"}),
    ("variance_scaling", {"scale": 1.0, "mode": "fan_geo_avg", "distribution": "uniform"}),
    ("lecun_normal", {}),
    ("lecun_uniform", {}),
]


def init_cases() -> list[Case]:
    """Statistical checks of the implementation's own initializers (see mlpbench.conformance.checks.init): each
    scheme's moments, then each random scheme's distribution (`-distribution`, a draw of its own)."""
    cases: list[Case] = []
    for name, params in INIT_VARIANTS:
        bare = not params or name in ("constant", "normal", "uniform")  # the first of those three keeps its name
        label = name if bare and f"init/{name}" not in {case.id for case in cases} else f"{name}-{_param_label(params)}"
        cases.append(_case(f"init/{label}", "init", initializer=name, params=params, shape=INIT_SHAPE))
    random = [case for case in cases if case.params["initializer"] not in ("zeros", "constant")]
    return cases + [_case(f"{case.id}-distribution", "init_distribution", **case.params) for case in random]


# -- model ------------------------------------------------------------------------------------------------
LOSS_OUTPUT: dict[str, tuple[str, str]] = {
    # loss -> (output activation, target kind drawn by the check), from the loss's own metadata
    name: (loss.output_activation, loss.drawn_target) for name, loss in LOSSES.items()
}


def _model(case_id: str, sizes: tuple[int, ...], activation: str, loss: str, *, batch: int = 6,
           reduction: str = "mean", activation_params: dict[str, Any] | None = None,
           loss_params: dict[str, Any] | None = None, quick: bool = False) -> Case:
    output_activation, _ = LOSS_OUTPUT[loss]
    return _case(case_id, "model", quick=quick, sizes=sizes, activation=activation,
                 output_activation=output_activation, loss=loss, batch=batch, reduction=reduction,
                 activation_params=activation_params or {}, loss_params=loss_params or {})


def model_cases() -> list[Case]:
    """Forward and backward through whole networks: every hidden activation (5-8-6-3, MSE); every loss with
    its natural output layer; depth 1 to 5 and width 2 to 32 with tanh and ReLU; non-default activation
    parameters; a sum reduction. Gradients of all parameters and of the input are compared."""
    cases = [
        _model(f"model/act-{name}", (5, 8, 6, 3), name, "mse", quick=name == "relu") for name in ACTIVATIONS
    ]
    for loss, (_, target_kind) in LOSS_OUTPUT.items():
        out = 1 if target_kind == "binary" else 3
        cases.append(_model(f"model/loss-{loss}", (5, 8, out), "tanh", loss))
    shapes = {"d1-w1": (3, 1), "d2-w8": (5, 8, 3), "d3-w16": (6, 16, 12, 4), "d5-w32": (8, 32, 32, 32, 32, 2)}
    for label, sizes in shapes.items():
        for activation, loss in (("tanh", "mse"), ("relu", "cross_entropy")):
            if loss == "cross_entropy" and sizes[-1] < 2:
                continue
            cases.append(_model(f"model/{label}-{activation}-{loss}", sizes, activation, loss, batch=7))
    cases += [
        _model("model/leaky_relu-slope0.2", (5, 8, 6, 3), "leaky_relu", "mse",
               activation_params={"negative_slope": 0.2}),
        _model("model/elu-alpha0.5", (5, 8, 6, 3), "elu", "mse", activation_params={"alpha": 0.5}),
        _model("model/sum-reduction", (5, 8, 3), "sigmoid", "cross_entropy", reduction="sum"),
        _model("model/batch1", (4, 6, 2), "gelu", "huber", batch=1),
        _model("model/huber-delta0.5", (5, 8, 3), "tanh", "huber", loss_params={"delta": 0.5}),
        # multi-label outputs: three sigmoid units (or logits) a sample, each with its own 0/1 target
        _model("model/loss-binary_cross_entropy-multilabel", (5, 8, 3), "tanh", "binary_cross_entropy"),
        _model("model/loss-binary_cross_entropy_with_logits-multilabel", (5, 8, 3), "relu",
               "binary_cross_entropy_with_logits"),
    ]
    return cases


# -- optimizers -------------------------------------------------------------------------------------------
OPTIMIZER_LR: dict[str, float] = {
    "sgd": 0.1, "adam": 0.01, "adamw": 0.01, "adagrad": 0.1, "adadelta": 1.0, "rmsprop": 0.01,
}
"""Learning rates large enough that every step moves the parameters visibly."""

OPTION_VALUES: dict[str, Any] = {
    "momentum": 0.9,
    "dampening": 0.25,
    "nesterov": True,
    "weight_decay": 0.05,
    "maximize": True,
    "amsgrad": True,
    "lr_decay": 0.05,
    "initial_accumulator_value": 0.1,
    "centered": True,
}
"""The value that turns each option on (its default turns it off)."""

HYPER_VARIANTS: dict[str, dict[str, Any]] = {
    "adam": {"betas": (0.8, 0.99), "eps": 1e-3},
    "adamw": {"betas": (0.8, 0.99), "eps": 1e-3, "weight_decay": 0.1},
    "adagrad": {"eps": 1e-3},
    "adadelta": {"lr": 0.5, "rho": 0.8, "eps": 1e-3},
    "rmsprop": {"alpha": 0.9, "eps": 1e-3},
}
"""Non-default values of the continuous hyperparameters that no option turns on (betas, eps, rho, alpha,
AdamW's weight_decay, Adadelta's lr, whose default 1.0 is also the catalogue's), so that one accepted but
ignored or hard-coded is caught."""

OPTIMIZER_STEPS = 12
OPTIMIZER_SHAPES = ((4, 3), (4,), (2, 4), (2,))
"""A 3-4-2 network's parameters; the check draws gradients for them, a fresh N(0, 1) set per step."""


def option_combinations(name: str) -> list[tuple[str, ...]]:
    """Every subset of the optimizer's options that is a valid configuration (e.g. Nesterov needs momentum
    and no dampening); subsets whose extra options would have no effect (dampening without momentum) are
    dropped."""
    options = OPTIMIZERS[name].options
    found = []
    for size in range(len(options) + 1):
        for combo in itertools.combinations(options, size):
            if "dampening" in combo and "momentum" not in combo:
                continue
            try:
                make_hyper(name, **optimizer_hyper(name, combo))
            except ValueError:
                continue
            found.append(combo)
    return found


def optimizer_hyper(name: str, options: Iterable[str]) -> dict[str, Any]:
    """Keyword hyperparameters (PyTorch names) for `name` with the given options turned on."""
    hyper: dict[str, Any] = {"lr": OPTIMIZER_LR[name]}
    for option in options:
        if option not in OPTION_VALUES:
            raise ValueError(f"the catalogue has no 'on' value for option {option!r} of optimizer {name!r}")
        hyper[option] = OPTION_VALUES[option]
    return hyper


def optimizer_cases() -> list[Case]:
    """Every optimizer with every valid option combination: params and full state after 12 steps."""
    cases = []
    for name in OPTIMIZERS:
        for combo in option_combinations(name):
            label = "+".join((name, *combo))
            cases.append(_case(f"optimizers/{label}", "optimizer", quick=not combo, optimizer=name,
                               options=combo, hyper=optimizer_hyper(name, combo), steps=OPTIMIZER_STEPS,
                               shapes=OPTIMIZER_SHAPES))
        if name in HYPER_VARIANTS:
            hyper = {**optimizer_hyper(name, ()), **HYPER_VARIANTS[name]}
            cases.append(_case(f"optimizers/{name}-nondefault-hyper", "optimizer",
                               optimizer=name, options=(), hyper=hyper, steps=OPTIMIZER_STEPS,
                               shapes=OPTIMIZER_SHAPES))
    return cases


# -- training ---------------------------------------------------------------------------------------------
def _training(case_id: str, optimizer: str, options: tuple[str, ...], *, sizes=(4, 8, 3), activation="tanh",
              loss="mse", n=23, epochs=4, batch_size=5, validation=True, dropout=0.0, quick=False,
              clip: dict[str, float] | None = None) -> Case:
    output_activation, target_kind = LOSS_OUTPUT[loss]
    extra = {"clip": clip} if clip else {}
    return _case(case_id, "training", quick=quick, sizes=sizes, activation=activation,
                 output_activation=output_activation, loss=loss, target_kind=target_kind,
                 optimizer=optimizer, options=options, hyper=optimizer_hyper(optimizer, options), n=n,
                 epochs=epochs, batch_size=batch_size, validation=validation, dropout=dropout, **extra)


def training_cases() -> list[Case]:
    """Mini-batch training: per-epoch train and validation loss and the final parameters. 23 samples in
    batches of 5 (the last one smaller), a suite-supplied batch order per epoch."""
    cases = [_training(f"training/{name}", name, (), quick=name in ("sgd", "adam")) for name in OPTIMIZERS]
    cases += [
        _training("training/sgd+momentum-relu-cross_entropy", "sgd", ("momentum",), sizes=(5, 10, 4),
                  activation="relu", loss="cross_entropy", n=30, epochs=3, batch_size=8),
        # weight decay through training: an L2 term in the optimizer (PyTorch) or in the loss (scikit-learn)
        _training("training/sgd+weight_decay", "sgd", ("weight_decay",), activation="relu"),
        _training("training/adam+weight_decay", "adam", ("weight_decay",)),
        _training("training/adam-bce-logits", "adam", (), sizes=(3, 6, 1), activation="relu",
                  loss="binary_cross_entropy_with_logits", n=20, epochs=3, batch_size=4, validation=False),
        # the implementation's own dropout masks: the validation loss must be the evaluation-mode loss of
        # the returned parameters
        _training("training/dropout-validation-eval", "sgd", (), sizes=(4, 16, 3), epochs=2, dropout=0.5),
    ]
    cases += [_training("training/" + "+".join((optimizer, *options, option)), optimizer, options, **CLIP_CASE,
                        clip={option: value})
              for option, value, optimizer, options in CLIP_CASES]
    return cases


CLIP_CASE: dict[str, Any] = dict(sizes=(4, 16, 3), activation="tanh", loss="cross_entropy", n=24, epochs=3,
                                 batch_size=6)
"""The network the clipping cases train: a cross-entropy classifier whose gradients exceed the clips below."""

CLIP_CASES: tuple[tuple[str, float, str, tuple[str, ...]], ...] = (
    ("clip_grad_norm", 0.25, "sgd", ("momentum",)),
    ("clip_grad_value", 0.05, "sgd", ()),
)
"""(training option, its value, optimizer, options): the clip is well below the gradients' global norm and
largest elements at most steps (suites/conformance/test_conformance_clipping.py measures how often it acts)."""


# -- early stopping ---------------------------------------------------------------------------------------
MIN_DELTA_BOUNDARIES: tuple[tuple[str, float, int, int], ...] = (
    ("train_loss", 1.5, 5, 3),
    ("train_loss", 1.5, 11, 2),
    ("val_loss", 1.5, 3, 3),
    ("train_loss", 0.7, 6, 3),
    ("val_loss", 0.7, 2, 3),
)
"""(monitor, improvement / min_delta, epoch, patience) of the boundary cases: epochs where the oracle's
decisions all keep the check's margin of ten tolerances in both dtypes."""


def early_stopping_cases() -> list[Case]:
    """Training that over-fits a small noisy training set so the validation loss turns up: same stopping
    epoch, same best epoch, same restored weights. The check verifies in the oracle that every stop/continue
    decision has a margin well above the training-curve tolerance."""
    common: dict[str, Any] = dict(sizes=(3, 24, 1), activation="tanh", loss="mse", optimizer="adam", hyper={"lr": 0.05},
                  n=12, n_val=40, noise=1.0, epochs=40, batch_size=4)
    return [
        _case("early_stopping/val_loss-restore", "early_stopping", quick=False,
              monitor="val_loss", patience=3, min_delta=0.0, restore_best_weights=True, **common),
        _case("early_stopping/val_loss-no-restore", "early_stopping",
              monitor="val_loss", patience=2, min_delta=0.0, restore_best_weights=False, **common),
        _case("early_stopping/train_loss-min_delta", "early_stopping",
              monitor="train_loss", patience=5, min_delta=0.05, restore_best_weights=True, **common),
    ] + [
        # min_delta near the decision boundary: derived from the oracle's curve so that the improvement at
        # `epoch` is `ratio` times min_delta (1.5: counts, 0.7: does not); a min_delta 1.5 times too large
        # or too small flips that decision
        _case(f"early_stopping/{monitor}-min_delta-{ratio:g}x-epoch{epoch}", "early_stopping", monitor=monitor,
              patience=patience, min_delta=0.0, restore_best_weights=True,
              boundary={"epoch": epoch, "ratio": ratio}, **common)
        for monitor, ratio, epoch, patience in MIN_DELTA_BOUNDARIES
    ]


# -- dropout ----------------------------------------------------------------------------------------------
def dropout_cases() -> list[Case]:
    """Exact: the implementation reports the keep-masks of its own dropout and the oracle recomputes the
    pass with them. Statistical: keep rate and 1/(1-p) scaling of the implementation's dropout on many
    units, and the identity in evaluation mode."""
    return [
        _case("dropout/exact-p0.5", "dropout_exact", sizes=(6, 16, 12, 3), activation="relu", loss="mse", p=0.5,
              batch=8, training=True),
        _case("dropout/exact-p0.2-tanh", "dropout_exact", sizes=(5, 10, 4), activation="tanh",
              loss="cross_entropy", p=0.2, batch=6, training=True),
        _case("dropout/eval-identity", "dropout_exact", sizes=(6, 16, 12, 3), activation="relu", loss="mse",
              p=0.5, batch=8, training=False),
        _case("dropout/stats-p0.1", "dropout_stats", p=0.1, n=200_000),
        _case("dropout/stats-p0.5", "dropout_stats", p=0.5, n=200_000),
    ] + data_parallel_dropout_cases()


def data_parallel_dropout_cases() -> list[Case]:
    """A data-parallel implementation's masks are its single-process counterpart's for the suite's seed (odd
    batches, so the ranks' shards are uneven); single-process implementations do not claim these."""
    return [
        _case("dropout/data-parallel-masks", "dropout_data_parallel", target="model", sizes=(6, 16, 12, 3),
              activation="relu", loss="mse", batch=9, dropout=0.5),
        _case("dropout/data-parallel-training", "dropout_data_parallel", target="training", sizes=(4, 8, 3),
              activation="tanh", loss="mse", n=23, epochs=2, batch_size=5, validation=True, dropout=0.5),
    ]


# -- determinism and devices ------------------------------------------------------------------------------
def determinism_cases() -> list[Case]:
    """The same call twice gives bitwise identical results (when the implementation claims determinism)."""
    return [
        _case("determinism/forward_backward", "determinism", target="model", sizes=(6, 16, 12, 3),
              activation="relu", loss="mse", batch=8),
        _case("determinism/forward_backward-dropout", "determinism", target="model", sizes=(6, 16, 12, 3),
              activation="relu", loss="mse", batch=8, dropout=0.5),
        _case("determinism/optimizer", "determinism", target="optimizer", steps=OPTIMIZER_STEPS,
              shapes=OPTIMIZER_SHAPES),
        _case("determinism/training", "determinism", target="training", sizes=(4, 8, 3), activation="tanh",
              loss="mse", n=23, epochs=2, batch_size=5),
        _case("determinism/init", "determinism", target="init", shape=(64, 32)),
        _case("determinism/dropout", "determinism", target="dropout", p=0.5, n=4096),
    ] + [
        # every loss through a network (MSE is determinism/forward_backward) ...
        _case(f"determinism/forward_backward-{loss}", "determinism", target="model",
              sizes=(6, 16, 12, 1 if target_kind == "binary" else 3), activation="relu", loss=loss, batch=8)
        for loss, (_, target_kind) in LOSS_OUTPUT.items() if loss != "mse"
    ] + [
        # ... and every optimizer, alone and training a network
        _case(f"determinism/optimizer-{name}", "determinism", target="optimizer", optimizer=name,
              steps=OPTIMIZER_STEPS, shapes=OPTIMIZER_SHAPES)
        for name in OPTIMIZERS
    ] + [
        _case(f"determinism/training-{name}", "determinism", target="training", optimizer=name, sizes=(4, 8, 3),
              activation="tanh", loss="mse", n=23, epochs=2, batch_size=5)
        for name in OPTIMIZERS
    ]


def devices_cases() -> list[Case]:
    """A CUDA implementation agrees with its CPU counterpart (not claimed by single-device implementations)."""
    return [
        _case("devices/forward_backward", "devices", target="model", sizes=(8, 32, 32, 4), activation="tanh",
              loss="cross_entropy", batch=16),
        _case("devices/training", "devices", target="training", sizes=(4, 8, 3), activation="tanh", loss="mse",
              n=23, epochs=3, batch_size=5),
    ]


def _all_cases() -> list[Case]:
    cases = (
        activation_cases() + activation_tail_cases() + loss_cases() + init_cases() + model_cases()
        + optimizer_cases() + training_cases() + early_stopping_cases() + dropout_cases() + determinism_cases()
        + devices_cases()
    )
    ids = [c.id for c in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise AssertionError(f"duplicate case ids in the catalogue: {duplicates}")
    return cases


CASES: tuple[Case, ...] = tuple(_all_cases())
CASES_BY_ID: dict[str, Case] = {case.id: case for case in CASES}


# -- coverage that follows the claim -------------------------------------------------------------------------
COVERAGE_SIZES = (5, 7, 7, 7)
"""Hidden part of the coverage networks: a non-square first layer (5 -> 7), two square 7x7 layers, depth 4
with the output layer (7 -> 1 or 3, non-square)."""

COVERAGE_BATCHES = (1, 9)
"""Batch 1 and a batch larger than the widest layer (7): two model cases; one training run of 10 samples in
batches of 9 and 1."""

LOSS_PREFERENCE = ("mse", "huber", "l1", "cross_entropy", "binary_cross_entropy_with_logits", "nll",
                   "binary_cross_entropy")
ACTIVATION_PREFERENCE = ("tanh", "sigmoid", "relu", "silu", "gelu", "elu", "leaky_relu", "softplus", "gelu_tanh",
                         "identity", "softmax", "step")
OPTIMIZER_PREFERENCE = ("sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta")


def _coverage_network(activation: str, loss: str) -> dict[str, Any]:
    output_activation, target_kind = LOSS_OUTPUT[loss]
    return dict(sizes=(*COVERAGE_SIZES, 1 if target_kind == "binary" else 3), activation=activation,
                output_activation=output_activation, loss=loss)


def coverage_cases(caps: Capabilities) -> list[Case]:
    """Model and training cases built from what `caps` claims, so that a narrow claim is tested as hard as a
    wide one: every claimed hidden activation paired with a claimed loss, and every claimed loss with a
    claimed activation, through square and non-square layers at depth 4, with batch 1 and a batch larger than
    the widest layer; for training, with the first claimed optimizer (plain, no options), in a run whose
    batches are 9 and 1."""
    activations = [a for a in ACTIVATION_PREFERENCE if a in caps.activations]
    losses = [loss for loss in LOSS_PREFERENCE if loss in caps.losses]
    optimizers = [o for o in OPTIMIZER_PREFERENCE if o in caps.optimizers]
    pairs: dict[tuple[str, str], None] = {}
    for activation in activations:
        for loss in losses:
            if caps.missing(_case("model/probe", "model", batch=1, reduction="mean", loss_params={},
                                  **_coverage_network(activation, loss)).needs) in (None, "model"):
                pairs.setdefault((activation, loss))
                break
    for loss in losses:
        for activation in activations:
            if caps.missing(_case("model/probe", "model", batch=1, reduction="mean", loss_params={},
                                  **_coverage_network(activation, loss)).needs) in (None, "model"):
                pairs.setdefault((activation, loss))
                break
    cases = []
    for activation, loss in pairs:
        network = _coverage_network(activation, loss)
        for batch in COVERAGE_BATCHES:
            cases.append(_case(f"model/cover-{activation}-{loss}-batch{batch}", "model", batch=batch,
                               reduction="mean", activation_params={}, loss_params={}, **network))
        if optimizers:  # batches of 9 (wider than any layer) then 1: both sizes in one run
            cases.append(_case(
                f"training/cover-{activation}-{loss}-{optimizers[0]}", "training",
                target_kind=LOSS_OUTPUT[loss][1], optimizer=optimizers[0], options=(),
                hyper=optimizer_hyper(optimizers[0], ()), n=sum(COVERAGE_BATCHES), epochs=2,
                batch_size=max(COVERAGE_BATCHES), validation=True, dropout=0.0, **network))
    return cases


def cases_for(caps: Capabilities | None = None) -> list[Case]:
    """The catalogue's fixed cases, then (given a claim) the coverage cases that follow it, in area order."""
    cases = list(CASES) + (coverage_cases(caps) if caps is not None else [])
    order = {area: i for i, area in enumerate(AREA_ORDER)}
    return sorted(cases, key=lambda case: order[case.area])  # stable: catalogue order within an area




def select_cases(areas: Iterable[str] | None = None, pattern: str | None = None,
                 quick_only: bool = False, caps: Capabilities | None = None) -> list[Case]:
    """Cases in catalogue order (with the coverage cases of `caps` when given), restricted to `areas`, to ids
    matching the glob `pattern` (a pattern without "/" also matches the name alone, and a bare id matches
    exactly), and to quick cases."""
    wanted = set(areas) if areas else None
    selected = []
    for case in cases_for(caps):
        if wanted is not None and case.area not in wanted:
            continue
        if quick_only and not case.quick:
            continue
        if pattern and not (fnmatch.fnmatchcase(case.id, pattern) or fnmatch.fnmatchcase(case.name, pattern)):
            continue
        selected.append(case)
    return selected
