"""What an implementation claims, in one closed vocabulary, and the one place that answers claim questions.

The vocabulary is the oracle's: every activation, loss (with its reductions, target kinds and parameters),
initializer, optimizer (with its options), dtype and device the oracle can judge. `Capabilities.problems()`
lists every name outside it, with the closest known names; the gate refuses such a claim (exit 2) instead of
silently treating a misspelling as "not claimed". `Capabilities.missing(needs)` answers whether a case's
`Needs` are within the claim: None when they are, else the first thing that is not claimed.

A loss is claimed either by name alone (every reduction, target kind and parameter) or with a `LossClaim`
narrowing it, e.g. `losses={"cross_entropy": LossClaim(reductions={"mean"}, targets={"index"})}`. Activations
and initializers likewise: by name alone (every parameter at every value), or with an `ActivationClaim` /
`InitializerClaim` naming the parameters a case may set and their values, e.g.
`activations={"relu": None, "softplus": ActivationClaim(params={"beta": {1.0}, "threshold": {20.0}})}`.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, cast

from mlpbench.reference.activations import ACTIVATIONS
from mlpbench.reference.init import INITIALIZERS
from mlpbench.reference.losses import LOSSES, REDUCTIONS
from mlpbench.reference.optim import OPTIMIZERS
from mlpbench.reference.training import TRAINING_OPTIONS

DTYPES = ("float32", "float64")
"""The dtypes conformance runs in."""

DEVICES = ("cpu", "cuda", "mps", "xpu")
"""Device names an implementation may run on (`Implementation.device`)."""

TARGET_KINDS: dict[str, tuple[str, ...]] = {
    # target kind of the oracle's loss -> the kinds a claim can name
    "real": ("real",),
    "binary": ("binary", "probabilities"),
    "index": ("index",),
    "index_or_prob": ("index", "probabilities"),
}
"""real: any real numbers; binary: labels 0/1; probabilities: soft targets in [0, 1] (per element for BCE, a
distribution per row for cross-entropy); index: class indices."""

FEATURES = ("model", "training", "early_stopping", "dropout", "deterministic")
"""The boolean capabilities (which interface methods and behaviours are claimed)."""


def loss_targets(loss: str) -> tuple[str, ...]:
    """The target kinds `loss` accepts."""
    return TARGET_KINDS[LOSSES[loss].target_kind]


def loss_parameters(loss: str) -> tuple[str, ...]:
    """The parameters `loss` takes (e.g. Huber's delta)."""
    return tuple(LOSSES[loss].default_params)


def activation_parameters(activation: str) -> tuple[str, ...]:
    """The parameters `activation` takes (e.g. softplus's beta and threshold)."""
    return tuple(ACTIVATIONS[activation].default_params)


INITIALIZER_ARGUMENTS = ("shape", "rng", "dtype")
"""The arguments every initializer takes that are not its parameters."""


def initializer_parameters(initializer: str) -> tuple[str, ...]:
    """The parameters `initializer` takes (e.g. kaiming_normal's a, mode and nonlinearity)."""
    signature = inspect.signature(INITIALIZERS[initializer])
    return tuple(name for name in signature.parameters if name not in INITIALIZER_ARGUMENTS)


def vocabulary() -> dict[str, list[str]]:
    """Every name a claim can use, by kind (what `mlpbench list --names` prints and the README tabulates)."""
    return {
        "activations": list(ACTIVATIONS),
        "losses": list(LOSSES),
        "reductions": list(REDUCTIONS),
        "target kinds": sorted({kind for kinds in TARGET_KINDS.values() for kind in kinds}),
        "loss parameters": [f"{loss}.{param}" for loss in LOSSES for param in loss_parameters(loss)],
        "activation parameters": [f"{name}.{param}" for name in ACTIVATIONS for param in activation_parameters(name)],
        "initializers": list(INITIALIZERS),
        "initializer parameters": [f"{name}.{param}" for name in INITIALIZERS
                                   for param in initializer_parameters(name)],
        "optimizers": list(OPTIMIZERS),
        "optimizer options": [f"{name}.{option}" for name, entry in OPTIMIZERS.items() for option in entry.options],
        "training options": list(TRAINING_OPTIONS),
        "dtypes": list(DTYPES),
        "devices": list(DEVICES),
        "features": list(FEATURES),
    }


def _frozen(value: Any) -> frozenset:
    if isinstance(value, (str, bytes)):
        return frozenset({value})
    return frozenset(value)


@dataclass(frozen=True)
class LossClaim:
    """What of one loss is claimed; None means all of it."""

    reductions: frozenset[str] | None = None
    targets: frozenset[str] | None = None
    params: frozenset[str] | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                object.__setattr__(self, f.name, _frozen(value))


ALL = LossClaim()
"""A loss claimed by name alone: every reduction, target kind and parameter."""


def _values(value: Any) -> frozenset | None:
    """The values claimed for one parameter: None (any value), one value, or a collection of them."""
    if value is None:
        return None
    if isinstance(value, (str, bytes, int, float)):
        return frozenset({value})
    return frozenset(value)


@dataclass(frozen=True)
class ParamClaim:
    """What of one activation's or initializer's parameters is claimed.

    params None: every parameter at every value (the name claimed alone). Otherwise a mapping parameter -> the
    values claimed (a set, one value, or None for any value): a case that sets a parameter runs only when that
    parameter is named with its value; a parameter a case leaves unset needs nothing (the defaults are always
    claimed). `params={}`: the defaults only.
    """

    params: Mapping[str, frozenset | None] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.params, Mapping):
            object.__setattr__(self, "params", {k: _values(v) for k, v in self.params.items()})

    def covers(self, param: str, value: Any) -> bool:
        """Whether a case may set `param` to `value`."""
        if self.params is None:
            return True
        if param not in self.params:
            return False
        values = self.params[param]
        return values is None or value in values


