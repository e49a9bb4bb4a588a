"""Activation and initializer claims narrow to parameters and values, as a LossClaim narrows a loss.

A library with one softplus (beta 1, PyTorch's threshold 20) or one He initializer (fan_in) claims just that: the
cases that set another value are "not claimed", the others run and pass; claimed by name alone, the same
library fails those cases, so the narrowing is what makes the difference. A name alone keeps meaning every
parameter, and the claim crosses the worker boundary as it was made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from mlpbench.catalogue.conformance import CASES, CASES_BY_ID
from mlpbench.conformance.checks.engine import run_case_with
from mlpbench.conformance.handles import LocalHandle
from mlpbench.conformance.results import FAIL, NOT_CLAIMED, PASS
from mlpbench.impls.capabilities import ActivationClaim, Capabilities, InitializerClaim, Needs, vocabulary
from mlpbench.impls.reference_impl import ReferenceImplementation
from mlpbench.isolation.wire import dumps, plain, safe_loads
from mlpbench.reference.activations import ACTIVATIONS
from mlpbench.reference.init import INITIALIZERS

DTYPES = ("float32", "float64")
ONE_SOFTPLUS = {"beta": 1.0, "threshold": 20.0}
"""The only softplus the library below has: torch.nn.Softplus()'s defaults."""


