"""`mlpbench matrix --impl A --impl B ...`: the conformance gate of several implementations as one table.

Each implementation is checked exactly as `mlpbench check` checks it (its own supervised worker, the same cases,
the same tolerance policy) and gets its full report set under DIR/<name>/. The matrix puts them side by side,
implementations by capability areas: "pass", "FAIL", "not claimed" or "skipped" per cell with the number of checks
and the worst headroom, the way ONNX's backend scoreboard shows runtimes. An implementation not available here
(a CUDA engine without a GPU, a framework not installed) is a column marked unavailable with the reason, never a
pass. Written as DIR/matrix.md and DIR/matrix.json.

Exit 0: every available implementation conforms in everything it claims; 1: something claimed does not conform;
2: usage error (an unknown name, a claim outside the vocabulary, no implementation available, bad option, an
output folder that is not mlpbench's own). Every usage check passes before anything is created.

DIR holds matrix.md, matrix.json and one report set per implementation, in a folder named after it made one
safe path component (`mlpbench.output.names`; matrix.json names it), all recorded in DIR's manifest: the
ownership rule of `mlpbench.output.folder` applies to DIR and to each set.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import platform
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlpbench.catalogue.conformance import CONFORMANCE_DTYPES, select_cases
from mlpbench.conformance.checks.engine import claimed_dtypes
from mlpbench.conformance.reports import area_verdict, summarize, write_reports
from mlpbench.conformance.results import CheckResult, format_headroom
from mlpbench.conformance.runner import Tally, load_implementation, ready_capabilities, run_checks
from mlpbench.errors import UsageError
from mlpbench.impls.interface import AREAS
from mlpbench.isolation.supervisor import Worker, preload_for
from mlpbench.isolation.worker import ImplInfo
from mlpbench.options import TIMEOUT, TIMEOUT_RANGE, folder, text
from mlpbench.output.folder import RULE, OwnedFolder, OwnershipError, preflight
from mlpbench.output.manifest import CHECK, MATRIX
from mlpbench.output.names import distinct_components
from mlpbench.report_text import MESSAGE_LIMIT, NAME_LIMIT, markdown_text, terminal_text

MARKDOWN_NAME = "matrix.md"
JSON_NAME = "matrix.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--impl", action="append", required=True, metavar="NAME", type=text,
                        help="an implementation (repeatable; registry name, entry point or package.module:factory)")
    parser.add_argument("--out", metavar="DIR", default="reports/matrix", type=folder,
                        help="where matrix.md, matrix.json and each implementation's reports go "
                             f"(default reports/matrix); {RULE}")
    parser.add_argument("--area", action="append", choices=AREAS, metavar="AREA",
                        help=f"only this capability area (repeatable): {', '.join(AREAS)}")
    parser.add_argument("--dtype", action="append", choices=CONFORMANCE_DTYPES, metavar="D",
                        help="only this dtype (repeatable); default: all each implementation claims")
    parser.add_argument("--timeout", type=TIMEOUT, default=60.0, metavar="S",
                        help=f"seconds one check may take before its worker is killed and it fails ({TIMEOUT_RANGE}; "
                             "default 60)")


@dataclass
class Column:
    """One implementation's column of the matrix."""

    label: str
    folder: str = ""  # the label as one safe path component: where its report set is
    started: str = ""
    name: str = ""
    description: str = ""
    conventions: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    available: bool = True
    reason: str = ""
    dtypes: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    results: list[CheckResult] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return Tally.of(self.results).failed

    @property
    def ran(self) -> int:
        return Tally.of(self.results).ran

    def cells(self) -> dict[str, dict[str, Any]]:
        """area -> {"verdict", "passed", "failed", "not_claimed", "skipped", "worst_headroom"}."""
        return {area: {"verdict": area_verdict(counts), **counts} for area, counts in summarize(self.results).items()}


def load_column(label: str, worker: Worker) -> tuple[Column, ImplInfo | None, CheckResult | None]:
    """The implementation loaded in its worker: its column (unavailable here, with the reason, or described),
    its info and a failed load result or None; UsageError for an unknown name or a claim outside the
    vocabulary."""
    column = Column(label)
    try:
        info, failure = load_implementation(worker)
    except UsageError as error:
        if "is not available here" not in str(error):
            raise
        column.available, column.reason = False, str(error).split("is not available here: ", 1)[-1]
        return column, None, None
    if info is not None:
        column.name, column.description = info.name, info.description
        column.conventions = info.conventions.name
        column.meta = {"kind": info.kind, "device": info.device, "precision": info.precision,
                       "conventions": info.conventions.to_dict()}
    return column, info, failure


def check_one(column: Column, info: ImplInfo | None, failure: CheckResult | None, worker: Worker,
              args: argparse.Namespace, out: OwnedFolder) -> Column:
    """`mlpbench check` of one loaded implementation, its report set written in out/<column.folder>/."""
    column.started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    if not column.available:
        column.folder = ""  # no report set
        return column
    started = time.perf_counter()
    report_dir = out.add_set(column.folder, CHECK)
    if failure is not None:
        column.results.append(failure)
    else:
        info, caps = ready_capabilities(info)
        cases = select_cases(args.area, None, caps=caps)
        column.dtypes = [d for d in (args.dtype or claimed_dtypes(caps)) if d in caps.dtypes]
        run_checks(worker, cases, column.dtypes, timeout=args.timeout, impl_name=info.name,
                   report_dir=report_dir, on_result=column.results.append)
    column.duration_s = time.perf_counter() - started
    meta = {"impl": column.name or column.label, "label": column.label, **column.meta, "dtypes": column.dtypes,
            "timeout": args.timeout, "areas": args.area or list(AREAS), "started": column.started,
            "duration_s": round(column.duration_s, 3), "command": f"mlpbench matrix --impl {column.label}",
            "python": platform.python_version(), "interrupted": False}
    try:
        write_reports(report_dir, column.results, meta)
    except OSError as error:
        raise UsageError(f"could not write reports to {str(report_dir)!r}: {error.strerror or error}") from None
    return column


