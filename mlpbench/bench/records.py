"""Typed records of a benchmark run: cells, GEMM peaks, the run's settings, speedups and the whole result.

Every module past measurement (tables, plots, speedups, comparisons, CSV) reads these records. Each record
turns into plain JSON with `to_dict` and back with `from_dict`; the fields of `CellResult` define the CSV
columns (those marked csv=False are lists or mappings that stay in the JSON only).

These classes are the published schema of bench.json: `from_dict` is typed parsing (`mlpbench.typed_json`)
driven by the field types, each record's `RANGES` (the range of its numbers) and `schema_problem` (what its
fields must agree on), so a record read back is one the tables and plots can render, whatever the file held.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any, ClassVar

from mlpbench.bench.environment import EnvironmentRecord
from mlpbench.typed_json import SchemaError, decode
from mlpbench.verdicts import Verdict

EFFICIENCY_BOUND = 1.0
"""Achieved FLOP/s can never exceed the peak; a ratio above this is a measurement problem."""


CellStatus = Verdict
"""A benchmark cell's status: OK (timed), UNAVAILABLE, NOT_CONFORMING, SKIPPED or ERROR of the one vocabulary."""
CELL_STATUSES = (Verdict.OK, Verdict.UNAVAILABLE, Verdict.NOT_CONFORMING, Verdict.SKIPPED, Verdict.ERROR)


class CellKind(str, Enum):
    TRAIN_STEP = "train_step"
    H2D_TRANSFER = "h2d_transfer"


RecordError = SchemaError
"""A stored record that does not have the expected shape (the message names the field)."""

COUNT = (0, 2**53)
AT_LEAST_ONE = (1, 2**53)
POSITIVE_SECONDS = (1e-12, 1e9)
NON_NEGATIVE = (0.0, 1e30)


def _json_only() -> dict:
    return {"csv": False}


@dataclass
class CellResult:
    """One grid cell: what was asked, its status and, when timed, the timings and derived numbers."""

    id: str
    kind: CellKind
    impl: str
    device: str
    precision: str
    model: str
    sizes: tuple[int, ...]
    parameters: int
    batch_size: int
    dtype: str
    optimizer: str | None
    loss: str | None
    threads: int | None
    status: CellStatus
    reason: str = ""
    steps_per_block: int | None = None
    blocks: int | None = None
    warmup_steps: int | None = None
    median_s: float | None = None
    q1_s: float | None = None
    q3_s: float | None = None
    iqr_fraction: float | None = None
    noisy: bool | None = None
    samples_per_s: float | None = None
    flop_per_step: int | None = None
    flop_per_s: float | None = None
    peak_key: str | None = None
    peak_flop_per_s: float | None = None
    efficiency: float | None = None
    efficiency_problem: str = ""
    bytes: int | None = None
    bytes_per_s: float | None = None
    compile_s: float | None = None  # compile or jit time (torch.compile, XLA), measured apart from step time
    # the machine's other load while the cell was timed (mlpbench.bench.contention); None: not measured
    load_seconds: float | None = None  # the interval measured: warm-up and timed blocks
    others_cores: float | None = None  # average cores other processes kept busy
    own_cores: float | None = None  # average cores the engine's worker kept busy
    engine_threads: int | None = None  # OS threads the engine's worker ran
    contention_share: float | None = None  # share of the cores the cell needed that the others took
    contended: bool | None = None  # contention_share > contention.CONTENDED_SHARE: never wins a ranking
    hyper: dict[str, Any] | None = field(default=None, metadata=_json_only())
    block_seconds: tuple[float, ...] = field(default=(), metadata=_json_only())

    RANGES: ClassVar[dict[str, tuple[float, float]]] = {
        "sizes": AT_LEAST_ONE, "parameters": COUNT, "batch_size": AT_LEAST_ONE, "threads": AT_LEAST_ONE,
        "steps_per_block": AT_LEAST_ONE, "blocks": COUNT, "warmup_steps": COUNT, "median_s": POSITIVE_SECONDS,
        "q1_s": POSITIVE_SECONDS, "q3_s": POSITIVE_SECONDS, "iqr_fraction": NON_NEGATIVE,
        "samples_per_s": NON_NEGATIVE, "flop_per_step": COUNT, "flop_per_s": NON_NEGATIVE,
        "peak_flop_per_s": NON_NEGATIVE, "efficiency": NON_NEGATIVE, "bytes": COUNT, "bytes_per_s": NON_NEGATIVE,
        "compile_s": NON_NEGATIVE, "block_seconds": POSITIVE_SECONDS, "load_seconds": POSITIVE_SECONDS,
        "others_cores": NON_NEGATIVE, "own_cores": NON_NEGATIVE, "engine_threads": AT_LEAST_ONE,
        "contention_share": NON_NEGATIVE,
    }

    def schema_problem(self) -> str | None:
        if self.kind is CellKind.TRAIN_STEP and (self.optimizer is None or self.loss is None):
            return f"training-step cell {self.id!r} has no optimizer or no loss"
        if self.timed and self.median_s is None:
            return f"cell {self.id!r} is timed (status ok, block_seconds) but has no median_s"
        if self.efficiency_problem and self.efficiency is None:
            return f"cell {self.id!r} has an efficiency_problem but no efficiency"
        if (self.contended is None) != (self.contention_share is None):
            return f"cell {self.id!r} has contended without contention_share (or the other way round)"
        return None

    @property
    def needed_cores(self) -> int:
        """The cores the cell needs: its threads on the CPU, the one host thread that launches an accelerator."""
        return self.threads if self.device == "cpu" and self.threads else 1

    @property
    def load_text(self) -> str:
        """The measured other load in words ("not measured" when it was not)."""
        if self.contended is None or self.others_cores is None or self.contention_share is None:
            return "not measured"
        needed = self.needed_cores
        return (("contended: " if self.contended else "") + f"others {self.others_cores:.2f} cores, "
                f"{self.contention_share:.0%} of the {needed} it needed")

    @property
    def timed(self) -> bool:
        return self.status is CellStatus.OK and bool(self.block_seconds)

    @property
    def measured_median_s(self) -> float:
        """median_s of a cell that was measured (status ok); ValueError for one that has none."""
        return _measured(self, self.median_s, "median_s")

    @property
    def measured_samples_per_s(self) -> float:
        """samples_per_s of a cell that was measured (status ok); ValueError for one that has none."""
        return _measured(self, self.samples_per_s, "samples_per_s")

    @property
    def series(self) -> tuple[str, str, str, str | None]:
        """(impl, model, dtype, optimizer): the cells that differ only in batch size."""
        return (self.impl, self.model, self.dtype, self.optimizer)

    @property
    def samples_per_s_interquartile(self) -> tuple[float, float] | None:
        """The first and third quartiles of the per-block samples/s (low, high): batch over the third and the
        first quartile of the per-step time (`timing.Spread.per`)."""
        if not self.timed or not self.q1_s or not self.q3_s:
            return None
        return self.batch_size / self.q3_s, self.batch_size / self.q1_s

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Enum):
                value = value.value
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "cell") -> CellResult:
        return decode(cls, data, where)


