"""Self-checks of the oracle's optimizers (reference/optim), without PyTorch.

The main proof is an independent scalar re-derivation: every optimizer and every option combination is
re-implemented below with plain Python floats, one element at a time, from the documented formulas (the
textbook forms: Adam with m_hat / (sqrt(v_hat) + eps), ...), and the vectorised oracle must agree over several
steps. Closed forms (first steps, constant gradients) pin down the constants independently again.
"""

from __future__ import annotations

import copy
import itertools
import math
import os
import threading

import numpy as np
import pytest

from mlpbench.reference.conventions import PYTORCH, TEXTBOOK
from mlpbench.reference.optim import (
    OPTIMIZERS,
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    AdamW,
    RMSprop,
    adadelta,
    adagrad,
    adam,
    adamw,
    apply_conventions,
    get_optimizer,
    limit_threads,
    make_hyper,
    public_state,
    rmsprop,
    sgd,
)
from mlpbench.reference.optim import _chunks as chunks

SHAPES = [(3, 2), (4,)]


def _params(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in SHAPES]


def _grad_sequence(steps: int, seed: int = 1) -> list[list[np.ndarray]]:
    """Gradients whose scale changes from step to step (large, small, ...), so max/avg buffers matter."""
    rng = np.random.default_rng(seed)
    scales = [2.0, 0.3, 1.1, 0.05]
    return [[scales[k % 4] * rng.standard_normal(shape) for shape in SHAPES] for k in range(steps)]


# ---------------------------------------------------------------------------------------------------------
# Independent scalar re-derivations: one parameter element (a float) and its own state dict.
# ---------------------------------------------------------------------------------------------------------


def _decay_or_l2(p: float, g: float, h, lr: float) -> tuple[float, float]:
    """Decoupled decay shrinks p first; coupled (L2) decay adds wd p to the gradient."""
    if h.decoupled_weight_decay:
        return p - lr * h.weight_decay * p, g
    return p, g + h.weight_decay * p


def scalar_sgd(p: float, g: float, st: dict, h: SGD) -> float:
    g = -g if h.maximize else g
    p, g = _decay_or_l2(p, g, h, h.lr)
    if h.momentum != 0:
        if "buf" not in st:
            st["buf"] = g
        else:
            st["buf"] = h.momentum * st["buf"] + (1 - h.dampening) * g
        d = g + h.momentum * st["buf"] if h.nesterov else st["buf"]
    else:
        d = g
    return p - h.lr * d


def scalar_adam(p: float, g: float, st: dict, h: Adam | AdamW, decoupled: bool) -> float:
    t = st["t"] = st.get("t", 0) + 1
    g = -g if h.maximize else g
    if decoupled:
        p = p - h.lr * h.weight_decay * p
    else:
        g = g + h.weight_decay * p
    b1, b2 = h.betas
    st["m"] = b1 * st.get("m", 0.0) + (1 - b1) * g
    st["v"] = b2 * st.get("v", 0.0) + (1 - b2) * g * g
    v = st["v"]
    if h.amsgrad:
        st["vmax"] = max(st.get("vmax", 0.0), st["v"])
        v = st["vmax"]
    m_hat = st["m"] / (1 - b1**t)
    v_hat = v / (1 - b2**t)
    if h.eps_placement == "hat":
        return p - h.lr * math.sqrt(1 - b2**t) / (1 - b1**t) * st["m"] / (math.sqrt(v) + h.eps)
    if h.eps_placement == "inside":
        return p - h.lr * m_hat / math.sqrt(v_hat + h.eps)
    return p - h.lr * m_hat / (math.sqrt(v_hat + h.eps_root) + h.eps)


def scalar_adagrad(p: float, g: float, st: dict, h: Adagrad) -> float:
    t = st["t"] = st.get("t", 0) + 1
    g = -g if h.maximize else g
    lr_t = h.lr / (1 + (t - 1) * h.lr_decay)
    p, g = _decay_or_l2(p, g, h, lr_t)
    st["sum"] = st.get("sum", h.initial_accumulator_value) + g * g
    denom = math.sqrt(st["sum"] + h.eps) if h.eps_placement == "inside" else math.sqrt(st["sum"]) + h.eps
    return p - lr_t * g / denom


def scalar_adadelta(p: float, g: float, st: dict, h: Adadelta) -> float:
    g = -g if h.maximize else g
    p, g = _decay_or_l2(p, g, h, h.lr)
    st["eg2"] = h.rho * st.get("eg2", 0.0) + (1 - h.rho) * g * g
    rms_dx = math.sqrt(st.get("edx2", 0.0) + h.eps)
    rms_g = math.sqrt(st["eg2"] + h.eps)
    dx = rms_dx / rms_g * g
    st["edx2"] = h.rho * st.get("edx2", 0.0) + (1 - h.rho) * dx * dx
    return p - h.lr * dx


