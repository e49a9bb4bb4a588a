"""`mlpbench report`: re-render saved benchmark results, or compare two runs.

  mlpbench report RUN.json [--out DIR]                  print the tables of a saved bench.json and write its
                                                        Markdown, CSV and PNG into DIR (default: beside
                                                        RUN.json; the files written are listed on stdout)
  mlpbench report BASE.json NEW.json [--threshold 1.10] compare; exit 1 when any cell is significantly slower

A cell is slower when median(new)/median(base) >= threshold and a one-sided Mann-Whitney U test on the
per-block step times gives p < alpha; unchanged only when the data exclude a change as large as the threshold,
and inconclusive (with why, and the blocks that would resolve it) otherwise (see mlpbench/bench/compare.py).
Inconclusive cells are counted on the last line; they do not fail the comparison, only slower ones do. Exit 2 on
a usage error (missing or invalid file, bad option, an output folder that is not mlpbench's own), with one line:
a results file is read
against its schema (`mlpbench.bench.results.load_results`), so a wrong one is named by its field. Output folders
follow the ownership rule of `mlpbench.output.folder`: the re-rendered files go only into a folder that is new,
empty or holds a benchmark run (or rendering) of mlpbench's own, unchanged; the comparison likewise.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from tabulate import tabulate

from mlpbench import options
from mlpbench.bench import terminal
from mlpbench.bench.compare import DEFAULT_ALPHA, DEFAULT_THRESHOLD, Change, compare_runs, environment_differences
from mlpbench.bench.records import BenchResults
from mlpbench.bench.results import ResultsError, load_results
from mlpbench.errors import UsageError
from mlpbench.output.folder import RULE, OwnedFolder, OwnershipError, preflight
from mlpbench.output.manifest import BENCH, COMPARISON
from mlpbench.report_text import MESSAGE_LIMIT, markdown_text, terminal_text

MAX_THRESHOLD = 1000.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=options.input_path, metavar="FILE",
                        help="one bench.json (or run directory) to re-render, or BASE and NEW to compare")
    parser.add_argument("--out", type=options.folder, metavar="DIR",
                        help="where to write (re-render: default the file's directory; compare: comparison.md/json); "
                             + RULE)
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help=f"slowdown ratio of medians that counts, from 1 to {MAX_THRESHOLD:g} "
                             f"(default {DEFAULT_THRESHOLD})")
    parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA,
                        help=f"significance level of the Mann-Whitney U test, in (0, 1) (default {DEFAULT_ALPHA})")


def _load(path: Path) -> BenchResults:
    try:
        return load_results(path)
    except ResultsError as error:
        raise UsageError(str(error)) from None


def _writable(out: Path, kind: str) -> None:
    try:
        preflight(out, kind)
    except OwnershipError as error:
        raise UsageError(str(error)) from None


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def comparison_markdown(comparisons, threshold: float, alpha: float, notes: list[str], base: str, new: str) -> str:
    compared = [c for c in comparisons if c.verdict is not Change.NOT_COMPARED]
    skipped = [c for c in comparisons if c.verdict is Change.NOT_COMPARED]
    rows = [
        (markdown_text(c.id), c.verdict.value, _fmt(c.base_median_s and c.base_median_s * 1e3, ".4g"),
         _fmt(c.new_median_s and c.new_median_s * 1e3, ".4g"), _fmt(c.ratio, ".3f"),
         "-" if c.ratio_low is None else f"{c.ratio_low:.3f}-{c.ratio_high:.3f}",
         _fmt(c.p_slower, ".2g"), _fmt(c.p_faster, ".2g"), markdown_text(c.note, MESSAGE_LIMIT))
        for c in compared
    ]
    table = tabulate(rows, headers=["cell", "verdict", "base ms/step", "new ms/step", "new/base", "interval",
                                    "p (slower)", "p (faster)", "note"], tablefmt="github", disable_numparse=True)
    lines = [
        f"# Benchmark comparison: {markdown_text(base)} -> {markdown_text(new)}",
        "",
        f"slower = median ratio >= {threshold} and one-sided Mann-Whitney U p < {alpha} on per-block step times; "
        f"faster symmetrically; unchanged = the interval of new/base (level {1 - 2 * alpha:g}) lies inside "
        f"{1 / threshold:.3g} to {threshold:g}; inconclusive = none of these, with why.",
    ]
    if notes:
        lines += ["", "Configuration differs between the runs:",
                  *[f"- {markdown_text(n, MESSAGE_LIMIT)}" for n in notes]]
    lines += ["", table]
    if skipped:
        reasons: dict[str, int] = {}
        for c in skipped:
            reasons[c.note] = reasons.get(c.note, 0) + 1
        lines += ["", f"{len(skipped)} cells not compared: "
                  + "; ".join(f"{n} with {markdown_text(note, MESSAGE_LIMIT)}" for note, n in sorted(reasons.items()))
                  + "."]
    return "\n".join(lines + [""])


def run(args: argparse.Namespace) -> int:
    if len(args.files) > 2:
        raise UsageError("report takes one results file (re-render) or two (BASE NEW, compare)")
    if not (math.isfinite(args.threshold) and 1.0 <= args.threshold <= MAX_THRESHOLD):
        raise UsageError(f"--threshold must be a finite ratio of medians (new/base) from 1.0 to {MAX_THRESHOLD:g}, "
                         f"got {args.threshold}")
    if not 0.0 < args.alpha < 1.0:
        raise UsageError("--alpha must be in (0, 1)")
    if len(args.files) == 1:
        from mlpbench.bench.render import plots_skipped, render_run

        results = _load(args.files[0])
        source = args.files[0]
        out = args.out or (source if source.is_dir() else source.parent)
        _writable(out, BENCH)
        print(terminal.summary(results))
        try:
            written = render_run(out, results)
        except OwnershipError as error:
            raise UsageError(str(error)) from None
        print("wrote " + ", ".join(terminal_text(p) for p in written))
        skipped = plots_skipped()
        if skipped:
            print(skipped)
        return 0
    base, new = (_load(path) for path in args.files)
    if args.out:
        _writable(args.out, COMPARISON)
    comparisons = compare_runs(base, new, args.threshold, args.alpha)
    notes = environment_differences(base, new)
    text = comparison_markdown(comparisons, args.threshold, args.alpha, notes, str(args.files[0]), str(args.files[1]))
    print(terminal.comparison(comparisons, args.threshold, args.alpha, notes))
    if args.out:
        try:
            with OwnedFolder(args.out, COMPARISON) as folder:
                folder.write_text("comparison.md", text)
                folder.write_json("comparison.json", {
                    "base": str(args.files[0]), "new": str(args.files[1]), "threshold": args.threshold,
                    "alpha": args.alpha, "environment_differences": notes,
                    "cells": [c.to_dict() for c in comparisons],
                })
        except OwnershipError as error:
            raise UsageError(str(error)) from None
    slower = [c.id for c in comparisons if c.verdict is Change.SLOWER]
    compared = sum(c.verdict is not Change.NOT_COMPARED for c in comparisons)
    inconclusive = sum(c.verdict is Change.INCONCLUSIVE for c in comparisons)
    listed = f": {', '.join(slower)}" if slower else ""
    unresolved = f"; {inconclusive} inconclusive (see the note of each)" if inconclusive else ""
    print(terminal.wrapped(terminal_text(f"{compared} cells compared; {len(slower)} slower{listed}{unresolved}",
                                         4000)))
    return 1 if slower else 0