@dataclass(frozen=True)
class ActivationClaim(ParamClaim):
    """What of one activation is claimed: its parameters and their values (see ParamClaim)."""


@dataclass(frozen=True)
class InitializerClaim(ParamClaim):
    """What of one initializer is claimed: its parameters (gain, mode, nonlinearity...) and their values (see
    ParamClaim)."""


@dataclass(frozen=True)
class Needs:
    """What a case needs claimed. ANY as optimizer or initializer: any one claimed (the check picks it)."""

    features: tuple[str, ...] = ()
    activations: tuple[str, ...] = ()
    loss: str | None = None
    reduction: str | None = None
    target: str | None = None
    loss_params: tuple[str, ...] = ()
    activation_params: tuple[tuple[str, str, Any], ...] = ()  # (activation, parameter, value) a case sets
    initializer: str | None = None
    initializer_params: tuple[tuple[str, Any], ...] = ()  # (parameter, value) a case sets
    optimizer: str | None = None
    options: tuple[str, ...] = ()
    training_options: tuple[str, ...] = ()


ANY = "*"
RANDOM_INITIALIZER = "*random"
"""An initializer that draws random numbers (not zeros or constant)."""


@dataclass(frozen=True)
class Capabilities:
    """What an implementation claims to support. Anything not listed is reported as "not claimed".

    activations: names, or a mapping name -> ActivationClaim (None: every parameter). losses: names, or a
    mapping name -> LossClaim. initializers: names, or a mapping name -> InitializerClaim. optimizers: name ->
    the options it supports beyond the plain update (see mlpbench.reference.optim.OPTIMIZERS[...].options).
    dtypes: of DTYPES. training_options: of mlpbench.reference.training.TRAINING_OPTIONS (gradient clipping in
    `train`). The booleans claim the interface methods and behaviours of FEATURES. Claimed as names,
    activations, losses and initializers are read back as mappings name -> claim.
    """

    activations: Mapping[str, ActivationClaim | None] | Iterable[str] = field(default_factory=dict)
    losses: Mapping[str, LossClaim] = field(default_factory=dict)
    initializers: Mapping[str, InitializerClaim | None] | Iterable[str] = field(default_factory=dict)
    optimizers: Mapping[str, frozenset[str]] = field(default_factory=dict)
    dtypes: frozenset[str] = frozenset({"float64"})
    model: bool = False  # forward_backward
    training: bool = False  # train (mini-batch)
    early_stopping: bool = False
    dropout: bool = False
    deterministic: bool = True  # same inputs twice give bitwise identical results
    training_options: frozenset[str] = frozenset()  # gradient clipping in train, of TRAINING_OPTIONS

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in ("dtypes", "training_options"):
            if isinstance(getattr(self, name), Iterable):
                set_(self, name, _frozen(getattr(self, name)))
        for name, everything in (("activations", ActivationClaim()), ("losses", ALL),
                                 ("initializers", InitializerClaim())):
            set_(self, name, _claims(getattr(self, name), everything))
        if isinstance(self.optimizers, Mapping):
            set_(self, "optimizers", {k: _frozen(v) if isinstance(v, Iterable) else v
                                      for k, v in self.optimizers.items()})
        elif isinstance(self.optimizers, Iterable):
            set_(self, "optimizers", {name: frozenset() for name in _frozen(self.optimizers)})

    # -- validation ---------------------------------------------------------------------------------------
    def problems(self) -> list[str]:
        """Every claim outside the vocabulary, one line each (empty when the claim is well-formed)."""
        return [
            *_param_claim_problems("activation", self.activations, ActivationClaim, ACTIVATIONS,
                                  activation_parameters),
            *_param_claim_problems("initializer", self.initializers, InitializerClaim, INITIALIZERS,
                                  initializer_parameters),
            *_name_problems("dtype", self.dtypes, DTYPES),
            *_name_problems("training option", self.training_options, TRAINING_OPTIONS),
            *self._loss_problems(),
            *self._optimizer_problems(),
            *(f"{feature} must be True or False, not {getattr(self, feature)!r}"
              for feature in FEATURES if not isinstance(getattr(self, feature), bool)),
        ]

    def _loss_problems(self) -> list[str]:
        if not isinstance(self.losses, Mapping):
            return [f"losses must be a set of names or a mapping, not {type(self.losses).__name__}"]
        return [problem for loss, claim in self.losses.items() for problem in _loss_claim_problems(loss, claim)]

    def _optimizer_problems(self) -> list[str]:
        if not isinstance(self.optimizers, Mapping):
            return [f"optimizers must be a mapping name -> options, not {type(self.optimizers).__name__}"]
        found: list[str] = []
        for optimizer, options in self.optimizers.items():
            if optimizer not in OPTIMIZERS:
                found.append(_unknown("optimizer", optimizer, OPTIMIZERS))
            else:
                found += _name_problems("option", options, OPTIMIZERS[optimizer].options,
                                        f" of optimizer {optimizer!r}")
        return found

    # -- claim questions ----------------------------------------------------------------------------------
    def missing(self, needs: Needs) -> str | None:
        """None when `needs` is within this claim; otherwise the first thing that is not claimed."""
        for question in (self._missing_feature, self._missing_activation, self._missing_loss,
                         self._missing_initializer, self._missing_optimizer, self._missing_training_option):
            gap = question(needs)
            if gap is not None:
                return gap
        return None

    def _missing_feature(self, needs: Needs) -> str | None:
        return next((feature for feature in needs.features if not getattr(self, feature)), None)

    def _missing_activation(self, needs: Needs) -> str | None:
        absent = [activation for activation in needs.activations if activation not in self.activations]
        if absent:
            return f"activation {absent[0]!r}"
        return next((f"parameter {param}={value!r} of activation {activation!r}"
                     for activation, param, value in needs.activation_params
                     if not _read(self.activations)[activation].covers(param, value)), None)

    def _missing_loss(self, needs: Needs) -> str | None:
        if needs.loss is None:
            return None
        claim = self.losses.get(needs.loss)
        if claim is None:
            return f"loss {needs.loss!r}"
        for kind, wanted, claimed in (("reduction", (needs.reduction,), claim.reductions),
                                      ("target kind", (needs.target,), claim.targets),
                                      ("parameter", needs.loss_params, claim.params)):
            absent = [value for value in wanted if value is not None and claimed is not None and value not in claimed]
            if absent:
                return f"{kind} {absent[0]!r} of loss {needs.loss!r}"
        return None

    def _missing_initializer(self, needs: Needs) -> str | None:
        if needs.initializer == RANDOM_INITIALIZER:
            return None if set(self.initializers) - {"zeros", "constant"} else "a random initializer"
        if needs.initializer is None:
            return None
        if needs.initializer not in self.initializers:
            return f"initializer {needs.initializer!r}"
        claim = _read(self.initializers)[needs.initializer]
        return next((f"parameter {param}={value!r} of initializer {needs.initializer!r}"
                     for param, value in needs.initializer_params if not claim.covers(param, value)), None)

    def _missing_optimizer(self, needs: Needs) -> str | None:
        if needs.optimizer == ANY:
            return None if self.optimizers else "any optimizer"
        if needs.optimizer is None:
            return None
        if needs.optimizer not in self.optimizers:
            return f"optimizer {needs.optimizer!r}"
        absent = [o for o in needs.options if o not in self.optimizers[needs.optimizer]]
        return f"option {absent[0]!r} of optimizer {needs.optimizer!r}" if absent else None


    def _missing_training_option(self, needs: Needs) -> str | None:
        return next((f"training option {option!r}" for option in needs.training_options
                     if option not in self.training_options), None)


