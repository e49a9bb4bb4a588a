"""`mlpbench list`: one line per registered implementation: name, kind, device, dtypes, availability."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-mutants", action="store_true", help="leave out the mutants (kind 'mutant')")


def describe(entry) -> tuple[str, str, str, str, str]:
    """(name, kind, device, dtypes, availability) of a registry entry; problems become 'unavailable: ...'."""
    try:
        impl = entry.factory()
    except Exception as error:
        return entry.name, entry.kind, "-", "-", f"unavailable: {type(error).__name__}: {' '.join(str(error).split())}"
    try:
        dtypes = ",".join(sorted(impl.capabilities().dtypes)) or "-"
    except Exception as error:
        dtypes = f"? ({type(error).__name__})"
    try:
        available, reason = impl.availability()
    except Exception as error:
        available, reason = False, f"availability() raised {type(error).__name__}: {error}"
    status = "available" if available else f"unavailable: {' '.join(str(reason).split())}"
    return entry.name, entry.kind, str(getattr(impl, "device", "-")), dtypes, status


def run(args: argparse.Namespace) -> int:
    from impls.registry import entries

    rows = [describe(entry) for entry in entries(include_mutants=not args.no_mutants)]
    widths = [max(len(row[i]) for row in rows) for i in range(4)] if rows else [0] * 4
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)) + "  " + row[4])
    return 0
