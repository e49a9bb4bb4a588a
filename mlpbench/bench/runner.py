"""Running the benchmark grid: the plan (plan.py) cell by cell, each written atomically as it finishes.

For every planned cell: implementation unavailable here -> unavailable (one line per implementation on the
progress stream, not one per cell); not claimed -> skipped; quick conformance check failed -> not_conforming,
not timed; estimated memory or time over the caps (budget.py) -> skipped; otherwise measured (measure.py:
plain data in, timings out) and derived (derive.py). The GEMM peak of a (backend, device, dtype, precision)
is measured before its first timed cell and again after the run's last cell (and, at most MAX_PEAK_RECHECKS
times, right after a cell that came out faster than the peak allows: that pass ran under load); every
efficiency is then computed against the best of all passes (peak.py), and one still above 1 is flagged.

The run directory is opened as an `OwnedFolder` (the ownership rule, `mlpbench.output.folder`) for the whole
run: created only now, locked, and every file written through it is recorded in its manifest; a fresh run (not
--resume) clears only the earlier run's own files.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from mlpbench.bench import results as store
from mlpbench.bench.budget import Budget
from mlpbench.bench.contention import CONTENDED_SHARE
from mlpbench.bench.derive import planned_cell_record, with_peak, with_timing
from mlpbench.bench.environment import EnvironmentRecord, environment_record
from mlpbench.bench.flops import GEMM_FORMULA, TRAINING_STEP_FORMULA, training_step_flops
from mlpbench.bench.measure import set_threads
from mlpbench.bench.peak import PeakTarget, measure_peak_pass, peak_target
from mlpbench.bench.plan import ImplInfo, PlannedCell, check_resumable, plan_cells, reusable
from mlpbench.bench.records import (
    BenchResults,
    CellKind,
    CellResult,
    CellStatus,
    ConformanceVerdict,
    Peak,
    PeakPass,
    RunSettings,
)
from mlpbench.bench.speedup import crossovers, speedups
from mlpbench.bench.timing import BlockTiming, TimingSettings
from mlpbench.catalogue.benchmark import BenchCase, Grid
from mlpbench.output.folder import OwnedFolder
from mlpbench.output.manifest import BENCH
from mlpbench.report_text import terminal_text

MAX_PEAK_RECHECKS = 3
"""Extra peak passes per peak in one run, each right after a cell came out faster than the peak allows."""

Measure = Callable[[str, CellKind, BenchCase, TimingSettings, int], BlockTiming]


def claim_problem(caps, case: BenchCase, precision: str = "ieee") -> str | None:
    """What the implementation does not claim for this case, or None."""
    spec = case.spec
    if precision != "ieee" and case.dtype != "float32":
        return f"dtype {case.dtype} in the {precision} mode (it changes float32 matmuls only)"
    if case.dtype not in caps.dtypes:
        return f"dtype {case.dtype}"
    if case.optimizer not in caps.optimizers:
        return f"optimizer {case.optimizer}"
    if case.loss not in caps.losses:
        return f"loss {case.loss}"
    if spec.activation not in caps.activations:
        return f"activation {spec.activation}"
    if not caps.model:
        return "model (forward/backward)"
    return None


def run_settings(grid: Grid, threads: int, environment: EnvironmentRecord) -> RunSettings:
    """The settings a resumed run must share: the grid with its caps, threads, library versions, device."""
    torch = environment.get("torch", {})
    gpu = torch.get("gpu")
    return RunSettings(
        grid=grid.to_dict(),
        threads=threads,
        libraries={"python": environment.get("python"), "numpy": environment.get("numpy"),
                   "torch": torch.get("version")},
        device={"cpu_model": environment.get("cpu_model"), "cpu_cores": environment.get("cpu_cores"),
                "gpu": gpu["name"] if gpu else None, "precision_flags": torch.get("precision_flags")},
    )


def timing_settings(grid: Grid) -> TimingSettings:
    return TimingSettings(grid.min_block_seconds, grid.blocks, grid.min_blocks, grid.max_seconds_per_cell,
                          grid.warmup_seconds)


def peak_timing_settings(grid: Grid) -> TimingSettings:
    """Many blocks per GEMM size (the fastest counts), at least as long as the cells' blocks."""
    return TimingSettings(max(grid.peak_min_block_seconds, grid.min_block_seconds), grid.peak_blocks,
                          grid.peak_blocks, grid.peak_seconds_per_size, grid.warmup_seconds)