def scalar_rmsprop(p: float, g: float, st: dict, h: RMSprop) -> float:
    t = st["t"] = st.get("t", 0) + 1
    g = -g if h.maximize else g
    p, g = _decay_or_l2(p, g, h, h.lr)
    st["eg2"] = h.alpha * st.get("eg2", h.initial_scale) + (1 - h.alpha) * g * g
    correction = 1 - h.alpha**t if h.bias_correction else 1.0
    v = st["eg2"] / correction
    if h.centered:
        st["eg"] = h.alpha * st.get("eg", 0.0) + (1 - h.alpha) * g
        v = v - (st["eg"] / correction) ** 2
    denom = math.sqrt(v + h.eps) if h.eps_placement == "inside" else math.sqrt(v) + h.eps
    u = g / denom
    if h.momentum > 0:
        st["buf"] = h.momentum * st.get("buf", 0.0) + u
        return p - h.lr * (u + h.momentum * st["buf"] if h.nesterov else st["buf"])
    return p - h.lr * u


SCALAR = {
    "sgd": scalar_sgd,
    "adam": lambda p, g, st, h: scalar_adam(p, g, st, h, decoupled=h.decoupled_weight_decay),
    "adamw": lambda p, g, st, h: scalar_adam(p, g, st, h, decoupled=True),
    "adagrad": scalar_adagrad,
    "adadelta": scalar_adadelta,
    "rmsprop": scalar_rmsprop,
}


def _grid(**axes: tuple) -> list[dict]:
    names = list(axes)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*axes.values())]


def _option_cases() -> list[tuple[str, dict]]:
    """Every optimizer with every combination of its options (eps large enough that its placement matters),
    PyTorch's and those of the other profiles (eps placement, eps_root, decoupled weight decay, optax's
    RMSprop options, Nesterov without momentum)."""
    cases: list[tuple[str, dict]] = []
    for kw in _grid(momentum=(0.0, 0.9), dampening=(0.0, 0.4), nesterov=(False, True),
                    weight_decay=(0.0, 0.1), maximize=(False, True), decoupled_weight_decay=(False, True)):
        if kw["nesterov"] and kw["dampening"] != 0:
            continue
        cases.append(("sgd", {"lr": 0.1, **kw, "nesterov_zero_momentum": kw["momentum"] == 0}))
    for name in ("adam", "adamw"):
        for kw in _grid(weight_decay=(0.0, 0.2), amsgrad=(False, True), maximize=(False, True),
                        eps_placement=("outside", "inside", "hat")):
            cases.append((name, {"lr": 0.05, "betas": (0.8, 0.95), "eps": 0.01, **kw}))
        cases.append((name, {"lr": 0.05, "betas": (0.8, 0.95), "eps": 0.01, "eps_root": 0.003}))
    for kw in _grid(weight_decay=(0.0, 0.2), decoupled_weight_decay=(False, True)):
        cases.append(("adam", {"lr": 0.05, "eps": 0.01, "eps_placement": "hat", **kw}))
    for kw in _grid(lr_decay=(0.0, 0.5), weight_decay=(0.0, 0.1), initial_accumulator_value=(0.0, 0.3),
                    eps_placement=("outside", "inside"), maximize=(False, True),
                    decoupled_weight_decay=(False, True)):
        cases.append(("adagrad", {"lr": 0.1, "eps": 0.01, **kw}))
    for kw in _grid(weight_decay=(0.0, 0.1), rho=(0.9, 0.5, 1.0), maximize=(False, True),
                    decoupled_weight_decay=(False, True)):
        cases.append(("adadelta", {"lr": 0.7, "eps": 1e-3, **kw}))
    for kw in _grid(momentum=(0.0, 0.6), centered=(False, True), weight_decay=(0.0, 0.1),
                    eps_placement=("outside", "inside"), maximize=(False, True)):
        cases.append(("rmsprop", {"lr": 0.01, "alpha": 0.7, "eps": 0.01, **kw}))
    for kw in _grid(momentum=(0.0, 0.6), centered=(False, True), nesterov=(False, True),
                    bias_correction=(False, True), initial_scale=(0.0, 0.5), decoupled_weight_decay=(False, True)):
        cases.append(("rmsprop", {"lr": 0.01, "alpha": 0.7, "eps": 0.01, "weight_decay": 0.1, "eps_placement": "inside",
                                  **kw}))
    return cases


OPTION_CASES = _option_cases()


def _case_id(case: tuple[str, dict]) -> str:
    name, kw = case
    flags = ",".join(f"{k}={v}" for k, v in kw.items() if k not in ("lr", "eps", "betas", "alpha"))
    return f"{name}[{flags}]"


