"""`mlpbench bench`: time training steps over the catalogue's grid and write Markdown, JSON, CSV and PNG.

Exit codes:
  2  usage error: a bad option (every number must be finite and in range, no list empty), an output folder
     that is not writable or not mlpbench's own (the ownership rule, `mlpbench.output.folder`: the message
     names the first other file), none of the requested implementations available here, or --resume under
     settings that differ from the recorded run (the message names the differences);
  1  a requested, available implementation fails its quick conformance check, or every cell of it that was
     run ended in an error;
  0  otherwise (cells that are unavailable, not claimed or over the budget are reported, not failures).
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import TypedDict

from mlpbench import options
from mlpbench.bench.contention import Load
from mlpbench.catalogue.benchmark import DTYPES, FULL, OPTIMIZERS, QUICK, Grid, model_label
from mlpbench.errors import UsageError
from mlpbench.output.folder import RULE, OwnershipError, preflight
from mlpbench.output.manifest import BENCH
from mlpbench.report_text import terminal_text

DEFAULT_OUT = Path("reports") / "bench"
MAX_BATCH = 2**24
MAX_SECONDS_PER_CELL = 3600.0
MAX_BLOCK_SECONDS = 60.0
MAX_BLOCKS = 1000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="a small grid that finishes in under a minute on a laptop CPU")
    parser.add_argument("--impl", action="append", metavar="NAME", type=options.items,
                        help="implementation to time (repeatable): registry name, entry point or module:factory; "
                             f"default: every engine ({', '.join(FULL.implementations)}); "
                             f"--quick: {', '.join(QUICK.implementations)}")
    parser.add_argument("--model", "--models", action="append", metavar="MODEL", type=options.models,
                        help="catalogue model or layer sizes like 128-512-10 (repeatable, comma separated; layer "
                             f"sizes 1 to {options.MAX_LAYER_SIZE}, at most {options.MAX_LAYERS} layers)")
    parser.add_argument("--batch-sizes", metavar="B1,B2,...", type=options.numbers(1, MAX_BATCH),
                        help=f"batch sizes, e.g. 1,16,256 (each 1 to {MAX_BATCH})")
    parser.add_argument("--dtypes", "--dtype", metavar="D1,D2", help=f"dtypes among {', '.join(DTYPES)}",
                        type=options.names(DTYPES, " (tf32: --impl torch-cuda-tf32)"))
    parser.add_argument("--optimizers", "--optimizer", metavar="O1,O2", help=f"among {', '.join(OPTIMIZERS)}",
                        type=options.names(OPTIMIZERS))
    parser.add_argument("--max-seconds-per-cell", type=float, metavar="S",
                        help="timing budget per cell; cells estimated above it are skipped (budget); more than 0, "
                             f"at most {MAX_SECONDS_PER_CELL:g}")
    parser.add_argument("--blocks", type=int, metavar="N", help=f"timed blocks per cell (1 to {MAX_BLOCKS})")
    parser.add_argument("--min-block-seconds", type=float, metavar="S",
                        help=f"minimum duration of a timed block (more than 0, at most {MAX_BLOCK_SECONDS:g})")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="CPU threads (default: the cores free at the start, all of them on an idle machine; "
                             "--resume: the resumed run's; 1 to the cores)")
    parser.add_argument("--out", type=options.folder, default=None, metavar="DIR",
                        help=f"output directory (default: {DEFAULT_OUT}); {RULE}")
    parser.add_argument("--resume", action="store_true", help="keep the finished cells in DIR and run the rest")
    parser.add_argument("--step-timeout", type=options.TIMEOUT, default=120.0, metavar="S",
                        help="seconds beyond a cell's planned timing after which its worker is killed and the cell "
                             f"fails (a hung step); {options.TIMEOUT_RANGE}; default 120")


def _split(values) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _bounded(option: str, value: float, low: float, high: float) -> float:
    """value when it is finite and low < value <= high; UsageError naming the option otherwise."""
    if not math.isfinite(value) or not low < value <= high:
        raise UsageError(f"{option} must be a finite number above {low:g} and at most {high:g}, got {value}")
    return value


class GridChanges(TypedDict, total=False):
    """The fields of the catalogue's grid that bench's options override."""

    implementations: tuple[str, ...]
    models: tuple[str, ...]
    batch_sizes: tuple[int, ...]
    dtypes: tuple[str, ...]
    optimizers: tuple[str, ...]
    max_seconds_per_cell: float
    min_block_seconds: float
    blocks: int
    min_blocks: int


def build_grid(args: argparse.Namespace) -> Grid:
    """The quick or full grid with the options' changes; UsageError for the first invalid option."""
    grid = QUICK if args.quick else FULL
    changes: GridChanges = {}
    if args.impl:
        changes["implementations"] = tuple(_split(args.impl))
    if args.model:
        changes["models"] = _models(args.model)
    if args.batch_sizes:
        changes["batch_sizes"] = _batch_sizes(args.batch_sizes)
    if args.dtypes:
        changes["dtypes"] = _known("dtype", _split(args.dtypes), DTYPES, " (tf32: --impl torch-cuda-tf32)")
    if args.optimizers:
        changes["optimizers"] = _known("optimizer", _split(args.optimizers), OPTIMIZERS)
    if args.max_seconds_per_cell is not None:
        changes["max_seconds_per_cell"] = _bounded("--max-seconds-per-cell", args.max_seconds_per_cell, 0.0,
                                                   MAX_SECONDS_PER_CELL)
    if args.min_block_seconds is not None:
        changes["min_block_seconds"] = _bounded("--min-block-seconds", args.min_block_seconds, 0.0, MAX_BLOCK_SECONDS)
    if args.blocks is not None:
        _bounded("--blocks", args.blocks, 0, MAX_BLOCKS)
        changes["blocks"] = args.blocks
        changes["min_blocks"] = min(grid.min_blocks, args.blocks)
    return replace(grid, **changes)


