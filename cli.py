"""``zsbench``: build the parser from the command registry and dispatch; nothing else.

Each subcommand is one module of :mod:`bench.commands` (its arguments, its execution, its
rendering call), registered in :data:`bench.commands.COMMANDS`; a plug-in adds one through the
``zsbench.commands`` entry-point group. A :class:`bench.core.errors.UserError` becomes one line on
stderr and exit code 2; Ctrl-C exits 130 (finished cache chunks are kept).
"""
from __future__ import annotations

import sys
from typing import Sequence

from bench.commands import COMMANDS, build_parser
from bench.commands.base import fail, quiet_warnings
from bench.core.errors import UserError


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    quiet_warnings(getattr(args, "quiet", False) or getattr(args, "json", False))
    try:
        return COMMANDS.get(args.command).execute(args)
    except UserError as exc:  # one line; exit 2, or the error's own code (a full disk: 1)
        return fail(str(exc), getattr(exc, "exit_code", 2))
    except KeyboardInterrupt:
        return fail("interrupted; finished feature chunks are kept and the next run resumes", 130)


if __name__ == "__main__":
    raise SystemExit(main())
