"""A quick self-consistency check of torch-cpu against the oracle (the full suite lives in mlpbench/checks).

Tolerance: a few dozen units of the dtype's epsilon times the largest magnitude in the compared array (the two
sides evaluate the same sums in the same dtype and differ only by rounding order, and a sum with cancellation
carries the rounding error of its largest terms).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
model = pytest.importorskip("mlpbench.reference.model")
optim = pytest.importorskip("mlpbench.reference.optim")

from mlpbench.impls.torch_impl import TorchImplementation  # noqa: E402
from mlpbench.reference.spec import MLPSpec  # noqa: E402

DTYPES = (np.float32, np.float64)


def assert_close(actual: np.ndarray, expected: np.ndarray, dtype: type, ulps: float = 64.0) -> None:
    """max |actual - expected| <= ulps * eps(dtype) * max(1, max |expected|), and the dtype is kept."""
    assert actual.dtype == np.dtype(dtype)
    assert actual.shape == np.shape(expected)
    bound = ulps * np.finfo(dtype).eps * max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    assert np.all(np.abs(actual.astype(np.float64) - expected) <= bound)


@pytest.fixture
def torch_cpu() -> TorchImplementation:
    return TorchImplementation("cpu")


@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_backward_matches_the_oracle(torch_cpu: TorchImplementation, dtype: type) -> None:
    rng = np.random.default_rng(1)
    spec = MLPSpec((5, 7, 4, 3), activation="tanh")
    params = [rng.normal(size=shape).astype(dtype) for shape in spec.param_shapes()]
    x = rng.normal(size=(9, 5)).astype(dtype)
    target = rng.integers(0, 3, size=9)
    got = torch_cpu.forward_backward(spec, params, x, target, "cross_entropy")
    want = model.loss_and_gradients(
        spec, [p.astype(np.float64) for p in params], x.astype(np.float64), target, "cross_entropy"
    )
    assert_close(got.output, want.output, dtype)
    assert_close(got.loss, want.loss, dtype)
    for grad, expected in zip(got.param_grads, want.param_grads, strict=True):
        assert_close(grad, expected, dtype)
    assert_close(got.input_grad, want.input_grad, dtype)


def test_reported_dropout_masks_reproduce_the_output(torch_cpu: TorchImplementation) -> None:
    """The keep-masks torch-cpu reports, fed to the oracle, give torch's output and gradients; ReLU zeros
    in front of dropout make the mask unrecoverable from the output alone, so this also tests the replay."""
    rng = np.random.default_rng(2)
    spec = MLPSpec((4, 30, 20, 2), activation="relu", dropout=0.4)
    params = [rng.normal(size=shape) for shape in spec.param_shapes()]
    x = rng.normal(size=(16, 4))
    target = rng.normal(size=(16, 2))
    got = torch_cpu.forward_backward(spec, params, x, target, "mse", training=True, dropout_seed=7)
    assert [m.shape for m in got.dropout_masks] == [(16, 30), (16, 20)]
    assert all(set(np.unique(m)) <= {0.0, 1.0} for m in got.dropout_masks)
    masks = got.dropout_masks
    want = model.loss_and_gradients(spec, params, x, target, "mse", training=True, dropout_masks=masks)
    assert_close(got.output, want.output, np.float64)
    for grad, expected in zip(got.param_grads, want.param_grads, strict=True):
        assert_close(grad, expected, np.float64)
    again = torch_cpu.forward_backward(spec, params, x, target, "mse", training=True, dropout_seed=7)
    assert all(np.array_equal(a, b) for a, b in zip(got.dropout_masks, again.dropout_masks, strict=True))


@pytest.mark.parametrize(
    ("name", "hyper"),
    [
        ("sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
        ("adam", {"lr": 0.01, "amsgrad": True}),
        ("rmsprop", {"lr": 0.01, "momentum": 0.5, "centered": True}),
    ],
)
def test_optimizer_steps_and_state_match_the_oracle(
    torch_cpu: TorchImplementation, name: str, hyper: dict
) -> None:
    rng = np.random.default_rng(3)
    params = [rng.normal(size=(3, 4)), rng.normal(size=(3,))]
    grads = [[rng.normal(size=p.shape) for p in params] for _ in range(4)]
    got_params, got_state = torch_cpu.optimizer_run(name, hyper, params, grads)
    entry, hyper_object = optim.get_optimizer(name), optim.make_hyper(name, **hyper)
    want_params, state = [p.copy() for p in params], {}
    for step_grads in grads:
        want_params, state = entry.step(want_params, step_grads, state, hyper_object)
    for got, want in zip(got_params, want_params, strict=True):
        assert_close(got, want, np.float64)
    state = optim.public_state(state)
    assert set(got_state) == set(state) and got_state["step"] == state["step"] == 4
    for key in set(state) - {"step"}:
        for got, want in zip(got_state[key], state[key], strict=True):
            assert_close(got, want, np.float64)


def test_eps_inside_the_square_root_is_not_claimed(torch_cpu: TorchImplementation) -> None:
    params, grads = [np.ones(3)], [[np.ones(3)]]
    with pytest.raises(NotImplementedError, match="eps inside the square root"):
        torch_cpu.optimizer_run("adam", {"eps_inside_sqrt": True}, params, grads)
    assert "eps_inside_sqrt" not in set().union(*torch_cpu.capabilities().optimizers.values())


@pytest.mark.parametrize("precision", ["ieee", "tf32"])
def test_tf32_flags_are_set_for_a_cuda_device_only_and_restored(precision: str) -> None:
    """A CUDA engine's calls run with TF32 as its precision says, and the flags are restored after; a CPU
    engine's calls leave them alone (they govern CUDA kernels only). Constructing the implementation and
    setting the flags need no GPU."""
    import torch

    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    before = (matmul.allow_tf32, cudnn.allow_tf32)
    wanted = precision == "tf32"
    try:
        matmul.allow_tf32 = cudnn.allow_tf32 = not wanted
        with TorchImplementation("cuda", precision=precision).numerics():
            assert (matmul.allow_tf32, cudnn.allow_tf32) == (wanted, wanted)
        assert (matmul.allow_tf32, cudnn.allow_tf32) == (not wanted, not wanted)
        with TorchImplementation("cpu", precision=precision).numerics():
            assert (matmul.allow_tf32, cudnn.allow_tf32) == (not wanted, not wanted)
    finally:
        matmul.allow_tf32, cudnn.allow_tf32 = before
