"""The benchmark's calls into implementations, each in the implementation's supervised worker process.

`IsolatedCalls` keeps one worker per requested implementation for the whole run: loading it (what it is,
whether it is available, what it claims), its quick conformance check, and every cell's measurement run
there, never in the benchmark's own process. A cell whose worker exits, crashes or runs past its time limit
(the cell's budget plus `step_timeout`, so a step that hangs is stopped by killing the worker) becomes an
error cell naming what happened, and the next cell gets a fresh worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlpbench.bench.measure import time_cell
from mlpbench.bench.plan import ImplInfo
from mlpbench.bench.records import CellKind
from mlpbench.bench.timing import BlockTiming, TimingSettings
from mlpbench.catalogue.benchmark import BenchCase
from mlpbench.conformance.runner import quick_check
from mlpbench.isolation.supervisor import Worker, WorkerDied, preload_for
from mlpbench.isolation.worker import ImplInfo as WorkerInfo


class CellFailed(RuntimeError):
    """A measurement whose worker did not return (exit, signal or time-out)."""


@dataclass
class IsolatedCalls:
    step_timeout: float
    quick_check_timeout: float = 60.0
    workers: dict[str, Worker] = field(default_factory=dict)
    infos: dict[str, WorkerInfo] = field(default_factory=dict)

    def worker(self, name: str) -> Worker:
        if name not in self.workers:
            preload_for([name])
            self.workers[name] = Worker(name)
        return self.workers[name]

    def close(self) -> None:
        for worker in self.workers.values():
            worker.close()
        self.workers.clear()

    def load(self, name: str) -> tuple[ImplInfo, object | None, str]:
        """(plan info, capabilities or None, usage problem or "") for the implementation `name`."""
        outcome = self.worker(name).load()
        if isinstance(outcome, WorkerDied):
            return ImplInfo(name, name, "unknown", "ieee", f"cannot load: {outcome.describe()}"), None, ""
        self.infos[name] = outcome
        if outcome.unknown:
            return ImplInfo(name, name, "unknown", "ieee", f"not registered: {outcome.unknown}"), None, outcome.unknown
        problem = outcome.load_error or outcome.capabilities_error
        if problem:
            return ImplInfo(name, name, "unknown", "ieee", f"cannot load: {problem}"), None, ""
        info = ImplInfo(name, outcome.name or name, outcome.device, outcome.precision,
                        None if outcome.available else (outcome.reason or "not available here"))
        return info, (outcome.capabilities if outcome.available else None), ""

    def conformance(self, name: str, dtype: str) -> str | None:
        """The first failure of the quick conformance check, or None when it passes."""
        info = self.infos[name]
        if info.capabilities is None:  # load() reports such an implementation unavailable: none of its cells run
            raise RuntimeError(f"{name}: no capabilities to check ({info.capabilities_error})")
        for result in quick_check(self.worker(name), info.capabilities, dtype, timeout=self.quick_check_timeout):
            if result.failed:
                return f"{result.case_id}: {result.message}"
        return None

    def measure(self, name: str, kind: CellKind, case: BenchCase, timing: TimingSettings, threads: int
                ) -> BlockTiming:
        limit = cell_time_limit(timing, self.step_timeout)
        outcome = self.worker(name).apply(time_cell, kind, case, timing, threads, timeout=limit)
        if isinstance(outcome, WorkerDied):
            raise CellFailed(outcome.describe())
        return outcome


def cell_time_limit(timing: TimingSettings, step_timeout: float) -> float:
    """Seconds a cell's measurement may take: warm-up and every block at up to twice its planned length, plus
    `step_timeout` for the one step that may take long (a hang past that is killed)."""
    planned = timing.warmup_seconds + max(timing.max_seconds, timing.blocks * timing.min_block_seconds)
    return 2.0 * planned + step_timeout
