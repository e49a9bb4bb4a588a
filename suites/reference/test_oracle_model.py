"""The oracle MLP's backward pass against central finite differences, and its conventions and layout."""

from __future__ import annotations

import numpy as np
import pytest

from mlpbench.reference.activations import gelu, softmax
from mlpbench.reference.conventions import PYTORCH, TEXTBOOK, Conventions
from mlpbench.reference.gradcheck import numerical_gradient, numerical_gradients, relative_error
from mlpbench.reference.layers import dense_backward, dense_forward
from mlpbench.reference.losses import get_loss
from mlpbench.reference.model import forward, init_params, loss_and_gradients, predict
from mlpbench.reference.spec import MLPSpec

GRAD_RTOL = 1e-6
BATCH = 5
DEPTHS = {1: (3, 4, 2), 2: (3, 4, 3, 2), 3: (3, 4, 3, 3, 2)}
SMOOTH = ["identity", "sigmoid", "tanh", "gelu", "gelu_tanh", "elu", "silu", "softplus"]
KINKED = ["relu", "leaky_relu"]
# loss -> (output activation, kind of target)
LOSS_SETUPS = {
    "mse": ("identity", "real"),
    "l1": ("identity", "real"),
    "huber": ("identity", "real"),
    "binary_cross_entropy": ("sigmoid", "binary"),
    "binary_cross_entropy_with_logits": ("identity", "binary"),
    "cross_entropy": ("identity", "index"),
    "nll": ("identity", "index"),
}


def _targets(kind: str, rng: np.random.Generator, n_out: int) -> np.ndarray:
    if kind == "real":
        return rng.normal(0.0, 2.0, (BATCH, n_out))
    if kind == "binary":
        return rng.uniform(0.0, 1.0, (BATCH, n_out))
    if kind == "prob":
        return softmax(rng.normal(size=(BATCH, n_out)))
    return rng.integers(0, n_out, BATCH)


def _setup(spec: MLPSpec, seed: int, kind: str):
    rng = np.random.default_rng(seed)
    params = init_params(spec, rng, "normal", std=0.8)
    params = [p + rng.normal(0.0, 0.3, p.shape) if p.ndim == 1 else p for p in params]   # non-zero biases
    x = rng.normal(size=(BATCH, spec.sizes[0]))
    return params, x, _targets(kind, rng, spec.sizes[-1])


def _min_abs_hidden_preactivation(spec, params, x, masks=None) -> float:
    cache = forward(spec, params, x, training=masks is not None, dropout_masks=masks)
    return min(float(np.min(np.abs(z))) for z in cache.pre_activations[:-1]) if spec.n_layers > 1 else np.inf


def _assert_gradients_match(spec, params, x, target, loss, masks=None, conventions=PYTORCH) -> None:
    training = masks is not None
    analytic = loss_and_gradients(
        spec, params, x, target, loss, training=training, dropout_masks=masks, conventions=conventions
    )

    def loss_of_params(ps):
        return loss_and_gradients(
            spec, ps, x, target, loss, training=training, dropout_masks=masks, conventions=conventions
        ).loss

    def loss_of_input(xs):
        return loss_and_gradients(
            spec, params, xs, target, loss, training=training, dropout_masks=masks, conventions=conventions
        ).loss

    numeric = numerical_gradients(loss_of_params, params)
    for name, a, n in zip(spec.param_names(), analytic.param_grads, numeric, strict=True):
        assert a.shape == n.shape, name
        error = relative_error(a, n)
        assert error < GRAD_RTOL, f"{spec.describe()} {loss}: {name} rel err {error}"
    input_error = relative_error(analytic.input_grad, numerical_gradient(loss_of_input, x))
    assert input_error < GRAD_RTOL, f"{spec.describe()} {loss}: input grad rel err {input_error}"


@pytest.mark.parametrize("depth", sorted(DEPTHS))
@pytest.mark.parametrize("activation", SMOOTH + KINKED)
def test_gradients_match_finite_differences_per_activation(activation, depth):
    spec = MLPSpec(DEPTHS[depth], activation=activation)
    for seed in range(50):   # for ReLU-like activations: the first seed with no pre-activation near a kink
        params, x, target = _setup(spec, seed, "index")
        if activation not in KINKED or _min_abs_hidden_preactivation(spec, params, x) > 1e-3:
            break
    _assert_gradients_match(spec, params, x, target, "cross_entropy")


