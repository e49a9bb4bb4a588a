"""`mlpbench scaling`: data-parallel training throughput against the world size, written as JSON and Markdown.

For each world size W the data-parallel implementation (`torch-ddp:W` by default) runs in a supervised worker,
passes the quick conformance check, then times training steps on its ranks
(mlpbench.impls.ddp_rank.RankEngine.op_bench):
every rank holds `--batch-per-rank` rows of a resident batch (weak scaling: the global batch is W times that),
blocks of `--steps` steps between barriers, warm-up blocks excluded, once with DDP's all-reduce and once
without it (DDP's no_sync, local gradients only). Each rank runs `--threads` torch threads (default 1, so that
W ranks use W cores and the comparison is per core). Reported per world size:

    step time          median over blocks of (block time / steps), with the interquartile range
    samples/s          W * batch_per_rank / step time
    efficiency         samples/s(W) / (W * samples/s(1))            (1 is linear scaling)
    all-reduce share   (step time - step time without all-reduce) / step time: the share of a step spent in
                       communication that backward does not hide (noise can make it slightly negative)

Nothing is extrapolated: world sizes larger than the cores (CPU) or the GPUs (CUDA) are run only when asked
for, and the table says how many cores or GPUs the machine has.

--out follows the ownership rule (`mlpbench.output.folder`): it is checked before anything runs, made only when
the table is written, and must be new, empty or hold an earlier scaling table of mlpbench's own, unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlpbench import options
from mlpbench.bench.timing import Spread
from mlpbench.output.folder import RULE
from mlpbench.report_text import markdown_text, terminal_text

DEFAULT_OUT = Path("reports") / "scaling"
MAX_WORLD_SIZE = 1024
MAX_BATCH_PER_RANK = 2**20
MAX_STEPS = 10**6
MAX_BLOCKS = 1000
MAX_THREADS = 1024


@dataclass(frozen=True)
class ScalingRow:
    world_size: int
    step_s: float  # median seconds per step with the all-reduce
    step_iqr_s: float
    local_step_s: float  # median seconds per step without it (no_sync)
    samples_per_s: float
    efficiency: float  # against W times the world-size-1 throughput; nan without a world-size-1 row
    all_reduce_share: float
    threads_per_rank: int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--impl", default="torch-ddp", metavar="NAME", type=options.text,
                        help="data-parallel implementation whose name takes :W (default torch-ddp)")
    parser.add_argument("--world-sizes", default=None, metavar="W1,W2,...", type=options.numbers(1, MAX_WORLD_SIZE),
                        help=f"world sizes, each 1 to {MAX_WORLD_SIZE} (default: 1 and every power of 2 up to the "
                             "CPU cores here)")
    parser.add_argument("--model", default="784-256-256-10", metavar="SIZES", type=options.layer_sizes,
                        help=f"layer sizes, e.g. 128-512-10 (2 to {options.MAX_LAYERS}, each 1 to "
                             f"{options.MAX_LAYER_SIZE})")
    parser.add_argument("--batch-per-rank", type=options.whole(1, MAX_BATCH_PER_RANK), default=256, metavar="B",
                        help=f"samples per rank, 1 to {MAX_BATCH_PER_RANK} (default 256)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--optimizer", default="sgd", choices=("sgd", "adam"))
    parser.add_argument("--steps", type=options.whole(1, MAX_STEPS), default=10, metavar="K",
                        help=f"steps per timed block, 1 to {MAX_STEPS} (default 10)")
    parser.add_argument("--blocks", type=options.whole(1, MAX_BLOCKS), default=9, metavar="N",
                        help=f"timed blocks per world size, 1 to {MAX_BLOCKS} (default 9)")
    parser.add_argument("--warmup", type=options.whole(0, MAX_BLOCKS), default=2, metavar="N",
                        help=f"blocks not timed, 0 to {MAX_BLOCKS} (default 2)")
    parser.add_argument("--threads", type=options.whole(1, MAX_THREADS), default=1, metavar="N",
                        help=f"torch threads per rank, 1 to {MAX_THREADS} (default 1)")
    parser.add_argument("--out", type=options.folder, default=DEFAULT_OUT, metavar="DIR",
                        help=f"where scaling.json and scaling.md go (default {DEFAULT_OUT}); {RULE}")


def default_world_sizes() -> list[int]:
    """1 and every power of 2 up to the CPU cores (GPUs: name the world sizes with --world-sizes)."""
    units = os.cpu_count() or 1
    sizes, w = [1], 2
    while w <= units:
        sizes.append(w)
        w *= 2
    return sizes


def time_ranks(impl: Any, sizes: tuple[int, ...], batch_per_rank: int, dtype: str, optimizer: str, steps: int,
               blocks: int, warmup: int, threads: int) -> dict[str, Any]:
    """Inside the worker: suite-drawn parameters and data, then the ranks' timed steps (rank by rank), with
    the versions and device counts the numbers depend on."""
    import torch

    from mlpbench.reference.model import init_params
    from mlpbench.reference.optim import hyperparameters
    from mlpbench.reference.spec import MLPSpec

    spec = MLPSpec(tuple(sizes), activation="relu", output_activation="identity")
    rng = np.random.default_rng(0)
    params = [p.astype(dtype) for p in init_params(spec, rng)]
    n = batch_per_rank * impl.world_size
    x = rng.normal(size=(n, sizes[0])).astype(dtype)
    target = rng.integers(0, sizes[-1], n).astype(np.int64)
    pool = impl.pool()
    if pool.threads != threads:  # the quick check may have started the ranks with the default thread count
        pool.close()
        pool.threads = threads
    ranks = impl.bench(spec, params, x, target, "cross_entropy", optimizer, hyperparameters(optimizer, lr=0.01),
                       steps=steps, blocks=blocks, warmup=warmup)
    return {"ranks": ranks, "torch": str(torch.__version__),
            "gpus": torch.cuda.device_count() if torch.cuda.is_available() else 0}


def summarize(world_size: int, ranks: list[dict[str, Any]], batch_per_rank: int, base_samples_per_s: float | None
              ) -> ScalingRow:
    """A row from the ranks' block times; a block's time is the slowest rank's (blocks end on a barrier)."""
    blocks = [max(times) for times in zip(*(r["step_s"] for r in ranks), strict=True)]
    local_blocks = [max(times) for times in zip(*(r["local_step_s"] for r in ranks), strict=True)]
    spread, local = Spread.of(blocks), Spread.of(local_blocks).median
    step = spread.median
    samples = spread.per(world_size * batch_per_rank).median
    efficiency = samples / (world_size * base_samples_per_s) if base_samples_per_s else float("nan")
    return ScalingRow(world_size, step, spread.iqr, local, samples, efficiency, (step - local) / step,
                      int(ranks[0]["threads"]))


