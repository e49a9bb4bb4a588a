"""The `mlpbench` command line: `list`, `check`, `matrix`, `bench`, `report`.

Each command lives in its own module exposing `add_arguments(parser)` and `run(args) -> int`.
Exit codes: 0 success, 1 a check or comparison failed, 2 usage error (one line on stderr; a bare `mlpbench`
prints its usage and exits 2), 130 interrupted (Ctrl-C), 143 and 129 stopped by SIGTERM or SIGHUP (handled
like Ctrl-C: what ran is reported, marked interrupted). The exit code never depends on who reads the output:
a reader that stops early (`| head`, `| true`) only stops the output.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import os
import signal
import sys
import threading
from typing import Any, TextIO

from mlpbench.errors import Interrupted, UsageError, interrupted_exit_code

COMMANDS = {
    "list": ("mlpbench.commands.list_command", "list registered implementations and whether each is available"),
    "check": ("mlpbench.commands.check_command", "conformance gate for one implementation (exit 0/1/2)"),
    "matrix": ("mlpbench.commands.matrix_command", "conformance of several implementations side by side, one table"),
    "bench": ("mlpbench.bench.command", "time mini-batch training throughput, GPU against CPU"),
    "report": ("mlpbench.bench.report_command", "re-render saved benchmark results; compare two runs"),
    "scaling": ("mlpbench.bench.scaling", "data-parallel throughput against the world size (torch-ddp:W)"),
}


__all__ = ["UsageError", "main"]


class _Tolerant:
    """A text stream whose reader may go away: once a write or flush finds the pipe closed, the stream's file
    descriptor is pointed at /dev/null and the rest of the output is dropped, so the command runs on and
    exits with its own code (and the interpreter's final flush finds nothing to complain about)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.closed_by_reader = False

    def _lost(self) -> None:
        self.closed_by_reader = True
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)

    def write(self, text: str) -> int:
        if not self.closed_by_reader:
            try:
                return self._stream.write(text)
            except OSError as error:
                if not isinstance(error, BrokenPipeError) and error.errno != errno.EPIPE:
                    raise
                self._lost()
        return len(text)

    def flush(self) -> None:
        if not self.closed_by_reader:
            try:
                self._stream.flush()
            except OSError as error:
                if not isinstance(error, BrokenPipeError) and error.errno != errno.EPIPE:
                    raise
                self._lost()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum)


@contextlib.contextmanager
def _guarded_run() -> Any:
    """SIGTERM and SIGHUP raise Interrupted (as Ctrl-C raises KeyboardInterrupt); output to a closed pipe is
    dropped. Restored afterwards (main() is also called in-process, by tests)."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, _raise_interrupted) for sig in (signal.SIGTERM, signal.SIGHUP)
                if in_main_thread}
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tolerant(sys.stdout), _Tolerant(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = streams
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        raise UsageError(f"{self.prog}: {message}")


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as distribution_version

    try:
        return distribution_version("mlpbench")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mlpbench", description=__doc__.splitlines()[0],
                     epilog="exit status: 0 success, 1 a check or comparison failed, 2 usage error, 130 interrupted")
    parser.add_argument("--version", action="version", version=f"mlpbench {version()}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(command_parser)
        command_parser.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    with _guarded_run():
        try:
            parser = build_parser()
            args = parser.parse_args(argv)
            if args.command is None:  # a bare `mlpbench`: say what it can do
                parser.print_help()
                return 2
            return int(args._run(args))
        except UsageError as error:
            from mlpbench.report_text import terminal_text

            print(f"error: {terminal_text(str(error), 4000)}", file=sys.stderr)  # one line, whatever it quotes
            return 2
        except KeyboardInterrupt as stop:
            print("interrupted", file=sys.stderr)
            return interrupted_exit_code(stop)


if __name__ == "__main__":
    raise SystemExit(main())