@pytest.mark.parametrize("case", OPTION_CASES, ids=[_case_id(c) for c in OPTION_CASES])
def test_vectorised_matches_scalar_rederivation(case: tuple[str, dict]) -> None:
    name, kw = case
    hyper = apply_conventions(make_hyper(name, **kw), PYTORCH)
    steps = 4
    params = _params()
    flat = [[float(x) for x in p.ravel()] for p in params]
    scalar_states = [[{} for _ in p] for p in flat]
    state: dict = {}
    for k, grads in enumerate(_grad_sequence(steps)):
        params, state = get_optimizer(name).step(params, grads, state, hyper)
        for i, grad in enumerate(grads):
            elements = zip(flat[i], grad.ravel(), scalar_states[i], strict=True)
            flat[i] = [SCALAR[name](p, g, st, hyper) for p, g, st in elements]
            expected = np.array(flat[i]).reshape(grad.shape)
            np.testing.assert_allclose(params[i], expected, rtol=1e-12, atol=1e-14,
                                       err_msg=f"{name} {kw}: parameter {i} after step {k + 1}")
        assert state["step"] == k + 1


def test_the_option_grid_covers_every_declared_option() -> None:
    for name, entry in OPTIMIZERS.items():
        varied = {
            option
            for case_name, kw in OPTION_CASES
            if case_name == name
            for option in entry.options
            if kw.get(option, getattr(entry.hyper_class(), option)) != getattr(entry.hyper_class(), option)
        }
        assert varied == set(entry.options), f"{name}: options never exercised: {set(entry.options) - varied}"


# ---------------------------------------------------------------------------------------------------------
# Closed forms
# ---------------------------------------------------------------------------------------------------------


def test_sgd_without_momentum_is_p_minus_lr_g() -> None:
    params, grads = _params(), _grad_sequence(1)[0]
    new, _ = sgd(params, grads, {}, SGD(lr=0.3))
    for p, g, q in zip(params, grads, new, strict=True):
        np.testing.assert_array_equal(q, p - 0.3 * g)


def test_sgd_momentum_on_constant_gradient_is_a_geometric_sum() -> None:
    """buf_k = sum_{i<k} m^i g = g (1 - m^k) / (1 - m); p_k = p_0 - lr sum_{j=1..k} buf_j."""
    m, lr, g = 0.9, 0.1, np.array([1.5, -2.0, 0.25])
    params, state = [np.zeros(3)], {}
    total = np.zeros(3)
    for k in range(1, 8):
        params, state = sgd(params, [g], state, SGD(lr=lr, momentum=m))
        buf_k = g * (1 - m**k) / (1 - m)
        total += buf_k
        np.testing.assert_allclose(state["momentum_buffer"][0], buf_k, rtol=1e-14)
        np.testing.assert_allclose(params[0], -lr * total, rtol=1e-13)


def test_sgd_first_momentum_step_uses_raw_gradient_without_dampening() -> None:
    g = np.array([2.0, -1.0])
    _, state = sgd([np.zeros(2)], [g], {}, SGD(lr=0.1, momentum=0.9, dampening=0.5))
    np.testing.assert_array_equal(state["momentum_buffer"][0], g)
    _, state = sgd([np.zeros(2)], [g], state, SGD(lr=0.1, momentum=0.9, dampening=0.5))
    np.testing.assert_allclose(state["momentum_buffer"][0], 0.9 * g + 0.5 * g, rtol=1e-15)


def test_sgd_nesterov_direction_is_g_plus_momentum_times_buf() -> None:
    """First step: buf = g, so the move is lr (g + m g) = lr (1 + m) g."""
    g = np.array([1.0, -3.0])
    new, _ = sgd([np.zeros(2)], [g], {}, SGD(lr=0.1, momentum=0.5, nesterov=True))
    np.testing.assert_allclose(new[0], -0.1 * 1.5 * g, rtol=1e-15)


def test_adam_first_step_moves_by_lr_times_sign() -> None:
    """From zero state m_hat = g, v_hat = g^2: the move is lr g / (|g| + eps), i.e. lr sign(g) up to eps."""
    params, grads = _params(), _grad_sequence(1)[0]
    lr, eps = 0.01, 1e-8
    new, _ = adam(params, grads, {}, Adam(lr=lr, eps=eps))
    for p, g, q in zip(params, grads, new, strict=True):
        np.testing.assert_allclose(q - p, -lr * g / (np.abs(g) + eps), rtol=1e-12, atol=0)
        np.testing.assert_allclose(q - p, -lr * np.sign(g), rtol=0, atol=lr * eps / np.abs(g).min() + 1e-15)


