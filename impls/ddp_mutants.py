"""Data-parallel mutants: torch-ddp (2 ranks) with one classic data-parallel bug each, to prove the
conformance checks see what no single-process check can.

Each mutant is the torch-ddp adapter running a rank engine (mlpbench.impls.ddp_rank.RankEngine) with one method
replaced by real torch.distributed code. `breaks` names the capability area whose checks must catch it; every
mutant is deterministic for its world size.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from mlpbench.impls.ddp_impl import TorchDDPImplementation
from mlpbench.impls.ddp_rank import RankEngine
from mlpbench.impls.mutant_table import DDP_MUTANTS as DDP_MUTANT_SPECS


class DDPMutant(TorchDDPImplementation):
    kind = "mutant"
    breaks: str = ""

    def __init__(self) -> None:
        super().__init__(world_size=2, device="cpu")


# -- rank engines with one bug each ---------------------------------------------------------------------------
def sum_all_reduce_hook(state, bucket):  # no annotations: DDP insists that a present one be dist.GradBucket
    """A DDP communication hook that all-reduces the gradient bucket and forgets to divide by the world size."""
    future = dist.all_reduce(bucket.buffer(), async_op=True).get_future()
    return future.then(lambda done: done.value()[0])


class SummedGradientsEngine(RankEngine):
    def wrap(self, model: nn.Module) -> nn.parallel.DistributedDataParallel:
        ddp = super().wrap(model)
        ddp.register_comm_hook(None, sum_all_reduce_hook)
        return ddp


class MeanOfMeansEngine(RankEngine):
    def contribution(self, local: torch.Tensor, n_local: int, n_global: int, reduction: str) -> torch.Tensor:
        """Every rank's local mean counts the same (mean of the per-rank means), whatever its sample count."""
        if reduction == "mean":
            return local / self.world_size
        return local


class NoInitialBroadcastEngine(RankEngine):
    def wrap(self, model: nn.Module) -> nn.parallel.DistributedDataParallel:
        """DDP built with init_sync=False: ranks other than 0 keep their own random initial parameters."""
        ids = [torch.device(self.device).index] if self.device.startswith("cuda") else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids, init_sync=False)


class PerRankDropoutSeedEngine(RankEngine):
    def dropout_seed(self, seed: int) -> int:
        """The usual "seed + rank" so ranks draw different masks, each for its own rows only."""
        return int(seed) + self.rank

    def dropout_noise(self, x: torch.Tensor, p: float) -> torch.Tensor:
        return F.dropout(torch.ones_like(x), p, training=True)


# -- the mutants ----------------------------------------------------------------------------------------------
class SummedGradientsMutant(DDPMutant):
    engine = "mlpbench.impls.ddp_mutants:SummedGradientsEngine"


class MeanOfMeansMutant(DDPMutant):
    engine = "mlpbench.impls.ddp_mutants:MeanOfMeansEngine"


class NoInitialBroadcastMutant(DDPMutant):
    engine = "mlpbench.impls.ddp_mutants:NoInitialBroadcastEngine"


class PerRankDropoutSeedMutant(DDPMutant):
    engine = "mlpbench.impls.ddp_mutants:PerRankDropoutSeedEngine"


DDP_MUTANTS: tuple[type[DDPMutant], ...] = tuple(globals()[spec.swap] for spec in DDP_MUTANT_SPECS)
"""Every data-parallel mutant, in report order, named and described by mlpbench.impls.mutant_table."""
for _spec, _cls in zip(DDP_MUTANT_SPECS, DDP_MUTANTS, strict=True):
    _cls.name, _cls.breaks, _cls.description = _spec.name, _spec.breaks, _spec.description