@pytest.mark.parametrize("depth", sorted(DEPTHS))
@pytest.mark.parametrize("loss", sorted(LOSS_SETUPS))
def test_gradients_match_finite_differences_per_loss(loss, depth):
    output_activation, kind = LOSS_SETUPS[loss]
    spec = MLPSpec(DEPTHS[depth], activation="tanh", output_activation=output_activation)
    params, x, target = _setup(spec, 7 + depth, kind)
    _assert_gradients_match(spec, params, x, target, loss)


@pytest.mark.parametrize(
    ("output_activation", "loss", "kind"),
    [("softmax", "mse", "real"), ("softmax", "cross_entropy", "index"), ("identity", "cross_entropy", "prob"),
     ("sigmoid", "mse", "real")],
)
def test_gradients_with_other_output_activations_and_targets(output_activation, loss, kind):
    spec = MLPSpec((3, 5, 4), activation="silu", output_activation=output_activation)
    params, x, target = _setup(spec, 3, kind)
    _assert_gradients_match(spec, params, x, target, loss)


@pytest.mark.parametrize("depth", sorted(DEPTHS))
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_gradients_with_fixed_dropout_masks(activation, depth):
    spec = MLPSpec(DEPTHS[depth], activation=activation, dropout=0.4)
    rng = np.random.default_rng(100 + depth)
    for seed in range(50):
        params, x, target = _setup(spec, seed, "real")
        masks = [(rng.random((BATCH, w)) >= spec.dropout).astype(np.float64) for w in spec.hidden_sizes]
        if activation != "relu" or _min_abs_hidden_preactivation(spec, params, x, masks) > 1e-3:
            break
    _assert_gradients_match(spec, params, x, target, "mse", masks=masks)
    plain = loss_and_gradients(spec, params, x, target, "mse")
    dropped = loss_and_gradients(spec, params, x, target, "mse", training=True, dropout_masks=masks)
    assert not np.allclose(plain.loss, dropped.loss), "the masks must change the loss"


@pytest.mark.parametrize("conventions", [PYTORCH, TEXTBOOK], ids=lambda c: c.name)
@pytest.mark.parametrize(("activation", "loss"), [("gelu", "mse"), ("sigmoid", "binary_cross_entropy")])
def test_gradients_under_convention_profiles(conventions, activation, loss):
    output_activation = "sigmoid" if loss == "binary_cross_entropy" else "identity"
    spec = MLPSpec((3, 4, 2), activation=activation, output_activation=output_activation)
    params, x, target = _setup(spec, 11, "binary")
    _assert_gradients_match(spec, params, x, target, loss, conventions=conventions)


def test_conventions_reach_the_activation_and_the_loss():
    spec = MLPSpec((3, 4, 2), activation="gelu")
    params, x, target = _setup(spec, 5, "real")
    tanh_gelu = Conventions(gelu_approximate="tanh")
    hidden = dense_forward(x, params[0], params[1])
    exact = forward(spec, params, x).output
    approx = forward(spec, params, x, conventions=tanh_gelu).output
    np.testing.assert_allclose(exact, dense_forward(gelu(hidden), params[2], params[3]), rtol=1e-14)
    np.testing.assert_allclose(approx, dense_forward(gelu(hidden, "tanh"), params[2], params[3]), rtol=1e-14)
    assert not np.allclose(exact, approx, rtol=1e-9, atol=0)

    full = loss_and_gradients(spec, params, x, target, "mse").loss
    half = loss_and_gradients(spec, params, x, target, "mse", conventions=Conventions(mse_half=True)).loss
    np.testing.assert_allclose(half, 0.5 * full, rtol=1e-14)

    sigmoid_spec = MLPSpec((1, 1), output_activation="sigmoid")
    saturating = [np.array([[1.0]]), np.array([-1000.0])]   # p = sigmoid(-1000) = 0 in float64
    clamped = loss_and_gradients(sigmoid_spec, saturating, np.zeros((1, 1)), np.ones((1, 1)),
                                 "binary_cross_entropy").loss
    assert clamped == pytest.approx(100.0)   # PyTorch's log clamp: -max(log 0, -100) = 100
    with np.errstate(divide="ignore", invalid="ignore"):   # log 0 and its infinite gradient
        unclamped = loss_and_gradients(sigmoid_spec, saturating, np.zeros((1, 1)), np.ones((1, 1)),
                                       "binary_cross_entropy", conventions=Conventions(bce_log_clamp=None))
    assert unclamped.loss > 100.0