def markdown(rows: list[ScalingRow], setup: dict[str, Any]) -> str:
    lines = [f"Data-parallel scaling of {markdown_text(setup['impl'], code=True)}: model {setup['model']}, "
             f"{setup['batch_per_rank']} "
             f"samples per rank (weak scaling), {setup['dtype']}, {setup['optimizer']}, {setup['threads_per_rank']} "
             f"torch thread(s) per rank, on a machine with {setup['cpu_count']} CPU cores"
             + (f" and {setup['gpus']} GPUs" if setup.get("gpus") else "") + ".", "",
             "| world size | step time (median, IQR) | step without all-reduce | samples/s | efficiency vs linear "
             "| all-reduce share of step |", "| --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        lines.append(f"| {row.world_size} | {row.step_s * 1e3:.3g} ms ({row.step_iqr_s * 1e3:.2g}) | "
                     f"{row.local_step_s * 1e3:.3g} ms | {row.samples_per_s:,.0f} | "
                     f"{'-' if np.isnan(row.efficiency) else f'{row.efficiency:.2f}'} | {row.all_reduce_share:.1%} |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    from mlpbench.isolation.supervisor import preload_for

    sizes, worlds = _validated(args)
    check_out(args.out)
    preload_for([args.impl])
    raw: dict[int, Any] = {}
    rows: list[ScalingRow] = []
    base: float | None = None
    versions: dict[str, Any] = {}

    for world in sorted(set(worlds)):
        timed = _time_world(args, world, sizes)
        if timed is None:
            return 1
        ranks = timed["ranks"]
        versions = {"torch": timed["torch"], "gpus": timed["gpus"]}
        raw[world] = ranks
        row = summarize(world, ranks, args.batch_per_rank, base)
        if world == 1:
            base = row.samples_per_s
            row = summarize(world, ranks, args.batch_per_rank, base)
        rows.append(row)
        print(f"world size {world}: {row.samples_per_s:,.0f} samples/s, all-reduce share {row.all_reduce_share:.1%}")
    _write(args, rows, raw, versions)
    return 0


def _validated(args: argparse.Namespace) -> tuple[tuple[int, ...], list[int]]:
    """(layer sizes, world sizes) from the options; UsageError for any option out of range."""
    from mlpbench.errors import UsageError

    try:
        sizes = tuple(int(part) for part in args.model.split("-"))
        worlds = ([int(w) for w in args.world_sizes.split(",")] if args.world_sizes
                  else default_world_sizes())
    except ValueError:
        raise UsageError(f"--model and --world-sizes take whole numbers, not {args.model!r} / "
                         f"{args.world_sizes!r}") from None
    if len(sizes) < 2 or min(sizes) < 1 or not worlds or min(worlds) < 1:
        raise UsageError("--model needs two or more positive layer sizes and --world-sizes positive numbers")
    for name in ("batch_per_rank", "steps", "blocks", "threads"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        raise UsageError("--warmup must be at least 0")
    return sizes, worlds


def _time_world(args: argparse.Namespace, world: int, sizes: tuple[int, ...]) -> dict[str, Any] | None:
    """`time_ranks` at world size `world`, in a supervised worker, after the quick conformance check passed;
    None (the reason printed) when the check fails or the worker dies; UsageError when it cannot run here."""
    from mlpbench.conformance.runner import load_implementation, quick_check, ready_capabilities
    from mlpbench.errors import UsageError
    from mlpbench.isolation.supervisor import Worker, WorkerDied

    label = f"{args.impl}:{world}"
    with Worker(label) as worker:
        info, failure = load_implementation(worker)  # an unknown or unavailable one is a UsageError here
        if failure is not None:
            raise UsageError(f"{label}: {failure.message}")
        _, caps = ready_capabilities(info)
        failed = [r for r in quick_check(worker, caps, args.dtype, timeout=120) if not r.passed]
        if failed:
            print(terminal_text(f"{label}: the quick conformance check failed ({failed[0].case_id}); not timed"))
            return None
        timed = worker.apply(time_ranks, sizes, args.batch_per_rank, args.dtype, args.optimizer, args.steps,
                             args.blocks, args.warmup, args.threads, timeout=600)
        if isinstance(timed, WorkerDied):
            print(terminal_text(f"{label}: {timed.describe()}"))
            return None
    return timed


def _write(args: argparse.Namespace, rows: list[ScalingRow], raw: dict[int, Any], versions: dict[str, Any]) -> None:
    """scaling.json (the setup, the rows and every rank's block times) and scaling.md, also printed."""
    setup = {"impl": args.impl, "model": args.model, "batch_per_rank": args.batch_per_rank, "dtype": args.dtype,
             "optimizer": args.optimizer, "steps_per_block": args.steps, "blocks": args.blocks,
             "warmup_blocks": args.warmup, "threads_per_rank": args.threads, "cpu_count": os.cpu_count(), **versions}
    write_outputs(args.out, rows, setup, raw)
    print(markdown(rows, setup), end="")


def check_out(out: Path) -> None:
    """UsageError unless scaling.json and scaling.md may go into `out` (the ownership rule); creates nothing."""
    from mlpbench.errors import UsageError
    from mlpbench.output.folder import OwnershipError, preflight
    from mlpbench.output.manifest import SCALING

    try:
        preflight(out, SCALING)
    except OwnershipError as error:
        raise UsageError(str(error)) from None


def write_outputs(out: Path, rows: list[ScalingRow], setup: dict[str, Any], raw: dict[int, Any]) -> None:
    """scaling.json and scaling.md into the output folder `out`, recorded in its manifest."""
    from mlpbench.errors import UsageError
    from mlpbench.output.folder import OwnedFolder, OwnershipError
    from mlpbench.output.manifest import SCALING

    data = {"setup": setup, "rows": [asdict(r) for r in rows], "ranks": {str(w): r for w, r in raw.items()}}
    try:
        with OwnedFolder(out, SCALING) as folder:
            folder.write_text("scaling.json", json.dumps(data, indent=2, allow_nan=True) + "\n")
            folder.write_text("scaling.md", markdown(rows, setup))
    except OwnershipError as error:
        raise UsageError(str(error)) from None