def test_adam_maximize_ascends() -> None:
    g = np.array([0.5, -2.0])
    new, _ = adam([np.zeros(2)], [g], {}, Adam(lr=0.1, maximize=True))
    np.testing.assert_allclose(new[0], 0.1 * np.sign(g), rtol=1e-7)


def test_adamw_decoupled_decay_differs_from_adam_l2_as_derived() -> None:
    """First step, zero state, weight decay w:
    Adam (L2):  g' = g + w p,  p1 = p - lr g' / (|g'| + eps)
    AdamW:      p1 = p (1 - lr w) - lr g / (|g| + eps)
    """
    p = np.array([2.0, -1.0, 0.5])
    g = np.array([0.1, 0.3, -0.2])
    lr, w, eps = 0.01, 0.5, 1e-8
    (adam_p,), _ = adam([p], [g], {}, Adam(lr=lr, weight_decay=w, eps=eps))
    (adamw_p,), _ = adamw([p], [g], {}, AdamW(lr=lr, weight_decay=w, eps=eps))
    g_l2 = g + w * p
    np.testing.assert_allclose(adam_p, p - lr * g_l2 / (np.abs(g_l2) + eps), rtol=1e-14)
    np.testing.assert_allclose(adamw_p, p * (1 - lr * w) - lr * g / (np.abs(g) + eps), rtol=1e-14)
    # the first element: L2 flips nothing (g' = 1.1 > 0); the second: g' = -0.2 flips the direction
    assert np.sign(adam_p[1] - p[1]) != np.sign(adamw_p[1] - p[1])


def test_amsgrad_max_buffer_is_monotone_and_dominates() -> None:
    params, state = _params(), {}
    rng = np.random.default_rng(5)
    previous = None
    for k in range(30):
        grads = [rng.standard_normal(s) * (3.0 if k % 7 == 0 else 0.1) for s in SHAPES]
        params, state = adam(params, grads, state, Adam(lr=0.01, amsgrad=True))
        current = [b.copy() for b in state["max_exp_avg_sq"]]
        for vmax, v in zip(current, state["exp_avg_sq"], strict=True):
            assert np.all(vmax >= v)
        if previous is not None:
            for now, before in zip(current, previous, strict=True):
                assert np.all(now >= before)
        previous = current
    assert any(np.any(vmax > v) for vmax, v in zip(previous, state["exp_avg_sq"], strict=True))


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_adam_eps_inside_vs_outside_sqrt_first_step(name: str) -> None:
    """First step: outside lr g / (|g| + eps), inside lr g / sqrt(g^2 + eps)."""
    g = np.array([0.3, -0.02, 1.0])
    lr, eps = 0.1, 1e-3
    (out,), _ = get_optimizer(name).step(
        [np.zeros(3)], [g], {}, make_hyper(name, lr=lr, eps=eps, weight_decay=0)
    )
    (ins,), _ = get_optimizer(name).step(
        [np.zeros(3)], [g], {}, make_hyper(name, lr=lr, eps=eps, weight_decay=0, eps_placement="inside")
    )
    np.testing.assert_allclose(out, -lr * g / (np.abs(g) + eps), rtol=1e-13)
    np.testing.assert_allclose(ins, -lr * g / np.sqrt(g * g + eps), rtol=1e-13)
    # sqrt(g^2 + eps) > |g| + eps  <=>  eps > 2|g| eps + eps^2  <=>  1 > 2|g| + eps: then inside moves less
    np.testing.assert_array_equal(np.abs(ins) < np.abs(out), 1 > 2 * np.abs(g) + eps)


def test_adagrad_on_constant_gradient() -> None:
    """sum_k = s0 + k g^2 and the k-th move is lr g / (sqrt(s0 + k g^2) + eps)."""
    g, lr, s0, eps = np.array([0.5, -2.0, 1e-3]), 0.1, 0.2, 1e-10
    params, state = [np.zeros(3)], {}
    for k in range(1, 6):
        before = params[0].copy()
        params, state = adagrad(params, [g], state, Adagrad(lr=lr, initial_accumulator_value=s0, eps=eps))
        np.testing.assert_allclose(state["sum"][0], s0 + k * g * g, rtol=1e-14)
        np.testing.assert_allclose(params[0] - before, -lr * g / (np.sqrt(s0 + k * g * g) + eps), rtol=1e-12)


def test_adagrad_lr_decay_schedule() -> None:
    """clr_t = lr / (1 + (t - 1) lr_decay); s0 = 0, eps = 0, constant g: move_t = clr_t g / (sqrt(t) |g|)."""
    g, lr, decay = np.array([1.0]), 0.1, 0.5
    params, state = [np.zeros(1)], {}
    for t in range(1, 5):
        before = params[0].copy()
        params, state = adagrad(params, [g], state, Adagrad(lr=lr, lr_decay=decay, eps=0.0))
        np.testing.assert_allclose(params[0] - before, -lr / (1 + (t - 1) * decay) / math.sqrt(t), rtol=1e-14)


