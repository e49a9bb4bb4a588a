"""The oracle's training loops: closed forms, batch orders, epoch losses, early stopping, the fast step."""

from __future__ import annotations

import numpy as np
import pytest

from mlpbench.reference.early_stopping import EarlyStopping
from mlpbench.reference.linear_models import linear_regression_spec, normal_equation
from mlpbench.reference.losses import get_loss
from mlpbench.reference.model import init_params, loss_and_gradients
from mlpbench.reference.optim import SGD, Adam, get_optimizer
from mlpbench.reference.spec import MLPSpec
from mlpbench.reference.training import (
    TrainingStep,
    batches,
    gradient_descent,
    make_batch_orders,
    train,
)


def _regression(n: int = 40, n_in: int = 3, n_out: int = 1, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_in))
    true_w = rng.normal(size=(n_out, n_in))
    y = x @ true_w.T + 0.5 + 0.1 * rng.normal(size=(n, n_out))
    return x, y


def test_gradient_descent_on_linear_regression_reaches_the_normal_equation_solution():
    x, y = _regression(n=200, n_in=3, n_out=2)
    spec = linear_regression_spec(3, 2)
    weight, bias = normal_equation(x, y)
    # MSE (mean over N * out entries) has Hessian 2 X~^T X~ / (N out) per output; step 1/lambda_max converges.
    design = np.hstack([x, np.ones((len(x), 1))])
    eigenvalues = np.linalg.eigvalsh(2.0 * design.T @ design / y.size)
    start = [np.zeros((2, 3)), np.zeros(2)]
    result = gradient_descent(spec, start, x, y, loss="mse", lr=1.0 / eigenvalues[-1], steps=400)
    np.testing.assert_allclose(result.params[0], weight, atol=1e-6)
    np.testing.assert_allclose(result.params[1], bias, atol=1e-6)
    assert not start[0].any(), "the starting params must not be modified"
    assert result.epochs_run == 400 and np.all(np.diff(result.train_loss) <= 1e-15)


def test_normal_equation_solves_the_least_squares_problem():
    x, y = _regression(n=30, n_in=2)
    weight, bias = normal_equation(x, y[:, 0])
    residual = x @ weight.T + bias - y
    design = np.hstack([x, np.ones((30, 1))])
    np.testing.assert_allclose(design.T @ residual, 0.0, atol=1e-10)   # normal equations X~^T r = 0
    assert weight.shape == (1, 2) and bias.shape == (1,)


def test_batches_are_consecutive_slices_and_orders_are_permutations():
    order = np.array([4, 2, 0, 1, 3])
    assert [b.tolist() for b in batches(order, 2)] == [[4, 2], [0, 1], [3]]
    orders = make_batch_orders(7, 3, seed=5)
    assert len(orders) == 3 and all(sorted(o.tolist()) == list(range(7)) for o in orders)
    assert any((a != b).any() for a, b in zip(orders, orders[1:], strict=False))
    np.testing.assert_array_equal(orders[1], make_batch_orders(7, 3, seed=5)[1])


def _classification_problem():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(10, 3))
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    spec = MLPSpec((3, 5, 2), activation="tanh")
    return spec, init_params(spec, np.random.default_rng(4)), x, y


def test_given_batch_orders_are_honoured_and_reproduce_bitwise():
    spec, params, x, y = _classification_problem()
    orders = make_batch_orders(len(x), 3, seed=1)
    kwargs = dict(loss="cross_entropy", optimizer="adam", hyper=Adam(lr=0.05), epochs=3, batch_size=4)
    first = train(spec, params, x, y, batch_orders=orders, **kwargs)
    again = train(spec, params, x, y, batch_orders=[o.copy() for o in orders], **kwargs)
    for a, b in zip(first.params, again.params, strict=True):
        np.testing.assert_array_equal(a, b)
    assert first.train_loss == again.train_loss
    from_seed = train(spec, params, x, y, seed=1, **kwargs)
    for a, b in zip(first.params, from_seed.params, strict=True):
        np.testing.assert_array_equal(a, b)
    permuted = train(spec, params, x, y, batch_orders=[o[::-1].copy() for o in orders], **kwargs)
    assert any(not np.array_equal(a, b) for a, b in zip(first.params, permuted.params, strict=True))