def _measured(cell: CellResult, value: float | None, name: str) -> float:
    if value is None:
        raise ValueError(f"cell {cell.id!r} ({cell.status.value}) has no {name}")
    return value


def csv_columns() -> tuple[str, ...]:
    """The CSV columns: every CellResult field not marked csv=False, in declaration order."""
    return tuple(f.name for f in fields(CellResult) if f.metadata.get("csv", True))


def efficiency_problem(efficiency: float | None) -> str:
    """'' for a physically possible efficiency; otherwise the text that flags it as a measurement problem."""
    if efficiency is None or (math.isfinite(efficiency) and 0.0 <= efficiency <= EFFICIENCY_BOUND):
        return ""
    return (
        f"measurement problem: achieved FLOP/s is {efficiency:.3g} x the measured peak (cannot exceed 1); "
        "the peak was measured too low or the step was mistimed"
    )


@dataclass(frozen=True)
class GemmRate:
    """One square matrix-product size timed for the peak."""

    n: int
    fastest_s: float
    median_s: float
    blocks: int

    RANGES: ClassVar[dict[str, tuple[float, float]]] = {"n": (1, 2**20), "fastest_s": POSITIVE_SECONDS,
                                                         "median_s": POSITIVE_SECONDS, "blocks": AT_LEAST_ONE}

    @property
    def flop_per_s(self) -> float:
        return 2 * self.n**3 / self.fastest_s

    @property
    def median_flop_per_s(self) -> float:
        return 2 * self.n**3 / self.median_s


@dataclass(frozen=True)
class PeakPass:
    """One measurement of the GEMM peak (at the start or at the end of a run)."""

    label: str
    utc: str
    rates: tuple[GemmRate, ...]

    def schema_problem(self) -> str | None:
        return None if self.rates else f"peak pass {self.label!r} has no rates"

    @property
    def best(self) -> GemmRate:
        return max(self.rates, key=lambda r: r.flop_per_s)

    @property
    def flop_per_s(self) -> float:
        return self.best.flop_per_s