@dataclass
class BenchRun:
    grid: Grid
    implementations: Sequence[tuple[ImplInfo, Any]]  # (plan info, capabilities or None when unavailable)
    out_dir: Path
    conformance: Callable[[str, str], str | None]  # (requested name, dtype) -> first quick-check failure
    measure: Measure  # in the implementation's worker (mlpbench.bench.isolated) or a fake in tests
    resume: bool = False
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    progress: IO[str] | None = None  # default: sys.stderr at the time of the run
    measure_peak: Callable[[PeakTarget, tuple[int, ...], TimingSettings, str], PeakPass] = measure_peak_pass
    command_line: str = ""
    threads_note: str = ""  # how `threads` was chosen (contention.thread_note)
    busy_warning: str | None = None  # printed when the run starts (after its settings are accepted)
    render: Callable[[OwnedFolder, BenchResults], object] | None = None

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        self.cells: dict[str, CellResult] = {}
        self.peaks: dict[str, Peak] = {}
        self.environment: EnvironmentRecord = {}
        self.settings: RunSettings | None = None
        self._verdicts: dict[tuple[str, str], str | None] = {}
        self._budget = Budget(self.grid.max_seconds_per_cell, self.grid.min_blocks)
        self._peaks_used: set[str] = set()
        self._rechecks: dict[str, int] = {}
        self._capabilities = {info.name: caps for info, caps in self.implementations}
        self.folder: OwnedFolder | None = None  # the run directory, open while the run writes it

    def _open_folder(self) -> OwnedFolder:
        """The run directory; only while run() writes it."""
        if self.folder is None:
            raise RuntimeError("the benchmark run's folder is written only while run() runs")
        return self.folder

    # -- results --------------------------------------------------------------------------------------------
    def results(self, order: dict[str, int] | None = None) -> BenchResults:
        if self.settings is None:
            raise RuntimeError("BenchRunner.results() before run(): the run's settings are not known yet")
        cells = list(self.cells.values())
        if order is not None:
            cells.sort(key=lambda c: order.get(c.id, len(order)))
        return BenchResults(
            schema=store.SCHEMA,
            created_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            command=self.command_line,
            settings=self.settings,
            flop_formula=TRAINING_STEP_FORMULA,
            gemm_formula=GEMM_FORMULA,
            environment=self.environment,
            conformance=self._conformance_verdicts(),
            peaks=self.peaks,
            cells=cells,
            speedups=speedups(cells),
            crossovers=crossovers(cells),
            threads_note=self.threads_note,
        )

    def _say(self, line: str) -> None:
        print(terminal_text(line, 4000), file=self.progress or sys.stderr, flush=True)

    def _store(self, cell: CellResult, order: dict[str, int] | None = None) -> None:
        """The cell's file, and with `order` the aggregate bench.json too, in one write."""
        self.cells[cell.id] = cell
        store.write_cells(self._open_folder(), [cell], None if order is None else self.results(order))

    # -- peaks ----------------------------------------------------------------------------------------------
    def _target(self, planned: PlannedCell) -> PeakTarget:
        return peak_target(planned.impl.name, planned.impl.device, planned.impl.precision, planned.case.dtype)

    def _measure_peak(self, target: PeakTarget, label: str) -> None:
        peak = self.peaks.get(target.key) or Peak(target.key, target.backend, target.device, target.dtype,
                                                   target.precision, self.threads if target.device == "cpu" else None)
        sizes = self.grid.gemm_sizes_cpu if target.device == "cpu" else self.grid.gemm_sizes_gpu
        try:
            measured = self.measure_peak(target, sizes, peak_timing_settings(self.grid), label)
        except Exception as error:
            peak.error = f"{type(error).__name__}: {error}"
        else:
            peak.passes.append(measured)
            self._say(f"GEMM peak {target.key} ({label}, best of n={', '.join(map(str, sizes))} at "
                      f"n={measured.best.n}): {measured.flop_per_s / 1e9:.1f} GFLOP/s")
        self.peaks[target.key] = peak
        store.write_peak(self._open_folder(), peak)

    def _peak(self, planned: PlannedCell) -> Peak:
        target = self._target(planned)
        if target.key not in self._peaks_used:
            self._peaks_used.add(target.key)
            self._measure_peak(target, "start")
        return self.peaks[target.key]

    # -- one cell -------------------------------------------------------------------------------------------
    def _conformance(self, planned: PlannedCell) -> str | None:
        key = (planned.impl.name, planned.case.dtype)
        if key not in self._verdicts:
            try:
                self._verdicts[key] = self.conformance(planned.impl.requested, planned.case.dtype)
            except Exception as error:
                self._verdicts[key] = f"quick check raised {type(error).__name__}: {error}"
            store.write_conformance(self._open_folder(), self._conformance_verdicts())
        return self._verdicts[key]

    def _conformance_verdicts(self) -> list[ConformanceVerdict]:
        return [ConformanceVerdict(impl, dtype, failure) for (impl, dtype), failure in self._verdicts.items()]

    def _run_cell(self, planned: PlannedCell) -> CellResult:
        cell = planned_cell_record(planned, self.threads)
        impl, case = planned.impl, planned.case
        if impl.unavailable is not None:
            return replace(cell, status=CellStatus.UNAVAILABLE, reason=impl.unavailable)
        problem = claim_problem(self._capabilities[impl.name], case, impl.precision)
        if problem:
            return replace(cell, status=CellStatus.SKIPPED, reason=f"not claimed: {problem}")
        failure = self._conformance(planned)
        if failure is not None:
            return replace(cell, status=CellStatus.NOT_CONFORMING, reason=failure)
        peak = None
        try:
            if planned.kind is CellKind.TRAIN_STEP:
                peak = self._peak(planned)
                at_peak = (training_step_flops(case.spec, case.batch_size) / peak.flop_per_s
                           if peak.flop_per_s else None)
                budget = self._budget.problem(planned.series, case.spec, case.batch_size, case.dtype, impl.device,
                                              at_peak)
                if budget:
                    return replace(cell, status=CellStatus.SKIPPED, reason=budget)
            timing = self.measure(impl.requested, planned.kind, case, timing_settings(self.grid), self.threads)
        except Exception as error:
            last = traceback.extract_tb(error.__traceback__)[-1]
            return replace(cell, status=CellStatus.ERROR,
                           reason=f"{type(error).__name__}: {error} ({Path(last.filename).name}:{last.lineno})")
        cell = with_peak(with_timing(cell, timing), peak)
        if cell.efficiency_problem and peak is not None and self._rechecks.get(peak.key, 0) < MAX_PEAK_RECHECKS:
            # a step faster than the peak allows: the peak pass ran under load; measure it again now
            self._rechecks[peak.key] = self._rechecks.get(peak.key, 0) + 1
            self._measure_peak(self._target(planned), "recheck")
            cell = with_peak(cell, self.peaks[peak.key])
        if planned.kind is CellKind.TRAIN_STEP:
            self._budget.record(planned.series, case.batch_size, cell.measured_median_s)
        return cell

    def _progress_line(self, cell: CellResult, done: int, total: int, left_s: float) -> str:
        if cell.status is CellStatus.OK:
            what = (f"{cell.samples_per_s:,.0f} samples/s, median {cell.measured_median_s * 1e3:.3g} ms, "
                    f"IQR {cell.iqr_fraction:.0%}" + (" (noisy)" if cell.noisy else ""))
            if cell.efficiency_problem:
                what += f"; efficiency {cell.efficiency:.2f} against the start peak: {cell.efficiency_problem}"
            what += f"; load: {cell.load_text}"
        else:
            what = f"{cell.status.text}: {cell.reason}"
        return f"[{done}/{total}] {cell.id}: {what}  ~{left_s:.0f}s left"

    def _warn(self, cell: CellResult) -> None:
        """A warning line for a noisy cell and one for a contended cell."""
        if cell.noisy:
            self._say(f"warning: {cell.id}: IQR is {cell.iqr_fraction:.0%} of the median (> 10%)")
        if cell.contended:
            self._say(f"warning: {cell.id}: {cell.load_text} (> {CONTENDED_SHARE:.0%}): marked contended")

    # -- the run --------------------------------------------------------------------------------------------
    def run(self) -> BenchResults:
        """Raises plan.SettingsMismatch (before anything is written) when --resume meets other settings."""
        self.environment = environment_record()
        self.settings = run_settings(self.grid, self.threads, self.environment)
        with OwnedFolder(self.out_dir, BENCH) as folder:
            self.folder = folder
            try:
                return self._run_in(folder)
            finally:
                self.folder = None

    def _run_in(self, folder: OwnedFolder) -> BenchResults:
        settings = self.settings
        if settings is None:
            raise RuntimeError("BenchRunner._run_in() before the run's settings are known")
        if self.resume:
            finished = store.read_cells(folder.real)
            check_resumable(store.read_settings(folder.real), settings, store.has_cell_files(folder.real))
            self.cells = finished
            self.peaks = store.read_peaks(folder.real)
            self._verdicts = {(v.impl, v.dtype): v.first_failure for v in store.read_conformance(folder.real)}
        else:
            store.clear_run_files(folder)
        store.write_settings(folder, settings)
        if self.busy_warning:
            self._say(self.busy_warning)
        restore_threads = set_threads(self.threads)
        try:
            return self._run()
        finally:
            restore_threads()

    def _run(self) -> BenchResults:
        plan = plan_cells(self.grid, [info for info, _ in self.implementations])
        order = {planned.id: i for i, planned in enumerate(plan)}
        self.cells = reusable(plan, self.cells)
        for cell in self.cells.values():
            if cell.kind is CellKind.TRAIN_STEP and cell.status is CellStatus.OK:
                self._budget.record(cell.series, cell.batch_size, cell.measured_median_s)
        todo = [planned for planned in plan if planned.id not in self.cells]
        if self.resume:
            self._say(f"resuming: {len(plan) - len(todo)} of {len(plan)} cells already done")
        for info, _ in self.implementations:
            count = sum(planned.impl is info for planned in todo)
            if info.unavailable is not None and count:
                self._say(f"{info.name}: unavailable here ({count} cells not timed): {info.unavailable}")
        workable = [planned.impl.unavailable is None for planned in todo]
        spent: list[float] = []
        for done, planned in enumerate(todo, start=1):
            began = time.perf_counter()
            cell = self._run_cell(planned)
            self._store(cell, order)
            if cell.status is CellStatus.UNAVAILABLE:
                continue
            spent.append(time.perf_counter() - began)
            left = sum(spent) / len(spent) * sum(workable[done:])
            self._say(self._progress_line(cell, done, len(todo), left))
            self._warn(cell)
        self._finish_peaks()
        results = self.results(order)
        store.write_aggregate(self._open_folder(), results)
        if self.render is not None:
            self.render(self._open_folder(), results)
        return results

    def _finish_peaks(self) -> None:
        """The end pass of every peak this invocation used, then every timed cell's efficiency against the
        best pass of its peak."""
        for key in sorted(self._peaks_used):
            peak = self.peaks[key]
            self._measure_peak(PeakTarget(peak.backend, peak.device, peak.dtype, peak.precision), "end")
        for ident, cell in list(self.cells.items()):
            if cell.kind is CellKind.TRAIN_STEP and cell.status is CellStatus.OK and cell.peak_key in self.peaks:
                updated = with_peak(cell, self.peaks[cell.peak_key])
                if updated != cell:
                    self._store(updated)
                if updated.efficiency_problem:
                    self._say(f"warning: {ident}: {updated.efficiency_problem}")
