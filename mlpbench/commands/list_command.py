"""`mlpbench list`: a header row, then one line per registered implementation: name, kind, device, dtypes,
availability.

`--json` prints the same as a JSON list of objects, one per implementation, in the listing's order; the keys
are stable: "name", "kind" ("built-in", "plug-in" or "mutant"), "device", "dtypes" (a list, sorted), "available"
(true or false), "reason" (why it is not available, "" when it is), "description", and "breaks" (for a mutant,
the capability area whose checks must catch its bug; "" otherwise).

Each implementation is built and asked about itself in a supervised worker process (one worker for the whole
listing, replaced if an implementation kills it), so a plug-in that crashes, exits or hangs while loading is
listed as unavailable with what happened, and never takes the listing down. `--names` prints the claim
vocabulary instead: every name a `Capabilities` may use.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any

from mlpbench.impls.registry import Entry
from mlpbench.isolation.supervisor import Worker, WorkerDied
from mlpbench.isolation.worker import ImplInfo
from mlpbench.options import TIMEOUT, TIMEOUT_RANGE
from mlpbench.report_text import MESSAGE_LIMIT, NAME_LIMIT, capped, terminal_text

PROBE_TIMEOUT = 120.0
"""Default seconds one implementation may take to load and answer (imports included)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-mutants", action="store_true", help="leave out the mutants (kind 'mutant')")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON list of objects instead: name, kind, device, dtypes, available, reason, "
                             "description, breaks")
    parser.add_argument("--names", action="store_true",
                        help="print the claim vocabulary (every name Capabilities may use) and exit")
    parser.add_argument("--timeout", type=TIMEOUT, default=PROBE_TIMEOUT, metavar="S",
                        help=f"seconds one implementation may take to load ({TIMEOUT_RANGE}; default "
                             f"{PROBE_TIMEOUT:g})")


@dataclass(frozen=True)
class Listed:
    """One registered implementation as `mlpbench list` shows it; `to_dict` is one object of `--json`."""

    name: str
    kind: str  # "built-in", "plug-in" or "mutant"
    device: str  # "cpu", "cuda", ... ("-" when it could not be loaded)
    dtypes: tuple[str, ...]  # the dtypes it claims, sorted
    available: bool
    reason: str  # why it is not available ("" when it is)
    description: str
    breaks: str  # for a mutant, the capability area whose checks must catch its bug; "" otherwise

    def row(self) -> tuple[str, ...]:
        """The cells of its line: name, kind, device, dtypes, availability."""
        cells = (self.name, self.kind, self.device, ",".join(self.dtypes) or "-",
                 "available" if self.available else f"unavailable: {self.reason}")
        return tuple(terminal_text(cell, NAME_LIMIT if i < len(HEADER) - 1 else MESSAGE_LIMIT)
                     for i, cell in enumerate(cells))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "device": self.device, "dtypes": list(self.dtypes),
                "available": self.available, "reason": self.reason, "description": self.description,
                "breaks": self.breaks}


HEADER = ("NAME", "KIND", "DEVICE", "DTYPES", "AVAILABILITY")
"""The header row of the listing."""


def listed(entry: Entry, outcome: ImplInfo | WorkerDied) -> Listed:
    """What the worker reported about `entry`, as a listing record."""
    base = {"name": capped(entry.name), "kind": entry.kind, "description": capped(entry.description, MESSAGE_LIMIT),
            "breaks": entry.breaks}
    if isinstance(outcome, WorkerDied):
        return Listed(device="-", dtypes=(), available=False, reason=capped(outcome.describe(), MESSAGE_LIMIT), **base)
    if outcome.unknown or outcome.load_error:
        return Listed(device="-", dtypes=(), available=False, reason=outcome.unknown or outcome.load_error, **base)
    caps = outcome.capabilities
    reason = outcome.reason if not outcome.available else ""
    if caps is None:
        reason = "; ".join(part for part in (reason, outcome.capabilities_error) if part)
    return Listed(device=capped(str(outcome.device)), dtypes=tuple(sorted(caps.dtypes)) if caps else (),
                  available=outcome.available and caps is not None, reason=reason, **base)


def print_vocabulary() -> None:
    from mlpbench.impls.capabilities import vocabulary

    for kind, names in vocabulary().items():
        print(f"{kind}: {', '.join(names)}")


def run(args: argparse.Namespace) -> int:
    if args.names:
        print_vocabulary()
        return 0
    from mlpbench.impls.registry import entries

    records = []
    with Worker("list") as worker:
        for entry in entries(include_mutants=not args.no_mutants):
            records.append(listed(entry, worker.probe(entry.name, timeout=args.timeout)))
    if args.json:
        print(json.dumps([record.to_dict() for record in records], indent=2))
    else:
        print_table(records)
    return 0


def print_table(records: list[Listed]) -> None:
    """The header row and a line per implementation, the columns aligned (the last one is free text)."""
    rows = [HEADER, *(record.row() for record in records)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1])
