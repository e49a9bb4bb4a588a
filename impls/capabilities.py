"""What an implementation claims, in one closed vocabulary, and the one place that answers claim questions.

The vocabulary is the oracle's: every activation, loss (with its reductions, target kinds and parameters),
initializer, optimizer (with its options), dtype and device the oracle can judge. `Capabilities.problems()`
lists every name outside it, with the closest known names; the gate refuses such a claim (exit 2) instead of
silently treating a misspelling as "not claimed". `Capabilities.missing(needs)` answers whether a case's
`Needs` are within the claim: None when they are, else the first thing that is not claimed.

A loss is claimed either by name alone (every reduction, target kind and parameter) or with a `LossClaim`
narrowing it, e.g. `losses={"cross_entropy": LossClaim(reductions={"mean"}, targets={"index"})}`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from mlpbench.reference.activations import ACTIVATIONS
from mlpbench.reference.init import INITIALIZERS
from mlpbench.reference.losses import LOSSES, REDUCTIONS
from mlpbench.reference.optim import OPTIMIZERS

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


def vocabulary() -> dict[str, list[str]]:
    """Every name a claim can use, by kind (what `mlpbench list --names` prints and the README tabulates)."""
    return {
        "activations": list(ACTIVATIONS),
        "losses": list(LOSSES),
        "reductions": list(REDUCTIONS),
        "target kinds": sorted({kind for kinds in TARGET_KINDS.values() for kind in kinds}),
        "loss parameters": [f"{loss}.{param}" for loss in LOSSES for param in loss_parameters(loss)],
        "initializers": list(INITIALIZERS),
        "optimizers": list(OPTIMIZERS),
        "optimizer options": [f"{name}.{option}" for name, entry in OPTIMIZERS.items() for option in entry.options],
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


@dataclass(frozen=True)
class Needs:
    """What a case needs claimed. ANY as optimizer or initializer: any one claimed (the check picks it)."""

    features: tuple[str, ...] = ()
    activations: tuple[str, ...] = ()
    loss: str | None = None
    reduction: str | None = None
    target: str | None = None
    loss_params: tuple[str, ...] = ()
    initializer: str | None = None
    optimizer: str | None = None
    options: tuple[str, ...] = ()


ANY = "*"
RANDOM_INITIALIZER = "*random"
"""An initializer that draws random numbers (not zeros or constant)."""


@dataclass(frozen=True)
class Capabilities:
    """What an implementation claims to support. Anything not listed is reported as "not claimed".

    activations, initializers: names. losses: names, or a mapping name -> LossClaim. optimizers: name -> the
    options it supports beyond the plain update (see mlpbench.reference.optim.OPTIMIZERS[...].options). dtypes: of
    DTYPES. The booleans claim the interface methods and behaviours of FEATURES.
    """

    activations: frozenset[str] = frozenset()
    losses: Mapping[str, LossClaim] = field(default_factory=dict)
    initializers: frozenset[str] = frozenset()
    optimizers: Mapping[str, frozenset[str]] = field(default_factory=dict)
    dtypes: frozenset[str] = frozenset({"float64"})
    model: bool = False  # forward_backward
    training: bool = False  # train (mini-batch)
    early_stopping: bool = False
    dropout: bool = False
    deterministic: bool = True  # same inputs twice give bitwise identical results

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in ("activations", "initializers", "dtypes"):
            value = getattr(self, name)
            if isinstance(value, Iterable):
                set_(self, name, _frozen(value))
        losses = self.losses
        if isinstance(losses, Mapping):
            set_(self, "losses", {k: (v if isinstance(v, LossClaim) else ALL if v is None else v)
                                  for k, v in losses.items()})
        elif isinstance(losses, Iterable):
            set_(self, "losses", {name: ALL for name in _frozen(losses)})
        if isinstance(self.optimizers, Mapping):
            set_(self, "optimizers", {k: _frozen(v) if isinstance(v, Iterable) else v
                                      for k, v in self.optimizers.items()})
        elif isinstance(self.optimizers, Iterable):
            set_(self, "optimizers", {name: frozenset() for name in _frozen(self.optimizers)})

    # -- validation ---------------------------------------------------------------------------------------
    def problems(self) -> list[str]:
        """Every claim outside the vocabulary, one line each (empty when the claim is well-formed)."""
        return [
            *_name_problems("activation", self.activations, ACTIVATIONS),
            *_name_problems("initializer", self.initializers, INITIALIZERS),
            *_name_problems("dtype", self.dtypes, DTYPES),
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
                         self._missing_initializer, self._missing_optimizer):
            gap = question(needs)
            if gap is not None:
                return gap
        return None

    def _missing_feature(self, needs: Needs) -> str | None:
        return next((feature for feature in needs.features if not getattr(self, feature)), None)

    def _missing_activation(self, needs: Needs) -> str | None:
        absent = [activation for activation in needs.activations if activation not in self.activations]
        return f"activation {absent[0]!r}" if absent else None

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
        if needs.initializer is not None and needs.initializer not in self.initializers:
            return f"initializer {needs.initializer!r}"
        return None

    def _missing_optimizer(self, needs: Needs) -> str | None:
        if needs.optimizer == ANY:
            return None if self.optimizers else "any optimizer"
        if needs.optimizer is None:
            return None
        if needs.optimizer not in self.optimizers:
            return f"optimizer {needs.optimizer!r}"
        absent = [o for o in needs.options if o not in self.optimizers[needs.optimizer]]
        return f"option {absent[0]!r} of optimizer {needs.optimizer!r}" if absent else None


def _name_problems(kind: str, value: Any, known: Iterable[str], owner: str = "") -> list[str]:
    """`value` must be a collection of names, each of them in `known`."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return [f"{kind}s{owner} must be a set of names, not {type(value).__name__}"]
    return [_unknown(kind, name, known, owner) for name in value if name not in known]


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
