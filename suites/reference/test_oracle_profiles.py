"""Convention profiles as data, proven against the libraries they describe.

`keras`: the oracle under the profile reproduces Keras 3's published golden numbers. Each number below is
copied from Keras's public tests, cited by file and test name (keras-team/keras, keras/src/...); the
tolerances are those the Keras tests themselves use (assertAllClose rtol = atol = 5e-4 for the optimizer
goldens, 1e-4 for single steps; keras.src.testing's assertAlmostEqual compares to 3 decimals, |diff| < 1.5e-3,
and is tightened here wherever the oracle allows). Keras's own
hyperparameter defaults (learning rate, epsilon, rho, ...) are passed explicitly, under PyTorch's names, as
any implementation hands them to the suite; the profile supplies only the conventions.

`optax`: the oracle under the profile follows optax's documented update rules (optax/_src/alias.py,
transform.py), re-derived here element by element in plain Python.

Neither library is imported.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlpbench.reference import losses as L
from mlpbench.reference.conventions import KERAS, OPTAX, PROFILES, PYTORCH, TEXTBOOK, Conventions
from mlpbench.reference.model import loss_params_for
from mlpbench.reference.optim import apply_conventions, get_optimizer, governed_fields, make_hyper

# Keras 3 optimizer defaults (keras/src/optimizers/<name>.py signatures), under PyTorch's names.
KERAS_DEFAULTS = {
    "adam": {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-7},
    "adamw": {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-7, "weight_decay": 0.004},
    "sgd": {"lr": 0.01, "momentum": 0.0},
    "rmsprop": {"lr": 0.001, "alpha": 0.9, "eps": 1e-7, "momentum": 0.0},
    "adagrad": {"lr": 0.001, "initial_accumulator_value": 0.1, "eps": 1e-7},
    "adadelta": {"lr": 0.001, "rho": 0.95, "eps": 1e-7},
}


def keras_hyper(name: str, **overrides):
    return make_hyper(name, KERAS, **{**KERAS_DEFAULTS[name], **overrides})


def keras_golden_run(name: str, steps: int = 5, **overrides) -> list[np.ndarray]:
    """The goldens' protocol: x = ones(10); one step on full(10, 0.01); then, 5 times, record x and step on
    arange(0.1, 1.1, 0.1)."""
    hyper, step = keras_hyper(name, **overrides), get_optimizer(name).step
    x, state = [np.ones(10)], {}
    x, state = step(x, [np.full(10, 0.01)], state, hyper)
    recorded = []
    for _ in range(steps):
        recorded.append(x[0].copy())
        x, state = step(x, [np.arange(1, 11) / 10.0], state, hyper)
    return recorded


# keras/src/optimizers/<file>::test_correctness_with_golden
KERAS_GOLDENS = {
    # adam_test.py::AdamTest::test_correctness_with_golden, Adam(amsgrad=True)
    "adam-amsgrad": ("adam", {"amsgrad": True}, np.tile([[0.999], [0.9982], [0.9974], [0.9965], [0.9955]], (1, 10))),
    # adamw_test.py::AdamWTest::test_correctness_with_golden, AdamW(learning_rate=1.0, weight_decay=0.5, epsilon=2)
    "adamw-epsilon2": ("adamw", {"lr": 1.0, "weight_decay": 0.5, "eps": 2.0}, np.array([
        [0.4998, 0.4998, 0.4998, 0.4998, 0.4998, 0.4998, 0.4998, 0.4998, 0.4998, 0.4998],
        [0.2486, 0.2475, 0.2463, 0.2451, 0.244, 0.2428, 0.2417, 0.2405, 0.2394, 0.2382],
        [0.1223, 0.1198, 0.1174, 0.1149, 0.1124, 0.11, 0.1075, 0.1051, 0.1027, 0.1003],
        [0.0586, 0.0549, 0.0512, 0.0475, 0.0439, 0.0402, 0.0366, 0.033, 0.0294, 0.0258],
        [0.0263, 0.0215, 0.0167, 0.012, 0.0073, 0.0026, -0.0021, -0.0067, -0.0113, -0.0159]])),
    # sgd_test.py::SGDTest::test_correctness_with_golden, SGD(nesterov=True) (momentum 0)
    "sgd-nesterov": ("sgd", {"nesterov": True}, np.array([
        [0.9999] * 10,
        [0.9989, 0.9979, 0.9969, 0.9959, 0.9949, 0.9939, 0.9929, 0.9919, 0.9909, 0.9899],
        [0.9979, 0.9959, 0.9939, 0.9919, 0.9899, 0.9879, 0.9859, 0.9839, 0.9819, 0.9799],
        [0.9969, 0.9939, 0.9909, 0.9879, 0.9849, 0.9819, 0.9789, 0.9759, 0.9729, 0.9699],
        [0.9959, 0.9919, 0.9879, 0.9839, 0.9799, 0.9759, 0.9719, 0.9679, 0.9639, 0.9599]])),
    # rmsprop_test.py::RMSpropTest::test_correctness_with_golden, RMSprop(centered=True)
    "rmsprop-centered": ("rmsprop", {"centered": True},
                         np.tile([[0.9967], [0.9933], [0.9908], [0.9885], [0.9864]], (1, 10))),
    # adagrad_test.py::AdagradTest::test_correctness_with_golden
    "adagrad": ("adagrad", {"lr": 0.2, "initial_accumulator_value": 0.3, "eps": 1e-6}, np.array([
        [0.9963] * 10,
        [0.9604, 0.9278, 0.9003, 0.8784, 0.8615, 0.8487, 0.8388, 0.8313, 0.8255, 0.8209],
        [0.9251, 0.8629, 0.8137, 0.7768, 0.7497, 0.7298, 0.7151, 0.704, 0.6956, 0.6891],
        [0.8903, 0.8012, 0.7342, 0.6862, 0.6521, 0.6277, 0.6099, 0.5967, 0.5867, 0.579],
        [0.856, 0.7422, 0.6604, 0.6037, 0.5644, 0.5367, 0.5168, 0.5021, 0.491, 0.4825]])),
    # adadelta_test.py::AdadeltaTest::test_correctness_with_golden, Adadelta(learning_rate=1.0, rho=0.8, eps=1e-6)
    "adadelta": ("adadelta", {"lr": 1.0, "rho": 0.8, "eps": 1e-6},
                 np.tile([[0.9978], [0.9947], [0.9915], [0.9882], [0.9849]], (1, 10))),
}


@pytest.mark.parametrize("case", sorted(KERAS_GOLDENS))
def test_keras_optimizer_goldens(case: str) -> None:
    name, overrides, golden = KERAS_GOLDENS[case]
    for step, x in enumerate(keras_golden_run(name, **overrides)):
        np.testing.assert_allclose(x, golden[step], rtol=5e-4, atol=5e-4, err_msg=f"{case}, row {step}")


def test_keras_adamw_epsilon2_golden_needs_epsilon_hat() -> None:
    """The epsilon = 2 golden separates the placements: neither PyTorch's nor the textbook's reaches it."""
    golden = KERAS_GOLDENS["adamw-epsilon2"][2]
    for placement in ("outside", "inside"):
        run = keras_golden_run("adamw", lr=1.0, weight_decay=0.5, eps=2.0, eps_placement=placement)
        assert np.max(np.abs(np.array(run) - golden)) > 0.1


# keras/src/optimizers/<file>::test_single_step: lr 0.5, grads [1, 6, 7, 2] on [1, 2, 3, 4]
KERAS_SINGLE_STEPS = {
    "adam": [0.5, 1.5, 2.5, 3.5],                    # adam_test.py::AdamTest::test_single_step
    "adamw": [0.4980, 1.4960, 2.494, 3.492],         # adamw_test.py::AdamWTest::test_single_step
    "sgd": [0.5, -1.0, -0.5, 3.0],                   # sgd_test.py::SGDTest::test_single_step
    "rmsprop": [-0.5811, 0.4189, 1.4189, 2.4189],    # rmsprop_test.py::RMSpropTest::test_single_step
    "adagrad": [0.5233, 1.5007, 2.5005, 3.5061],     # adagrad_test.py::AdagradTest::test_single_step
    "adadelta": [0.9993, 1.9993, 2.9993, 3.9993],    # adadelta_test.py::AdadeltaTest::test_single_step
}


@pytest.mark.parametrize("name", sorted(KERAS_SINGLE_STEPS))
def test_keras_single_steps(name: str) -> None:
    (x,), _ = get_optimizer(name).step(
        [np.array([1.0, 2.0, 3.0, 4.0])], [np.array([1.0, 6.0, 7.0, 2.0])], {}, keras_hyper(name, lr=0.5)
    )
    np.testing.assert_allclose(x, KERAS_SINGLE_STEPS[name], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd", "rmsprop", "adagrad", "adadelta"])
def test_keras_weight_decay(name: str) -> None:
    """<name>_test.py::test_weight_decay: three fresh optimizers (lr 1.0, weight_decay 0.004) each step var1 = 2.0
    once on a zero gradient: assertAlmostEqual(var1, 1.9760959, decimal=6). Keras decays every optimizer's
    weights decoupled, p <- p - lr wd p; the L2 form instead lets the adaptive ones move the weights by
    O(lr), far from the golden."""
    var1 = [np.array(2.0)]
    for _ in range(3):
        var1, _ = get_optimizer(name).step(var1, [np.array(0.0)], {}, keras_hyper(name, lr=1.0, weight_decay=0.004))
    assert abs(float(var1[0]) - 1.9760959) < 1.5e-6
    if name in ("rmsprop", "adagrad", "adadelta", "adam"):
        coupled = [np.array(2.0)]
        for _ in range(3):
            hyper = keras_hyper(name, lr=1.0, weight_decay=0.004, decoupled_weight_decay=False)
            coupled, _ = get_optimizer(name).step(coupled, [np.array(0.0)], {}, hyper)
        assert abs(float(coupled[0]) - 1.9760959) > 1e-3


# keras/src/losses/losses_test.py
Y_TRUE = np.array([[1.0, 9.0, 2.0], [-5.0, -2.0, 6.0]])
Y_PRED = np.array([[4.0, 8.0, 12.0], [8.0, 1.0, 3.0]])


def keras_loss(name: str, pred, target, reduction: str = "mean", **params):
    loss = L.get_loss(name)
    return loss.value(np.asarray(pred), np.asarray(target), reduction=reduction,
                      **loss_params_for(loss, KERAS, params))


def test_keras_mse_examples() -> None:
    # MeanSquaredErrorTest::test_unweighted
    assert keras_loss("mse", Y_PRED, Y_TRUE) == pytest.approx(49.5, abs=1e-7)
    # MeanSquaredErrorTest::test_no_reduction (sample_weight=2.3 scales each per-sample loss): one loss per sample
    np.testing.assert_allclose(2.3 * keras_loss("mse", Y_PRED, Y_TRUE, "none"), [84.3333, 143.3666], atol=1e-4)
    # MeanSquaredErrorTest::test_sum_reduction: the sum of the per-sample means, times 2.3
    assert 2.3 * keras_loss("mse", Y_PRED, Y_TRUE, "sum") == pytest.approx(227.69998, abs=1e-4)
    # PyTorch's convention sums the elements instead
    assert L.mse(Y_PRED, Y_TRUE, reduction="sum") == pytest.approx(297.0)


def test_keras_bce_examples() -> None:
    y_true = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype="float32")
    y_pred = np.array([[0.9, 0.1, 0.2], [0.3, 0.8, 0.1], [0.1, 0.2, 0.7]], dtype="float32")
    # BinaryCrossentropyTest::test_unweighted (assertAllClose: rtol = atol = 1e-6)
    np.testing.assert_allclose(keras_loss("binary_cross_entropy", y_pred, y_true), 0.20046903, rtol=1e-6, atol=1e-6)
    # same test: p = 1 on the wrong class is clipped to float32(1 - 1e-7), costing -log(1.19e-7) = 15.94, not 100
    y_true = np.array([1, 0, 1, 0], dtype="float32").reshape([2, 2])
    y_pred = np.array([1, 1, 1, 0], dtype="float32").reshape([2, 2])
    assert keras_loss("binary_cross_entropy", y_pred, y_true) == pytest.approx(3.98559, abs=1e-5)
    # BinaryCrossentropyTest::test_scalar_weighted: 2.3 times the same
    assert 2.3 * keras_loss("binary_cross_entropy", y_pred, y_true) == pytest.approx(9.1668, abs=1e-4)
    # same tests, from logits
    y_true = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    logits = np.array([[10.0, -10.0, 10.0], [10.0, 10.0, -10.0]])
    assert keras_loss("binary_cross_entropy_with_logits", logits, y_true) == pytest.approx(3.3333, abs=1e-4)
    # BinaryCrossentropyTest::test_no_reduction: one loss per sample (assertAllClose atol=1e-3)
    np.testing.assert_allclose(keras_loss("binary_cross_entropy_with_logits", logits, y_true, "none"),
                               [0.0, 6.666], atol=1e-3)


def test_keras_bce_clip_has_zero_gradient_outside() -> None:
    p, t = np.array([0.0, 1e-8, 0.5, 1.0]), np.array([1.0, 1.0, 1.0, 0.0])
    loss = L.get_loss("binary_cross_entropy")
    grad = loss.gradient(p, t, reduction="none", **loss_params_for(loss, KERAS, {"sample_axis": None}))
    np.testing.assert_array_equal(grad[[0, 1, 3]], 0.0)
    assert grad[2] == pytest.approx(-2.0)


def test_keras_categorical_crossentropy_examples() -> None:
    # CategoricalCrossentropyTest::test_unweighted and test_no_reduction, from logits with one-hot targets
    y_true = np.eye(3)
    logits = np.array([[8.0, 1.0, 1.0], [0.0, 9.0, 1.0], [2.0, 3.0, 5.0]])
    assert keras_loss("cross_entropy", logits, y_true) == pytest.approx(0.0573, abs=1e-4)
    np.testing.assert_allclose(keras_loss("cross_entropy", logits, y_true, "none"),
                               (0.001822, 0.000459, 0.169846), rtol=1e-6, atol=1e-6)
    # CategoricalCrossentropyTest::test_scalar_weighted
    assert 2.3 * keras_loss("cross_entropy", logits, y_true) == pytest.approx(0.1317, abs=1.5e-3)


@pytest.mark.parametrize("delta", [1.0, 0.8])
def test_keras_huber_examples(delta: float) -> None:
    """HuberLossTest::test_unweighted and test_non_default_delta: the expected value is Keras's own formula,
    0.5 min(|e|, d)^2 + d (|e| - min(|e|, d)), summed and divided by the batch size 6 (3 places)."""
    y_pred = np.array([[0.9, 0.2, 0.2], [0.8, 0.4, 0.6]])
    y_true = np.array([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    abs_error = np.abs(y_pred - y_true)
    quadratic = np.minimum(abs_error, delta)
    expected = np.sum(0.5 * quadratic * quadratic + delta * (abs_error - quadratic)) / 6
    assert keras_loss("huber", y_pred, y_true, delta=delta) == pytest.approx(expected, abs=5e-4)
    assert 2.3 * keras_loss("huber", y_pred, y_true, delta=delta) == pytest.approx(2.3 * expected, abs=5e-4)


# ---------------------------------------------------------------------------------------------------------
# optax: the documented update rules (optax/_src/transform.py: scale_by_adam, scale_by_rms, scale_by_stddev,
# scale_by_rss, trace; optax/_src/alias.py: adam, adamw, rmsprop, adagrad, sgd), one element at a time
# ---------------------------------------------------------------------------------------------------------


def optax_adam(p, grads, lr, b1, b2, eps, eps_root, weight_decay=None):
    """scale_by_adam: mu, nu moments; mu_hat = mu / (1 - b1^t), nu_hat = nu / (1 - b2^t);
    u = mu_hat / (sqrt(nu_hat + eps_root) + eps); adamw adds weight_decay * p (add_decayed_weights); p -= lr u."""
    mu = nu = 0.0
    for t, g in enumerate(grads, start=1):
        mu = (1 - b1) * g + b1 * mu
        nu = (1 - b2) * g * g + b2 * nu
        u = (mu / (1 - b1**t)) / (math.sqrt(nu / (1 - b2**t) + eps_root) + eps)
        if weight_decay is not None:
            u += weight_decay * p
        p -= lr * u
    return p


def optax_rmsprop(p, grads, lr, decay, eps, initial_scale, centered, momentum, nesterov, bias_correction):
    """scale_by_rms / scale_by_stddev with eps_in_sqrt=True: nu starts at initial_scale, u = g rsqrt(nu_hat
    (- mu_hat^2) + eps), hats divided by 1 - decay^t with bias_correction; then -lr, then trace(momentum,
    nesterov): t <- u + momentum t, u <- u + momentum t (nesterov) or t."""
    mu, nu, trace = 0.0, initial_scale, 0.0
    for t, g in enumerate(grads, start=1):
        nu = (1 - decay) * g * g + decay * nu
        mu = (1 - decay) * g + decay * mu
        c = 1 - decay**t if bias_correction else 1.0
        v = nu / c - (mu / c) ** 2 if centered else nu / c
        u = g / math.sqrt(v + eps)
        if momentum:
            trace = u + momentum * trace
            u = u + momentum * trace if nesterov else trace
        p -= lr * u
    return p


def optax_adagrad(p, grads, lr, initial, eps):
    """scale_by_rss: sum += g^2; u = where(sum > 0, rsqrt(sum + eps), 0) g; p -= lr u."""
    total = initial
    for g in grads:
        total += g * g
        u = g / math.sqrt(total + eps) if total > 0 else 0.0
        p -= lr * u
    return p


GRADS = [0.3, -1.2, 0.05, 2.0, -0.4]


def _oracle_run(name: str, conventions: Conventions, grads=GRADS, p0: float = 0.7, **hyper) -> float:
    h, step = make_hyper(name, conventions, **hyper), get_optimizer(name).step
    x, state = [np.array([p0])], {}
    for g in grads:
        x, state = step(x, [np.array([g])], state, h)
    return float(x[0][0])


@pytest.mark.parametrize("eps_root", [0.0, 1e-3])
def test_optax_adam_and_adamw(eps_root: float) -> None:
    kw = {"lr": 0.05, "betas": (0.8, 0.95), "eps": 1e-3, "eps_root": eps_root}
    assert _oracle_run("adam", OPTAX, **kw) == pytest.approx(
        optax_adam(0.7, GRADS, 0.05, 0.8, 0.95, 1e-3, eps_root), rel=1e-13)
    assert _oracle_run("adamw", OPTAX, weight_decay=0.1, **kw) == pytest.approx(
        optax_adam(0.7, GRADS, 0.05, 0.8, 0.95, 1e-3, eps_root, weight_decay=0.1), rel=1e-13)


@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.5])
@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("bias_correction", [False, True])
@pytest.mark.parametrize("initial_scale", [0.0, 0.2])
def test_optax_rmsprop(centered, momentum, nesterov, bias_correction, initial_scale) -> None:
    got = _oracle_run("rmsprop", OPTAX, lr=0.01, alpha=0.9, eps=1e-3, centered=centered, momentum=momentum,
                      nesterov=nesterov, bias_correction=bias_correction, initial_scale=initial_scale)
    want = optax_rmsprop(0.7, GRADS, 0.01, 0.9, 1e-3, initial_scale, centered, momentum, nesterov, bias_correction)
    assert got == pytest.approx(want, rel=1e-13)


def test_optax_adagrad() -> None:
    """optax.adagrad(lr, initial_accumulator_value=0.1, eps=1e-7): the profile's initial value and placement."""
    assert _oracle_run("adagrad", OPTAX, lr=0.1, eps=1e-7) == pytest.approx(
        optax_adagrad(0.7, GRADS, 0.1, 0.1, 1e-7), rel=1e-13)
    # where(sum > 0, ...): a zero sum with eps = 0 gives no move (1 / sqrt(0) would make it NaN)
    assert _oracle_run("adagrad", OPTAX, grads=[0.0, 0.0], lr=0.1, eps=0.0, initial_accumulator_value=0.0) == 0.7