def _name_problems(kind: str, value: Any, known: Iterable[str], owner: str = "") -> list[str]:
    """`value` must be a collection of names, each of them in `known`."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return [f"{kind}s{owner} must be a set of names, not {type(value).__name__}"]
    return [_unknown(kind, name, known, owner) for name in value if name not in known]


def _read(claims: Any) -> Mapping[str, ParamClaim]:
    """`Capabilities.activations` or `.initializers` as __post_init__ leaves them: name -> claim."""
    return cast(Mapping[str, ParamClaim], claims)


def _claims(value: Any, everything: Any) -> Any:
    """A claim as a mapping name -> claim: a name alone (or mapped to None) claims `everything`."""
    if isinstance(value, Mapping):
        return {name: everything if claim is None else claim for name, claim in value.items()}
    if isinstance(value, Iterable):  # a set of names (a single name too)
        return {name: everything for name in _frozen(value)}
    return value  # not a claim: problems() names it


def _param_claim_problems(kind: str, claims: Any, claim_type: type[ParamClaim], known: Mapping[str, Any],
                          parameters: Callable[[str], tuple[str, ...]]) -> list[str]:
    """The problems of `Capabilities.activations` or `.initializers`: each name, then its claim's parameters."""
    if not isinstance(claims, Mapping):
        return [f"{kind}s must be a set of names or a mapping, not {type(claims).__name__}"]
    return [problem for name, claim in claims.items()
            for problem in _one_param_claim_problems(kind, name, claim, claim_type, known, parameters)]


