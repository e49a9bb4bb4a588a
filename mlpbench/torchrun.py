"""Data-parallel conformance with ranks started by torchrun, on one node or across nodes.

Every rank runs this module: it joins the process group torchrun describes (MASTER_ADDR, MASTER_PORT, RANK,
WORLD_SIZE, LOCAL_RANK in the environment), then runs the selected conformance cases in lockstep. The
implementation under test is the torch-ddp adapter (mlpbench.impls.ddp_impl) with its rank pool replaced by the
torchrun ranks themselves: each call runs the request on this rank's engine (mlpbench.impls.ddp_rank.RankEngine, the
same code the pool's ranks run) and all-gathers the ranks' answers, so the adapter reassembles them exactly as
it does on one machine. The checks are deterministic (every input comes from the case's seed), so every rank
makes the same calls in the same order. Rank 0 prints one line per failing check and a summary; the exit
status is 0 when every selected check passed, 1 otherwise, 2 on a usage error.

    torchrun --nnodes 2 --nproc-per-node 2 --node-rank 0 --rdzv-backend c10d --rdzv-endpoint HOST:29500 \\
        -m mlpbench.torchrun --area model --area training    # and --node-rank 1 on the second node

On one machine: `torchrun --standalone --nproc-per-node 2 -m mlpbench.torchrun --area training`.

The torchrun ranks are the implementation's own processes, so here the checks run beside it (through a
`LocalHandle`): a torchrun launch checks an engine its user trusts to run, on the user's nodes; the gate's
isolation (`mlpbench check --impl torch-ddp`) is what judges an untrusted one.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist

from mlpbench.catalogue.conformance import select_cases
from mlpbench.conformance.checks.engine import claimed_dtypes, run_case_with
from mlpbench.conformance.handles import LocalHandle
from mlpbench.conformance.runner import Tally
from mlpbench.impls.ddp_impl import TorchDDPImplementation
from mlpbench.impls.ddp_rank import RankConfig, RankEngine, _load_engine

if TYPE_CHECKING:
    from mlpbench.catalogue.conformance import Case


class TorchrunDDP(TorchDDPImplementation):
    """torch-ddp whose ranks are this process and its torchrun peers."""

    def __init__(self, engine: RankEngine, world_size: int) -> None:
        super().__init__(world_size=world_size, device=engine.device.split(":")[0],
                         name=f"torch-ddp (torchrun, {world_size} ranks)")
        self._engine = engine

    def ranks(self, op: str, timeout_s: float | None = None, **kwargs: Any) -> list[Any]:
        answer = getattr(self._engine, f"op_{op}")(**kwargs)
        answers: list[Any] = [None] * self.world_size
        dist.all_gather_object(answers, answer)
        return answers

    def close(self) -> None:
        return None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    missing = [name for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if name not in os.environ]
    if missing:
        print(f"error: run under torchrun ({', '.join(missing)} not set)", file=sys.stderr)
        return 2
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    impl = TorchrunDDP(_join_process_group(args.engine, rank, world_size), world_size)
    caps = impl.capabilities()
    cases = select_cases(areas=args.area, pattern=args.case, caps=caps)
    dtypes = [args.dtype] if args.dtype else claimed_dtypes(caps)
    if not cases:
        if rank == 0:
            print("error: the selection matches no case", file=sys.stderr)
        return 2
    ran, failed = _run_cases(LocalHandle(impl), cases, dtypes, rank)
    dist.barrier()
    if rank == 0:
        print(f"torchrun data-parallel conformance, {world_size} ranks ({dist.get_backend()}): {ran} checks ran, "
              f"{failed} failed")
    dist.destroy_process_group()
    return 1 if failed else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mlpbench.torchrun", description=__doc__.splitlines()[0])
    parser.add_argument("--area", action="append", help="capability area (repeatable; default: all claimed)")
    parser.add_argument("--case", help="glob on case ids, e.g. 'training/*'")
    parser.add_argument("--dtype", choices=("float32", "float64"), help="default: both")
    parser.add_argument("--engine", default="mlpbench.impls.ddp_rank:RankEngine",
                        help="module:Class of the rank engine")
    return parser


def _join_process_group(engine_path: str, rank: int, world_size: int) -> RankEngine:
    """Join the process group torchrun describes (NCCL where CUDA is available, else gloo); this rank's engine."""
    cuda = torch.cuda.is_available() and dist.is_nccl_available()
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl" if cuda else "gloo")
    config = RankConfig(rank=rank, world_size=world_size, backend=dist.get_backend(),
                        device="cuda" if cuda else "cpu", store_port=0, engine=engine_path,
                        parent_pid=os.getppid(), threads=torch.get_num_threads(), collective_timeout_s=600.0)
    engine = _load_engine(engine_path)(config)
    if cuda:  # torchrun's LOCAL_RANK picks the GPU, not the global rank
        engine.device = f"cuda:{local_rank}"
    return engine


def _run_cases(handle: LocalHandle, cases: list[Case], dtypes: list[str], rank: int) -> tuple[int, int]:
    """Every case in every dtype, in lockstep with the other ranks: (checks that ran, checks that failed).
    Rank 0 prints each failure."""
    results = []
    for case in cases:
        for dtype in dtypes:
            result = run_case_with(handle, case, dtype)
            results.append(result)
            if result.failed and rank == 0:
                print(f"FAIL {case.id} [{dtype}]: {result.message}")
    tally = Tally.of(results)
    return tally.ran, tally.failed


if __name__ == "__main__":
    raise SystemExit(main())
