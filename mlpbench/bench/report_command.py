"""`mlpbench report`: re-render saved benchmark results, or compare two runs.

  mlpbench report RUN.json [--out DIR]                  print the tables of a saved bench.json and write its
                                                        Markdown, CSV and PNG into DIR (default: beside
                                                        RUN.json; the files written are listed on stdout)
  mlpbench report BASE.json NEW.json [--threshold 1.10] compare; exit 1 when any cell is significantly slower

A cell is slower when median(new)/median(base) >= threshold and a one-sided Mann-Whitney U test on the
per-block step times gives p < alpha (see mlpbench/bench/compare.py). Exit 2 on a usage error (missing or
invalid file, bad option).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from tabulate import tabulate

from mlpbench.atomic import write_json_atomic, write_text_atomic
from mlpbench.bench.compare import DEFAULT_ALPHA, DEFAULT_THRESHOLD, compare_runs, environment_differences
from mlpbench.bench.records import BenchResults
from mlpbench.bench.results import ResultsError, load_results
from mlpbench.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE",
                        help="one bench.json (or run directory) to re-render, or BASE and NEW to compare")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="where to write (re-render: default the file's directory; compare: comparison.md/json)")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help=f"slowdown ratio of medians that counts (default {DEFAULT_THRESHOLD})")
    parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA,
                        help=f"significance level of the Mann-Whitney U test (default {DEFAULT_ALPHA})")


def _load(path: Path) -> BenchResults:
    try:
        return load_results(path)
    except ResultsError as error:
        raise UsageError(str(error)) from None


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def comparison_markdown(comparisons, threshold: float, alpha: float, notes: list[str], base: str, new: str) -> str:
    compared = [c for c in comparisons if c.verdict != "not compared"]
    skipped = [c for c in comparisons if c.verdict == "not compared"]
    rows = [
        (c.id, c.verdict, _fmt(c.base_median_s and c.base_median_s * 1e3, ".4g"),
         _fmt(c.new_median_s and c.new_median_s * 1e3, ".4g"), _fmt(c.ratio, ".3f"),
         _fmt(c.p_slower, ".2g"), _fmt(c.p_faster, ".2g"), c.note)
        for c in compared
    ]
    table = tabulate(rows, headers=["cell", "verdict", "base ms/step", "new ms/step", "new/base",
                                    "p (slower)", "p (faster)", "note"], tablefmt="github", disable_numparse=True)
    lines = [
        f"# Benchmark comparison: {base} -> {new}",
        "",
        f"slower = median ratio >= {threshold} and one-sided Mann-Whitney U p < {alpha} on per-block step times; "
        f"faster symmetrically.",
    ]
    if notes:
        lines += ["", "Configuration differs between the runs:", *[f"- {n}" for n in notes]]
    lines += ["", table]
    if skipped:
        reasons: dict[str, int] = {}
        for c in skipped:
            reasons[c.note] = reasons.get(c.note, 0) + 1
        lines += ["", f"{len(skipped)} cells not compared: "
                  + "; ".join(f"{n} with {note}" for note, n in sorted(reasons.items())) + "."]
    return "\n".join(lines + [""])


def run(args: argparse.Namespace) -> int:
    if len(args.files) > 2:
        raise UsageError("report takes one results file (re-render) or two (BASE NEW, compare)")
    if not (math.isfinite(args.threshold) and args.threshold >= 1.0):
        raise UsageError(f"--threshold must be a finite ratio of medians (new/base) >= 1.0, got {args.threshold}")
    if not 0.0 < args.alpha < 1.0:
        raise UsageError("--alpha must be in (0, 1)")
    if len(args.files) == 1:
        from mlpbench.bench.render import render_run
        from mlpbench.bench.tables import console_summary

        results = _load(args.files[0])
        source = args.files[0]
        out = args.out or (source if source.is_dir() else source.parent)
        print(console_summary(results))
        written = render_run(out, results)
        print("wrote " + ", ".join(str(p) for p in written))
        return 0
    base, new = (_load(path) for path in args.files)
    comparisons = compare_runs(base, new, args.threshold, args.alpha)
    notes = environment_differences(base, new)
    text = comparison_markdown(comparisons, args.threshold, args.alpha, notes, str(args.files[0]), str(args.files[1]))
    print(text)
    if args.out:
        write_text_atomic(args.out / "comparison.md", text)
        write_json_atomic(args.out / "comparison.json", {
            "base": str(args.files[0]), "new": str(args.files[1]), "threshold": args.threshold,
            "alpha": args.alpha, "environment_differences": notes,
            "cells": [c.to_dict() for c in comparisons],
        })
    slower = [c.id for c in comparisons if c.verdict == "slower"]
    compared = sum(c.verdict != "not compared" for c in comparisons)
    print(f"{compared} cells compared; {len(slower)} slower" + (f": {', '.join(slower)}" if slower else ""))
    return 1 if slower else 0
