"""Conformance reports: a Markdown matrix, JSON and JUnit XML, written to one directory as one whole set.

- conformance.md: per area passed / failed / not claimed / skipped and the worst headroom; then per case a
  row with the verdict and headroom in every dtype; then every failure with its diagnostic and the command
  that reproduces it.
- conformance.json: the run's metadata, the per-area summary and every CheckResult (comparisons included).
- conformance.junit.xml: one testsuite per area, one testcase per check; failures carry the diagnostic,
  "not claimed" and "skipped" checks are <skipped/> with the reason.
- repro/<case>__<dtype>.npz: the inputs of each failure (see `mlpbench.conformance.repro`).
- .mlpbench-manifest.json: the set's files with their digests (the ownership rule, `mlpbench.output.folder`).

Every text that may come from the implementation (its name, messages, quantities) is escaped for the format it
goes into (`mlpbench.report_text`: markdown_text, clean_text for the XML) and capped.

The set replaces the directory's previous set as a whole (`mlpbench.conformance.report_set`): a reader sees the old
set or the new one, never a mix, and a failed write leaves the old one intact. A run stopped early
(``meta["interrupted"]``) is marked INTERRUPTED (partial) in all three reports, never PASS.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tabulate import tabulate

from mlpbench.atomic import write_json_atomic, write_text_atomic
from mlpbench.catalogue.conformance import AREA_ORDER
from mlpbench.conformance.report_set import check_replaceable, replace_directory
from mlpbench.conformance.repro import REPRO_DIR, write_repro_files
from mlpbench.conformance.results import (
    ERROR,
    FAIL,
    NOT_CLAIMED,
    PASS,
    SKIPPED,
    CheckResult,
    Comparison,
    format_headroom,
)
from mlpbench.report_text import MESSAGE_LIMIT, capped, clean_text, markdown_text
from mlpbench.verdicts import Verdict

MARKDOWN_NAME = "conformance.md"
JSON_NAME = "conformance.json"
JUNIT_NAME = "conformance.junit.xml"
SET_NAMES = (MARKDOWN_NAME, JSON_NAME, JUNIT_NAME, REPRO_DIR)
"""Everything a report set holds at its top level (and its manifest, `mlpbench.output.manifest.MANIFEST_NAME`)."""


def is_interrupted(meta: dict[str, Any]) -> bool:
    return bool(meta.get("interrupted"))


def run_verdict(results: Sequence[CheckResult], meta: dict[str, Any]) -> str:
    """"interrupted" for a run stopped early (whatever ran), else "fail" or "pass"."""
    if is_interrupted(meta):
        return "interrupted"
    return "fail" if any(r.failed for r in results) else "pass"


def summarize(results: Sequence[CheckResult]) -> dict[str, dict[str, Any]]:
    """area -> {"passed", "failed", "not_claimed", "skipped", "worst_headroom"} in report order."""
    summary: dict[str, dict[str, Any]] = {}
    areas = [a for a in AREA_ORDER if any(r.area == a for r in results)]
    areas += sorted({r.area for r in results} - set(areas))
    for area in areas:
        chosen = [r for r in results if r.area == area]
        headrooms = [r.worst_headroom for r in chosen if r.worst_headroom is not None and r.verdict in (PASS, FAIL)]
        summary[area] = {
            "passed": sum(r.verdict == PASS for r in chosen),
            "failed": sum(r.verdict in (FAIL, ERROR) for r in chosen),
            "not_claimed": sum(r.verdict == NOT_CLAIMED for r in chosen),
            "skipped": sum(r.verdict == SKIPPED for r in chosen),
            "worst_headroom": max(headrooms) if headrooms else None,
        }
    return summary


def area_verdict(counts: dict[str, Any]) -> str:
    """The area's verdict as summaries and tables show it (FAIL in capitals): `area_verdict_of(counts).shouted`."""
    return area_verdict_of(counts).shouted


def area_verdict_of(counts: dict[str, Any]) -> Verdict:
    """FAIL if any check failed, else pass if any passed, else skipped if any was skipped, else not claimed."""
    if counts["failed"]:
        return Verdict.FAIL
    if counts["passed"]:
        return Verdict.PASS
    if counts["skipped"]:
        return Verdict.SKIPPED
    return Verdict.NOT_CLAIMED


def render_markdown(results: Sequence[CheckResult], meta: dict[str, Any]) -> str:
    """conformance.md: the header, the summary by area, the capability matrix, then every failure."""
    summary = summarize(results)
    failed = [r for r in results if r.failed]
    lines = [
        *_markdown_header(results, meta, failed),
        "## Summary by area",
        "",
        _summary_table(summary),
        "",
        "## Capability matrix",
        "",
        *_capability_matrix(results, summary),
        "## Failures",
        "",
    ]
    if not failed:
        lines.append("None.")
    for result in failed:
        lines += _failure_section(result)
    return clean_text("\n".join(lines).rstrip() + "\n")