@dataclass
class Peak:
    """The GEMM peak of one (backend, device, dtype, precision) at the run's thread count: the best rate of
    every pass (background load can only lower a rate)."""

    key: str
    backend: str
    device: str
    dtype: str
    precision: str
    threads: int | None
    passes: list[PeakPass] = field(default_factory=list)
    error: str | None = None

    RANGES: ClassVar[dict[str, tuple[float, float]]] = {"threads": AT_LEAST_ONE}
    JSON_DEFAULTS: ClassVar[dict[str, Any]] = {"threads": None}

    @property
    def flop_per_s(self) -> float | None:
        return max(p.flop_per_s for p in self.passes) if self.passes else None

    def pass_rate(self, label: str) -> float | None:
        rates = [p.flop_per_s for p in self.passes if p.label == label]
        return max(rates) if rates else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "backend": self.backend, "device": self.device, "dtype": self.dtype,
            "precision": self.precision, "threads": self.threads, "error": self.error,
            "flop_per_s": self.flop_per_s,
            "passes": [
                {"label": p.label, "utc": p.utc, "flop_per_s": p.flop_per_s, "best_n": p.best.n,
                 "rates": [{"n": r.n, "fastest_s": r.fastest_s, "median_s": r.median_s, "blocks": r.blocks,
                            "flop_per_s": r.flop_per_s} for r in p.rates]}
                for p in self.passes
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "peak") -> Peak:
        return decode(cls, data, where)


@dataclass(frozen=True)
class RunSettings:
    """Everything a cell's numbers depend on besides the implementation: the grid and its timing caps, the
    thread count, library versions and the device. A run can only be resumed under equal settings."""

    grid: Mapping[str, Any]
    threads: int
    libraries: Mapping[str, str | None]
    device: Mapping[str, Any]

    RANGES: ClassVar[dict[str, tuple[float, float]]] = {"threads": AT_LEAST_ONE}

    def to_dict(self) -> dict[str, Any]:
        return {"grid": dict(self.grid), "threads": self.threads, "libraries": dict(self.libraries),
                "device": dict(self.device)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "settings") -> RunSettings:
        return decode(cls, data, where)

    def differences(self, other: RunSettings) -> list[str]:
        """'name: this -> other' for every setting that differs (grid entries one by one)."""
        out = []
        for section in ("grid", "libraries", "device"):
            mine, theirs = getattr(self, section), getattr(other, section)
            for key in sorted(set(mine) | set(theirs)):
                if mine.get(key) != theirs.get(key):
                    out.append(f"{key}: {_short(mine.get(key))} -> {_short(theirs.get(key))}")
        if self.threads != other.threads:
            out.insert(0, f"threads: {self.threads} -> {other.threads}")
        return out


def _short(value: Any) -> str:
    text = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class ConformanceVerdict:
    impl: str
    dtype: str
    first_failure: str | None

    JSON_DEFAULTS: ClassVar[dict[str, Any]] = {"first_failure": None}

    @property
    def conforming(self) -> bool:
        return self.first_failure is None


@dataclass(frozen=True)
class Speedup:
    """An accelerator cell against the fastest conforming CPU cell of the same (model, dtype, optimizer,
    batch); `speedup` is None with the reason when there is nothing to compare."""

    impl: str
    model: str
    dtype: str
    optimizer: str | None
    batch_size: int
    cpu_impl: str | None
    speedup: float | None
    reason: str

    RANGES: ClassVar[dict[str, tuple[float, float]]] = {"batch_size": AT_LEAST_ONE, "speedup": NON_NEGATIVE}


@dataclass(frozen=True)
class Crossover:
    impl: str
    model: str
    dtype: str
    optimizer: str | None
    crossover: int | None
    text: str

    RANGES: ClassVar[dict[str, tuple[float, float]]] = {"crossover": AT_LEAST_ONE}


@dataclass
class BenchResults:
    """The whole run, as written to bench.json."""

    schema: str
    created_utc: str
    command: str
    settings: RunSettings
    flop_formula: str
    gemm_formula: str
    environment: EnvironmentRecord
    conformance: list[ConformanceVerdict]
    peaks: dict[str, Peak]
    cells: list[CellResult]
    speedups: list[Speedup]
    crossovers: list[Crossover]
    threads_note: str = ""  # how the thread count was chosen (contention.thread_note)

    JSON_DEFAULTS: ClassVar[dict[str, Any]] = {
        "created_utc": "", "command": "", "flop_formula": "", "gemm_formula": "", "environment": {},
        "conformance": [], "peaks": {}, "speedups": [], "crossovers": [], "threads_note": "",
    }

    @property
    def threads(self) -> int:
        return self.settings.threads

    @property
    def grid(self) -> Mapping[str, Any]:
        return self.settings.grid

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "created_utc": self.created_utc,
            "command": self.command,
            "settings": self.settings.to_dict(),
            "flop_formula": self.flop_formula,
            "gemm_formula": self.gemm_formula,
            "environment": self.environment,
            "conformance": [
                {"impl": v.impl, "dtype": v.dtype, "conforming": v.conforming, "first_failure": v.first_failure}
                for v in self.conformance
            ],
            "peaks": {key: peak.to_dict() for key, peak in self.peaks.items()},
            "cells": [cell.to_dict() for cell in self.cells],
            "speedups": [dict(s.__dict__) for s in self.speedups],
            "crossovers": [dict(c.__dict__) for c in self.crossovers],
            "threads_note": self.threads_note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BenchResults:
        """The whole result from bench.json's parsed JSON; RecordError naming the first field that is wrong."""
        return decode(cls, data)
