"""Data-parallel mutants: torch-ddp (2 ranks) with one classic data-parallel bug each, to prove the
conformance checks see what no single-process check can.

Each mutant is the torch-ddp adapter running a rank engine (impls.ddp_rank.RankEngine) with one method
replaced by real torch.distributed code. `breaks` names the capability area whose checks must catch it; every
mutant is deterministic for its world size.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from impls.ddp_impl import TorchDDPImplementation
from impls.ddp_rank import RankEngine


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
    def wrap(self, model: nn.Module) -> nn.Module:
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
    def wrap(self, model: nn.Module) -> nn.Module:
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
    name = "mutant-ddp-gradients-summed"
    breaks = "model"
    description = "DDP communication hook sums the gradients across ranks instead of averaging them"
    engine = "impls.ddp_mutants:SummedGradientsEngine"


class MeanOfMeansMutant(DDPMutant):
    name = "mutant-ddp-mean-of-means"
    breaks = "training"
    description = "every rank's local mean loss weighs the same, so uneven shards give the mean of the means"
    engine = "impls.ddp_mutants:MeanOfMeansEngine"


class NoInitialBroadcastMutant(DDPMutant):
    name = "mutant-ddp-no-initial-broadcast"
    breaks = "training"
    description = "parameters are not broadcast from rank 0 at the start (DDP init_sync=False)"
    engine = "impls.ddp_mutants:NoInitialBroadcastEngine"


class PerRankDropoutSeedMutant(DDPMutant):
    name = "mutant-ddp-dropout-seed-per-rank"
    breaks = "dropout"
    description = "each rank seeds its dropout with seed + rank and draws masks for its own rows only"
    engine = "impls.ddp_mutants:PerRankDropoutSeedEngine"


DDP_MUTANTS: tuple[type[DDPMutant], ...] = (
    SummedGradientsMutant,
    MeanOfMeansMutant,
    NoInitialBroadcastMutant,
    PerRankDropoutSeedMutant,
)
"""Every data-parallel mutant, in report order."""