def _markdown_header(results: Sequence[CheckResult], meta: dict[str, Any], failed: list[CheckResult]) -> list[str]:
    """The title, the verdict with its counts, what ran, and how to read the headroom."""
    interrupted = is_interrupted(meta)
    verdict = f"**{run_verdict(results, meta).upper()}**"
    counts = f"{len(failed)} failing of {len(results)} checks"
    if interrupted:
        verdict += " (partial: the run was stopped before every check ran; what ran is below)"
    text = {key: markdown_text(meta.get(key, "?")) for key in ("impl", "kind", "device", "precision")}
    label = markdown_text(meta.get("label", meta.get("impl")), code=True)
    return [
        f"# Conformance of {text['impl']}" + (": INTERRUPTED (partial)" if interrupted else ""),
        "",
        f"- verdict: {verdict} ({counts})",
        f"- implementation: {text['impl']} ({text['kind']}, device {text['device']}, "
        f"precision {text['precision']}), asked for as {label}",
        f"- convention profile: {markdown_text(meta.get('conventions', {}).get('name', '?'))}",
        f"- dtypes: {markdown_text(', '.join(meta.get('dtypes', [])))}; "
        f"time limit per check {meta.get('timeout', '?')} s",
        f"- run at {meta.get('started', '?')}, took {meta.get('duration_s', 0.0):.2f} s",
        "",
        "Headroom is the worst error divided by its tolerance (max over elements of |a - b| / (atol + rtol |b|));",
        "a check passes when it is at most 1. Capabilities the implementation does not claim are reported as",
        "\"not claimed\", never as failures.",
        "",
    ]


def _summary_table(summary: dict[str, dict[str, Any]]) -> str:
    rows = [
        [markdown_text(area), area_verdict(c), c["passed"], c["failed"], c["not_claimed"], c["skipped"],
         format_headroom(c["worst_headroom"])]
        for area, c in summary.items()
    ]
    return tabulate(rows, headers=["area", "verdict", "passed", "failed", "not claimed", "skipped",
                                   "worst headroom"], tablefmt="github")


def _capability_matrix(results: Sequence[CheckResult], summary: dict[str, dict[str, Any]]) -> list[str]:
    """Per area a table: a row per case, a column per dtype, the verdict and headroom in each cell."""
    dtypes = list(dict.fromkeys(r.dtype for r in results))
    lines: list[str] = []
    for area in summary:
        case_ids = list(dict.fromkeys(r.case_id for r in results if r.area == area))
        by_key = {(r.case_id, r.dtype): r for r in results if r.area == area}
        matrix = [[markdown_text(case_id.split("/", 1)[-1]), *(_cell(by_key.get((case_id, dtype))) for dtype in dtypes)]
                  for case_id in case_ids]
        lines += [f"### {markdown_text(area)}", "", tabulate(matrix, headers=["case", *dtypes], tablefmt="github"), ""]
    return lines


def _failure_section(result: CheckResult) -> list[str]:
    """One failure: its diagnostic, inputs and reproduction command, and the quantities that differ."""
    lines = [f"### {markdown_text(result.case_id)} \\[{markdown_text(result.dtype)}\\]", "",
             f"- verdict: {result.verdict}", f"- diagnostic: {markdown_text(result.message, MESSAGE_LIMIT)}"]
    if result.repro_path:
        lines.append(f"- inputs: {markdown_text(result.repro_path, 4000, code=True)} "
                     f"(numpy.load(path, allow_pickle=False))")
    if result.repro_command:
        lines.append(f"- reproduce: {markdown_text(result.repro_command, 8000, code=True)}")
    wrong = [c for c in result.comparisons if not c.passed]
    if wrong:
        lines += ["", "| quantity | problem or error | tolerance | headroom |", "| --- | --- | --- | --- |"]
        lines += [_comparison_row(c) for c in wrong[:20]]
        if len(wrong) > 20:
            lines.append(f"| ... {len(wrong) - 20} more | | | |")
    lines.append("")
    return lines


def _comparison_row(c: Comparison) -> str:
    error = c.problem or f"abs {c.worst_abs:.3g}, rel {c.worst_rel:.3g}"
    worst = c.describe_worst()
    error += f"; {worst}" if worst else ""
    return (f"| {markdown_text(c.quantity)} | {markdown_text(error, MESSAGE_LIMIT)} | "
            f"rtol {c.rtol:.3g}, atol {c.atol:.3g} | {format_headroom(c.headroom)} |")


def _cell(result: CheckResult | None) -> str:
    if result is None:
        return ""
    if result.verdict == PASS:
        return f"pass ({format_headroom(result.worst_headroom)})"
    if result.verdict in (FAIL, ERROR):
        return f"**{result.verdict.upper()}** ({format_headroom(result.worst_headroom)})"
    return result.verdict