def _one_param_claim_problems(kind: str, name: Any, claim: Any, claim_type: type[ParamClaim], known: Mapping[str, Any],
                              parameters: Callable[[str], tuple[str, ...]]) -> list[str]:
    if name not in known:
        return [_unknown(kind, name, known)]
    if not isinstance(claim, claim_type):
        return [f"{kind} {name!r}: the claim must be a {claim_type.__name__}, not {type(claim).__name__}"]
    if claim.params is None:
        return []
    if not isinstance(claim.params, Mapping):
        return [f"{kind} {name!r}: params must be a mapping parameter -> values, not {type(claim.params).__name__}"]
    return _name_problems("parameter", list(claim.params), parameters(name), f" of {kind} {name!r}")


def _loss_claim_problems(loss: str, claim: object) -> list[str]:
    """The problems of one entry of `Capabilities.losses`: the loss, then its reductions, targets, params."""
    if loss not in LOSSES:
        return [_unknown("loss", loss, LOSSES)]
    if not isinstance(claim, LossClaim):
        return [f"loss {loss!r}: the claim must be a LossClaim, not {type(claim).__name__}"]
    owner = f" of loss {loss!r}"
    return [
        *_name_problems("reduction", claim.reductions or (), REDUCTIONS, owner),
        *_name_problems("target kind", claim.targets or (), loss_targets(loss), owner),
        *_name_problems("parameter", claim.params or (), loss_parameters(loss), owner),
    ]


def _unknown(kind: str, name: Any, known: Iterable[str], owner: str = "") -> str:
    known = list(known)
    if not isinstance(name, str):
        return f"{kind} {name!r}{owner} is not a name (a {type(name).__name__}); known: {', '.join(known)}"
    lowered = {k.lower(): k for k in known}
    initials = [k for k in lowered if "".join(part[:1] for part in k.split("_")) == name.lower()]
    close = initials + [c for c in difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.5)
                        if c not in initials]
    hint = f"did you mean {', '.join(repr(lowered[c]) for c in close)}?" if close else f"known: {', '.join(known)}"
    return f"unknown {kind} {name!r}{owner}; {hint}"


def vocabulary_markdown() -> str:
    """The vocabulary as a Markdown table (the README shows it; a test keeps the two equal)."""
    rows = ["| kind | names |", "| --- | --- |"]
    rows += [f"| {kind} | {', '.join(f'`{name}`' for name in names)} |" for kind, names in vocabulary().items()]
    return "\n".join(rows)
