"""The benchmark grid: which implementations, models, batch sizes, dtypes and optimizers `mlpbench bench` times.

A grid cell is one (implementation, model, dtype, optimizer, batch size). The loss follows the model's output
width: cross-entropy with integer class targets for several outputs, binary cross-entropy with logits for one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlpbench.catalogue.models import MODELS, model_by_name
from mlpbench.reference.spec import MLPSpec

SEED = 20240613
"""Seed of the initial parameters and the data of every benchmark cell."""

# powers of 4 from 1 to 65536
BATCH_SIZES: tuple[int, ...] = tuple(4**k for k in range(9))
BENCH_MODELS: tuple[str, ...] = ("seed-10-64-32-1", "mnist-784-256-256-10", "wide-4x1024")
DTYPES: tuple[str, ...] = ("float32", "float64")
# the implementations timed by default; torch-cuda-tf32 is the labelled TF32 mode (float32 only)
IMPLEMENTATIONS: tuple[str, ...] = ("torch-cuda", "torch-cuda-tf32", "torch-cpu", "reference")
ENGINES: tuple[str, ...] = ("torch-cuda-fused", "torch-cuda-compile", "torch-cuda-graphs", "jax-cuda",
                            "torch-cpu-foreach", "torch-cpu-fused", "torch-cpu-compile", "jax-cpu", "keras",
                            "mlx-cpu", "sklearn-cpu", "tinygrad-cpu")
"""The other engines the full grid times beside torch eager (the quick grid leaves them out: compiling a step
takes seconds to tens of seconds per cell). sklearn-cpu claims no loss, so its cells are never timed (only what
conforms is); tinygrad-cpu is a row saying why it is unavailable where its CPU device cannot open."""
OPTIMIZERS: Mapping[str, Mapping[str, Any]] = {
    "sgd": {"lr": 1e-3},
    "adam": {"lr": 1e-3},
}


@dataclass(frozen=True)
class Grid:
    """The cross product timed by one run, plus the per-cell work caps."""

    implementations: tuple[str, ...] = IMPLEMENTATIONS + ENGINES
    models: tuple[str, ...] = BENCH_MODELS
    batch_sizes: tuple[int, ...] = BATCH_SIZES
    dtypes: tuple[str, ...] = DTYPES
    optimizers: tuple[str, ...] = tuple(OPTIMIZERS)
    max_seconds_per_cell: float = 3.0  # timing budget of one cell; cells estimated above it are skipped
    min_block_seconds: float = 0.015  # blocks of steps grow until one takes at least this long
    blocks: int = 15  # timed blocks per cell (fewer when the budget runs out, never fewer than min_blocks)
    min_blocks: int = 5
    warmup_seconds: float = 0.05
    # square GEMM sizes tried for the peak (at the start and at the end of the run); the fastest rate counts
    gemm_sizes_cpu: tuple[int, ...] = (512, 1024, 2048)
    gemm_sizes_gpu: tuple[int, ...] = (4096, 8192)
    peak_blocks: int = 12  # timed blocks per GEMM size; the fastest block gives the rate
    peak_min_block_seconds: float = 0.02
    peak_seconds_per_size: float = 2.0
    hyper: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: dict(OPTIMIZERS))

    def to_dict(self) -> dict[str, Any]:
        return {
            "implementations": list(self.implementations),
            "models": list(self.models),
            "batch_sizes": list(self.batch_sizes),
            "dtypes": list(self.dtypes),
            "optimizers": list(self.optimizers),
            "max_seconds_per_cell": self.max_seconds_per_cell,
            "min_block_seconds": self.min_block_seconds,
            "blocks": self.blocks,
            "min_blocks": self.min_blocks,
            "warmup_seconds": self.warmup_seconds,
            "gemm_sizes_cpu": list(self.gemm_sizes_cpu),
            "gemm_sizes_gpu": list(self.gemm_sizes_gpu),
            "peak_blocks": self.peak_blocks,
            "peak_min_block_seconds": self.peak_min_block_seconds,
            "peak_seconds_per_size": self.peak_seconds_per_size,
            "hyper": {k: dict(v) for k, v in self.hyper.items()},
        }


FULL = Grid()
QUICK = Grid(
    implementations=IMPLEMENTATIONS,
    models=("seed-10-64-32-1", "mnist-784-256-256-10"),
    batch_sizes=(1, 16, 256, 4096),
    dtypes=("float32",),
    optimizers=("sgd",),
    max_seconds_per_cell=1.0,
    min_block_seconds=0.01,
    blocks=9,
    min_blocks=5,
    warmup_seconds=0.02,
    gemm_sizes_cpu=(1024, 2048),
    gemm_sizes_gpu=(4096, 8192),
    peak_blocks=8,
    peak_seconds_per_size=1.0,
)
"""A grid that finishes in well under a minute on a 2-core CPU, torch import and conformance checks included."""


def loss_for(spec: MLPSpec) -> str:
    """cross_entropy (index targets) for several outputs, binary_cross_entropy_with_logits for one."""
    return "binary_cross_entropy_with_logits" if spec.sizes[-1] == 1 else "cross_entropy"


def model_spec(name: str) -> MLPSpec:
    """A catalogue model name or user-given layer sizes ("128-512-10")."""
    return model_by_name(name)


def model_label(name: str) -> str:
    """The name a model is reported under: the catalogue name, or its layer sizes."""
    return name if name in MODELS else "-".join(str(s) for s in model_by_name(name).sizes)


@dataclass(frozen=True)
class BenchCase:
    """One timed configuration apart from the implementation."""

    model: str
    batch_size: int
    dtype: str
    optimizer: str
    hyper: Mapping[str, Any]

    @property
    def spec(self) -> MLPSpec:
        return model_spec(self.model)

    @property
    def loss(self) -> str:
        return loss_for(self.spec)


def cases(grid: Grid, models: Sequence[str] | None = None) -> list[BenchCase]:
    """Every case of the grid, models in order, smallest batch first within a series (the budget estimate
    of a cell extrapolates from the one before it)."""
    out = []
    for model in models or grid.models:
        for dtype in grid.dtypes:
            for optimizer in grid.optimizers:
                for batch in sorted(grid.batch_sizes):
                    out.append(BenchCase(model_label(model), batch, dtype, optimizer, dict(grid.hyper[optimizer])))
    return out
