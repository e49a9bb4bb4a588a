"""`mlpbench check --impl NAME`: the conformance gate.

Exit 0: every check of what the implementation claims conforms. Exit 1: something it claims does not
conform (reports are still written). Exit 2: usage error, one line on stderr: an unknown implementation, a
bad option, an unwritable report directory, a --case/--area selection that matches nothing, or an
implementation that is not available here (e.g. torch-cuda without a GPU): a gate that cannot run must not
look green, so it is an error rather than a run of skipped checks.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from impls.interface import AREAS
from mlpbench.catalogue.conformance import CONFORMANCE_DTYPES, select_cases
from mlpbench.cli import UsageError
from mlpbench.reports import area_verdict, summarize, write_reports
from mlpbench.results import format_headroom

EPILOG = """\
exit status: 0 everything claimed conforms; 1 a claimed capability does not conform; 2 usage error
(unknown implementation, bad option, unwritable --report-dir, nothing selected, or the implementation is not
available here, e.g. torch-cuda without a CUDA device: reported as "implementation 'torch-cuda' is not
available here: <reason>").
reports: DIR/conformance.md, DIR/conformance.json, DIR/conformance.junit.xml; the inputs of each failure in
DIR/repro/*.npz with the command that replays it.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--impl", required=True, metavar="NAME",
                        help="registry name (see `mlpbench list`), entry point, or package.module:factory")
    parser.add_argument("--report-dir", metavar="DIR", default=None,
                        help="where the reports go (default: reports/check-<impl>/)")
    parser.add_argument("--area", action="append", choices=AREAS, metavar="AREA",
                        help=f"only this capability area (repeatable): {', '.join(AREAS)}")
    parser.add_argument("--case", metavar="GLOB", default=None,
                        help="only cases whose id (area/name) or name matches this glob, e.g. 'optimizers/adam*'")
    parser.add_argument("--dtype", action="append", choices=CONFORMANCE_DTYPES, metavar="D",
                        help=f"only this dtype (repeatable): {', '.join(CONFORMANCE_DTYPES)}; default: all claimed")
    parser.add_argument("--timeout", type=_positive_float, default=60.0, metavar="S",
                        help="seconds one check may take before it fails as hung (default 60)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def default_report_dir(label: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)
    return Path("reports") / f"check-{safe}"


def ensure_writable(directory: Path) -> None:
    """Create the directory and prove a file can be written there; UsageError otherwise."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-test-", delete=True):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise UsageError(f"report directory {str(directory)!r} is not writable: {reason}") from None


def run(args: argparse.Namespace) -> int:
    from impls.registry import UnknownImplementation, resolve
    from mlpbench.checks.engine import run_checks

    started_wall = time.perf_counter()
    cases = select_cases(args.area, args.case)
    if not cases:
        raise UsageError(f"no conformance case matches --case {args.case!r}"
                         + (f" in area(s) {', '.join(args.area)}" if args.area else ""))
    try:
        impl = resolve(args.impl)
    except UnknownImplementation as error:
        raise UsageError(str(error)) from None
    try:
        available, reason = impl.availability()
    except Exception as error:
        available, reason = False, f"availability() raised {type(error).__name__}: {error}"
    if not available:
        raise UsageError(f"implementation {impl.name!r} is not available here: {' '.join(str(reason).split())}")
    report_dir = Path(args.report_dir) if args.report_dir else default_report_dir(args.impl)
    ensure_writable(report_dir)

    def progress(result) -> None:
        if not args.quiet and result.failed:
            print(f"FAIL {result.message}", flush=True)

    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    results = run_checks(impl, areas=args.area, pattern=args.case, dtypes=args.dtype, timeout=args.timeout,
                         impl_label=args.impl, report_dir=report_dir, on_result=progress)
    duration = time.perf_counter() - started_wall
    meta = {
        "impl": impl.name,
        "label": args.impl,
        "kind": getattr(impl, "kind", "?"),
        "device": getattr(impl, "device", "?"),
        "precision": getattr(impl, "precision", "ieee"),
        "conventions": impl.conventions.to_dict(),
        "dtypes": sorted({r.dtype for r in results}),
        "timeout": args.timeout,
        "areas": args.area or list(AREAS),
        "case_glob": args.case,
        "started": started,
        "duration_s": round(duration, 3),
        "command": " ".join(["mlpbench", "check", *sys.argv[1:]]) if sys.argv else "",
        "python": platform.python_version(),
        "cwd": os.getcwd(),
    }
    try:
        paths = write_reports(report_dir, results, meta)
    except OSError as error:
        raise UsageError(f"could not write reports to {str(report_dir)!r}: {error.strerror or error}") from None
    failed = [r for r in results if r.failed]
    print(f"mlpbench check {args.impl}: {len(results)} checks, dtypes {', '.join(meta['dtypes']) or '-'}")
    for area, counts in summarize(results).items():
        print(f"  {area:<15} {area_verdict(counts):<12} passed {counts['passed']:>3}  failed {counts['failed']:>3}  "
              f"not claimed {counts['not_claimed']:>3}  skipped {counts['skipped']:>3}  "
              f"worst headroom {format_headroom(counts['worst_headroom'])}")
    print(f"{'FAIL' if failed else 'PASS'}: {len(failed)} failing; reports in {report_dir}/ "
          f"({', '.join(p.name for p in paths.values())}); total time {time.perf_counter() - started_wall:.2f} s")
    return 1 if failed else 0