def _models(texts: list[str]) -> tuple[str, ...]:
    """The catalogue labels of --model values (each a comma-separated list of names or layer sizes)."""
    models = []
    for part in (part.strip() for text in texts for part in text.split(",")):
        if part:
            try:
                models.append(model_label(part))
            except ValueError as error:
                raise UsageError(str(error)) from None
    return tuple(models)


def _batch_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(b) for b in _split(text))
    except ValueError:
        raise UsageError(f"--batch-sizes must be integers, got {text!r}") from None
    if not sizes or any(not 1 <= b <= MAX_BATCH for b in sizes):
        raise UsageError(f"--batch-sizes must be integers from 1 to {MAX_BATCH}, got {text!r}")
    return sizes


def _known(kind: str, names: list[str], known: Iterable[str], hint: str = "") -> tuple[str, ...]:
    """`names` when each is one of `known`; UsageError naming the first unknown one otherwise."""
    known = tuple(known)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise UsageError(f"unknown {kind} {unknown[0]!r}; known: {', '.join(known)}{hint}")
    return tuple(names)


def resolve_implementations(names, explicit: bool, calls) -> list[tuple]:
    """(ImplInfo, Capabilities or None) per name, each loaded in its supervised worker (`calls`, an
    IsolatedCalls); an unknown explicit name is a usage error, an unknown default name becomes an unavailable
    implementation with the reason."""
    out = []
    for name in names:
        info, caps, unknown = calls.load(name)
        if unknown and explicit:
            raise UsageError(unknown)
        out.append((info, caps))
    return out


def _check_writable(out: Path) -> None:
    """The run may be written into `out` (the ownership rule); creates nothing (the run makes it)."""
    try:
        preflight(out, BENCH)
    except OwnershipError as error:
        raise UsageError(str(error)) from None


def command_line(args: argparse.Namespace) -> str:
    """The options of this run as a command line (recorded in the results)."""
    return shlex.join(["mlpbench", "bench", *_option_words(args)])


def resume_command(args: argparse.Namespace, out: Path) -> str:
    """The command that continues this run where it stopped: this interpreter, the same options, the output
    folder's absolute path and --resume (runs as printed from any folder, without an activated virtualenv)."""
    words = [word for word in _option_words(args) if word != "--resume"]
    if "--out" in words:
        del words[words.index("--out"):words.index("--out") + 2]
    return shlex.join([sys.executable, "-m", "mlpbench", "bench", *words, "--out", str(out.resolve()), "--resume"])


def _option_words(args: argparse.Namespace) -> list[str]:
    words: list[str] = []
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
    return words


def exit_code(results, implementations) -> int:
    """1 when an available implementation fails its quick conformance check or errs in every cell it ran;
    0 otherwise (see the module docstring)."""
    from mlpbench.bench.records import CellStatus

    for info, _ in implementations:
        if info.unavailable is not None:
            continue
        statuses = [c.status for c in results.cells if c.impl == info.name]
        if CellStatus.NOT_CONFORMING in statuses:
            return 1
        if CellStatus.ERROR in statuses and CellStatus.OK not in statuses:
            return 1
    return 0


