"""A plug-in written as a script without a main guard: importing it exits the interpreter."""

import sys

print("running as a script")
sys.exit(0)


def make():  # pragma: no cover - never reached
    raise AssertionError("unreachable")
