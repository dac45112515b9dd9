"""The subcommands of ``zsbench``, one module each, found through the :data:`COMMANDS` registry.

Each module holds a :class:`~bench.commands.base.Command` (its arguments, its execution and its
rendering call). ``cli.py`` builds the parser from this registry; a third-party package adds a
subcommand through the ``zsbench.commands`` entry-point group (``NAME = module:COMMAND``).
The modules import nothing heavy at the top, so ``zsbench --help`` stays fast.
"""
from __future__ import annotations

import argparse
import sys

from bench.core.registry import Registry

#: name -> Command ("module:COMMAND", imported when the parser is built)
COMMANDS: Registry = Registry("command", "zsbench.commands")
for _name in ("run", "robustness", "predict", "search", "sweep", "models", "tasks", "leaderboard", "compare", "samples",
              "plot", "report", "doctor", "perf", "docs"):
    COMMANDS.register(_name, f"bench.commands.{_name}:COMMAND")


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (and exit 2), not a usage dump."""

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        self.argv = list(sys.argv[1:] if args is None else args)  # kept for the hints of error()
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> None:  # type: ignore[override]
        from bench.commands.base import clip_benchmark_hint

        ours = {o for a in self._actions for o in a.option_strings}
        hint = clip_benchmark_hint([t for t in getattr(self, "argv", []) if t.split("=")[0] not in ours])
        sys.stderr.write(f"zsbench: error: {message}{hint} (see: {self.prog} --help)\n")
        raise SystemExit(2)


def build_parser(argv: "list[str] | None" = None) -> argparse.ArgumentParser:
    """The ``zsbench`` parser: one sub-parser per registered command, each declaring its own arguments.

    ``argv`` (the command line about to be parsed): only the command it names declares its arguments (run's
    include every installed protocol's options, which imports the protocols), so ``zsbench --help`` and
    every other command start without them. None: every command's arguments (the CLI reference)."""
    parser = Parser(prog="zsbench", description="Zero-shot image classification benchmarks for CLIP-family models.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    names = COMMANDS.names()
    wanted = None if argv is None else next((a for a in argv if not a.startswith("-")), "")
    for name in names:
        command = COMMANDS.get(name)
        subparser = sub.add_parser(name, help=command.help, description=command.description)
        if wanted is None or wanted == name:
            command.add_arguments(subparser)
    return parser