@pytest.mark.parametrize("grad_at_zero", [0.0, 1.0, 0.5])
def test_relu_gradient_at_exactly_zero_follows_the_convention(grad_at_zero):
    spec = MLPSpec((2, 2, 1), activation="relu")
    params = [np.array([[1.0, 0.0], [0.0, 0.0]]), np.zeros(2), np.array([[2.0, 3.0]]), np.zeros(1)]
    x = np.array([[0.0, 1.0]])   # both hidden pre-activations are exactly 0
    grads = loss_and_gradients(spec, params, x, np.full((1, 1), -1.0), "mse",
                               conventions=Conventions(relu_grad_at_zero=grad_at_zero))
    # dL/dy = 2 (y - t) = 2; dL/db0 = 2 * W1 * relu'(0)
    np.testing.assert_allclose(grads.param_grads[1], 2.0 * params[2][0] * grad_at_zero)


def test_backward_returns_pytorch_layout_in_parameter_order():
    spec = MLPSpec((4, 6, 5, 3), activation="tanh")
    params, x, target = _setup(spec, 2, "index")
    grads = loss_and_gradients(spec, params, x, target, "cross_entropy")
    assert [g.shape for g in grads.param_grads] == spec.param_shapes()
    assert grads.input_grad.shape == x.shape
    assert grads.output.shape == (BATCH, 3)


def test_dense_layer_formulas():
    rng = np.random.default_rng(0)
    x, weight, bias = rng.normal(size=(4, 3)), rng.normal(size=(2, 3)), rng.normal(size=2)
    y = dense_forward(x, weight, bias)
    expected = np.array([[sum(x[n, i] * weight[j, i] for i in range(3)) + bias[j] for j in range(2)]
                         for n in range(4)])
    np.testing.assert_allclose(y, expected, rtol=1e-14)
    g = rng.normal(size=(4, 2))
    grad_w, grad_b, grad_x = dense_backward(x, weight, g)
    np.testing.assert_allclose(grad_w, np.einsum("nj,ni->ji", g, x), rtol=1e-14)
    np.testing.assert_allclose(grad_b, g.sum(axis=0), rtol=1e-14)
    np.testing.assert_allclose(grad_x, np.einsum("nj,ji->ni", g, weight), rtol=1e-14)


def test_default_init_is_nn_linear_uniform_and_dtype_is_kept():
    spec = MLPSpec((50, 40, 3))
    params = init_params(spec, np.random.default_rng(0))
    shapes = spec.param_shapes()[::2]
    for (fan_out, fan_in), weight, bias in zip(shapes, params[::2], params[1::2], strict=True):
        bound = 1.0 / np.sqrt(fan_in)
        assert weight.shape == (fan_out, fan_in) and bias.shape == (fan_out,)
        assert np.all(np.abs(weight) <= bound) and np.all(np.abs(bias) <= bound)
        assert np.max(np.abs(weight)) > 0.9 * bound    # fills the interval, not a narrower one
    single = init_params(spec, np.random.default_rng(0), dtype=np.float32)
    assert all(p.dtype == np.float32 for p in single)
    out = predict(spec, single, np.ones((2, 50), np.float32))
    assert out.dtype == np.float32
    zero = init_params(spec, np.random.default_rng(0), "zeros")
    assert all(not p.any() for p in zero)


def test_reductions_sum_and_none_scale_the_gradient():
    spec = MLPSpec((3, 4, 2), activation="tanh")
    params, x, target = _setup(spec, 4, "real")
    mean = loss_and_gradients(spec, params, x, target, "mse", reduction="mean")
    total = loss_and_gradients(spec, params, x, target, "mse", reduction="sum")
    each = loss_and_gradients(spec, params, x, target, "mse", reduction="none")
    count = target.size
    np.testing.assert_allclose(total.loss, count * mean.loss, rtol=1e-13)
    assert each.loss.shape == target.shape
    for g_mean, g_sum, g_none in zip(mean.param_grads, total.param_grads, each.param_grads, strict=True):
        np.testing.assert_allclose(g_sum, count * g_mean, rtol=1e-12)
        np.testing.assert_allclose(g_none, g_sum, rtol=1e-12)


def test_loss_registry_objects_are_accepted():
    spec = MLPSpec((3, 4, 2))
    params, x, target = _setup(spec, 9, "index")
    by_name = loss_and_gradients(spec, params, x, target, "cross_entropy")
    by_object = loss_and_gradients(spec, params, x, target, get_loss("cross_entropy"))
    assert by_name.loss == by_object.loss