def test_one_epoch_equals_the_batches_applied_by_hand_in_the_given_order():
    spec, params, x, y = _classification_problem()
    order = np.array([3, 9, 0, 7, 1, 5, 2, 8, 6, 4])
    hyper = SGD(lr=0.1, momentum=0.9)
    result = train(spec, params, x, y, loss="cross_entropy", optimizer="sgd", hyper=hyper, epochs=1,
                   batch_size=4, batch_orders=[order])
    manual, velocity, losses = [p.copy() for p in params], None, []
    for batch in (order[:4], order[4:8], order[8:]):
        step = loss_and_gradients(spec, manual, x[batch], y[batch], "cross_entropy")
        losses.append((float(step.loss), len(batch)))
        # torch SGD with momentum: v = g (first step) else 0.9 v + g; p -= lr v
        velocity = ([g.copy() for g in step.param_grads] if velocity is None
                    else [0.9 * v + g for v, g in zip(velocity, step.param_grads, strict=True)])
        manual = [p - 0.1 * v for p, v in zip(manual, velocity, strict=True)]
    for a, b in zip(result.params, manual, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    weighted = sum(value * size for value, size in losses) / len(x)
    assert result.train_loss == [pytest.approx(weighted, rel=1e-13)]
    unweighted = np.mean([value for value, _ in losses])
    assert abs(weighted - unweighted) > 1e-6, "batch sizes 4, 4, 2 must make the weighting matter"


def test_train_loss_and_val_loss_per_epoch_are_recomputable():
    spec, params, x, y = _classification_problem()
    x_val, y_val = x[:4] + 0.1, y[:4]
    orders = make_batch_orders(len(x), 2, seed=2)
    result = train(spec, params, x, y, loss="cross_entropy", optimizer="adam", hyper=Adam(lr=0.1), epochs=2,
                   batch_size=3, batch_orders=orders, x_val=x_val, y_val=y_val)
    current, state, optimizer = [p.copy() for p in params], {}, get_optimizer("adam")
    for epoch, order in enumerate(orders):
        total = 0.0
        for batch in batches(order, 3):
            step = loss_and_gradients(spec, current, x[batch], y[batch], "cross_entropy")
            total += float(step.loss) * len(batch)
            current, state = optimizer.step(current, step.param_grads, state, Adam(lr=0.1))
        assert result.train_loss[epoch] == pytest.approx(total / len(x), rel=1e-13)
        val = loss_and_gradients(spec, current, x_val, y_val, "cross_entropy").loss
        assert result.val_loss[epoch] == pytest.approx(float(val), rel=1e-13)
    assert result.epochs_run == 2 and result.best_epoch is None and result.stopped_epoch is None


def _diverging_validation():
    """Full-batch GD on y = 2x from w = 0 moves w monotonically 0 -> 2; validation targets y = x, so the val
    loss (w - 1)^2 mean(x^2) falls while w < 1 and rises after."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 1))
    spec = MLPSpec((1, 1))
    params = [np.zeros((1, 1)), np.zeros(1)]
    orders = [np.arange(20)] * 40
    common = dict(loss="mse", optimizer="sgd", hyper=SGD(lr=0.05), batch_size=20, x_val=x, y_val=x)
    return spec, params, x, 2.0 * x, orders, common


def _expected_early_stop(values, patience, min_delta):
    best, best_epoch, wait = np.inf, None, 0
    for epoch, value in enumerate(values):
        if value < best - min_delta:
            best, best_epoch, wait = value, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return best_epoch, epoch
    return best_epoch, None


@pytest.mark.parametrize(("patience", "min_delta"), [(1, 0.0), (3, 0.0), (2, 0.05)])
def test_early_stopping_stops_after_patience_and_restores_the_best_weights(patience, min_delta):
    spec, params, x, y, orders, common = _diverging_validation()
    full = train(spec, params, x, y, epochs=40, batch_orders=orders, **common)
    values = full.val_loss
    assert np.argmin(values) not in (0, len(values) - 1), "the val loss must fall, then rise"
    best_epoch, stopped_epoch = _expected_early_stop(values, patience, min_delta)
    assert stopped_epoch is not None

    stopping = EarlyStopping(patience=patience, min_delta=min_delta)
    result = train(spec, params, x, y, epochs=40, batch_orders=orders, early_stopping=stopping, **common)
    assert (result.best_epoch, result.stopped_epoch) == (best_epoch, stopped_epoch)
    assert result.epochs_run == stopped_epoch + 1
    assert result.val_loss == values[: stopped_epoch + 1]
    up_to_best = train(spec, params, x, y, epochs=best_epoch + 1, batch_orders=orders, **common)
    for a, b in zip(result.params, up_to_best.params, strict=True):
        np.testing.assert_array_equal(a, b)

    keep_last = train(spec, params, x, y, epochs=40, batch_orders=orders, **common,
                      early_stopping=EarlyStopping(patience=patience, min_delta=min_delta,
                                                   restore_best_weights=False))
    last = train(spec, params, x, y, epochs=stopped_epoch + 1, batch_orders=orders, **common)
    for a, b in zip(keep_last.params, last.params, strict=True):
        np.testing.assert_array_equal(a, b)


def test_min_delta_changes_what_counts_as_an_improvement():
    spec, params, x, y, orders, common = _diverging_validation()
    values = train(spec, params, x, y, epochs=40, batch_orders=orders, **common).val_loss
    without = _expected_early_stop(values, 2, 0.0)
    with_delta = _expected_early_stop(values, 2, 0.05)
    assert without != with_delta, "the constructed case must separate the two semantics"
    result = train(spec, params, x, y, epochs=40, batch_orders=orders, **common,
                   early_stopping=EarlyStopping(patience=2, min_delta=0.05))
    assert (result.best_epoch, result.stopped_epoch) == with_delta


def test_early_stopping_on_a_flat_train_loss_stops_at_epoch_patience():
    spec, params, x, y = _classification_problem()
    result = train(spec, params, x, y, loss="cross_entropy", optimizer="sgd", hyper=SGD(lr=0.0), epochs=20,
                   batch_size=5, seed=0, early_stopping=EarlyStopping(monitor="train_loss", patience=4))
    # lr = 0: every epoch has the same loss, so epoch 0 is best and epochs 1..4 each add one to the wait
    assert (result.best_epoch, result.stopped_epoch, result.epochs_run) == (0, 4, 5)


def test_training_inputs_are_not_modified_and_dropout_training_is_reproducible():
    spec = MLPSpec((3, 6, 2), activation="relu", dropout=0.5)
    params = init_params(spec, np.random.default_rng(0))
    before = [p.copy() for p in params]
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(12, 3)), rng.integers(0, 2, 12)
    kwargs = dict(loss="cross_entropy", optimizer="adam", epochs=2, batch_size=4, seed=3)
    first = train(spec, params, x, y, dropout_rng=np.random.default_rng(9), **kwargs)
    second = train(spec, params, x, y, dropout_rng=np.random.default_rng(9), **kwargs)
    other = train(spec, params, x, y, dropout_rng=np.random.default_rng(10), **kwargs)
    for a, b in zip(params, before, strict=True):
        np.testing.assert_array_equal(a, b)
    assert first.train_loss == second.train_loss and first.train_loss != other.train_loss
    with pytest.raises(ValueError, match="dropout_rng"):
        train(spec, params, x, y, **kwargs)


@pytest.mark.parametrize(
    ("spec", "loss", "optimizer"),
    [
        (MLPSpec((6, 8, 5, 3), activation="relu"), "cross_entropy", "adam"),
        (MLPSpec((6, 8, 5, 3), activation="tanh"), "cross_entropy", "sgd"),
        (MLPSpec((6, 7, 2), activation="gelu"), "mse", "adam"),
        (MLPSpec((6, 4, 4, 1), output_activation="sigmoid"), "binary_cross_entropy", "rmsprop"),
    ],
    ids=lambda v: v.describe() if isinstance(v, MLPSpec) else str(v),
)
def test_fast_training_step_equals_the_reference_functions(spec, loss, optimizer):
    rng = np.random.default_rng(0)
    params = init_params(spec, rng)
    fast_params = [p.copy() for p in params]
    step = TrainingStep(spec, loss=loss, optimizer=optimizer)
    entry, state = get_optimizer(optimizer), {}
    hyper = entry.hyper_class()
    for batch_size in (7, 7, 3, 7):   # a second batch size uses a second workspace
        x = rng.normal(size=(batch_size, spec.sizes[0]))
        if loss == "cross_entropy":
            target = rng.integers(0, spec.sizes[-1], batch_size)
        elif loss == "mse":
            target = rng.normal(size=(batch_size, spec.sizes[-1]))
        else:
            target = rng.integers(0, 2, (batch_size, 1)).astype(np.float64)
        reference = loss_and_gradients(spec, params, x, target, loss)
        fast_loss = step(fast_params, x, target)
        assert fast_loss == pytest.approx(float(reference.loss), rel=1e-12)
        for name, a, b in zip(spec.param_names(), step.grads, reference.param_grads, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=name)
        params, state = entry.step(params, reference.param_grads, state, hyper)
        for name, a, b in zip(spec.param_names(), fast_params, params, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=name)
    assert state["step"] == step.state["step"] == 4


def test_fast_training_step_with_probability_targets_uses_the_reference_loss():
    spec = MLPSpec((4, 6, 3))
    rng = np.random.default_rng(2)
    params = init_params(spec, rng)
    x = rng.normal(size=(5, 4))
    target = rng.dirichlet(np.ones(3), 5)
    step = TrainingStep(spec, loss="cross_entropy", optimizer="sgd")
    value = step.gradients(params, x, target)
    reference = loss_and_gradients(spec, params, x, target, "cross_entropy")
    assert value == pytest.approx(float(reference.loss), rel=1e-12)
    for a, b in zip(step.grads, reference.param_grads, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("profile", ["keras", "optax", "textbook"])
@pytest.mark.parametrize(
    ("spec", "loss", "optimizer"),
    [
        (MLPSpec((6, 8, 5, 3), activation="relu"), "cross_entropy", "adam"),
        (MLPSpec((6, 4, 4, 1), activation="gelu", output_activation="sigmoid"), "binary_cross_entropy", "adagrad"),
        (MLPSpec((6, 7, 2), activation="tanh"), "mse", "rmsprop"),
    ],
    ids=lambda v: v.describe() if isinstance(v, MLPSpec) else str(v),
)
def test_fast_training_step_equals_the_reference_functions_under_each_profile(profile, spec, loss, optimizer):
    from mlpbench.reference.conventions import PROFILES
    from mlpbench.reference.optim import make_hyper

    conventions = PROFILES[profile]
    rng = np.random.default_rng(1)
    params = init_params(spec, rng)
    fast_params = [p.copy() for p in params]
    hyper = make_hyper(optimizer, conventions, weight_decay=0.01)
    step = TrainingStep(spec, loss=loss, optimizer=optimizer, hyper=hyper, conventions=conventions)
    entry, state = get_optimizer(optimizer), {}
    for _ in range(3):
        x = rng.normal(size=(7, spec.sizes[0]))
        target = get_loss(loss).draw_target(rng, 7, spec.sizes[-1])
        reference = loss_and_gradients(spec, params, x, target, loss, conventions=conventions)
        assert step(fast_params, x, target) == pytest.approx(float(reference.loss), rel=1e-12)
        params, state = entry.step(params, reference.param_grads, state, hyper)
        for name, a, b in zip(spec.param_names(), fast_params, params, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=name)