def test_adagrad_eps_inside_sqrt_first_step() -> None:
    g, eps = np.array([0.2, -0.7]), 0.01
    (out,), _ = adagrad([np.zeros(2)], [g], {}, Adagrad(lr=1.0, eps=eps))
    (ins,), _ = adagrad([np.zeros(2)], [g], {}, Adagrad(lr=1.0, eps=eps, eps_placement="inside"))
    np.testing.assert_allclose(out, -g / (np.abs(g) + eps), rtol=1e-14)
    np.testing.assert_allclose(ins, -g / np.sqrt(g * g + eps), rtol=1e-14)


def test_rmsprop_first_step() -> None:
    """Zero state: v = (1 - a) g^2, move = lr g / (sqrt(1 - a) |g| + eps); centered: v = a (1 - a) g^2."""
    g, lr, a, eps = np.array([0.4, -1.5]), 0.01, 0.99, 1e-8
    (plain,), _ = rmsprop([np.zeros(2)], [g], {}, RMSprop(lr=lr, alpha=a, eps=eps))
    np.testing.assert_allclose(plain, -lr * g / (math.sqrt(1 - a) * np.abs(g) + eps), rtol=1e-12)
    (centered,), st = rmsprop([np.zeros(2)], [g], {}, RMSprop(lr=lr, alpha=a, eps=eps, centered=True))
    np.testing.assert_allclose(centered, -lr * g / (math.sqrt(a * (1 - a)) * np.abs(g) + eps), rtol=1e-10)
    np.testing.assert_allclose(st["grad_avg"][0], (1 - a) * g, rtol=1e-14)
    (inside,), _ = rmsprop([np.zeros(2)], [g], {}, RMSprop(lr=lr, alpha=a, eps=0.01, eps_placement="inside"))
    np.testing.assert_allclose(inside, -lr * g / np.sqrt((1 - a) * g * g + 0.01), rtol=1e-13)


def test_rmsprop_momentum_buffer_accumulates_scaled_gradients() -> None:
    """Constant g: buf_1 = g / d_1, buf_2 = m buf_1 + g / d_2 with d_t = sqrt(1 - a^t) |g| + eps."""
    g, a, m, eps = np.array([1.0, -0.5]), 0.9, 0.5, 1e-8
    params, state = [np.zeros(2)], {}
    for _ in range(2):
        params, state = rmsprop(params, [g], state, RMSprop(lr=0.1, alpha=a, momentum=m, eps=eps))
    d1 = math.sqrt(1 - a) * np.abs(g) + eps
    d2 = math.sqrt(1 - a**2) * np.abs(g) + eps
    buf2 = m * g / d1 + g / d2
    np.testing.assert_allclose(state["momentum_buffer"][0], buf2, rtol=1e-12)
    np.testing.assert_allclose(params[0], -0.1 * (g / d1 + buf2), rtol=1e-12)


def test_adadelta_first_step() -> None:
    """Zero state: delta = sqrt(eps) / sqrt((1 - rho) g^2 + eps) g;  acc_delta = (1 - rho) delta^2."""
    g, rho, eps, lr = np.array([0.3, -4.0]), 0.9, 1e-6, 1.0
    (p,), st = adadelta([np.zeros(2)], [g], {}, Adadelta(lr=lr, rho=rho, eps=eps))
    delta = math.sqrt(eps) / np.sqrt((1 - rho) * g * g + eps) * g
    np.testing.assert_allclose(p, -lr * delta, rtol=1e-13)
    np.testing.assert_allclose(st["square_avg"][0], (1 - rho) * g * g, rtol=1e-14)
    np.testing.assert_allclose(st["acc_delta"][0], (1 - rho) * delta * delta, rtol=1e-13)


# ---------------------------------------------------------------------------------------------------------
# Purity, in-place updates, state layout
# ---------------------------------------------------------------------------------------------------------

ALL_OPTIONS = {
    "sgd": {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1, "maximize": True},
    "adam": {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True, "maximize": True},
    "adamw": {"lr": 0.01, "amsgrad": True, "maximize": True},
    "adagrad": {"lr": 0.1, "lr_decay": 0.1, "weight_decay": 0.1, "initial_accumulator_value": 0.1},
    "adadelta": {"weight_decay": 0.1},
    "rmsprop": {"momentum": 0.5, "centered": True, "weight_decay": 0.1},
}


def _deep_copy(state: dict) -> dict:
    return copy.deepcopy(state)


