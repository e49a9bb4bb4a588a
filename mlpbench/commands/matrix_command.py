"""`mlpbench matrix --impl A --impl B ...`: the conformance gate of several implementations as one table.

Each implementation is checked exactly as `mlpbench check` checks it (its own supervised worker, the same cases,
the same tolerance policy) and gets its full report set under DIR/<name>/. The matrix puts them side by side,
implementations by capability areas: "pass", "FAIL", "not claimed" or "skipped" per cell with the number of checks
and the worst headroom, the way ONNX's backend scoreboard shows runtimes. An implementation not available here
(a CUDA engine without a GPU, a framework not installed) is a column marked unavailable with the reason, never a
pass. Written as DIR/matrix.md and DIR/matrix.json.

Exit 0: every available implementation conforms in everything it claims; 1: something claimed does not conform;
2: usage error (an unknown name, a claim outside the vocabulary, no implementation available, bad option).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from impls.interface import AREAS
from mlpbench.atomic import write_json_atomic, write_text_atomic
from mlpbench.catalogue.conformance import CONFORMANCE_DTYPES, select_cases
from mlpbench.commands.check_command import ensure_writable, positive_finite
from mlpbench.conformance.checks.engine import claimed_dtypes
from mlpbench.conformance.reports import area_verdict, summarize, write_reports
from mlpbench.conformance.results import CheckResult, format_headroom
from mlpbench.conformance.runner import Tally, load_implementation, ready_capabilities, run_checks
from mlpbench.errors import UsageError
from mlpbench.isolation.supervisor import Worker, preload_for

MARKDOWN_NAME = "matrix.md"
JSON_NAME = "matrix.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--impl", action="append", required=True, metavar="NAME",
                        help="an implementation (repeatable; registry name, entry point or package.module:factory)")
    parser.add_argument("--out", metavar="DIR", default="reports/matrix",
                        help="where matrix.md, matrix.json and each implementation's reports go "
                             "(default reports/matrix)")
    parser.add_argument("--area", action="append", choices=AREAS, metavar="AREA",
                        help=f"only this capability area (repeatable): {', '.join(AREAS)}")
    parser.add_argument("--dtype", action="append", choices=CONFORMANCE_DTYPES, metavar="D",
                        help="only this dtype (repeatable); default: all each implementation claims")
    parser.add_argument("--timeout", type=positive_finite, default=60.0, metavar="S",
                        help="seconds one check may take before its worker is killed and it fails (default 60)")


@dataclass
class Column:
    """One implementation's column of the matrix."""

    label: str
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


def check_one(label: str, args: argparse.Namespace, out: Path) -> Column:
    """`mlpbench check` of one implementation, its reports written under out/<label>/."""
    column = Column(label, started=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    started = time.perf_counter()
    with Worker(label) as worker:
        try:
            info, failure = load_implementation(worker)
        except UsageError as error:
            if "is not available here" not in str(error):
                raise
            column.available, column.reason = False, str(error).split("is not available here: ", 1)[-1]
            return column
        if info is not None:
            column.name, column.description = info.name, info.description
            column.conventions = info.conventions.name
            column.meta = {"kind": info.kind, "device": info.device, "precision": info.precision,
                           "conventions": info.conventions.to_dict()}
        if failure is not None:
            column.results.append(failure)
        else:
            info, caps = ready_capabilities(info)
            cases = select_cases(args.area, None, caps=caps)
            column.dtypes = [d for d in (args.dtype or claimed_dtypes(caps)) if d in caps.dtypes]
            run_checks(worker, cases, column.dtypes, timeout=args.timeout, impl_name=info.name,
                       report_dir=out / label, on_result=column.results.append)
    column.duration_s = time.perf_counter() - started
    meta = {"impl": column.name or label, "label": label, **column.meta, "dtypes": column.dtypes,
            "timeout": args.timeout, "areas": args.area or list(AREAS), "started": column.started,
            "duration_s": round(column.duration_s, 3), "command": f"mlpbench matrix --impl {label}",
            "python": platform.python_version(), "interrupted": False}
    write_reports(out / label, column.results, meta)
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
        if not column.available:
            lines.append(f"| `{column.label}` | - | " + " | ".join("unavailable" for _ in areas)
                         + f" | unavailable: {column.reason.replace('|', '/')} | - |")
            continue
        cells = column.cells()
        total = "**FAIL**" if column.failed else "pass" if column.ran else "nothing ran"
        lines.append(f"| `{column.label}` | {column.conventions or '-'} | "
                     + " | ".join(_cell_text(cells.get(a)) for a in areas)
                     + f" | {total} {column.ran - column.failed}/{column.ran} | {column.duration_s:.1f} s |")
    failures = [r for c in columns for r in c.results if r.failed]
    if failures:
        lines += ["", "## Failures", ""] + [f"- `{r.impl}` {r.message}" for r in failures]
    return "\n".join(lines) + "\n"


def matrix_json(columns: list[Column], meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "meta": meta,
        "implementations": [
            {"label": c.label, "name": c.name, "description": c.description, "profile": c.conventions,
             "available": c.available, "reason": c.reason, "dtypes": c.dtypes, "duration_s": round(c.duration_s, 3),
             "checks_run": c.ran, "failed": c.failed, "areas": c.cells()}
            for c in columns
        ],
    }


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    labels = list(dict.fromkeys(args.impl))
    for label in labels:
        ensure_writable(out / label)
    preload_for(labels)
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    columns = []
    for label in labels:
        column = check_one(label, args, out)
        columns.append(column)
        state = (f"unavailable ({column.reason})" if not column.available else
                 f"{column.ran} checks, {column.failed} failed, {column.duration_s:.1f} s")
        print(f"  {label:<22} {state}", flush=True)
    meta = {"started": started, "python": platform.python_version(), "machine": platform.machine(),
            "command": " ".join(["mlpbench", "matrix", *sys.argv[2:]]) if len(sys.argv) > 1 else "mlpbench matrix"}
    write_text_atomic(out / MARKDOWN_NAME, render_markdown(columns, meta))
    write_json_atomic(out / JSON_NAME, matrix_json(columns, meta))
    available = [c for c in columns if c.available]
    print(f"matrix of {len(columns)} implementations ({len(available)} available here) in {out}/{MARKDOWN_NAME}, "
          f"{JSON_NAME}")
    if not available:
        raise UsageError("no implementation of the matrix is available here")
    if any(c.failed for c in available):
        print("FAIL: " + ", ".join(c.label for c in available if c.failed) + " do not conform in what they claim")
        return 1
    if not any(c.ran for c in available):
        print("NOTHING CHECKED: no check ran")
        return 2
    print("PASS: every available implementation conforms in what it claims")
    return 0