def _cell_text(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "-"
    verdict = cell["verdict"]
    if verdict == "not claimed":
        return "not claimed"
    label = {"FAIL": "**FAIL**"}.get(verdict, verdict)
    counts = f"{cell['passed']}/{cell['passed'] + cell['failed']}"
    return f"{label} {counts}, {format_headroom(cell['worst_headroom'])}"


def render_markdown(columns: list[Column], meta: dict[str, Any]) -> str:
    """Implementations as rows, areas as columns (a wide table reads better this way round)."""
    areas = [a for a in AREAS if any(a in c.cells() for c in columns)]
    lines = [
        "# Conformance matrix",
        "",
        f"{meta['started']}, Python {meta['python']}, {meta['machine']}. Each cell: verdict, checks passed/run, "
        "worst headroom (error over tolerance; a check passes at headroom <= 1). Every implementation was checked "
        "by `mlpbench check` with the one tolerance policy; its full report is in `<name>/conformance.md`.",
        "",
        "| implementation | profile | " + " | ".join(areas) + " | total | time |",
        "| --- | --- | " + " | ".join("---" for _ in areas) + " | --- | --- |",
    ]
    for column in columns:
        label = markdown_text(column.label, code=True)
        if not column.available:
            lines.append(f"| {label} | - | " + " | ".join("unavailable" for _ in areas)
                         + f" | unavailable: {markdown_text(column.reason, MESSAGE_LIMIT)} | - |")
            continue
        cells = column.cells()
        total = "**FAIL**" if column.failed else "pass" if column.ran else "nothing ran"
        lines.append(f"| {label} | {markdown_text(column.conventions or '-')} | "
                     + " | ".join(_cell_text(cells.get(a)) for a in areas)
                     + f" | {total} {column.ran - column.failed}/{column.ran} | {column.duration_s:.1f} s |")
    failures = [r for c in columns for r in c.results if r.failed]
    if failures:
        lines += ["", "## Failures", ""] + [f"- {markdown_text(r.impl, code=True)} "
                                             f"{markdown_text(r.message, MESSAGE_LIMIT)}" for r in failures]
    return "\n".join(lines) + "\n"


def matrix_json(columns: list[Column], meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "meta": meta,
        "implementations": [
            {"label": c.label, "folder": c.folder, "name": c.name, "description": c.description,
             "profile": c.conventions,
             "available": c.available, "reason": c.reason, "dtypes": c.dtypes, "duration_s": round(c.duration_s, 3),
             "checks_run": c.ran, "failed": c.failed, "areas": c.cells()}
            for c in columns
        ],
    }


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    labels = list(dict.fromkeys(args.impl))
    try:
        preflight(out, MATRIX)
    except OwnershipError as error:
        raise UsageError(str(error)) from None
    preload_for(labels)
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    with ExitStack() as stack:
        workers = {label: stack.enter_context(Worker(label)) for label in labels}
        loaded = {label: load_column(label, workers[label]) for label in labels}  # usage errors: nothing made
        if not any(column.available for column, _, _ in loaded.values()):
            raise UsageError("no implementation of the matrix is available here: "
                             + "; ".join(f"{c.label}: {c.reason}" for c, _, _ in loaded.values()))
        try:
            owned = stack.enter_context(OwnedFolder(out, MATRIX))
        except OwnershipError as error:
            raise UsageError(str(error)) from None
        columns = []
        for label, name in distinct_components(labels).items():
            column, info, failure = loaded[label]
            column.folder = name
            columns.append(check_one(column, info, failure, workers[label], args, owned))
            workers[label].close()
            state = (f"unavailable ({column.reason})" if not column.available else
                     f"{column.ran} checks, {column.failed} failed, {column.duration_s:.1f} s")
            print(f"  {terminal_text(label, NAME_LIMIT):<22} {terminal_text(state)}", flush=True)
        meta = {"started": started, "python": platform.python_version(), "machine": platform.machine(),
                "command": " ".join(["mlpbench", "matrix", *sys.argv[2:]]) if len(sys.argv) > 1 else "mlpbench matrix"}
        owned.write_text(MARKDOWN_NAME, render_markdown(columns, meta))
        owned.write_json(JSON_NAME, matrix_json(columns, meta))
    available = [c for c in columns if c.available]
    print(f"matrix of {len(columns)} implementations ({len(available)} available here) in {out}/{MARKDOWN_NAME}, "
          f"{JSON_NAME}")
    if any(c.failed for c in available):
        print("FAIL: " + ", ".join(terminal_text(c.label, NAME_LIMIT) for c in available if c.failed)
              + " do not conform in what they claim")
        return 1
    if not any(c.ran for c in available):
        print("NOTHING CHECKED: no check ran")
        return 2
    print("PASS: every available implementation conforms in what it claims")
    return 0
