"""Data-parallel semantics of torch-ddp, against the oracle and the single-process engine.

Uneven shards: the loss is the global-batch mean (ranks weighted by their sample counts), also when a rank has
no rows at all. Dropout: the masks are the single-process masks of the suite's seed, for any world size.
Replicas: after a training run every rank holds bitwise the same parameters. Names: torch-ddp:N.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from mlpbench.conformance.tolerances import tolerance  # noqa: E402
from mlpbench.impls.ddp_impl import TorchDDPImplementation  # noqa: E402
from mlpbench.impls.ddp_rank import shard_bounds  # noqa: E402
from mlpbench.impls.interface import TrainRequest  # noqa: E402
from mlpbench.impls.registry import UnknownImplementation, resolve  # noqa: E402
from mlpbench.impls.torch_impl import TorchImplementation  # noqa: E402
from mlpbench.reference.model import init_params, loss_and_gradients  # noqa: E402
from mlpbench.reference.optim import hyperparameters  # noqa: E402
from mlpbench.reference.spec import MLPSpec  # noqa: E402
from mlpbench.reference.training import make_batch_orders  # noqa: E402

SPEC = MLPSpec((5, 7, 3), activation="tanh", output_activation="identity")
DROPOUT_SPEC = MLPSpec((6, 16, 12, 3), activation="relu", output_activation="identity", dropout=0.5)


@pytest.fixture(scope="module")
def ddp():
    """Three ranks: most batches split unevenly, batches of 1 and 2 leave ranks empty (the conformance tests
    run torch-ddp, two ranks, over the whole catalogue)."""
    impl = TorchDDPImplementation(world_size=3)
    yield impl
    impl.close()


def inputs(spec: MLPSpec, batch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    params = init_params(spec, rng)
    return params, rng.normal(size=(batch, spec.sizes[0])), rng.normal(size=(batch, spec.sizes[-1]))


@pytest.mark.parametrize("n", range(0, 12))
@pytest.mark.parametrize("world_size", [1, 2, 3, 4, 5])
def test_shards_are_contiguous_cover_the_batch_and_differ_by_at_most_one(n: int, world_size: int) -> None:
    bounds = shard_bounds(n, world_size)
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(stop == start for (_, stop), (start, _) in zip(bounds, bounds[1:]))
    sizes = [stop - start for start, stop in bounds]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


@pytest.mark.parametrize("batch", [1, 2, 5, 7])
def test_uneven_shards_give_the_global_batch_mean_and_its_gradients(ddp, batch: int) -> None:
    """batch 1 and 2 leave ranks with no rows; 5 and 7 split unevenly (2 + 2 + 1, 3 + 2 + 2)."""
    params, x, y = inputs(SPEC, batch, seed=batch)
    result = ddp.forward_backward(SPEC, params, x, y, "mse")
    expected = loss_and_gradients(SPEC, params, x, y, "mse")
    loss_tol = tolerance("forward", "float64", fan_in=7, depth=3, world_size=ddp.world_size,
                         scale=abs(float(expected.loss)))
    assert abs(float(result.loss) - float(expected.loss)) <= loss_tol.atol + loss_tol.rtol * abs(expected.loss)
    for got, want in zip(result.param_grads, expected.param_grads, strict=True):
        tol = tolerance("gradient", "float64", fan_in=max(7, batch), depth=3, world_size=ddp.world_size,
                        scale=float(np.abs(want).max()))
        np.testing.assert_allclose(got, want, rtol=tol.rtol, atol=tol.atol)
    tol = tolerance("gradient", "float64", fan_in=max(7, batch), depth=3, world_size=ddp.world_size,
                    scale=float(np.abs(expected.input_grad).max()))
    np.testing.assert_allclose(result.input_grad, expected.input_grad, rtol=tol.rtol, atol=tol.atol)


def test_the_mean_of_per_rank_means_differs_on_these_uneven_shards() -> None:
    """The uneven-shard test above can tell the right answer from the mean of means: on its batch of 5 over
    2 ranks (3 + 2 rows) the two differ by far more than any tolerance."""
    params, x, y = inputs(SPEC, 5, seed=5)
    per_sample = np.array([loss_and_gradients(SPEC, params, x[i:i + 1], y[i:i + 1], "mse").loss for i in range(5)])
    global_mean, mean_of_means = per_sample.mean(), (per_sample[:3].mean() + per_sample[3:].mean()) / 2
    assert abs(global_mean - mean_of_means) > 1e-6 * abs(global_mean)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dropout_masks_are_the_single_process_masks_of_the_seed(ddp, dtype: str) -> None:
    params, x, y = inputs(DROPOUT_SPEC, 9, seed=1)
    params, x, y = [p.astype(dtype) for p in params], x.astype(dtype), y.astype(dtype)
    single = TorchImplementation().forward_backward(DROPOUT_SPEC, params, x, y, "mse", training=True,
                                                    dropout_seed=17)
    result = ddp.forward_backward(DROPOUT_SPEC, params, x, y, "mse", training=True, dropout_seed=17)
    assert len(result.dropout_masks) == 2
    for got, want in zip(result.dropout_masks, single.dropout_masks, strict=True):
        np.testing.assert_array_equal(got, want)
    other_seed = ddp.forward_backward(DROPOUT_SPEC, params, x, y, "mse", training=True, dropout_seed=18)
    assert not np.array_equal(other_seed.dropout_masks[0], result.dropout_masks[0])


def test_dropout_of_the_implementation_is_the_single_process_dropout(ddp) -> None:
    x = np.random.default_rng(3).uniform(0.5, 1.5, size=(101, 7))
    np.testing.assert_array_equal(ddp.dropout(x, 0.3, True, 11), TorchImplementation().dropout(x, 0.3, True, 11))


def test_replicas_hold_identical_parameters_after_training(ddp) -> None:
    params, x, y = inputs(SPEC, 23, seed=2)
    request = TrainRequest(spec=SPEC, params=params, x=x, y=y, loss="mse", optimizer="adam",
                           hyper=hyperparameters("adam", lr=0.01), epochs=3, batch_size=5,
                           batch_orders=make_batch_orders(23, 3, 4))
    results = ddp.replicas(request)
    assert len(results) == ddp.world_size
    for other in results[1:]:
        for mine, theirs in zip(results[0].params, other.params, strict=True):
            np.testing.assert_array_equal(theirs, mine)
        assert other.train_loss == results[0].train_loss


def test_world_size_is_chosen_by_name() -> None:
    assert resolve("torch-ddp").world_size == 2
    four = resolve("torch-ddp:4")
    assert (four.world_size, four.name, four.device) == (4, "torch-ddp:4", "cpu")
    assert resolve("torch-ddp-cuda:3").world_size == 3
    for bad in ("torch-ddp:0", "torch-ddp:x", "torch-ddp:-1", "torch-ddp:65"):
        with pytest.raises(UnknownImplementation) as raised:
            resolve(bad)
        assert raised.value.not_found and "world size" in str(raised.value)


def test_cuda_ranks_need_one_device_each() -> None:
    import torch

    available, reason = resolve("torch-ddp-cuda").availability()
    if torch.cuda.device_count() >= 2:
        pytest.skip("this machine has 2 CUDA devices; the unavailable path cannot be shown here")
    assert not available and reason


def test_the_ranks_time_blocks_with_and_without_the_all_reduce(ddp) -> None:
    from mlpbench.bench.scaling import summarize

    params, x, _ = inputs(SPEC, 4 * ddp.world_size, seed=6)
    target = np.arange(len(x)) % 3
    ranks = ddp.bench(SPEC, params, x, target, "cross_entropy", "sgd", hyperparameters("sgd", lr=0.1), steps=2,
                      blocks=3, warmup=1)
    assert len(ranks) == ddp.world_size
    for rank in ranks:
        assert rank["rows"] == 4 and len(rank["step_s"]) == 3 and len(rank["local_step_s"]) == 3
        assert all(t > 0 for t in rank["step_s"] + rank["local_step_s"])
    row = summarize(ddp.world_size, ranks, 4, base_samples_per_s=None)
    assert row.samples_per_s == pytest.approx(ddp.world_size * 4 / row.step_s)