def _assert_states_equal(a: dict, b: dict) -> None:
    a, b = public_state(a), public_state(b)
    assert a.keys() == b.keys()
    for key in a:
        if key == "step":
            assert a[key] == b[key]
            continue
        for x, y in zip(a[key], b[key], strict=True):
            np.testing.assert_array_equal(x, y, err_msg=key)


@pytest.mark.parametrize("name", list(ALL_OPTIONS))
def test_not_inplace_leaves_inputs_untouched(name: str) -> None:
    entry, hyper = get_optimizer(name), make_hyper(name, **ALL_OPTIONS[name])
    grads_seq = _grad_sequence(3)
    params, state = entry.step(_params(), grads_seq[0], {}, hyper)
    for grads in grads_seq[1:]:
        params_before = [p.copy() for p in params]
        grads_before = [g.copy() for g in grads]
        state_before = _deep_copy(state)
        new_params, new_state = entry.step(params, grads, state, hyper, inplace=False)
        for p, before in zip(params, params_before, strict=True):
            np.testing.assert_array_equal(p, before)
        for g, before in zip(grads, grads_before, strict=True):
            np.testing.assert_array_equal(g, before)
        _assert_states_equal(state, state_before)
        assert state.keys() == state_before.keys()
        assert all(q is not p for q, p in zip(new_params, params, strict=True))
        assert not any(np.allclose(q, p) for q, p in zip(new_params, params, strict=True))
        params, state = new_params, new_state


INPLACE_CASES = [(name, ALL_OPTIONS[name]) for name in ALL_OPTIONS] + [
    (name, {**ALL_OPTIONS[name], **extra})
    for name in ("adam", "adamw")
    for extra in ({"eps_placement": "inside"}, {"eps_placement": "hat"}, {"eps_root": 1e-3},
                  {"maximize": False, "weight_decay": 0.0})
] + [("adam", {**ALL_OPTIONS["adam"], "decoupled_weight_decay": True})]


@pytest.mark.parametrize(("name", "options"), INPLACE_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(INPLACE_CASES)])
def test_inplace_equals_not_inplace(name: str, options: dict) -> None:
    """Bit for bit: the readable path (inplace=False) and the in-place sibling (Adam's in adam_inplace)."""
    entry, hyper = get_optimizer(name), make_hyper(name, **options)
    pure_params, pure_state = _params(), {}
    live_params, live_state = _params(), {}
    for grads in _grad_sequence(4):
        grads_before = [g.copy() for g in grads]
        pure_params, pure_state = entry.step(pure_params, grads, pure_state, hyper)
        objects = list(live_params)
        returned_params, returned_state = entry.step(live_params, grads, live_state, hyper, inplace=True)
        assert returned_params is live_params and returned_state is live_state
        assert all(a is b for a, b in zip(returned_params, objects, strict=True))
        for g, before in zip(grads, grads_before, strict=True):
            np.testing.assert_array_equal(g, before)
        for a, b in zip(pure_params, live_params, strict=True):
            np.testing.assert_array_equal(a, b)
        _assert_states_equal(pure_state, live_state)



ADAM_INPLACE_CASES = [case for case in INPLACE_CASES if case[0] in ("adam", "adamw")]


@pytest.mark.parametrize(("name", "options"), ADAM_INPLACE_CASES,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(ADAM_INPLACE_CASES)])
def test_inplace_in_chunks_on_threads_equals_not_inplace(name: str, options: dict, monkeypatch) -> None:
    """Bit for bit again, with the in-place update cut into chunks of 5 elements shared among 3 threads
    (mlpbench.reference.optim._chunks), and one parameter that is not contiguous (updated whole)."""
    monkeypatch.setattr(chunks, "CHUNK", 5)
    monkeypatch.setattr(chunks, "PARALLEL_MIN", 1)
    monkeypatch.setattr(chunks, "threads", lambda: 3)
    entry, hyper = get_optimizer(name), make_hyper(name, **options)
    shapes = [(7, 6), (6,), (3, 7)]
    rng = np.random.default_rng(3)
    pure_params = [rng.standard_normal(shape) for shape in shapes]
    pure_params.append(rng.standard_normal((5, 4)).T)                     # a transposed view: not contiguous
    live_params = [np.array(p, order="F" if not p.flags.c_contiguous else "C", copy=True) for p in pure_params]
    assert not live_params[-1].flags.c_contiguous
    pure_state: dict = {}
    live_state: dict = {}
    ran: list[str] = []
    real_run = chunks._run
    monkeypatch.setattr(chunks, "_run", lambda *args: (ran.append(threading.current_thread().name),
                                                       real_run(*args))[1])
    for step in range(4):
        grads = [0.5 ** step * rng.standard_normal(p.shape) for p in pure_params]
        pure_params, pure_state = entry.step(pure_params, grads, pure_state, hyper)
        entry.step(live_params, grads, live_state, hyper, inplace=True)
        for a, b in zip(pure_params, live_params, strict=True):
            np.testing.assert_array_equal(a, b)
        _assert_states_equal(pure_state, live_state)
    assert len(ran) == 4 * 3, "each update is cut into three runs of chunks"
    assert "MainThread" in ran and len(set(ran)) >= 2, "the runs are shared with the pool's threads"


