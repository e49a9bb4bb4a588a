"""Run the test suite with a CPU hog on every core, several times in a row: no test may depend on the machine's load.

    python suites/under_load.py                      # 5 runs of `pytest suites/ -n auto` under load
    python suites/under_load.py --runs 2 -- suites/cli -q

Each hog is a process spinning in pure Python at normal priority (one per core, as `os.cpu_count()` says), so
every test process competes for the cores for the whole run. The hogs stop when the runs end, when this script
is interrupted, and when it dies (each hog polls its parent). Prints one line a run (exit code, seconds) and
exits 1 if any run failed; `tox -e under-load` runs it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import time

DEFAULT_PYTEST_ARGS = ["suites/", "-n", "auto", "-q", "-p", "no:cacheprovider"]


def hog(parent: int) -> None:
    """Spin until the parent is gone."""
    while os.getppid() == parent:
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            pass


def start_hogs(count: int) -> list[multiprocessing.Process]:
    hogs = [multiprocessing.Process(target=hog, args=(os.getpid(),), daemon=True) for _ in range(count)]
    for process in hogs:
        process.start()
    return hogs


def run_once(pytest_args: list[str]) -> tuple[int, float]:
    began = time.monotonic()
    code = subprocess.call([sys.executable, "-m", "pytest", *pytest_args])
    return code, time.monotonic() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs in a row (default 5)")
    parser.add_argument("--hogs", type=int, default=os.cpu_count() or 1, help="hog processes (default: one a core)")
    default = " ".join(DEFAULT_PYTEST_ARGS)
    parser.add_argument("pytest_args", nargs="*", help=f"arguments for pytest (default: {default})")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.hogs < 1:
        parser.error("--runs and --hogs must be at least 1")
    hogs = start_hogs(args.hogs)
    results = []
    try:
        for run in range(1, args.runs + 1):
            code, seconds = run_once(args.pytest_args or DEFAULT_PYTEST_ARGS)
            results.append(code)
            print(f"under-load run {run}/{args.runs}: exit {code} after {seconds:.0f} s with {args.hogs} hogs",
                  flush=True)
    finally:
        for process in hogs:
            process.terminate()
        for process in hogs:
            process.join()
    failed = sum(code != 0 for code in results)
    print(f"under load: {len(results) - failed} of {len(results)} runs passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
