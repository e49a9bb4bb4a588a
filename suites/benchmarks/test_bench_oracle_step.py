"""Speed of one oracle training step against PyTorch (CPU) and scikit-learn, side by side per model size.

A step is forward, cross-entropy on logits with class-index targets, backward and an Adam update, in float64,
for a ReLU MLP. PyTorch: nn.Sequential of nn.Linear + nn.ReLU, F.cross_entropy,
torch.optim.Adam(foreach=True).
scikit-learn: MLPClassifier(solver="adam", alpha=0).partial_fit on the one batch (for two classes it uses a
single logistic output unit). All use every core (numpy's BLAS and torch's default thread count).

    pytest suites/benchmarks/test_bench_oracle_step.py --benchmark-only --benchmark-columns=median

prints the three timings per size as one group, then `test_step_time_ratios` prints oracle/torch and
oracle/sklearn. Rounds are few, and with --benchmark-disable every function runs once.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from mlpbench.reference.model import init_params
from mlpbench.reference.spec import MLPSpec
from mlpbench.reference.training import TrainingStep

CASES = [((10, 64, 32, 2), 32), ((784, 256, 256, 10), 256), ((1024, 1024, 1024, 10), 256)]
IDS = [f"{'-'.join(map(str, sizes))}@{batch}" for sizes, batch in CASES]
ROUNDS = 9
# (case id, contender) -> (median, min) seconds, filled as the benchmarks run
TIMINGS: dict[tuple[str, str], tuple[float, float]] = {}


def _data(sizes: tuple[int, ...], batch: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((batch, sizes[0])), rng.integers(0, sizes[-1], batch)


def _run(benchmark, case_id: str, contender: str, step) -> None:
    benchmark.group = f"training step {case_id}"
    benchmark.extra_info.update(cpu_count=os.cpu_count(), dtype="float64")
    benchmark.pedantic(step, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        TIMINGS[(case_id, contender)] = (stats.stats.median, stats.stats.min)


@pytest.mark.benchmark
@pytest.mark.parametrize(("sizes", "batch"), CASES, ids=IDS)
def test_oracle_step(benchmark, sizes, batch):
    spec = MLPSpec(sizes)
    params = init_params(spec, np.random.default_rng(1))
    x, target = _data(sizes, batch)
    step = TrainingStep(spec, loss="cross_entropy", optimizer="adam")
    first = step(params, x, target)
    _run(benchmark, f"{'-'.join(map(str, sizes))}@{batch}", "oracle", lambda: step(params, x, target))
    assert np.isfinite(first) and step.state["step"] >= 2


@pytest.mark.benchmark
@pytest.mark.parametrize(("sizes", "batch"), CASES, ids=IDS)
def test_torch_step(benchmark, sizes, batch):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed; the torch step is not timed")
    functional = torch.nn.functional
    torch.manual_seed(1)
    layers: list = []
    for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
        layers.append(torch.nn.Linear(fan_in, fan_out, dtype=torch.float64))
        if index < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    network = torch.nn.Sequential(*layers)
    optimizer = torch.optim.Adam(network.parameters(), foreach=True)
    x_np, target_np = _data(sizes, batch)
    x, target = torch.from_numpy(x_np), torch.from_numpy(target_np)

    def step() -> float:
        optimizer.zero_grad()
        loss = functional.cross_entropy(network(x), target)
        loss.backward()
        optimizer.step()
        return loss

    benchmark.extra_info["torch_threads"] = torch.get_num_threads()
    _run(benchmark, f"{'-'.join(map(str, sizes))}@{batch}", "torch", step)
    assert torch.isfinite(step())


@pytest.mark.benchmark
@pytest.mark.parametrize(("sizes", "batch"), CASES, ids=IDS)
def test_sklearn_partial_fit(benchmark, sizes, batch):
    neural_network = pytest.importorskip("sklearn.neural_network", reason="scikit-learn is not installed")
    x, target = _data(sizes, batch)
    classifier = neural_network.MLPClassifier(
        hidden_layer_sizes=sizes[1:-1], activation="relu", solver="adam", alpha=0.0, batch_size=batch,
        random_state=1,
    )
    classes = np.arange(sizes[-1])
    classifier.partial_fit(x, target, classes=classes)
    case_id = f"{'-'.join(map(str, sizes))}@{batch}"
    _run(benchmark, case_id, "sklearn", lambda: classifier.partial_fit(x, target))
    assert classifier.coefs_[0].dtype == np.float64 and np.isfinite(classifier.loss_)


@pytest.mark.benchmark
def test_step_time_ratios(benchmark, capsys):
    """Prints oracle/torch and oracle/sklearn time ratios of the benchmarks above (same session).

    Medians are the reported figure; minima are shown too, as they are less sensitive to other load.
    """
    if benchmark.disabled:
        pytest.skip("benchmarks are disabled; no timings to compare")
    lines = []
    for case_id in IDS:
        oracle = TIMINGS.get((case_id, "oracle"))
        if oracle is None:
            continue
        parts = [f"{case_id}: oracle {oracle[0] * 1e3:.3f} ms"]
        for contender in ("torch", "sklearn"):
            other = TIMINGS.get((case_id, contender))
            if other is not None:
                median_ratio, min_ratio = oracle[0] / other[0], oracle[1] / other[1]
                parts.append(f"oracle/{contender} = {median_ratio:.2f} (min {min_ratio:.2f})")
                benchmark.extra_info[f"{case_id} oracle/{contender}"] = round(median_ratio, 3)
        lines.append(", ".join(parts))
    if not lines:
        pytest.skip("the step benchmarks did not run in this session")
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    with capsys.disabled():
        print("\nstep time ratios (median):\n  " + "\n  ".join(lines))
    assert all(median > 0 for median, _ in TIMINGS.values())
