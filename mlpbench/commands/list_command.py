"""`mlpbench list`: one line per registered implementation: name, kind, device, dtypes, availability.

Each implementation is built and asked about itself in a supervised worker process (one worker for the whole
listing, replaced if an implementation kills it), so a plug-in that crashes, exits or hangs while loading is
listed as unavailable with what happened, and never takes the listing down. `--names` prints the claim
vocabulary instead: every name a `Capabilities` may use.
"""

from __future__ import annotations

import argparse

from mlpbench.options import TIMEOUT, TIMEOUT_RANGE
from mlpbench.report_text import NAME_LIMIT, terminal_text

PROBE_TIMEOUT = 120.0
"""Default seconds one implementation may take to load and answer (imports included)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-mutants", action="store_true", help="leave out the mutants (kind 'mutant')")
    parser.add_argument("--names", action="store_true",
                        help="print the claim vocabulary (every name Capabilities may use) and exit")
    parser.add_argument("--timeout", type=TIMEOUT, default=PROBE_TIMEOUT, metavar="S",
                        help=f"seconds one implementation may take to load ({TIMEOUT_RANGE}; default "
                             f"{PROBE_TIMEOUT:g})")


def describe(entry_name: str, kind: str, outcome) -> tuple[str, str, str, str, str]:
    """(name, kind, device, dtypes, availability) from what the worker reported."""
    from mlpbench.isolation.supervisor import WorkerDied

    if isinstance(outcome, WorkerDied):
        return entry_name, kind, "-", "-", f"unavailable: {outcome.describe()}"
    if outcome.unknown or outcome.load_error:
        return entry_name, kind, "-", "-", f"unavailable: {outcome.unknown or outcome.load_error}"
    caps = outcome.capabilities
    dtypes = ",".join(sorted(caps.dtypes)) or "-" if caps is not None else f"? ({outcome.capabilities_error})"
    status = "available" if outcome.available else f"unavailable: {outcome.reason}"
    return entry_name, kind, str(outcome.device), dtypes, status


def print_vocabulary() -> None:
    from mlpbench.impls.capabilities import vocabulary

    for kind, names in vocabulary().items():
        print(f"{kind}: {', '.join(names)}")


def run(args: argparse.Namespace) -> int:
    if args.names:
        print_vocabulary()
        return 0
    from mlpbench.impls.registry import entries
    from mlpbench.isolation.supervisor import Worker

    rows = []
    with Worker("list") as worker:
        for entry in entries(include_mutants=not args.no_mutants):
            outcome = worker.probe(entry.name, timeout=args.timeout)
            rows.append(tuple(terminal_text(cell, NAME_LIMIT if i < 4 else 1000)
                              for i, cell in enumerate(describe(entry.name, entry.kind, outcome))))
    widths = [max(len(row[i]) for row in rows) for i in range(4)] if rows else [0] * 4
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)) + "  " + row[4])
    return 0
