"""The range of every command-line option, in one place: argparse types that accept what the program can
represent and a user can mean, and reject anything else (empty included) with a message naming the option
(argparse prefixes "argument --NAME:"), so that it ends as one line and exit 2.

    seconds       a finite number > 0, at most a bound (a timeout: at most a week, `WEEK_S`)
    whole         an integer in [low, high]
    text          a non-empty string
    folder        a non-empty path (an output folder; the ownership rule decides whether it may be written)
    input_path    a non-empty path to read
    numbers       a comma-separated, non-empty list of integers in [low, high]
    names         a comma-separated, non-empty list of names from a closed set
    items         a comma-separated, non-empty list of non-empty items
    layer_sizes   a model given as layer sizes, each in [1, `MAX_LAYER_SIZE`], at most `MAX_LAYERS` layers
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Collection
from pathlib import Path

WEEK_S = 7 * 24 * 3600.0
"""The longest timeout any option takes (a week): longer is no limit at all, and far longer (1e14 s) is more
than the clocks the timeouts run on can represent."""
MAX_LAYER_SIZE = 2**20
MAX_LAYERS = 64
MAX_TEXT = 100_000


def seconds(high: float = WEEK_S) -> Callable[[str], float]:
    """A finite number of seconds, more than 0 and at most `high`."""

    def parse(text: str) -> float:
        value = _float(text)
        if not (math.isfinite(value) and 0.0 < value <= high):
            raise argparse.ArgumentTypeError(f"must be a finite number > 0 and at most {high:g} seconds, got {text}")
        return value

    parse.__name__ = "seconds"
    return parse


def number(low: float, high: float) -> Callable[[str], float]:
    """A finite number in [low, high]."""

    def parse(text: str) -> float:
        value = _float(text)
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"must be a finite number from {low:g} to {high:g}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


def whole(low: int, high: int) -> Callable[[str], int]:
    """An integer in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number from {low} to {high}, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be a whole number from {low} to {high}, got {value}")
        return value

    parse.__name__ = "whole number"
    return parse


def text(value: str) -> str:
    """A non-empty string (at most `MAX_TEXT` characters)."""
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    if len(value) > MAX_TEXT:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_TEXT} characters, got {len(value)}")
    return value


def folder(value: str) -> Path:
    """An output folder: a non-empty path."""
    if not value.strip():
        raise argparse.ArgumentTypeError("must name a folder, not be empty")
    return Path(value)


def input_path(value: str) -> Path:
    """A file (or folder) to read: a non-empty path."""
    if not value.strip():
        raise argparse.ArgumentTypeError("must name a file, not be empty")
    return Path(value)


def split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def items(value: str) -> str:
    """A comma-separated list with at least one non-empty item (returned as given, items stripped)."""
    parts = split(value)
    if not parts:
        raise argparse.ArgumentTypeError(f"must list at least one item, got {value!r}")
    return ",".join(parts)


def numbers(low: int, high: int) -> Callable[[str], str]:
    """A comma-separated, non-empty list of integers in [low, high] (returned as text, items stripped)."""
    check = whole(low, high)

    def parse(value: str) -> str:
        parts = split(items(value))
        for part in parts:
            check(part)
        return ",".join(parts)

    parse.__name__ = "list of whole numbers"
    return parse


def names(known: Collection[str], hint: str = "") -> Callable[[str], str]:
    """A comma-separated, non-empty list of names from `known` (returned as text, items stripped)."""

    def parse(value: str) -> str:
        parts = split(items(value))
        unknown = [p for p in parts if p not in known]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown name {unknown[0]!r}; known: {', '.join(known)}{hint}")
        return ",".join(parts)

    parse.__name__ = "list of names"
    return parse


def layer_sizes(value: str) -> str:
    """Layer sizes such as "784-256-10": 2 to `MAX_LAYERS` whole numbers from 1 to `MAX_LAYER_SIZE`."""
    parts = value.replace(",", "-").split("-")
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be layer sizes like 128-512-10, got {value!r}") from None
    if not 2 <= len(sizes) <= MAX_LAYERS or not all(1 <= s <= MAX_LAYER_SIZE for s in sizes):
        raise argparse.ArgumentTypeError(f"must be 2 to {MAX_LAYERS} layer sizes, each from 1 to {MAX_LAYER_SIZE}, "
                                         f"got {value!r}")
    return "-".join(map(str, sizes))


def models(value: str) -> str:
    """A comma-separated, non-empty list of models: catalogue names (checked later) or layer sizes, bounded."""
    parts = split(items(value))
    for part in parts:
        if part.replace("-", "").isdigit():
            layer_sizes(part)
    return ",".join(parts)


def _float(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None


TIMEOUT = seconds(WEEK_S)
"""A timeout in seconds: more than 0, at most a week."""
TIMEOUT_RANGE = f"more than 0, at most {WEEK_S:g} (a week)"
