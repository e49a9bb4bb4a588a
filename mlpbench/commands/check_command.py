"""`mlpbench check --impl NAME`: the conformance gate.

The implementation is loaded and checked in a supervised worker process (mlpbench.isolation); this process
never imports it. Exit 0: at least one check ran and every check of what the implementation claims conforms.
Exit 1: something it claims does not conform, including an implementation that crashes, exits, hangs or fails
to load (reports are still written). Exit 2: usage error, one line on stderr: an unknown implementation, a
claim with a name outside the vocabulary, a claim that selects nothing to check, a bad option, an unwritable
report directory, a --case/--area selection that matches nothing, or an implementation that is not available
here (e.g. torch-cuda without a GPU): a gate that cannot run must not look green. Exit 130: interrupted
(Ctrl-C; 143 for SIGTERM, 129 for SIGHUP); the partial reports are written and marked interrupted.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from mlpbench.catalogue.conformance import CONFORMANCE_DTYPES, select_cases
from mlpbench.conformance.checks.engine import claimed_dtypes
from mlpbench.conformance.items import runnable_count
from mlpbench.conformance.reports import area_verdict, check_report_dir, summarize, write_reports
from mlpbench.conformance.results import CheckResult, format_headroom
from mlpbench.conformance.runner import Tally, load_implementation, ready_capabilities, run_checks
from mlpbench.errors import UsageError, interrupted_exit_code
from mlpbench.impls.interface import AREAS
from mlpbench.isolation.supervisor import Worker, preload_for
from mlpbench.isolation.worker import ImplInfo
from mlpbench.options import TIMEOUT, TIMEOUT_RANGE, folder, text
from mlpbench.output.folder import OwnershipError
from mlpbench.output.names import safe_component
from mlpbench.report_text import terminal_text

EPILOG = """\
exit status: 0 everything claimed conforms (at least one check ran); 1 a claimed capability does not conform
(a crash, exit, hang or load failure of the implementation included); 2 usage error (unknown implementation,
unknown claim name, nothing to check, bad option, unwritable --report-dir, or the implementation is not
available here, e.g. torch-cuda without a CUDA device); 130 interrupted (143 SIGTERM, 129 SIGHUP; partial
reports, marked so).
reports: DIR/conformance.md, DIR/conformance.json, DIR/conformance.junit.xml; the inputs of each failure in
DIR/repro/*.npz with the command that replays it, and DIR/.mlpbench-manifest.json, the files of the set with
their digests. Output folders: mlpbench writes only into a new or empty folder or one holding nothing but its
own output of the same kind (listed in the manifest, unchanged since), and removes or replaces only those files;
otherwise exit 2 naming the first other file, nothing changed (docs/output-folders.md). The set replaces DIR's
previous set as a whole.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--impl", required=True, metavar="NAME", type=text,
                        help="registry name (see `mlpbench list`), entry point, or package.module:factory")
    parser.add_argument("--report-dir", metavar="DIR", default=None, type=folder,
                        help="where the reports go (default: reports/check-<impl>/); a new or empty folder, or "
                             "one holding only an earlier report set")
    parser.add_argument("--area", action="append", choices=AREAS, metavar="AREA",
                        help=f"only this capability area (repeatable): {', '.join(AREAS)}")
    parser.add_argument("--case", metavar="GLOB", default=None, type=text,
                        help="only cases whose id (area/name) or name matches this glob, e.g. 'optimizers/adam*'")
    parser.add_argument("--dtype", action="append", choices=CONFORMANCE_DTYPES, metavar="D",
                        help=f"only this dtype (repeatable): {', '.join(CONFORMANCE_DTYPES)}; default: all claimed")
    parser.add_argument("--timeout", type=TIMEOUT, default=60.0, metavar="S",
                        help=f"seconds one check may take before its worker is killed and it fails ({TIMEOUT_RANGE}; "
                             "default 60)")
    parser.add_argument("--quiet", action="store_true", help="no progress, only the summary")


def default_report_dir(label: str) -> Path:
    """reports/check-<label>, the label made one safe path component."""
    return Path("reports") / safe_component(f"check-{label}")


def ensure_writable(directory: Path) -> None:
    """The report set may be written into `directory`: it can be made, and holds nothing but an earlier report
    set (the ownership rule, `mlpbench.output.folder`); UsageError otherwise, before anything runs. Creates
    nothing: the directory is made when the reports are written, after every usage check."""
    try:
        check_report_dir(directory)
    except OwnershipError as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        raise UsageError(f"report directory {str(directory)!r} is not writable: {reason}") from None


class Progress:
    """Area-by-area progress with counts on a terminal; nothing otherwise."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled, self.total, self.done = enabled, total, 0
        self.area: str | None = None
        self.counts: dict[str, int] = {}

    def __call__(self, result: CheckResult) -> None:
        self.done += 1
        if not self.enabled:
            return
        if result.area != self.area:
            self.finish_area()
            self.area, self.counts = result.area, {}
        key = "failed" if result.failed else result.verdict
        self.counts[key] = self.counts.get(key, 0) + 1
        if result.failed:
            sys.stdout.write(f"\r\033[K  FAIL {terminal_text(result.message)}\n")
        counts = ", ".join(f"{n} {k}" for k, n in self.counts.items())
        sys.stdout.write(f"\r\033[K  {self.area:<15} {counts}  [{self.done}/{self.total}]")
        sys.stdout.flush()

    def finish_area(self) -> None:
        if self.enabled and self.area is not None:
            sys.stdout.write("\n")
            sys.stdout.flush()


def run(args: argparse.Namespace) -> int:
    started_wall = time.perf_counter()
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    report_dir = Path(args.report_dir) if args.report_dir else default_report_dir(args.impl)
    ensure_writable(report_dir)
    results: list[CheckResult] = []
    interrupted = 0  # the exit code of the signal that stopped the run, 0 if none did
    info: ImplInfo | None = None
    preload_for([args.impl])
    with Worker(args.impl) as worker:
        try:
            info, failure = load_implementation(worker)
            if failure is not None:
                results.append(failure)
            else:
                info, caps = ready_capabilities(info)
                cases = select_cases(args.area, args.case, caps=caps)
                if not cases:
                    raise UsageError(f"no conformance case matches --case {args.case!r}"
                                     + (f" in area(s) {', '.join(args.area)}" if args.area else ""))
                dtypes = args.dtype or claimed_dtypes(caps)
                if runnable_count(caps, cases, dtypes) == 0:
                    raise UsageError(
                        f"nothing to check: what {args.impl!r} claims selects none of the {len(cases)} selected "
                        f"case(s) in dtype(s) {', '.join(dtypes) or '-'} (claimed dtypes: "
                        f"{', '.join(sorted(caps.dtypes)) or 'none'})")
                progress = Progress(sys.stdout.isatty() and not args.quiet, len(cases) * len(dtypes))

                def record(result: CheckResult) -> None:
                    results.append(result)
                    progress(result)

                try:
                    run_checks(worker, cases, dtypes, timeout=args.timeout, impl_name=info.name,
                               report_dir=report_dir, on_result=record)
                finally:
                    progress.finish_area()
        except KeyboardInterrupt as stop:  # Ctrl-C, SIGTERM or SIGHUP: report what ran, marked interrupted
            interrupted = interrupted_exit_code(stop)
    return _finish(args, report_dir, results, info, started, started_wall, interrupted)


def _finish(args: argparse.Namespace, report_dir: Path, results: list[CheckResult], info: ImplInfo | None,
            started: str, started_wall: float, interrupted: int) -> int:
    """Write the report set, print the summary; the exit status."""
    meta = _run_meta(args, results, info, started, started_wall, interrupted)
    try:
        paths = write_reports(report_dir, results, meta)
    except OSError as error:
        raise UsageError(f"could not write reports to {str(report_dir)!r}: {error.strerror or error}") from None
    _print_summary(args.impl, results, meta["dtypes"])
    where = f"reports in {report_dir}/ ({', '.join(p.name for p in paths.values())})"
    elapsed = f"total time {time.perf_counter() - started_wall:.2f} s"
    return _conclude(results, interrupted, where, elapsed)


def _run_meta(args: argparse.Namespace, results: list[CheckResult], info: ImplInfo | None, started: str,
              started_wall: float, interrupted: int) -> dict[str, Any]:
    """The run's metadata, as the reports record it."""
    return {
        "impl": info.name if info else args.impl,
        "label": args.impl,
        "kind": info.kind if info else "?",
        "device": info.device if info else "?",
        "precision": info.precision if info else "?",
        "conventions": info.conventions.to_dict() if info else {},
        "dtypes": sorted({r.dtype for r in results if r.dtype != "-"}),
        "timeout": args.timeout,
        "areas": args.area or list(AREAS),
        "case_glob": args.case,
        "started": started,
        "duration_s": round(time.perf_counter() - started_wall, 3),
        "command": " ".join(["mlpbench", "check", *sys.argv[1:]]) if sys.argv else "",
        "python": platform.python_version(),
        "cwd": os.getcwd(),
        "interrupted": bool(interrupted),
    }


def _print_summary(label: str, results: list[CheckResult], dtypes: list[str]) -> None:
    """The counts, a line per area, and the first failures."""
    failed = [r for r in results if r.failed]
    tally = Tally.of(results)
    print(f"mlpbench check {label}: {tally.ran} checks ran ({tally.passed} passed, {tally.failed} failed), "
          f"{tally.not_claimed} not claimed, {tally.skipped} skipped; dtypes {', '.join(dtypes) or '-'}")
    for area, counts in summarize(results).items():
        print(f"  {area:<15} {area_verdict(counts):<12} passed {counts['passed']:>3}  failed {counts['failed']:>3}  "
              f"not claimed {counts['not_claimed']:>3}  skipped {counts['skipped']:>3}  "
              f"worst headroom {format_headroom(counts['worst_headroom'])}")
    shown = 20
    for result in failed[:shown]:
        print(f"  FAIL {terminal_text(result.message)}")
    if len(failed) > shown:
        print(f"  ... and {len(failed) - shown} more failures in the reports")


def _conclude(results: list[CheckResult], interrupted: int, where: str, elapsed: str) -> int:
    """The last line and the exit status: `interrupted` (130, 143, 129) when a signal stopped the run, 1 a
    failure, 2 nothing checked, 0 every check passed."""
    tally = Tally.of(results)
    if interrupted:
        print(f"INTERRUPTED after {tally.ran} checks: partial {where}; {elapsed}")
        return interrupted
    if tally.failed:
        print(f"FAIL: {tally.failed} failing; {where}; {elapsed}")
        return 1
    if not tally.conforms:
        print(f"NOTHING CHECKED: no check ran; {where}; {elapsed}")
        return 2
    print(f"PASS: {tally.ran} checks conform; {where}; {elapsed}")
    return 0
