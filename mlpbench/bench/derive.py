"""Derived numbers of a cell, from its measurement record (`BlockTiming`): median and IQR of the per-step times;
samples/s, FLOP/s (flops.py) and bytes/s as the same statistic of the per-block rates (`Spread.per`); the
machine's other load and whether it contended the cell (contention.py); and efficiency against the run's GEMM
peak (flagged when above 1)."""

from __future__ import annotations

from dataclasses import replace

from mlpbench.bench.contention import Load
from mlpbench.bench.flops import training_step_flops
from mlpbench.bench.plan import PlannedCell
from mlpbench.bench.records import CellKind, CellResult, CellStatus, Peak, efficiency_problem
from mlpbench.bench.timing import BlockTiming


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


def with_timing(cell: CellResult, timing: BlockTiming) -> CellResult:
    """The median and quartiles of t_i / k, and every rate as that statistic of the per-block rates:
    samples/s = batch / median step (the median of batch k / t_i), FLOP/s for steps, bytes/s for transfers."""
    spread = timing.spread
    cell = replace(
        cell,
        steps_per_block=timing.steps_per_block, blocks=len(timing.block_seconds), warmup_steps=timing.warmup_steps,
        block_seconds=tuple(timing.block_seconds), median_s=spread.median, q1_s=spread.q1, q3_s=spread.q3,
        iqr_fraction=spread.iqr_fraction, noisy=spread.noisy,
        samples_per_s=timing.rate(cell.batch_size).median, compile_s=timing.compile_s,
    )
    cell = with_load(cell, timing.load)
    if cell.kind is CellKind.TRAIN_STEP:
        from mlpbench.catalogue.benchmark import model_spec

        flop = training_step_flops(model_spec(cell.model), cell.batch_size)
        return replace(cell, flop_per_step=flop, flop_per_s=timing.rate(flop).median)
    if timing.bytes is not None:
        return replace(cell, bytes=timing.bytes, bytes_per_s=timing.rate(timing.bytes).median)
    return cell


def with_load(cell: CellResult, load: Load | None) -> CellResult:
    """The other load measured during the cell and whether it contended the cores the cell needed (the one
    rule: contention.Load.contended); unchanged (not measured) without a load."""
    if load is None:
        return cell
    needed = cell.needed_cores
    return replace(cell, load_seconds=load.seconds, others_cores=load.others_cores, own_cores=load.own_cores,
                   engine_threads=load.threads, contention_share=load.share_taken(needed),
                   contended=load.contended(needed))


def with_peak(cell: CellResult, peak: Peak | None) -> CellResult:
    """efficiency = FLOP/s / peak, with the measurement-problem flag when it is above 1."""
    if cell.kind is not CellKind.TRAIN_STEP or cell.flop_per_s is None:
        return cell
    rate = peak.flop_per_s if peak else None
    efficiency = cell.flop_per_s / rate if rate else None
    return replace(cell, peak_key=peak.key if peak else None, peak_flop_per_s=rate, efficiency=efficiency,
                   efficiency_problem=efficiency_problem(efficiency))