def test_chunks_cover_every_element_once_and_errors_propagate(monkeypatch) -> None:
    monkeypatch.setattr(chunks, "CHUNK", 4)
    monkeypatch.setattr(chunks, "PARALLEL_MIN", 1)
    monkeypatch.setattr(chunks, "threads", lambda: 2)
    arrays = [np.zeros((5, 3)), np.zeros(9), np.zeros((4, 3)).T, np.zeros(0)]

    def count(views, work):
        assert len(work) == 2 and all(w.shape == views[0].shape for w in work)
        np.add(views[0], 1.0, out=views[0])

    chunks.for_each_chunk(count, [(a,) for a in arrays], scratch=2)
    assert all(np.all(a == 1.0) for a in arrays)

    def fail(views, work):
        if threading.current_thread() is not threading.main_thread():
            raise FloatingPointError("raised in a worker thread")

    with pytest.raises(FloatingPointError, match="worker thread"):
        chunks.for_each_chunk(fail, [(np.zeros(40),)], scratch=1)


TORCH_STATE_KEYS = {
    "sgd": {"momentum_buffer"},
    "adam": {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    "adamw": {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    "adagrad": {"sum"},
    "adadelta": {"square_avg", "acc_delta"},
    "rmsprop": {"square_avg", "momentum_buffer", "grad_avg"},
}


@pytest.mark.parametrize("name", list(ALL_OPTIONS))
def test_state_layout_uses_torch_key_names(name: str) -> None:
    hyper = make_hyper(name, **ALL_OPTIONS[name])
    _, state = get_optimizer(name).step(_params(), _grad_sequence(1)[0], {}, hyper)
    assert isinstance(state["step"], int) and state["step"] == 1
    assert set(public_state(state)) == TORCH_STATE_KEYS[name] | {"step"}
    assert set(get_optimizer(name).state_keys) == TORCH_STATE_KEYS[name] | {"step"}
    for key in TORCH_STATE_KEYS[name]:
        assert [b.shape for b in state[key]] == SHAPES


def test_optional_buffers_only_when_their_option_is_on() -> None:
    params, grads = _params(), _grad_sequence(1)[0]
    assert set(sgd(params, grads, {}, SGD(lr=0.1))[1]) == {"step"}
    assert set(adam(params, grads, {}, Adam())[1]) == {"step", "exp_avg", "exp_avg_sq"}
    assert set(rmsprop(params, grads, {}, RMSprop())[1]) == {"step", "square_avg"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(ALL_OPTIONS))
def test_dtype_is_preserved(name: str, dtype: type) -> None:
    params = [p.astype(dtype) for p in _params()]
    grads = [g.astype(dtype) for g in _grad_sequence(1)[0]]
    new, state = get_optimizer(name).step(params, grads, {}, make_hyper(name, **ALL_OPTIONS[name]))
    assert all(p.dtype == dtype for p in new)
    assert all(b.dtype == dtype for key, bufs in public_state(state).items() if key != "step" for b in bufs)


# ---------------------------------------------------------------------------------------------------------
# Convergence on a convex quadratic f(p) = 1/2 sum a_i (p_i - c_i)^2, minimiser c
# ---------------------------------------------------------------------------------------------------------

CONVERGENCE = {
    "sgd": ({"lr": 0.2, "momentum": 0.5}, 300),
    "adam": ({"lr": 0.05}, 1500),
    "adamw": ({"lr": 0.05, "weight_decay": 0.0}, 1500),
    "adagrad": ({"lr": 0.5}, 1500),
    "adadelta": ({"lr": 1.0, "eps": 1e-4}, 3000),
    "rmsprop": ({"lr": 0.01, "centered": True, "momentum": 0.5}, 1500),
}


@pytest.mark.parametrize("name", list(CONVERGENCE))
def test_converges_on_a_convex_quadratic(name: str) -> None:
    a = np.array([1.0, 3.0, 0.5, 2.0])
    c = np.array([1.0, -2.0, 0.5, 3.0])
    kw, steps = CONVERGENCE[name]
    entry, hyper = get_optimizer(name), make_hyper(name, **kw)
    params, state = [np.zeros(4)], {}
    start = float(np.linalg.norm(params[0] - c))
    for _ in range(steps):
        params, state = entry.step(params, [a * (params[0] - c)], state, hyper, inplace=True)
    assert np.linalg.norm(params[0] - c) < 1e-2 * start


# ---------------------------------------------------------------------------------------------------------
# Registry, validation, conventions
# ---------------------------------------------------------------------------------------------------------


def test_registry_defaults_match_torch_documentation() -> None:
    assert (SGD().lr, SGD().momentum, SGD().dampening) == (1e-3, 0.0, 0.0)
    assert (Adam().lr, Adam().betas, Adam().eps, Adam().weight_decay) == (1e-3, (0.9, 0.999), 1e-8, 0.0)
    assert (AdamW().lr, AdamW().weight_decay) == (1e-3, 1e-2)
    adagrad_hyper = apply_conventions(Adagrad(), PYTORCH)
    assert (adagrad_hyper.lr, adagrad_hyper.eps, adagrad_hyper.initial_accumulator_value) == (1e-2, 1e-10, 0.0)
    assert (Adadelta().lr, Adadelta().rho, Adadelta().eps) == (1.0, 0.9, 1e-6)
    assert (RMSprop().lr, RMSprop().alpha, RMSprop().eps) == (1e-2, 0.99, 1e-8)


def test_registry_options_are_hyperparameters() -> None:
    assert set(OPTIMIZERS) == {"sgd", "adam", "adamw", "adagrad", "adadelta", "rmsprop"}
    for name, entry in OPTIMIZERS.items():
        hyper = make_hyper(name)
        assert isinstance(hyper, entry.hyper_class)
        for option in entry.options:
            assert hasattr(hyper, option), f"{name}.{option}"


def test_make_hyper_and_get_optimizer_reject_unknown_names() -> None:
    with pytest.raises(ValueError, match="momentun"):
        make_hyper("sgd", momentun=0.9)
    with pytest.raises(ValueError, match="unknown optimizer 'adamax'"):
        get_optimizer("adamax")


@pytest.mark.parametrize(
    "name, kw",
    [
        ("sgd", {"lr": -0.1}),
        ("sgd", {"momentum": -0.5}),
        ("sgd", {"weight_decay": -1.0}),
        ("sgd", {"nesterov": True}),
        ("sgd", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}),
        ("adam", {"lr": -1e-3}),
        ("adam", {"betas": (1.0, 0.999)}),
        ("adam", {"betas": (0.9, -0.1)}),
        ("adam", {"eps": -1e-8}),
        ("adamw", {"weight_decay": -0.01}),
        ("adagrad", {"lr_decay": -0.1}),
        ("adagrad", {"initial_accumulator_value": -1.0}),
        ("adadelta", {"rho": 1.5}),
        ("adadelta", {"lr": -1.0}),
        ("rmsprop", {"alpha": -0.1}),
        ("rmsprop", {"momentum": -0.1}),
    ],
)
def test_bad_hyperparameters_raise(name: str, kw: dict) -> None:
    with pytest.raises(ValueError):
        make_hyper(name, **kw)


def test_mismatched_params_and_grads_raise() -> None:
    with pytest.raises(ValueError, match="2 parameters but 1 gradients"):
        sgd(_params(), [np.zeros((3, 2))], {}, SGD())
    with pytest.raises(ValueError, match="shape"):
        adam(_params(), [np.zeros((2, 3)), np.zeros(4)], {}, Adam())


def test_apply_conventions() -> None:
    textbook = TEXTBOOK.with_changes(adagrad_initial_accumulator=0.1)
    assert apply_conventions(Adam(), textbook).eps_placement == "inside"
    assert apply_conventions(RMSprop(), textbook).eps_placement == "inside"
    adagrad_hyper = apply_conventions(Adagrad(), textbook)
    assert adagrad_hyper.eps_placement == "inside" and adagrad_hyper.initial_accumulator_value == 0.1
    explicit = apply_conventions(Adagrad(initial_accumulator_value=0.5), textbook)
    assert explicit.initial_accumulator_value == 0.5
    # an explicit value beats the profile, also when it equals PyTorch's default
    assert apply_conventions(Adagrad(initial_accumulator_value=0.0), textbook).initial_accumulator_value == 0.0
    assert apply_conventions(Adam(eps_placement="inside"), PYTORCH).eps_placement == "inside"
    assert apply_conventions(Adam(eps_placement="outside"), textbook).eps_placement == "outside"
    assert apply_conventions(SGD(momentum=0.9), PYTORCH).decoupled_weight_decay is False


def test_thread_limit_bounds_the_chunk_threads() -> None:
    previous = limit_threads(1)
    try:
        assert chunks.threads() == 1
        with pytest.raises(ValueError, match="at least 1"):
            limit_threads(0)
    finally:
        limit_threads(previous)
    assert chunks.threads() == max(1, min(len(os.sched_getaffinity(0)), chunks.MAX_THREADS))