class OneSoftplus(ReferenceImplementation):
    """The oracle adapter whose softplus ignores the parameters a case sets: always beta 1, threshold 20."""

    def __init__(self, claim: ActivationClaim | None) -> None:
        super().__init__()
        self.claim = claim

    def capabilities(self) -> Capabilities:
        return Capabilities(activations={"softplus": self.claim}, dtypes=DTYPES)

    def activation_params(self, name: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return super().activation_params(name, ONE_SOFTPLUS if name == "softplus" else params)


class OneKaiming(ReferenceImplementation):
    """The oracle adapter whose kaiming_uniform ignores the parameters a case sets (a = 0, fan_in, leaky_relu)."""

    def __init__(self, claim: InitializerClaim | None) -> None:
        super().__init__()
        self.claim = claim

    def capabilities(self) -> Capabilities:
        return Capabilities(initializers={"kaiming_uniform": self.claim}, dtypes=DTYPES)

    def init(self, name: str, shape: tuple[int, ...], params: Mapping[str, Any], seed: int,
             dtype: str) -> np.ndarray:
        return super().init(name, shape, {} if name == "kaiming_uniform" else params, seed, dtype)


def verdicts(impl: ReferenceImplementation, prefix: str) -> dict[tuple[str, str], str]:
    """(case id, dtype) -> verdict of every catalogue case whose id starts with `prefix`."""
    handle = LocalHandle(impl)
    return {(case.id, dtype): run_case_with(handle, case, dtype).verdict
            for case in CASES if case.id.startswith(prefix) for dtype in DTYPES}


def test_a_softplus_claimed_at_one_value_runs_its_cases_and_not_the_others() -> None:
    narrow = verdicts(OneSoftplus(ActivationClaim(params={"beta": {1.0}, "threshold": {20.0}})),
                      "activations/softplus")
    unclaimed = {case for (case, _), verdict in narrow.items() if verdict == NOT_CLAIMED}
    assert unclaimed == {"activations/softplus-beta2-threshold10"}
    assert all(verdict == PASS for (case, _), verdict in narrow.items() if case not in unclaimed), narrow
    assert len(narrow) - 2 * len(unclaimed) >= 4  # softplus and its negative tail, both dtypes, did run


def test_the_same_softplus_claimed_by_name_fails_the_case_it_cannot_compute() -> None:
    whole = verdicts(OneSoftplus(None), "activations/softplus-beta2")
    assert whole and all(verdict == FAIL for verdict in whole.values()), whole


def test_an_initializer_claimed_at_one_mode_runs_its_default_case_only() -> None:
    narrow = verdicts(OneKaiming(InitializerClaim(params={"mode": {"fan_in"}})), "init/kaiming_uniform")
    assert narrow[("init/kaiming_uniform", "float64")] == PASS
    assert narrow[("init/kaiming_uniform-a0.2-modefan_out-nonlinearityleaky_relu", "float64")] == NOT_CLAIMED
    whole = verdicts(OneKaiming(None), "init/kaiming_uniform-a0.2")
    assert whole and all(verdict == FAIL for verdict in whole.values()), whole


class FanInScaling(ReferenceImplementation):
    """The oracle adapter whose variance_scaling always divides by fan_in, whatever mode a case asks for."""

    def __init__(self, claim: InitializerClaim | None) -> None:
        super().__init__()
        self.claim = claim

    def capabilities(self) -> Capabilities:
        return Capabilities(initializers={"variance_scaling": self.claim}, dtypes=DTYPES)

    def init(self, name: str, shape: tuple[int, ...], params: Mapping[str, Any], seed: int,
             dtype: str) -> np.ndarray:
        return super().init(name, shape, {**params, "mode": "fan_in"} if params else params, seed, dtype)


def test_variance_scaling_claimed_at_fan_in_runs_the_fan_in_cases_only() -> None:
    """Keras's and JAX's variance_scaling narrowed by mode: scale and distribution at any value, mode fan_in."""
    narrow = verdicts(FanInScaling(InitializerClaim(params={"scale": None, "distribution": None,
                                                            "mode": {"fan_in"}})), "init/variance_scaling")
    ran = {case for (case, _), verdict in narrow.items() if verdict != NOT_CLAIMED}
    fan_in_cases = {"init/variance_scaling", "init/variance_scaling-scale2-modefan_in-distributiontruncated_normal"}
    assert ran == fan_in_cases | {f"{case}-distribution" for case in fan_in_cases}
    assert all(verdict == PASS for (case, _), verdict in narrow.items() if case in ran), narrow
    whole = verdicts(FanInScaling(None), "init/variance_scaling-scale")
    assert {case for (case, _), verdict in whole.items() if verdict == FAIL} == (
        {case for case, _ in whole} - ran), whole


def test_not_claimed_names_the_parameter_and_its_value() -> None:
    caps = Capabilities(activations={"softplus": ActivationClaim(params={"beta": None})},
                        initializers={"xavier_uniform": InitializerClaim(params={"gain": 1.0})})
    assert caps.missing(CASES_BY_ID["activations/softplus-beta2-threshold10"].needs) == (
        "parameter threshold=10.0 of activation 'softplus'")
    assert caps.missing(CASES_BY_ID["init/xavier_uniform-gain0.5"].needs) == (
        "parameter gain=0.5 of initializer 'xavier_uniform'")
    assert caps.missing(Needs(initializer="xavier_uniform", initializer_params=(("gain", 1.0),))) is None
    assert caps.missing(CASES_BY_ID["activations/softplus"].needs) is None


def test_a_model_case_needs_its_hidden_activations_parameters() -> None:
    caps = Capabilities(activations={"elu": ActivationClaim(params={})}, losses={"mse"}, model=True)
    assert caps.missing(CASES_BY_ID["model/elu-alpha0.5"].needs) == "parameter alpha=0.5 of activation 'elu'"
    caps = Capabilities(activations={"elu": ActivationClaim(params={"alpha": {0.5}})}, losses={"mse"}, model=True)
    assert caps.missing(CASES_BY_ID["model/elu-alpha0.5"].needs) is None


def test_a_name_alone_still_claims_every_parameter() -> None:
    by_name = Capabilities(activations=set(ACTIVATIONS), initializers=set(INITIALIZERS))
    assert by_name.activations == {name: ActivationClaim() for name in ACTIVATIONS}
    assert by_name.initializers == {name: InitializerClaim() for name in INITIALIZERS}
    assert Capabilities(activations="relu").activations == {"relu": ActivationClaim()}
    assert Capabilities(activations={"relu": None}).activations == {"relu": ActivationClaim()}
    parametrised = [case for case in CASES if case.needs.activation_params or case.needs.initializer_params]
    assert parametrised  # the catalogue does set parameters ...
    gaps = {case.id: by_name.missing(Needs(activations=case.needs.activations,
                                           activation_params=case.needs.activation_params,
                                           initializer=case.needs.initializer,
                                           initializer_params=case.needs.initializer_params))
            for case in parametrised}
    assert gaps == dict.fromkeys(gaps)  # ... and a claim by name covers every one of them


def test_the_vocabulary_names_every_parameter() -> None:
    names = vocabulary()
    assert "softplus.threshold" in names["activation parameters"]
    assert "kaiming_normal.nonlinearity" in names["initializer parameters"]
    for param in ("variance_scaling.scale", "variance_scaling.mode", "variance_scaling.distribution",
                  "truncated_normal.lower", "truncated_normal.upper"):
        assert param in names["initializer parameters"]
    assert {"lecun_normal", "lecun_uniform"} <= set(names["initializers"])
    assert not any(p.endswith((".shape", ".rng", ".dtype")) for p in names["initializer parameters"])


@pytest.mark.parametrize(("caps", "problem"), [
    (Capabilities(activations={"softplus": ActivationClaim(params={"betta": {1.0}})}),
     "unknown parameter 'betta' of activation 'softplus'; did you mean 'beta'?"),
    (Capabilities(initializers={"kaiming_normal": InitializerClaim(params={"gain": 1.0})}),
     "unknown parameter 'gain' of initializer 'kaiming_normal'"),
    (Capabilities(activations={"softplus": {"beta": 1.0}}),
     "activation 'softplus': the claim must be a ActivationClaim, not dict"),
    (Capabilities(initializers={"xavier": InitializerClaim()}), "unknown initializer 'xavier'"),
    (Capabilities(activations={"elu": ActivationClaim(params=["alpha"])}),  # type: ignore[arg-type]
     "activation 'elu': params must be a mapping parameter -> values, not list"),
])
def test_a_claim_outside_the_vocabulary_is_refused(caps: Capabilities, problem: str) -> None:
    problems = caps.problems()
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_the_claim_crosses_the_worker_boundary_as_made() -> None:
    caps = Capabilities(activations={"tanh": None, "softplus": ActivationClaim(params={"beta": {1.0, 2.0}})},
                        initializers={"kaiming_normal": InitializerClaim(params={"mode": "fan_in",
                                                                                 "nonlinearity": None})})
    crossed = safe_loads(dumps(plain(caps)))
    assert crossed == caps and crossed.problems() == []
    assert crossed.activations["softplus"].params == {"beta": frozenset({1.0, 2.0})}
