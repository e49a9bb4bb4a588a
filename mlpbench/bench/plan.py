"""The plan of a run: which cells, their ids, and what `--resume` may reuse.

A cell is one (kind, implementation, case). Every implementation gets one training-step cell per case of the
grid; an accelerator implementation also gets one host-to-device transfer cell per (model, dtype, batch).
Cells are ordered by implementation, then model, dtype, optimizer and batch (smallest first: the budget
estimate of a cell extrapolates from the smaller batches of its series).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mlpbench.bench.records import CellKind, CellResult, RunSettings
from mlpbench.catalogue.benchmark import BenchCase, Grid, cases


@dataclass(frozen=True)
class ImplInfo:
    """What the plan needs to know about an implementation: the name it was requested by (for resolving it
    again, possibly in another process), the name it reports under, its device and precision mode, and
    whether and why it cannot run here."""

    requested: str
    name: str
    device: str
    precision: str
    unavailable: str | None = None


@dataclass(frozen=True)
class PlannedCell:
    """Plain data (picklable): enough to measure the cell anywhere."""

    kind: CellKind
    impl: ImplInfo
    case: BenchCase

    @property
    def optimizer(self) -> str | None:
        return self.case.optimizer if self.kind is CellKind.TRAIN_STEP else None

    @property
    def id(self) -> str:
        return cell_id(self.kind, self.impl.name, self.case.model, self.case.dtype, self.optimizer,
                       self.case.batch_size)

    @property
    def series(self) -> tuple[str, str, str, str | None]:
        return (self.impl.name, self.case.model, self.case.dtype, self.optimizer)


def cell_id(kind: CellKind, impl: str, model: str, dtype: str, optimizer: str | None, batch_size: int) -> str:
    parts = ["h2d" if kind is CellKind.H2D_TRANSFER else "step", impl, model, dtype]
    if optimizer is not None:
        parts.append(optimizer)
    parts.append(f"b{batch_size}")
    return "/".join(parts)


def plan_cells(grid: Grid, implementations: Sequence[ImplInfo]) -> list[PlannedCell]:
    plan = []
    for impl in implementations:
        transferred = set()
        for case in cases(grid):
            if impl.device not in ("cpu", "unknown") and (case.model, case.dtype, case.batch_size) not in transferred:
                transferred.add((case.model, case.dtype, case.batch_size))
                plan.append(PlannedCell(CellKind.H2D_TRANSFER, impl, case))
            plan.append(PlannedCell(CellKind.TRAIN_STEP, impl, case))
    return plan


class SettingsMismatch(ValueError):
    """--resume under settings that differ from the recorded ones."""


def check_resumable(recorded: RunSettings | None, current: RunSettings, have_cells: bool) -> None:
    """Resuming continues one run: the recorded settings must equal the current ones, else SettingsMismatch
    naming every difference (the cells of the two would be timed under different conditions)."""
    if recorded is None:
        if have_cells:
            raise SettingsMismatch("cannot resume: the directory has cells but no recorded settings (settings.json)")
        return
    differences = recorded.differences(current)
    if differences:
        raise SettingsMismatch("cannot resume, the settings differ from the recorded run: " + "; ".join(differences))


def reusable(plan: Sequence[PlannedCell], finished: Mapping[str, CellResult]) -> dict[str, CellResult]:
    """The finished cells that belong to the plan."""
    wanted = {cell.id for cell in plan}
    return {ident: cell for ident, cell in finished.items() if ident in wanted}
