"""The subcommands of ``zsbench``, one module each, found through the :data:`COMMANDS` registry.

Each module holds a :class:`~bench.commands.base.Command` (its arguments, its execution and its
rendering call). ``cli.py`` builds the parser from this registry; a third-party package adds a
subcommand through the ``zsbench.commands`` entry-point group (``NAME = module:COMMAND``).
The modules import nothing heavy at the top, so ``zsbench --help`` stays fast.
"""
from __future__ import annotations

from bench.core.registry import Registry

#: name -> Command ("module:COMMAND", imported when the parser is built)
COMMANDS: Registry = Registry("command", "zsbench.commands")
for _name in ("run", "robustness", "predict", "sweep", "models", "tasks", "leaderboard", "compare", "plot", "report",
              "doctor", "perf"):
    COMMANDS.register(_name, f"bench.commands.{_name}:COMMAND")
