"""Running the benchmark grid: one cell at a time, each written atomically as it finishes.

For every implementation and case: not claimed -> skipped; not available here -> unavailable (with the
implementation's reason); quick conformance check failed -> not_conforming (first failure), not timed;
estimated memory or time over the caps -> skipped; otherwise the training step is timed (see timing.py)
and throughput, FLOP/s and efficiency against the GEMM peak of the same device and dtype are derived.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from mlpbench.bench import results as results_io
from mlpbench.bench.environment import environment_record
from mlpbench.bench.flops import GEMM_FORMULA, TRAINING_STEP_FORMULA, training_step_flops
from mlpbench.bench.peak import measure_gemm_peak, peak_target
from mlpbench.bench.speedup import crossovers, speedups
from mlpbench.bench.timing import BlockTiming, time_blocks, time_trainer
from mlpbench.catalogue.benchmark import SEED, BenchCase, Grid, cases
from reference.losses import get_loss
from reference.spec import MLPSpec

# -- inputs of a cell -------------------------------------------------------------------------------------------


def initial_params(spec: MLPSpec, dtype: str, seed: int = SEED) -> list[np.ndarray]:
    """nn.Linear's default initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases, drawn
    by the suite in float64 and cast to the benchmark dtype."""
    try:
        from reference.model import init_params
    except ImportError:
        init_params = None
    rng = np.random.default_rng(seed)
    if init_params is not None:
        return [p.astype(dtype) for p in init_params(spec, rng)]
    params = []
    for fan_in, fan_out in zip(spec.sizes[:-1], spec.sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(dtype))
        params.append(rng.uniform(-bound, bound, (fan_out,)).astype(dtype))
    return params


def batch_data(spec: MLPSpec, batch_size: int, dtype: str, loss: str, seed: int = SEED):
    """x ~ N(0, 1) of shape (batch, in); the target as the loss draws it (Loss.draw_target): class indices
    (int64) for cross_entropy, {0, 1} of shape (batch, outputs) in the dtype for binary_cross_entropy_with_logits."""
    rng = np.random.default_rng([seed, batch_size])
    x = rng.standard_normal((batch_size, spec.sizes[0])).astype(dtype)
    target = get_loss(loss).draw_target(rng, batch_size, spec.sizes[-1])
    return x, target if target.dtype.kind == "i" else target.astype(dtype)


def make_trainer(impl, case: BenchCase):
    spec = case.spec
    x, target = batch_data(spec, case.batch_size, case.dtype, case.loss)
    params = initial_params(spec, case.dtype)
    return impl.make_trainer(spec, params, x, target, case.loss, case.optimizer, dict(case.hyper))


def estimated_bytes(spec: MLPSpec, batch_size: int, dtype: str, optimizer: str) -> int:
    """Activations, pre-activations and their gradients (4 per unit per sample), parameters, gradients and
    optimizer state (2 buffers for Adam, 1 for SGD with momentum, counted as 2)."""
    item = np.dtype(dtype).itemsize
    units = batch_size * sum(spec.sizes)
    return item * (4 * units + (2 + 2) * spec.n_params)


def memory_cap_bytes(device: str) -> int | None:
    """Half the available host memory for the CPU; 80 % of the device memory for CUDA."""
    if device.startswith("cuda"):
        try:
            import torch

            return int(0.8 * torch.cuda.get_device_properties(0).total_memory)
        except Exception:
            return None
    try:
        pages = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        return int(0.5 * pages)
    except (ValueError, OSError, AttributeError):
        return None


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


def estimated_step_seconds(points: Sequence[tuple[int, float]], batch_size: int,
                           at_peak: float | None) -> float | None:
    """A step-time estimate used only to decide whether a cell fits the budget (never reported as a result).

    From the two largest timed batches of the same series, t(b) = t1 + s (b - b1) with the slope
    s = (t1 - t0) / (b1 - b0) >= 0 (per-step overhead plus per-sample cost); from one, t(b) >= t1; never
    below the time at the measured GEMM peak, flops(b) / peak."""
    candidates = [at_peak] if at_peak else []
    ordered = sorted(points)
    if ordered:
        b1, t1 = ordered[-1]
        candidates.append(t1)
        if len(ordered) >= 2:
            b0, t0 = ordered[-2]
            slope = max((t1 - t0) / (b1 - b0), 0.0) if b1 != b0 else 0.0
            candidates.append(t1 + slope * (batch_size - b1))
    return max(candidates) if candidates else None


def set_threads(threads: int) -> Callable[[], None]:
    """Use `threads` CPU threads in torch (and in the BLAS pools threadpoolctl can reach); returns a function
    that restores the previous settings."""
    restores = []
    try:
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        restores.append(lambda: torch.set_num_threads(previous))
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(threads)
        restores.append(limiter.restore_original_limits)
    except ImportError:
        pass

    def restore() -> None:
        for undo in reversed(restores):
            undo()

    return restore


# -- the run ----------------------------------------------------------------------------------------------------


def _first_failure(check_results: Sequence[Any]) -> str | None:
    for result in check_results:
        if not getattr(result, "passed", True):
            for attr in ("message", "summary", "name"):
                text = getattr(result, attr, None)
                if text:
                    name = getattr(result, "name", "")
                    return f"{name}: {text}" if attr != "name" and name else str(text)
            return str(result)
    return None


def default_conformance(impl, dtype: str) -> str | None:
    """The first failure of the quick conformance check, or None when it passes."""
    from mlpbench.checks.engine import quick_check
    from mlpbench.isolation.supervisor import Worker

    with Worker(impl.name) as worker:
        return _first_failure(quick_check(worker, impl.capabilities(), dtype))


def _plan_id(kind: str, impl_name: str, impl, case: BenchCase) -> str:
    optimizer = case.optimizer if kind == "train_step" else None
    return results_io.cell_id(kind, impl_name, case.model, case.dtype, optimizer, case.batch_size)


@dataclass
class BenchRun:
    grid: Grid
    implementations: Sequence[tuple[str, Any]]  # (requested name, Implementation or the resolve error text)
    out_dir: Path
    resume: bool = False
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    progress: IO[str] = sys.stderr
    conformance: Callable[[Any, str], str | None] = default_conformance
    command_line: str = ""
    render: Callable[[Path, dict], None] | None = None

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        self.cells: dict[str, dict] = {}
        self.peaks: dict[str, dict] = {}
        self._conformance_cache: dict[tuple[str, str], str | None] = {}
        self._timed_points: dict[tuple, list[tuple[int, float]]] = {}
        self._budget_skipped: set[tuple] = set()
        self._work_seconds: list[float] = []

    # -- bookkeeping ----------------------------------------------------------------------------------------
    def results(self) -> dict:
        cells = list(self.cells.values())
        return {
            "schema": results_io.SCHEMA,
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": self.command_line,
            "grid": self.grid.to_dict(),
            "threads": self.threads,
            "flop_formula": TRAINING_STEP_FORMULA,
            "gemm_formula": GEMM_FORMULA,
            "environment": self.environment,
            "conformance": {
                f"{impl}/{dtype}": {"conforming": failure is None, "first_failure": failure}
                for (impl, dtype), failure in self._conformance_cache.items()
            },
            "peaks": self.peaks,
            "cells": cells,
            "speedups": speedups(cells),
            "crossovers": crossovers(cells),
        }

    def _finish(self, cell: dict, done: int, total: int, seconds: float, timed_left: int) -> None:
        """Store the cell (atomically), then print one progress line with an estimate of the time left:
        the mean duration of the cells that did work so far times the cells of available implementations left."""
        self.cells[cell["id"]] = cell
        results_io.write_cell(self.out_dir, cell)
        results_io.write_aggregate(self.out_dir, self.results())
        if cell["status"] in ("ok", "skipped", "not_conforming", "error") and seconds > 0.0:
            self._work_seconds.append(seconds)
        mean = sum(self._work_seconds) / len(self._work_seconds) if self._work_seconds else 0.0
        left = mean * timed_left
        if cell["status"] == "ok":
            what = (
                f"{cell['samples_per_s']:,.0f} samples/s, median {cell['median_s'] * 1e3:.3g} ms"
                f", IQR {cell['iqr_fraction']:.0%}" + (" (noisy)" if cell["noisy"] else "")
            )
        else:
            what = f"{cell['status']}: {cell['reason']}"
        line = f"[{done}/{total}] {cell['id']}: {what}  ~{left:.0f}s left"
        print(line, file=self.progress, flush=True)

    # -- one cell -------------------------------------------------------------------------------------------
    def _base_cell(self, kind: str, impl_name: str, impl, case: BenchCase) -> dict:
        spec = case.spec
        optimizer = case.optimizer if kind == "train_step" else None
        return {
            "id": results_io.cell_id(kind, impl_name, case.model, case.dtype, optimizer, case.batch_size),
            "kind": kind,
            "impl": impl_name,
            "device": getattr(impl, "device", "unknown"),
            "precision": getattr(impl, "precision", "ieee"),
            "model": case.model,
            "sizes": list(spec.sizes),
            "parameters": spec.n_params,
            "batch_size": case.batch_size,
            "dtype": case.dtype,
            "optimizer": optimizer,
            "loss": case.loss if kind == "train_step" else None,
            "hyper": dict(case.hyper) if kind == "train_step" else None,
            "threads": self.threads if getattr(impl, "device", "cpu") == "cpu" else None,
            "status": "ok",
            "reason": "",
        }

    def _timing_options(self) -> dict:
        g = self.grid
        return {
            "min_block_seconds": g.min_block_seconds,
            "blocks": g.blocks,
            "min_blocks": g.min_blocks,
            "max_seconds": g.max_seconds_per_cell,
            "warmup_seconds": g.warmup_seconds,
        }

    def _peak(self, impl, dtype: str) -> dict | None:
        target = peak_target(impl, dtype)
        if target.key not in self.peaks:
            sizes = self.grid.gemm_sizes_cpu if target.device == "cpu" else self.grid.gemm_sizes_gpu
            try:
                peak = measure_gemm_peak(target, sizes, **self._timing_options())
            except Exception as error:
                peak = {"key": target.key, "error": f"{type(error).__name__}: {error}", "flop_per_s": None}
            self.peaks[target.key] = peak
            results_io.write_peak(self.out_dir, peak)
            if peak.get("flop_per_s"):
                print(
                    f"GEMM peak {target.key} (best of n={', '.join(map(str, sizes))} at n={peak['n']}): "
                    f"{peak['flop_per_s'] / 1e9:.1f} GFLOP/s",
                    file=self.progress, flush=True,
                )
        return self.peaks[target.key]

    def _conforming(self, impl_name: str, impl, dtype: str) -> str | None:
        key = (impl_name, dtype)
        if key not in self._conformance_cache:
            try:
                failure = self.conformance(impl, dtype)
            except Exception as error:
                failure = f"quick check raised {type(error).__name__}: {error}"
            self._conformance_cache[key] = failure
        return self._conformance_cache[key]

    def _budget_problem(self, cell: dict, case: BenchCase, series: tuple, peak: dict | None) -> str | None:
        cap = memory_cap_bytes(cell["device"])
        need = estimated_bytes(case.spec, case.batch_size, case.dtype, case.optimizer)
        if cap is not None and need > cap:
            return f"memory (estimated {need / 2**30:.1f} GiB > cap {cap / 2**30:.1f} GiB)"
        if series in self._budget_skipped:
            return "budget (a smaller batch of this series already exceeded it)"
        estimate = estimated_step_seconds(
            self._timed_points.get(series, []), case.batch_size,
            training_step_flops(case.spec, case.batch_size) / peak["flop_per_s"]
            if peak and peak.get("flop_per_s") else None,
        )
        if estimate is None:
            return None
        minimum_steps = 2 + self.grid.min_blocks
        if estimate * minimum_steps > self.grid.max_seconds_per_cell:
            self._budget_skipped.add(series)
            return (
                f"budget (estimated {estimate:.3g} s/step x {minimum_steps} steps > "
                f"{self.grid.max_seconds_per_cell:g} s per cell)"
            )
        return None

    def _time_step(self, cell: dict, impl, case: BenchCase, peak: dict | None) -> None:
        trainer = make_trainer(impl, case)
        cell["compile_s"] = getattr(trainer, "compile_s", None)  # jit/compile time, measured apart from steps
        timing = time_trainer(trainer, **self._timing_options())
        self._fill_timing(cell, timing, case.batch_size)
        flop = training_step_flops(case.spec, case.batch_size)
        cell["flop_per_step"] = flop
        cell["flop_per_s"] = flop * timing.total_steps / timing.total_seconds
        if peak and peak.get("flop_per_s"):
            cell["peak_key"] = peak["key"]
            cell["peak_flop_per_s"] = peak["flop_per_s"]
            cell["efficiency"] = cell["flop_per_s"] / peak["flop_per_s"]
        else:
            cell["peak_key"] = peak.get("key") if peak else None
            cell["peak_flop_per_s"] = None
            cell["efficiency"] = None

    def _time_transfer(self, cell: dict, impl, case: BenchCase) -> None:
        x, target = batch_data(case.spec, case.batch_size, case.dtype, case.loss)
        arrays = [x, target]
        timing = time_blocks(lambda: impl.transfer_to_device(arrays), **self._timing_options())
        self._fill_timing(cell, timing, case.batch_size)
        cell["bytes"] = int(x.nbytes + target.nbytes)
        cell["bytes_per_s"] = cell["bytes"] * timing.total_steps / timing.total_seconds

    @staticmethod
    def _fill_timing(cell: dict, timing: BlockTiming, batch_size: int) -> None:
        q1, q3 = timing.quartiles
        cell.update(
            steps_per_block=timing.steps_per_block,
            block_seconds=timing.block_seconds,
            warmup_steps=timing.warmup_steps,
            median_s=timing.median,
            q1_s=q1,
            q3_s=q3,
            iqr_fraction=timing.iqr / timing.median,
            noisy=timing.noisy,
            samples_per_s=batch_size * timing.total_steps / timing.total_seconds,
        )

    def _run_cell(self, kind: str, impl_name: str, impl, case: BenchCase) -> dict:
        if isinstance(impl, str):  # could not be resolved
            cell = self._base_cell(kind, impl_name, None, case)
            cell.update(status="unavailable", reason=impl)
            return cell
        cell = self._base_cell(kind, impl_name, impl, case)
        problem = claim_problem(impl.capabilities(), case, getattr(impl, "precision", "ieee"))
        if problem:
            cell.update(status="skipped", reason=f"not claimed: {problem}")
            return cell
        available, why = impl.availability()
        if not available:
            cell.update(status="unavailable", reason=why or "not available here")
            return cell
        failure = self._conforming(impl_name, impl, case.dtype)
        if failure is not None:
            cell.update(status="not_conforming", reason=failure)
            return cell
        try:
            if kind == "h2d_transfer":
                self._time_transfer(cell, impl, case)
                return cell
            peak = self._peak(impl, case.dtype)
            series = (impl_name, case.model, case.dtype, case.optimizer)
            budget = self._budget_problem(cell, case, series, peak)
            if budget:
                cell.update(status="skipped", reason=budget)
                return cell
            self._time_step(cell, impl, case, peak)
            self._timed_points.setdefault(series, []).append((case.batch_size, cell["median_s"]))
            if cell["noisy"]:
                print(
                    f"warning: {cell['id']}: IQR is {cell['iqr_fraction']:.0%} of the median (> 10%)",
                    file=self.progress, flush=True,
                )
        except Exception as error:
            last = traceback.extract_tb(error.__traceback__)[-1]
            cell.update(
                status="error",
                reason=f"{type(error).__name__}: {error} ({Path(last.filename).name}:{last.lineno})",
            )
        return cell

    # -- the grid -------------------------------------------------------------------------------------------
    def planned(self) -> list[tuple[str, str, Any, BenchCase]]:
        plan = []
        for impl_name, impl in self.implementations:
            device = getattr(impl, "device", "cpu") if not isinstance(impl, str) else "unknown"
            transferred = set()
            for case in cases(self.grid):
                if device != "cpu" and (case.model, case.dtype, case.batch_size) not in transferred:
                    transferred.add((case.model, case.dtype, case.batch_size))
                    plan.append(("h2d_transfer", impl_name, impl, case))
                plan.append(("train_step", impl_name, impl, case))
        return plan

    def run(self) -> dict:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.resume:
            self.cells = results_io.read_cells(self.out_dir)
            self.peaks = results_io.read_peaks(self.out_dir)
        else:
            results_io.clear_run_files(self.out_dir)
        restore_threads = set_threads(self.threads)
        try:
            return self._run()
        finally:
            restore_threads()

    def _run(self) -> dict:
        self.environment = environment_record()
        plan = self.planned()
        order = {_plan_id(*step): i for i, step in enumerate(plan)}
        self.cells = {k: v for k, v in self.cells.items() if k in order}
        todo = []
        for kind, impl_name, impl, case in plan:
            ident = _plan_id(kind, impl_name, impl, case)
            if ident in self.cells:
                cell = self.cells[ident]
                if kind == "train_step" and cell["status"] == "ok":
                    self._timed_points.setdefault((impl_name, case.model, case.dtype, case.optimizer), []).append(
                        (case.batch_size, cell["median_s"]))
                continue
            todo.append((kind, impl_name, impl, case))
        if self.resume:
            print(f"resuming: {len(plan) - len(todo)} of {len(plan)} cells already done", file=self.progress)
        available = {
            name: not isinstance(impl, str) and impl.availability()[0] for name, impl in self.implementations
        }
        workable = [available[impl_name] for _, impl_name, _, _ in todo]
        for done, (kind, impl_name, impl, case) in enumerate(todo, start=1):
            began = time.perf_counter()
            cell = self._run_cell(kind, impl_name, impl, case)
            self._finish(cell, done, len(todo), time.perf_counter() - began, sum(workable[done:]))
        results = self.results()
        results["cells"] = sorted(results["cells"], key=lambda c: order.get(c["id"], len(order)))
        results_io.write_aggregate(self.out_dir, results)
        if self.render is not None:
            self.render(self.out_dir, results)
        return results