def test_optax_sgd_nesterov_without_momentum_is_plain_sgd() -> None:
    assert _oracle_run("sgd", OPTAX, lr=0.1, nesterov=True) == pytest.approx(0.7 - 0.1 * sum(GRADS), rel=1e-14)
    with pytest.raises(ValueError, match="requires a momentum"):
        make_hyper("sgd", PYTORCH, lr=0.1, nesterov=True)


# ---------------------------------------------------------------------------------------------------------
# Profiles as data: one table, one lookup, explicit values win
# ---------------------------------------------------------------------------------------------------------


def test_profiles_table() -> None:
    assert set(PROFILES) == {"pytorch", "textbook", "keras", "optax", "sklearn", "mlx"}
    assert PROFILES["pytorch"] == Conventions()
    for profile in PROFILES.values():
        assert Conventions.from_dict(profile.to_dict()) == profile
    assert KERAS.optimizer_defaults("adam")["eps_placement"] == "hat"
    assert KERAS.optimizer_defaults("rmsprop")["eps_placement"] == "inside"
    assert OPTAX.optimizer_defaults("adam")["eps_placement"] == "outside"
    assert TEXTBOOK.optimizer_defaults("adagrad")["eps_placement"] == "inside"
    assert PYTORCH.optimizer_defaults("sgd")["decoupled_weight_decay"] is False
    assert KERAS.optimizer_defaults("sgd")["decoupled_weight_decay"] is True


