"""Oracle self-checks for losses: gradients against central differences for every reduction, the seeds'
worked examples, PyTorch's conventions (BCE log clamp and gradient floor, sign at 0), stability, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mlpbench.reference import losses as L
from mlpbench.reference.gradcheck import check_gradient

REDUCTIONS = ("mean", "sum", "none")
rng = np.random.default_rng(0)


def _away_from(values: np.ndarray, kinks: tuple[float, ...], margin: float = 1e-2) -> np.ndarray:
    """Push entries that fall within `margin` of a kink further away."""
    values = values.copy()
    for kink in kinks:
        close = np.abs(values - kink) < margin
        values[close] = kink + np.where(values[close] >= kink, margin, -margin) * 3
    return values


def _regression_case(kinks: tuple[float, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    target = rng.normal(size=(5, 3))
    diff = _away_from(rng.normal(scale=2.0, size=(5, 3)), tuple(k for kink in kinks for k in (kink, -kink)))
    return target + diff, target


def _index_targets(n: int, c: int) -> np.ndarray:
    return np.arange(n) % c


# (loss name, params, prediction, target): predictions stay away from kinks
GRADIENT_CASES = [
    ("mse", {}, *_regression_case()),
    ("mse", {"half": True}, *_regression_case()),
    ("l1", {}, *_regression_case((0.0,))),
    ("huber", {}, *_regression_case((1.0,))),
    ("huber", {"delta": 0.3}, *_regression_case((0.3,))),
    ("binary_cross_entropy", {}, rng.uniform(0.05, 0.95, size=(4, 3)), rng.integers(0, 2, size=(4, 3)) * 1.0),
    ("binary_cross_entropy", {}, rng.uniform(0.05, 0.95, size=(4, 3)), rng.uniform(size=(4, 3))),
    ("binary_cross_entropy", {"log_clamp": None, "grad_floor": None}, rng.uniform(0.05, 0.95, size=6),
     rng.uniform(size=6)),
    ("binary_cross_entropy_with_logits", {}, rng.normal(scale=4.0, size=(4, 3)), rng.uniform(size=(4, 3))),
    ("cross_entropy", {}, rng.normal(scale=2.0, size=(5, 4)), _index_targets(5, 4)),
    ("cross_entropy", {}, rng.normal(scale=2.0, size=(5, 4)), rng.dirichlet(np.ones(4), size=5)),
    # probability rows that do not sum to 1 (PyTorch accepts them)
    ("cross_entropy", {}, rng.normal(scale=2.0, size=(5, 4)), rng.uniform(size=(5, 4))),
    ("nll", {}, rng.normal(size=(5, 4)), _index_targets(5, 4)),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    ("name", "params", "pred", "target"), GRADIENT_CASES, ids=[f"{c[0]}{c[1] or ''}" for c in GRADIENT_CASES]
)
def test_gradient_matches_central_differences(
    name: str, params: dict, pred: np.ndarray, target: np.ndarray, reduction: str
) -> None:
    loss = L.get_loss(name)

    def scalar_loss(p: np.ndarray) -> float:  # "none": the gradient is that of the sum
        return float(np.sum(loss.value(p, target, reduction=reduction, **params)))

    analytic = loss.gradient(pred, target, reduction=reduction, **params)
    assert analytic.shape == pred.shape
    assert check_gradient(scalar_loss, analytic, pred) < 1e-6


def test_seed_bce_worked_example() -> None:
    """p = [0.1, 0.8, 0.6], t = [1, 0, 1]: -mean(log 0.1, log(1 - 0.8), log 0.6).

    = (2.3026 + 1.6094 + 0.5108) / 3 = 1.4743 (what F.binary_cross_entropy prints for the seed's example).
    """
    value = L.binary_cross_entropy(np.array([0.1, 0.8, 0.6]), np.array([1.0, 0.0, 1.0]))
    assert value.shape == ()
    assert value == pytest.approx(-(math.log(0.1) + math.log(0.2) + math.log(0.6)) / 3, rel=1e-14)
    assert round(float(value), 4) == 1.4743


def test_seed_mse_worked_example() -> None:
    """pred = [30, 80, 85], target = [90, 20, 95]: (60^2 + 60^2 + 10^2) / 3 = 7300 / 3."""
    value = L.mse(np.array([30.0, 80.0, 85.0]), np.array([90.0, 20.0, 95.0]))
    assert value == pytest.approx((3600 + 3600 + 100) / 3, rel=1e-15)
    half = L.mse(np.array([30.0, 80.0, 85.0]), np.array([90.0, 20.0, 95.0]), half=True)
    assert half == pytest.approx(7300 / 6, rel=1e-15)


def test_bce_log_clamp_at_saturated_probabilities() -> None:
    p = np.array([0.0, 1.0, 0.0, 1.0])
    t = np.array([1.0, 0.0, 0.0, 1.0])  # wrong, wrong, right, right
    with np.errstate(all="raise"):
        clamped = L.binary_cross_entropy(p, t, reduction="none")
        unclamped = L.binary_cross_entropy(p, t, reduction="none", log_clamp=None)
        grad = L.binary_cross_entropy_grad(p, t, reduction="none")
        exact_grad = L.binary_cross_entropy_grad(p, t, reduction="none", log_clamp=None, grad_floor=None)
    np.testing.assert_array_equal(clamped, [100.0, 100.0, 0.0, 0.0])
    np.testing.assert_array_equal(unclamped, [np.inf, np.inf, 0.0, 0.0])
    assert L.binary_cross_entropy(p, t, log_clamp=None) == np.inf
    # PyTorch: (p - t) / max(p (1 - p), eps) with eps the float32 nearest 1e-12
    floor = float(np.float32(1e-12))
    np.testing.assert_array_equal(grad, [-1.0 / floor, 1.0 / floor, 0.0, 0.0])
    # the exact derivative (1 - t) / (1 - p) - t / p: infinite where the loss is, 1 / (1 - 0) = 1 at p = t = 0
    np.testing.assert_array_equal(exact_grad, [-np.inf, np.inf, 1.0, -1.0])
    # a custom clamp: -max(log 0.3, -1) = 1
    assert L.binary_cross_entropy(np.array([0.3]), np.array([1.0]), log_clamp=-1.0) == 1.0


def test_bce_with_logits_extreme_logits() -> None:
    z = np.array([1e4, 1e4, -1e4, -1e4, 0.0])
    t = np.array([1.0, 0.0, 1.0, 0.0, 0.5])
    with np.errstate(all="raise"):
        value = L.binary_cross_entropy_with_logits(z, t, reduction="none")
        grad = L.binary_cross_entropy_with_logits_grad(z, t, reduction="none")
    np.testing.assert_array_equal(value[:4], [0.0, 1e4, 1e4, 0.0])
    assert value[4] == pytest.approx(math.log(2.0), rel=1e-15)
    np.testing.assert_array_equal(grad, [0.0, 1.0, -1.0, 0.0, 0.0])


def test_bce_with_logits_agrees_with_bce_of_sigmoid() -> None:
    z = rng.normal(scale=3.0, size=20)
    t = rng.uniform(size=20)
    p = 1.0 / (1.0 + np.exp(-z))
    expected = L.binary_cross_entropy(p, t)
    np.testing.assert_allclose(L.binary_cross_entropy_with_logits(z, t), expected, rtol=1e-12)


def test_cross_entropy_extreme_logits() -> None:
    logits = np.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]])
    target = np.array([0, 1, 2])
    with np.errstate(all="raise"):
        value = L.cross_entropy(logits, target, reduction="none")
        grad = L.cross_entropy_grad(logits, target, reduction="none")
        log_probs = L.log_softmax(logits)
    np.testing.assert_array_equal(value[:2], [0.0, 2e4])
    assert value[2] == pytest.approx(math.log(3.0), rel=1e-15)
    np.testing.assert_array_equal(grad[:2], [[0.0, 0.0, 0.0], [1.0, -1.0, 0.0]])
    assert np.all(np.isfinite(log_probs))
    with np.errstate(all="raise"):  # a gradient entry that underflows to a subnormal is not an error
        tiny = L.cross_entropy_grad(np.array([[709.0, 1.0], [1.0, 1.0]]), np.eye(2)[[0, 0]], reduction="mean")
    assert 0.0 < tiny[0, 1] < np.finfo(np.float64).tiny


def test_cross_entropy_is_nll_of_log_softmax() -> None:
    logits = rng.normal(size=(6, 3))
    target = rng.integers(0, 3, size=6)
    for reduction in REDUCTIONS:
        np.testing.assert_allclose(
            L.cross_entropy(logits, target, reduction), L.nll_loss(L.log_softmax(logits), target, reduction)
        )
    np.testing.assert_allclose(np.exp(L.log_softmax(logits)).sum(axis=1), 1.0, rtol=1e-15)


def test_kinks_follow_pytorch() -> None:
    pred = np.array([1.0, 2.0, 0.0, 3.0])
    target = np.array([1.0, 1.0, 1.0, 1.0])  # diff 0, 1, -1, 2
    np.testing.assert_array_equal(L.l1_grad(pred, target, reduction="none"), [0.0, 1.0, -1.0, 1.0])
    # huber with delta 1: gradient clip(diff, -1, 1) is continuous, = +-delta at |diff| = delta
    np.testing.assert_array_equal(L.huber_grad(pred, target, reduction="none"), [0.0, 1.0, -1.0, 1.0])
    np.testing.assert_array_equal(L.huber(pred, target, reduction="none"), [0.0, 0.5, 0.5, 1.5])


def _loss_inputs(draw: st.DrawFn, name: str) -> tuple[np.ndarray, np.ndarray]:
    n, c = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    if name in ("cross_entropy", "nll"):
        pred = draw(arrays(np.float64, (n, c), elements=st.floats(-50, 50)))
        target = draw(arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    elif name == "binary_cross_entropy":
        pred = draw(arrays(np.float64, (n, c), elements=st.floats(0.0, 1.0)))
        target = draw(arrays(np.float64, (n, c), elements=st.floats(0.0, 1.0)))
    elif name == "binary_cross_entropy_with_logits":
        pred = draw(arrays(np.float64, (n, c), elements=st.floats(-1e3, 1e3)))
        target = draw(arrays(np.float64, (n, c), elements=st.floats(0.0, 1.0)))
    else:
        pred = draw(arrays(np.float64, (n, c), elements=st.floats(-1e3, 1e3)))
        target = draw(arrays(np.float64, (n, c), elements=st.floats(-1e3, 1e3)))
    return pred, target


@st.composite
def loss_cases(draw: st.DrawFn) -> tuple[str, np.ndarray, np.ndarray]:
    name = draw(st.sampled_from(sorted(L.LOSSES)))
    return (name, *_loss_inputs(draw, name))


@settings(max_examples=80, deadline=None)
@given(loss_cases())
def test_sum_and_mean_are_reductions_of_none(case: tuple[str, np.ndarray, np.ndarray]) -> None:
    name, pred, target = case
    loss = L.get_loss(name)
    per_item = loss.value(pred, target, reduction="none")
    expected_shape = (pred.shape[0],) if name in ("cross_entropy", "nll") else pred.shape
    assert per_item.shape == expected_shape
    total, mean = loss.value(pred, target, reduction="sum"), loss.value(pred, target, reduction="mean")
    np.testing.assert_allclose(total, per_item.sum(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mean, per_item.mean(), rtol=1e-12, atol=1e-12)
    grad_none = loss.gradient(pred, target, reduction="none")
    np.testing.assert_allclose(loss.gradient(pred, target, reduction="sum"), grad_none, rtol=1e-15)
    np.testing.assert_allclose(
        loss.gradient(pred, target, reduction="mean"), grad_none / per_item.size, rtol=1e-12, atol=1e-300
    )


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_cross_entropy_one_hot_probabilities_equal_index_targets(data: st.DataObject) -> None:
    n, c = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 5))
    logits = data.draw(arrays(np.float64, (n, c), elements=st.floats(-1e4, 1e4)))
    index = data.draw(arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    one_hot = np.eye(c)[index]
    for reduction in REDUCTIONS:
        with np.errstate(all="raise"):
            values = L.cross_entropy(logits, one_hot, reduction), L.cross_entropy(logits, index, reduction)
            grads = (
                L.cross_entropy_grad(logits, one_hot, reduction),
                L.cross_entropy_grad(logits, index, reduction),
            )
        np.testing.assert_allclose(*values, rtol=1e-15)
        np.testing.assert_allclose(*grads, rtol=1e-15, atol=1e-300)


@pytest.mark.parametrize("name", sorted(L.LOSSES))
def test_dtype_is_preserved(name: str) -> None:
    pred, target = _loss_inputs_fixed(name)
    loss = L.get_loss(name)
    for reduction in REDUCTIONS:
        assert loss.value(pred.astype(np.float32), target, reduction=reduction).dtype == np.float32
        assert loss.gradient(pred.astype(np.float32), target, reduction=reduction).dtype == np.float32
    assert loss.value(pred, target).shape == ()


def _loss_inputs_fixed(name: str) -> tuple[np.ndarray, np.ndarray]:
    if name in ("cross_entropy", "nll"):
        return np.array([[0.1, 0.2, 0.7], [0.3, 0.3, 0.4]]), np.array([2, 0])
    return np.array([[0.2, 0.9], [0.5, 0.1]]), np.array([[0.0, 1.0], [1.0, 0.0]])


@pytest.mark.parametrize("name", sorted(L.LOSSES))
def test_bad_reduction_and_shape_mismatch_raise(name: str) -> None:
    pred, target = _loss_inputs_fixed(name)
    loss = L.get_loss(name)
    for function in (loss.value, loss.gradient):
        with pytest.raises(ValueError, match="reduction must be one of mean, sum, none"):
            function(pred, target, reduction="avg")
        with pytest.raises(ValueError, match="shape"):
            function(pred, target[:1], reduction="mean")


@pytest.mark.parametrize("name", ["cross_entropy", "nll"])
def test_class_index_validation(name: str) -> None:
    loss = L.get_loss(name)
    logits = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"out of range \[0, 3\)"):
        loss.value(logits, np.array([0, 3]))
    with pytest.raises(ValueError, match="out of range"):
        loss.gradient(logits, np.array([-1, 0]))
    with pytest.raises(ValueError, match="whole numbers"):
        loss.value(logits, np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match=r"shape \(N, C\)"):
        loss.value(np.zeros(3), np.array([0]))
    whole_floats = loss.value(logits, np.array([1.0, 2.0]))
    np.testing.assert_array_equal(whole_floats, loss.value(logits, np.array([1, 2])))


def test_other_argument_errors() -> None:
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        L.binary_cross_entropy(np.array([1.5]), np.array([1.0]))
    with pytest.raises(ValueError, match="delta must be positive"):
        L.huber(np.zeros(2), np.zeros(2), delta=0.0)
    with pytest.raises(ValueError, match="unknown loss 'hinge'; known: mse"):
        L.get_loss("hinge")
    with pytest.raises(ValueError, match="no parameter"):
        L.get_loss("mse").params(delta=1.0)


def test_registry() -> None:
    assert set(L.LOSSES) == {
        "mse", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "nll", "l1",
        "huber",
    }
    kinds = {name: loss.target_kind for name, loss in L.LOSSES.items()}
    assert kinds["cross_entropy"] == "index_or_prob" and kinds["nll"] == "index"
    assert kinds["binary_cross_entropy"] == "binary" and kinds["mse"] == "real"
    assert L.get_loss("binary_cross_entropy").default_params == {
        "log_clamp": -100.0, "clip_eps": None, "grad_floor": L.BCE_GRAD_EPS, "sample_axis": None,
        "sum_outputs": False,
    }


def test_loss_metadata_and_target_draws() -> None:
    """Each loss's output layer and the target the suite draws for it live on the Loss (one home)."""
    outputs = {name: loss.output_activation for name, loss in L.LOSSES.items()}
    assert outputs["binary_cross_entropy"] == "sigmoid"
    assert {v for k, v in outputs.items() if k != "binary_cross_entropy"} == {"identity"}
    rng = np.random.default_rng(0)
    for loss in L.LOSSES.values():
        assert loss.drawn_target in L.TARGET_DRAWS
        target = loss.draw_target(rng, 6, 3)
        pred = rng.normal(size=(6, 3))
        if loss.output_activation == "sigmoid":
            pred = 1.0 / (1.0 + np.exp(-pred))
        assert np.isfinite(loss.value(pred, target))  # the drawn target is one the loss accepts
        if loss.drawn_target == "index":
            assert target.dtype == np.int64 and target.shape == (6,) and set(target) <= {0, 1, 2}
        elif loss.drawn_target == "binary":
            assert set(np.unique(target)) <= {0.0, 1.0} and target.shape == (6, 3)
    assert L.get_loss("binary_cross_entropy").fused_gradient is L.sigmoid_binary_cross_entropy_grad
