"""Typed records of a benchmark run: cells, GEMM peaks, the run's settings, speedups and the whole result.

Every module past measurement (tables, plots, speedups, comparisons, CSV) reads these records. Each record
turns into plain JSON with `to_dict` and back with `from_dict`; the fields of `CellResult` define the CSV
columns (those marked csv=False are lists or mappings that stay in the JSON only).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any

from mlpbench.verdicts import Verdict

EFFICIENCY_BOUND = 1.0
"""Achieved FLOP/s can never exceed the peak; a ratio above this is a measurement problem."""


CellStatus = Verdict
"""A benchmark cell's status: OK (timed), UNAVAILABLE, NOT_CONFORMING, SKIPPED or ERROR of the one vocabulary."""
CELL_STATUSES = (Verdict.OK, Verdict.UNAVAILABLE, Verdict.NOT_CONFORMING, Verdict.SKIPPED, Verdict.ERROR)


class CellKind(str, Enum):
    TRAIN_STEP = "train_step"
    H2D_TRANSFER = "h2d_transfer"


class RecordError(ValueError):
    """A stored record that does not have the expected shape."""


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
    hyper: dict[str, Any] | None = field(default=None, metadata=_json_only())
    block_seconds: tuple[float, ...] = field(default=(), metadata=_json_only())

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
        """samples/s at the third and at the first quartile of the per-step time (low, high)."""
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
    def from_dict(cls, data: Mapping[str, Any]) -> CellResult:
        if not isinstance(data, Mapping):
            raise RecordError("a cell record must be a JSON object")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        try:
            values["kind"] = CellKind(values["kind"])
            values["status"] = CellStatus(values["status"])
            if values["status"] not in CELL_STATUSES:
                raise ValueError(f"{values['status'].value!r} is not a cell status")
            values["sizes"] = tuple(int(s) for s in values.get("sizes") or ())
            values["block_seconds"] = tuple(float(s) for s in values.get("block_seconds") or ())
            return cls(**values)
        except (KeyError, TypeError, ValueError) as error:
            raise RecordError(f"cell {data.get('id', '?')!r}: {type(error).__name__}: {error}") from None


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
    def from_dict(cls, data: Mapping[str, Any]) -> Peak:
        try:
            passes = [
                PeakPass(p["label"], p["utc"], tuple(
                    GemmRate(int(r["n"]), float(r["fastest_s"]), float(r["median_s"]), int(r["blocks"]))
                    for r in p["rates"]))
                for p in data.get("passes", [])
            ]
            return cls(data["key"], data["backend"], data["device"], data["dtype"], data["precision"],
                       data.get("threads"), passes, data.get("error"))
        except (KeyError, TypeError, ValueError) as error:
            raise RecordError(f"peak {data.get('key', '?')!r}: {type(error).__name__}: {error}") from None


@dataclass(frozen=True)
class RunSettings:
    """Everything a cell's numbers depend on besides the implementation: the grid and its timing caps, the
    thread count, library versions and the device. A run can only be resumed under equal settings."""

    grid: Mapping[str, Any]
    threads: int
    libraries: Mapping[str, str | None]
    device: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"grid": dict(self.grid), "threads": self.threads, "libraries": dict(self.libraries),
                "device": dict(self.device)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSettings:
        try:
            return cls(dict(data["grid"]), int(data["threads"]), dict(data["libraries"]), dict(data["device"]))
        except (KeyError, TypeError, ValueError) as error:
            raise RecordError(f"run settings: {type(error).__name__}: {error}") from None

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


@dataclass(frozen=True)
class Crossover:
    impl: str
    model: str
    dtype: str
    optimizer: str | None
    crossover: int | None
    text: str


@dataclass
class BenchResults:
    """The whole run, as written to bench.json."""

    schema: str
    created_utc: str
    command: str
    settings: RunSettings
    flop_formula: str
    gemm_formula: str
    environment: dict[str, Any]
    conformance: list[ConformanceVerdict]
    peaks: dict[str, Peak]
    cells: list[CellResult]
    speedups: list[Speedup]
    crossovers: list[Crossover]

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
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BenchResults:
        try:
            return cls(
                schema=data["schema"],
                created_utc=data.get("created_utc", ""),
                command=data.get("command", ""),
                settings=RunSettings.from_dict(data["settings"]),
                flop_formula=data.get("flop_formula", ""),
                gemm_formula=data.get("gemm_formula", ""),
                environment=dict(data.get("environment", {})),
                conformance=[ConformanceVerdict(v["impl"], v["dtype"], v.get("first_failure"))
                             for v in data.get("conformance", [])],
                peaks={key: Peak.from_dict(p) for key, p in data.get("peaks", {}).items()},
                cells=[CellResult.from_dict(c) for c in data["cells"]],
                speedups=[Speedup(**s) for s in data.get("speedups", [])],
                crossovers=[Crossover(**c) for c in data.get("crossovers", [])],
            )
        except RecordError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise RecordError(f"{type(error).__name__}: {error}") from None
