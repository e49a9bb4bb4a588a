"""The perceptron and the seeds' worked examples: AND, the update 3, 4, -10 -> 2.6, 3.5, -10.1, XOR,
zero initialization."""

from __future__ import annotations

import numpy as np
import pytest

from mlpbench.reference.model import init_params, predict
from mlpbench.reference.optim import SGD, Adam
from mlpbench.reference.perceptron import perceptron_update, step_output, train_perceptron
from mlpbench.reference.perceptron import predict as perceptron_predict
from mlpbench.reference.spec import MLPSpec
from mlpbench.reference.training import train

TRUTH_TABLE = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR = np.array([0.0, 1.0, 1.0, 0.0])


def test_and_perceptron_from_the_seed_classifies_the_truth_table():
    # weight1 = 1, weight2 = 1, bias = -1.2: only 1 + 1 - 1.2 >= 0
    outputs = step_output(np.array([1.0, 1.0]), -1.2, TRUTH_TABLE)
    np.testing.assert_array_equal(outputs, [0.0, 0.0, 0.0, 1.0])
    labels = perceptron_predict(np.array([1.0, 1.0]), -1.2, TRUTH_TABLE)
    np.testing.assert_array_equal(labels, [-1, -1, -1, 1])


def test_worked_update_moves_the_line_towards_the_misclassified_point():
    weights, bias = np.array([3.0, 4.0]), -10.0
    point = np.array([4.0, 5.0])
    assert perceptron_predict(weights, bias, point) == 1.0   # 12 + 20 - 10 >= 0, but the label is -1
    new_weights, new_bias = perceptron_update(weights, bias, point, -1.0, 0.1)
    np.testing.assert_allclose(new_weights, [2.6, 3.5], rtol=1e-15)
    assert new_bias == pytest.approx(-10.1, rel=1e-15)
    np.testing.assert_array_equal(weights, [3.0, 4.0])   # inputs untouched


def test_perceptron_converges_on_linearly_separable_data():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.0, 1.0, (200, 2))
    margin = x @ np.array([2.0, -1.0]) + 0.3
    keep = np.abs(margin) > 0.1                       # a margin guarantees finitely many mistakes (Novikoff)
    x, labels = x[keep], np.where(margin[keep] > 0, 1.0, -1.0)
    result = train_perceptron(x, labels, lr=0.1, max_epochs=1000)
    assert result.converged and result.errors_per_epoch[-1] == 0
    assert result.epochs == len(result.errors_per_epoch)
    assert result.errors_per_epoch[0] > 0
    np.testing.assert_array_equal(perceptron_predict(result.weights, result.bias, x), labels)


def test_perceptron_learns_and_from_zero():
    labels = np.array([-1.0, -1.0, -1.0, 1.0])
    result = train_perceptron(TRUTH_TABLE, labels, lr=0.1, max_epochs=100)
    assert result.converged
    np.testing.assert_array_equal(perceptron_predict(result.weights, result.bias, TRUTH_TABLE), labels)


def test_perceptron_cannot_separate_xor():
    labels = 2.0 * XOR - 1.0
    result = train_perceptron(TRUTH_TABLE, labels, lr=0.1, max_epochs=200)
    # no line separates XOR, so every epoch misclassifies (and updates on) at least one point
    assert not result.converged and result.epochs == 200
    assert min(result.errors_per_epoch) >= 1


def _train_xor(spec, params, optimizer, hyper, epochs):
    targets = XOR.reshape(-1, 1)
    return train(spec, params, TRUTH_TABLE, targets, loss="binary_cross_entropy", optimizer=optimizer,
                 hyper=hyper, epochs=epochs, batch_size=4, batch_orders=[np.arange(4)] * epochs)


def test_an_mlp_trained_by_the_oracle_classifies_xor():
    spec = MLPSpec((2, 4, 1), activation="tanh", output_activation="sigmoid")
    params = init_params(spec, np.random.default_rng(0))
    result = _train_xor(spec, params, "adam", Adam(lr=0.05), 600)
    probabilities = predict(spec, result.params, TRUTH_TABLE)[:, 0]
    np.testing.assert_array_equal(probabilities > 0.5, XOR.astype(bool))
    assert result.train_loss[-1] < 0.1 < result.train_loss[0]


def test_zero_initialization_keeps_the_hidden_units_identical():
    spec = MLPSpec((2, 4, 1), activation="sigmoid", output_activation="sigmoid")
    params = init_params(spec, np.random.default_rng(0), "zeros")
    # XOR with the point (1, 1) twice: on plain XOR the zero network's gradient cancels exactly
    x = np.vstack([TRUTH_TABLE, [[1.0, 1.0]]])
    targets = np.append(XOR, 0.0).reshape(-1, 1)
    result = train(spec, params, x, targets, loss="binary_cross_entropy", optimizer="sgd", hyper=SGD(lr=1.0),
                   epochs=300, batch_size=5, batch_orders=[np.arange(5)] * 300)
    w0, b0, w1, _ = result.params
    assert np.abs(w1).max() > 1e-3 and np.abs(w0).max() > 1e-3, "training must have moved the weights"
    # every hidden unit receives the same gradient, so the units stay copies of each other
    for row in range(1, 4):
        np.testing.assert_array_equal(w0[row], w0[0])
        assert b0[row] == b0[0] and w1[0, row] == w1[0, 0]
    # identical hidden units make a monotone function of one projection, which cannot represent XOR
    assert not np.array_equal(predict(spec, result.params, TRUTH_TABLE)[:, 0] > 0.5, XOR.astype(bool))