def test_from_dict_accepts_the_former_single_switch() -> None:
    profile = Conventions.from_dict({"name": "x", "eps_inside_sqrt": True, "eps_placement": {"adam": "hat"}})
    assert profile.eps_placement == {"adam": "hat", "adamw": "inside", "rmsprop": "inside", "adagrad": "inside"}
    with pytest.raises(ValueError, match="unknown convention keys"):
        Conventions.from_dict({"eps_everywhere": True})
    with pytest.raises(ValueError, match="eps_placement"):
        Conventions(eps_placement={"sgd": "inside"})


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta"])
def test_an_explicit_hyperparameter_beats_the_profile(profile: str, name: str) -> None:
    conventions = PROFILES[profile]
    for key, value in conventions.optimizer_defaults(name).items():
        if key not in governed_fields(name):
            continue
        other = {"eps_placement": "outside" if value != "outside" else "inside", "eps_root": 0.5,
                 "decoupled_weight_decay": not value, "initial_accumulator_value": 0.0 if value else 0.25,
                 "nesterov_zero_momentum": not value, "dampening_first_step": not value}[key]
        assert getattr(make_hyper(name, conventions, **{key: other}), key) == other
        assert getattr(apply_conventions(make_hyper(name, **{key: other}), conventions), key) == other
        assert getattr(make_hyper(name, conventions), key) == value


