"""The `mlpbench` command line: `list`, `check`, `matrix`, `bench`, `report`.

Each command lives in its own module exposing `add_arguments(parser)` and `run(args) -> int`.
Exit codes: 0 success, 1 a check or comparison failed, 2 usage error (one line on stderr; a bare `mlpbench`
prints its usage and exits 2), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "list": ("mlpbench.commands.list_command", "list registered implementations and whether each is available"),
    "check": ("mlpbench.commands.check_command", "conformance gate for one implementation (exit 0/1/2)"),
    "matrix": ("mlpbench.commands.matrix_command", "conformance of several implementations side by side, one table"),
    "bench": ("mlpbench.bench.command", "time mini-batch training throughput, GPU against CPU"),
    "report": ("mlpbench.bench.report_command", "re-render saved benchmark results; compare two runs"),
    "scaling": ("mlpbench.bench.scaling", "data-parallel throughput against the world size (torch-ddp:W)"),
}


class UsageError(Exception):
    """A problem with how the command was called; reported in one line with exit code 2."""


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
    except BrokenPipeError:  # output piped into a reader that stopped early (e.g. `| head`)
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
