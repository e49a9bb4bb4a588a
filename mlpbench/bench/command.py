"""`mlpbench bench`: time training steps over the catalogue's grid and write Markdown, JSON, CSV and PNG.

Exit 0 when the run completes (cells that are unavailable, not conforming or skipped are reported, not
failures); 1 when a cell failed with an error in the harness or the implementation; 2 on a usage error.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from dataclasses import replace
from pathlib import Path

from mlpbench.catalogue.benchmark import DTYPES, FULL, OPTIMIZERS, QUICK, model_label
from mlpbench.cli import UsageError

DEFAULT_OUT = Path("reports") / "bench"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="a small grid that finishes in under a minute on a laptop CPU")
    parser.add_argument("--impl", action="append", metavar="NAME",
                        help="implementation to time (repeatable): registry name, entry point or module:factory; "
                             "default: torch-cuda, torch-cuda-tf32, torch-cpu, reference")
    parser.add_argument("--model", "--models", action="append", metavar="MODEL",
                        help="catalogue model or layer sizes like 128-512-10 (repeatable, comma separated)")
    parser.add_argument("--batch-sizes", metavar="B1,B2,...", help="batch sizes, e.g. 1,16,256")
    parser.add_argument("--dtypes", "--dtype", metavar="D1,D2", help=f"dtypes among {', '.join(DTYPES)}")
    parser.add_argument("--optimizers", "--optimizer", metavar="O1,O2", help=f"among {', '.join(OPTIMIZERS)}")
    parser.add_argument("--max-seconds-per-cell", type=float, metavar="S",
                        help="timing budget per cell; cells estimated above it are skipped (budget)")
    parser.add_argument("--blocks", type=int, metavar="N", help="timed blocks per cell")
    parser.add_argument("--min-block-seconds", type=float, metavar="S", help="minimum duration of a timed block")
    parser.add_argument("--threads", type=int, metavar="N", help="CPU threads (default: all cores)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help=f"output directory (default: {DEFAULT_OUT})")
    parser.add_argument("--resume", action="store_true", help="keep the finished cells in DIR and run the rest")


def _split(values) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def build_grid(args: argparse.Namespace):
    grid = QUICK if args.quick else FULL
    changes = {}
    if args.impl:
        changes["implementations"] = tuple(_split(args.impl))
    if args.model:
        models = []
        for text in args.model:
            for part in text.split(","):
                if part.strip():
                    try:
                        models.append(model_label(part.strip()))
                    except ValueError as error:
                        raise UsageError(str(error)) from None
        changes["models"] = tuple(models)
    if args.batch_sizes:
        try:
            sizes = tuple(int(b) for b in _split(args.batch_sizes))
        except ValueError:
            raise UsageError(f"--batch-sizes must be integers, got {args.batch_sizes!r}") from None
        if not sizes or any(b < 1 for b in sizes):
            raise UsageError("--batch-sizes must be positive integers")
        changes["batch_sizes"] = sizes
    if args.dtypes:
        dtypes = tuple(_split(args.dtypes))
        unknown = [d for d in dtypes if d not in DTYPES]
        if unknown:
            raise UsageError(f"unknown dtype {unknown[0]!r}; known: {', '.join(DTYPES)} (tf32: --impl torch-cuda-tf32)")
        changes["dtypes"] = dtypes
    if args.optimizers:
        optimizers = tuple(_split(args.optimizers))
        unknown = [o for o in optimizers if o not in OPTIMIZERS]
        if unknown:
            raise UsageError(f"unknown optimizer {unknown[0]!r}; known: {', '.join(OPTIMIZERS)}")
        changes["optimizers"] = optimizers
    for name in ("max_seconds_per_cell", "min_block_seconds"):
        value = getattr(args, name)
        if value is not None:
            if value <= 0:
                raise UsageError(f"--{name.replace('_', '-')} must be positive")
            changes[name] = value
    if args.blocks is not None:
        if args.blocks < 1:
            raise UsageError("--blocks must be at least 1")
        changes["blocks"] = args.blocks
        changes["min_blocks"] = min(grid.min_blocks, args.blocks)
    return replace(grid, **changes)


def resolve_implementations(names, explicit: bool):
    """(name, Implementation) pairs; a default name the registry does not know becomes (name, reason)."""
    from impls.registry import UnknownImplementation, resolve

    out = []
    for name in names:
        try:
            impl = resolve(name)
        except UnknownImplementation as error:
            if explicit:
                raise UsageError(str(error)) from None
            out.append((name, f"not registered: {error}"))
            continue
        except Exception as error:
            if explicit:
                raise UsageError(f"cannot load implementation {name!r}: {type(error).__name__}: {error}") from None
            out.append((name, f"cannot load: {type(error).__name__}: {error}"))
            continue
        out.append((getattr(impl, "name", name) or name, impl))
    return out


def _check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create output directory {out}: {error.strerror or error}") from None
    if not os.access(out, os.W_OK):
        raise UsageError(f"output directory {out} is not writable")


def command_line(args: argparse.Namespace) -> str:
    """The options of this run as a command line (recorded in the results)."""
    words = ["mlpbench", "bench"]
    if args.quick:
        words.append("--quick")
    for name in args.impl or []:
        words += ["--impl", name]
    for name in args.model or []:
        words += ["--model", name]
    for option in ("batch_sizes", "dtypes", "optimizers", "max_seconds_per_cell", "blocks", "min_block_seconds",
                   "threads", "out"):
        value = getattr(args, option)
        if value is not None:
            words += ["--" + option.replace("_", "-"), str(value)]
    if args.resume:
        words.append("--resume")
    return shlex.join(words)


def run(args: argparse.Namespace) -> int:
    from mlpbench.bench.render import render_run
    from mlpbench.bench.runner import BenchRun

    grid = build_grid(args)
    if args.threads is not None and args.threads < 1:
        raise UsageError("--threads must be at least 1")
    out = args.out if args.out is not None else DEFAULT_OUT
    _check_writable(out)
    implementations = resolve_implementations(grid.implementations, explicit=bool(args.impl))
    bench = BenchRun(
        grid=grid,
        implementations=implementations,
        out_dir=out,
        resume=args.resume,
        threads=args.threads or os.cpu_count() or 1,
        command_line=command_line(args),
        render=render_run,
    )
    results = bench.run()
    cells = results["cells"]
    counts = {}
    for cell in cells:
        counts[cell["status"]] = counts.get(cell["status"], 0) + 1
    summary = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in counts.items())
    print(f"{len(cells)} cells ({summary}); report: {out / 'bench.md'}", file=sys.stderr)
    return 1 if counts.get("error") else 0