def report_json(results: Sequence[CheckResult], meta: dict[str, Any]) -> dict[str, Any]:
    failed = sum(r.failed for r in results)
    return {
        "format": "mlpbench-conformance/1",
        "meta": meta,
        "verdict": run_verdict(results, meta),
        "interrupted": is_interrupted(meta),
        "counts": {"total": len(results), "failed": failed},
        "summary": summarize(results),
        "results": [r.to_dict() for r in results],
    }


def render_junit(results: Sequence[CheckResult], meta: dict[str, Any]) -> str:
    impl = str(meta.get("impl", "impl"))
    root = ET.Element("testsuites", name=f"mlpbench check {impl}", tests=str(len(results)),
                      failures=str(sum(r.verdict == FAIL for r in results)),
                      errors=str(sum(r.verdict == ERROR for r in results)),
                      skipped=str(sum(r.verdict in (SKIPPED, NOT_CLAIMED) for r in results)),
                      time=f"{sum(r.duration_s for r in results):.3f}")
    for area in summarize(results):
        chosen = [r for r in results if r.area == area]
        suite = ET.SubElement(
            root, "testsuite", name=area, tests=str(len(chosen)),
            failures=str(sum(r.verdict == FAIL for r in chosen)),
            errors=str(sum(r.verdict == ERROR for r in chosen)),
            skipped=str(sum(r.verdict in (SKIPPED, NOT_CLAIMED) for r in chosen)),
            time=f"{sum(r.duration_s for r in chosen):.3f}",
        )
        for result in chosen:
            case = ET.SubElement(suite, "testcase", classname=f"mlpbench.{impl}.{area}",
                                 name=f"{result.case_id.split('/', 1)[1]}[{result.dtype}]",
                                 time=f"{result.duration_s:.3f}")
            if result.verdict in (FAIL, ERROR):
                element = ET.SubElement(case, "failure" if result.verdict == FAIL else "error",
                                        message=capped(result.message, MESSAGE_LIMIT), type=result.verdict)
                element.text = result.diagnostic()
            elif result.verdict in (NOT_CLAIMED, SKIPPED):
                ET.SubElement(case, "skipped", message=capped(result.message, MESSAGE_LIMIT))
            headroom = result.worst_headroom
            if headroom is not None:
                properties = ET.SubElement(case, "properties")
                ET.SubElement(properties, "property", name="worst_headroom", value=format_headroom(headroom))
    if is_interrupted(meta):
        _mark_interrupted(root, len(results))
    ET.indent(root)
    # every text and attribute passes through clean_text: control characters are not allowed in XML
    return clean_text('<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n")


def _mark_interrupted(root: ET.Element, ran: int) -> None:
    """An interrupted run: attribute interrupted="true" and a "run" testsuite whose one testcase errs, so that
    no CI system shows a partial run as green."""
    message = f"the run was interrupted: the report is partial ({ran} checks ran)"
    root.set("interrupted", "true")
    root.set("tests", str(int(root.get("tests", "0")) + 1))
    root.set("errors", str(int(root.get("errors", "0")) + 1))
    suite = ET.Element("testsuite", name="run", tests="1", failures="0", errors="1", skipped="0", time="0.000",
                       interrupted="true")
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="interrupted", value="true")
    case = ET.SubElement(suite, "testcase", classname="mlpbench.run", name="completed", time="0.000")
    ET.SubElement(case, "error", message=message, type="interrupted").text = message
    root.insert(0, suite)


def check_report_dir(report_dir: str | Path) -> None:
    """Raise OSError now (before a run) if `write_reports` would refuse `report_dir`: it exists but is not a
    directory, holds anything but an earlier report set, unchanged (the ownership rule,
    `mlpbench.output.folder`), or contains the working directory. Creates nothing."""
    check_replaceable(report_dir)


def write_reports(report_dir: str | Path, results: Sequence[CheckResult], meta: dict[str, Any]) -> dict[str, Path]:
    """Write the report set (three reports and repro/*.npz of the failures) into `report_dir`, replacing
    its previous set as a whole; return {"markdown": path, "json": path, "junit": path}.

    Sets each failed result's `repro_path`. Raises OSError (the previous set intact, no temporary directory
    left) when anything cannot be written, or when `report_dir` holds anything but an earlier report set.
    """
    directory = Path(report_dir)
    previous = [r.repro_path for r in results]

    def fill(staging: Path) -> None:
        write_repro_files(staging, directory, results)
        write_text_atomic(staging / MARKDOWN_NAME, render_markdown(results, meta))
        write_json_atomic(staging / JSON_NAME, report_json(results, meta))
        write_text_atomic(staging / JUNIT_NAME, render_junit(results, meta))

    try:
        replace_directory(directory, fill)
    except BaseException:
        for result, path in zip(results, previous):
            result.repro_path = path
        raise
    return {"markdown": directory / MARKDOWN_NAME, "json": directory / JSON_NAME, "junit": directory / JUNIT_NAME}