def test_loss_profile_choices_and_explicit_loss_params() -> None:
    bce = L.get_loss("binary_cross_entropy")
    assert loss_params_for(bce, KERAS, {})["clip_eps"] == 1e-7
    assert loss_params_for(bce, KERAS, {"clip_eps": None})["clip_eps"] is None
    assert loss_params_for(bce, PYTORCH, {})["grad_floor"] == L.BCE_GRAD_EPS
    assert loss_params_for(L.get_loss("mse"), TEXTBOOK, {})["half"] is True
    assert "sample_axis" not in loss_params_for(L.get_loss("cross_entropy"), KERAS, {})


def test_sklearn_alpha_is_a_penalty_on_the_weights_in_the_loss() -> None:
    """One SGD step on one batch of n samples under the sklearn profile, against scikit-learn's _backprop
    written out: loss + 0.5 alpha sum ||W||^2 / n; W <- W - lr (dL/dW + alpha W / n); the biases without decay."""
    from mlpbench.reference.conventions import SKLEARN
    from mlpbench.reference.model import loss_and_gradients
    from mlpbench.reference.spec import MLPSpec
    from mlpbench.reference.training import train

    rng = np.random.default_rng(18)
    spec = MLPSpec((3, 4, 2), activation="relu")
    params = [rng.normal(size=shape) for shape in spec.param_shapes()]
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    alpha, lr, n = 0.3, 0.1, len(x)
    plain = loss_and_gradients(spec, params, x, y, "mse", conventions=SKLEARN)
    penalty = 0.5 * alpha * sum(float(np.sum(w * w)) for w in params[0::2]) / n
    expected = [p - lr * (g + (alpha / n) * p if i % 2 == 0 else g)
                for i, (p, g) in enumerate(zip(params, plain.param_grads, strict=True))]
    result = train(spec, params, x, y, loss="mse", optimizer="sgd", hyper=make_hyper("sgd", lr=lr, weight_decay=alpha),
                   epochs=1, batch_size=n, batch_orders=[np.arange(n)], conventions=SKLEARN)
    assert result.train_loss[0] == pytest.approx(float(plain.loss) + penalty, rel=1e-15)
    for got, want in zip(result.params, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-15, atol=1e-16)
    bare = apply_conventions(make_hyper("sgd", lr=lr, weight_decay=alpha), SKLEARN)
    assert bare.weight_decay == 0.0  # a bare optimizer step applies none: it is the loss's
    assert apply_conventions(make_hyper("adamw", weight_decay=alpha), SKLEARN).weight_decay == alpha
