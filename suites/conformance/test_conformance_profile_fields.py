"""Each convention a profile field expresses is one a real implementation can follow and be shown to conform.

For every field, an implementation that follows the convention (the oracle adapter, mlpbench.impls.reference_impl,
with that one field changed from PyTorch's profile) passes the cases that reach it when it declares that
profile, and fails them when it declares `pytorch`: the field is what makes the difference, in both
directions. The cases are the catalogue's own, run in this process (`run_case_with`, `LocalHandle`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from mlpbench.catalogue.conformance import CASES_BY_ID
from mlpbench.conformance.checks.engine import run_case_with
from mlpbench.conformance.handles import LocalHandle
from mlpbench.impls.reference_impl import ReferenceImplementation
from mlpbench.reference.conventions import DTYPE_EPS, PROFILES, PYTORCH, SKLEARN, Conventions

DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class FieldCase:
    """A profile field, the value a library uses, and the catalogue cases that reach it."""

    field: str
    value: Any
    libraries: str
    cases: tuple[str, ...]


FIELDS = (
    FieldCase("leaky_relu_grad_at_zero", 1.0, "JAX (jax.nn.leaky_relu: where(x >= 0, ...))",
              ("activations/leaky_relu", "activations/leaky_relu-negative_slope0.2")),
    FieldCase("softplus_threshold", None, "JAX, Keras, MLX, tinygrad (exact log-add-exp)",
              ("activations/softplus",)),
    FieldCase("sgd_dampening_first_step", True, "MLX (v <- momentum v + (1 - dampening) g from v = 0)",
              ("optimizers/sgd+momentum+dampening", "optimizers/sgd+momentum+dampening+weight_decay")),
    FieldCase("bce_clip_eps", DTYPE_EPS, "scikit-learn (np.clip(y_prob, eps, 1 - eps), eps of y_prob's dtype)",
              ("losses/binary_cross_entropy-saturated", "losses/binary_cross_entropy-saturated-none")),
    FieldCase("l2_penalty_in_loss", True, "scikit-learn (alpha: 0.5 alpha ||W||^2 / n_samples in the loss)",
              ("training/sgd+weight_decay", "training/adam+weight_decay", "optimizers/sgd+weight_decay")),
    FieldCase("bce_sum_outputs", True, "scikit-learn (binary_log_loss: sum over outputs / n_samples)",
              ("losses/binary_cross_entropy-multilabel", "model/loss-binary_cross_entropy-multilabel")),
)


class Follower(ReferenceImplementation):
    """The oracle adapter computing under `conventions` (which it also declares, unless a test says otherwise)."""

    def __init__(self, conventions: Conventions) -> None:
        super().__init__()
        self.conventions = conventions


def verdicts(conventions: Conventions, declared: Conventions, cases: tuple[str, ...]) -> dict[tuple[str, str], bool]:
    """(case id, dtype) -> failed, for the follower of `conventions` declaring the profile `declared`."""
    handle = LocalHandle(Follower(conventions))
    handle.conventions = declared
    return {(case_id, dtype): run_case_with(handle, CASES_BY_ID[case_id], dtype).failed
            for case_id in cases for dtype in DTYPES}


@pytest.mark.parametrize("field_case", FIELDS, ids=[f.field for f in FIELDS])
def test_a_follower_passes_under_its_profile_and_fails_under_pytorch(field_case: FieldCase) -> None:
    profile = PYTORCH.with_changes(name=f"pytorch+{field_case.field}", **{field_case.field: field_case.value})
    assert profile != PYTORCH
    own = verdicts(profile, profile, field_case.cases)
    assert not any(own.values()), f"{field_case.libraries}: fails under its own profile: {own}"
    declared_pytorch = verdicts(profile, PYTORCH, field_case.cases)
    assert any(declared_pytorch.values()), (
        f"{field_case.field}={field_case.value!r} ({field_case.libraries}) is indistinguishable from PyTorch's "
        f"convention on {field_case.cases}")


def test_pytorch_itself_fails_under_each_other_value() -> None:
    """The converse: PyTorch's own conventions (the oracle under `pytorch`) fail where a profile says otherwise."""
    for field_case in FIELDS:
        profile = PYTORCH.with_changes(**{field_case.field: field_case.value})
        assert any(verdicts(PYTORCH, profile, field_case.cases).values()), field_case.field


def test_the_dtype_clip_is_each_dtypes_own_epsilon() -> None:
    assert SKLEARN.for_dtype("float32").bce_clip_eps == 2.0**-23
    assert SKLEARN.for_dtype("float64").bce_clip_eps == 2.0**-52
    assert PYTORCH.for_dtype("float32") is PYTORCH
    with pytest.raises(ValueError, match="bce_clip_eps"):
        Conventions(bce_clip_eps="float32")


def test_sklearn_profile_passes_the_areas_scikit_learn_has() -> None:
    """The oracle adapter under the whole sklearn profile conforms on its activations, losses, Adam and SGD."""
    cases = ("activations/relu", "activations/tanh", "activations/sigmoid", "losses/mse-mean",
             "losses/binary_cross_entropy-saturated", "losses/binary_cross_entropy-multilabel",
             "model/loss-binary_cross_entropy-multilabel", "optimizers/adam", "optimizers/sgd+momentum+nesterov",
             "training/sgd+weight_decay", "training/adam+weight_decay")
    assert not any(verdicts(SKLEARN, SKLEARN, cases).values())
    assert PROFILES["sklearn"] is SKLEARN


def test_every_field_is_documented_with_every_profile() -> None:
    """docs/conventions.md has a row for each field, and names each built-in profile."""
    from dataclasses import fields
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "conventions.md").read_text()
    rows = {line.split("|")[1].strip().strip("`") for line in page.splitlines() if line.startswith("| `")}
    assert {f.name for f in fields(Conventions)} - {"name"} <= rows
    assert all(f"`{name}`" in page for name in PROFILES)
