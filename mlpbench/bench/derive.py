"""Derived numbers of a cell, from its plain timings: median and IQR of the per-step times, samples/s,
FLOP/s (flops.py) and efficiency against the run's GEMM peak (flagged when above 1)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mlpbench.bench.flops import training_step_flops
from mlpbench.bench.measure import CellTiming
from mlpbench.bench.plan import PlannedCell
from mlpbench.bench.records import CellKind, CellResult, CellStatus, Peak, efficiency_problem
from mlpbench.bench.timing import SPREAD_WARNING


def planned_cell_record(planned: PlannedCell, threads: int) -> CellResult:
    """The record of a cell before anything is known about it beyond the plan (status ok, no numbers)."""
    case, impl = planned.case, planned.impl
    spec = case.spec
    step = planned.kind is CellKind.TRAIN_STEP
    return CellResult(
        id=planned.id, kind=planned.kind, impl=impl.name, device=impl.device, precision=impl.precision,
        model=case.model, sizes=tuple(spec.sizes), parameters=spec.n_params, batch_size=case.batch_size,
        dtype=case.dtype, optimizer=planned.optimizer, loss=case.loss if step else None,
        threads=threads if impl.device == "cpu" else None, status=CellStatus.OK,
        hyper=dict(case.hyper) if step else None,
    )


def with_timing(cell: CellResult, timing: CellTiming) -> CellResult:
    """samples/s = batch x total steps / total time; median and quartiles of t_i / k; FLOP/s for steps and
    bytes/s for transfers."""
    per_step = np.asarray(timing.block_seconds, dtype=np.float64) / timing.steps_per_block
    median = float(np.median(per_step))
    q1, q3 = (float(q) for q in np.percentile(per_step, [25, 75]))
    steps = timing.steps_per_block * len(timing.block_seconds)
    seconds = float(sum(timing.block_seconds))
    cell = replace(
        cell,
        steps_per_block=timing.steps_per_block, blocks=len(timing.block_seconds), warmup_steps=timing.warmup_steps,
        block_seconds=tuple(timing.block_seconds), median_s=median, q1_s=q1, q3_s=q3,
        iqr_fraction=(q3 - q1) / median, noisy=(q3 - q1) > SPREAD_WARNING * median,
        samples_per_s=cell.batch_size * steps / seconds, compile_s=timing.compile_s,
    )
    if cell.kind is CellKind.TRAIN_STEP:
        from mlpbench.catalogue.benchmark import model_spec

        flop = training_step_flops(model_spec(cell.model), cell.batch_size)
        return replace(cell, flop_per_step=flop, flop_per_s=flop * steps / seconds)
    if timing.bytes is not None:
        return replace(cell, bytes=timing.bytes, bytes_per_s=timing.bytes * steps / seconds)
    return cell


def with_peak(cell: CellResult, peak: Peak | None) -> CellResult:
    """efficiency = FLOP/s / peak, with the measurement-problem flag when it is above 1."""
    if cell.kind is not CellKind.TRAIN_STEP or cell.flop_per_s is None:
        return cell
    rate = peak.flop_per_s if peak else None
    efficiency = cell.flop_per_s / rate if rate else None
    return replace(cell, peak_key=peak.key if peak else None, peak_flop_per_s=rate, efficiency=efficiency,
                   efficiency_problem=efficiency_problem(efficiency))
