"""torch-cpu-compile's benchmark trainer: its compile time ends with the last step that compiled (TorchDynamo's
frame count), not when step times look calm, and its training step does not recompile from step to step."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("torch")

from mlpbench.impls import torch_compiled  # noqa: E402
from mlpbench.impls.registry import OPT_IN  # noqa: E402

COMPILED = "torch-cpu-compile"


class CountingTrainer:
    """A trainer whose first `compiling` steps each add a frame to a fake TorchDynamo count and take `seconds`."""

    def __init__(self, compiling: int, seconds: float = 0.0) -> None:
        self.compiling, self.seconds = compiling, seconds
        self.frames = self.steps = 0

    def step(self) -> None:
        self.steps += 1
        if self.steps <= self.compiling:
            self.frames += 1
            time.sleep(self.seconds)

    def synchronize(self) -> None:
        pass


def test_compile_time_ends_with_the_last_step_that_compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    trainer = CountingTrainer(compiling=3, seconds=0.02)
    monkeypatch.setattr(torch_compiled, "dynamo_frames", lambda: trainer.frames)
    compile_s = torch_compiled.compile_steps(trainer, quiet=2)
    assert trainer.steps == 3 + 2  # the compiling steps, then two that compiled nothing
    assert 0.06 <= compile_s < 1.0


def test_a_step_that_compiles_every_time_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    trainer = CountingTrainer(compiling=10**6)
    monkeypatch.setattr(torch_compiled, "dynamo_frames", lambda: trainer.frames)
    with pytest.raises(RuntimeError, match="still compiles after 7 steps"):
        torch_compiled.compile_steps(trainer, limit=7)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_benchmark_trainer_does_not_recompile_across_steps(request: pytest.FixtureRequest, optimizer: str) -> None:
    """A real compile (seconds): opt-in like torch-cpu-compile's conformance, with --mlpbench-impl torch-cpu-compile."""
    if COMPILED not in (request.config.getoption("mlpbench_impl") or []):
        pytest.skip(OPT_IN[COMPILED])
    import torch

    config = torch._dynamo.config
    names = ("recompile_limit", "accumulated_recompile_limit", "fail_on_recompile_limit_hit")
    with config.patch(**{name: getattr(config, name) for name in names}):  # restored after the engine's settings
        _step_after_compile(torch_compiled.TorchCompiledImplementation(name=COMPILED), optimizer)


def _step_after_compile(impl: torch_compiled.TorchCompiledImplementation, optimizer: str) -> None:
    from mlpbench.bench.measure import batch_data, initial_params
    from mlpbench.catalogue.benchmark import loss_for, model_spec

    spec = model_spec("seed-10-64-32-1")
    for batch in (8, 24):  # the second batch size reuses the dynamic-shape graph: only its new optimizer compiles
        x, target = batch_data(spec, batch, "float32", loss_for(spec))
        trainer = impl.make_trainer(spec, initial_params(spec, "float32"), x, target, loss_for(spec), optimizer,
                                    {"lr": 1e-3})
        assert trainer.compile_s > 0.0
        frames = torch_compiled.dynamo_frames()
        for _ in range(20):
            trainer.step()
        assert torch_compiled.dynamo_frames() == frames, f"batch {batch}: a step after compile_steps compiled"