def summary_lines(results, out: Path) -> list[str]:
    """The closing summary: counts per status, flagged efficiencies, where the report is."""
    from mlpbench.bench.records import CellStatus

    counts: dict[str, int] = {}
    for cell in results.cells:
        counts[cell.status.text] = counts.get(cell.status.text, 0) + 1
    lines = [f"{len(results.cells)} cells (" + ", ".join(f"{n} {status}" for status, n in counts.items()) + ")"]
    for key, peak in results.peaks.items():
        rates = [f"{p.label} {p.flop_per_s / 1e9:.1f}" for p in peak.passes]
        if rates:
            lines.append(f"GEMM peak {key}: {peak.flop_per_s / 1e9:.1f} GFLOP/s (passes: {', '.join(rates)})")
        else:
            lines.append(f"GEMM peak {key}: not measured ({peak.error})")
    flagged = [c for c in results.cells if c.status is CellStatus.OK and c.efficiency_problem]
    if flagged:
        lines.append(f"{len(flagged)} cells with efficiency above 1, a measurement problem (see bench.md)")
    lines.append(f"report: {out / 'bench.md'}")
    from mlpbench.bench.render import plots_skipped

    skipped = plots_skipped()
    return lines + ([skipped] if skipped else [])


def choose_threads(args: argparse.Namespace, out: Path, cores: int,
                   measure: Callable[[], Load | None] | None = None) -> tuple[int, str, str | None]:
    """(threads, how they were chosen, the busy warning or None): --threads as given; on --resume the resumed
    run's; otherwise the cores free at the start (contention.default_threads over the load measured now)."""
    from mlpbench.bench import contention
    from mlpbench.bench.results import ResultsError, read_settings

    load = (measure or contention.measure_load)()
    threads = args.threads
    how = "--threads"
    if threads is None and args.resume:
        try:
            recorded = read_settings(out)
        except ResultsError:
            recorded = None  # the run itself reports the unreadable settings
        if recorded is not None:
            threads, how = recorded.threads, "the resumed run's"
    if threads is None:
        threads = contention.default_threads(load, cores)
        return threads, contention.thread_note(load, threads, chosen=True), contention.busy_warning(load, threads, True)
    return threads, how, contention.busy_warning(load, threads, chosen=False)


def run(args: argparse.Namespace) -> int:
    from mlpbench.bench.isolated import IsolatedCalls
    from mlpbench.bench.plan import SettingsMismatch
    from mlpbench.bench.render import render_run
    from mlpbench.bench.results import ResultsError
    from mlpbench.bench.runner import BenchRun

    grid = build_grid(args)
    cores = os.cpu_count() or 1
    if args.threads is not None and not 1 <= args.threads <= cores:
        raise UsageError(f"--threads must be from 1 to the {cores} logical cores of this machine, got {args.threads}")
    out = args.out if args.out is not None else DEFAULT_OUT
    _check_writable(out)
    threads, threads_note, busy = choose_threads(args, out, cores)
    with closing(IsolatedCalls(step_timeout=args.step_timeout)) as calls:
        implementations = resolve_implementations(grid.implementations, explicit=bool(args.impl), calls=calls)
        if all(info.unavailable is not None for info, _ in implementations):
            reasons = "; ".join(f"{info.name}: {info.unavailable}" for info, _ in implementations)
            raise UsageError(f"none of the requested implementations is available here ({reasons})")
        bench = BenchRun(
            grid=grid,
            implementations=implementations,
            out_dir=out,
            conformance=calls.conformance,
            measure=calls.measure,
            resume=args.resume,
            threads=threads,
            threads_note=threads_note,
            busy_warning=busy,
            command_line=command_line(args),
            render=render_run,
        )
        try:
            results = bench.run()
        except KeyboardInterrupt:  # Ctrl-C, SIGTERM or SIGHUP: the finished cells are on disk; say how to go on
            print(f"interrupted: the finished cells are kept in {terminal_text(str(out), 500)}; continue with: "
                  f"{terminal_text(resume_command(args, out), 4000)}", file=sys.stderr)
            raise
        except (SettingsMismatch, ResultsError) as error:
            raise UsageError(f"{out}: {error}") from None
        except OwnershipError as error:
            raise UsageError(str(error)) from None
    for line in summary_lines(results, out):
        print(terminal_text(line, 4000))
    return exit_code(results, implementations)
