"""The clipping cases reach the clip: at every step of each case, the oracle's gradients exceed it (global norm
above clip_grad_norm, largest element above clip_grad_value), so an implementation that clips wrongly or not at
all changes every step. The mutants that do so are rejected in test_conformance_mutant_table."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import mlpbench.reference.training as oracle_training_module
from mlpbench.catalogue.conformance import CASES_BY_ID, CLIP_CASES
from mlpbench.conformance.checks.base import CheckContext
from mlpbench.conformance.checks.training import build_request, oracle_training
from mlpbench.conformance.handles import LocalHandle
from mlpbench.impls.reference_impl import ReferenceImplementation

CLIP_CASE_IDS = ["training/" + "+".join((optimizer, *options, option)) for option, _, optimizer, options in CLIP_CASES]


@pytest.mark.parametrize("case_id", CLIP_CASE_IDS)
def test_every_step_of_a_clipping_case_exceeds_its_clip(case_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES_BY_ID[case_id]
    (option, clip), = case.params["clip"].items()
    seen: list[float] = []
    measure = {
        "clip_grad_norm": lambda grads: float(np.sqrt(sum(float(np.sum(g * g)) for g in grads))),
        "clip_grad_value": lambda grads: max(float(np.max(np.abs(g))) for g in grads),
    }[option]
    original = getattr(oracle_training_module, option)

    def watched(grads: list[np.ndarray], *args: Any, **kwargs: Any) -> Any:
        seen.append(measure(grads))
        return original(grads, *args, **kwargs)

    monkeypatch.setattr(oracle_training_module, option, watched)
    ctx = CheckContext(LocalHandle(ReferenceImplementation()), case, "float64")
    request = build_request(ctx, case.params)
    oracle_training(ctx, request)
    steps = request.epochs * -(-len(request.x) // request.batch_size)
    assert len(seen) == steps
    assert min(seen) > 1.5 * clip, (option, clip, seen)
