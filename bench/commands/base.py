"""What every subcommand module is made of, and the options several of them share.

A command is one module of :mod:`bench.commands` holding a :class:`Command`: its name, its help,
the function that declares its arguments, and the function that executes it (calls the library,
prints what :mod:`bench.report` formats, returns the exit code). Nothing in a command computes a
number; nothing outside the commands prints.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


@dataclass(frozen=True)
class Command:
    name: str
    help: str                                           # one line, in ``zsbench --help``
    description: str                                    # the paragraph of ``zsbench NAME --help``
    add_arguments: Callable[[argparse.ArgumentParser], None]
    execute: Callable[[argparse.Namespace], int]


def board(text: str) -> str:
    """``--protocol`` of leaderboard and compare: a registered protocol's name, or a board one declares
    (checked only when given, so building the parser imports no protocol)."""
    from bench.engine.protocol_registry import PROTOCOLS

    if text in PROTOCOLS:
        return text
    from bench.report.protocols import boards

    if text not in boards():
        raise argparse.ArgumentTypeError(f"unknown protocol or board '{text}' (registered: "
                                         f"{', '.join(dict.fromkeys([*boards(), *PROTOCOLS.names()]))})")
    return text


def clip_benchmark_hint(argv: list[str]) -> str:
    """For flags in ``argv`` (those the command does not take) that are CLIP_benchmark's spelling: which of ours
    each is, or why there is none (the parity table's answer, ``bench.apps.clip_benchmark_parity.FLAGS``)."""
    import re

    from bench.apps.clip_benchmark_parity import FLAGS

    said = [t.split("=")[0] for t in argv if t.startswith("--")]
    pairs = []
    for flag in (f for f in said if f in FLAGS):
        ours = re.match(r"`(--[a-z][a-z-]*)`", FLAGS[flag])
        pairs.append(f"{flag} is {ours.group(1)} here" if ours else f"{flag}: {FLAGS[flag]}")
    return f" (CLIP_benchmark's spelling: {'; '.join(pairs)})" if pairs else ""


def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=1, default=str, ensure_ascii=False))


def add_results(parser: argparse.ArgumentParser) -> None:
    """``--results`` and ``--strict``: the commands that read run records (leaderboard, compare, plot, report)."""
    parser.add_argument("--results", default="results", help="folder with runs/ (default: results/)")
    parser.add_argument("--strict", action="store_true",
                        help="refuse a file in runs/ that is not a run record (default: skip it with a warning)")


def add_json(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--json", action="store_true", help=help)


def add_quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def runs_of(args: argparse.Namespace):
    """The run records under ``--results`` as one table (``--strict``: refuse a file that is not one)."""
    from bench.report.collect import load_runs

    return load_runs(Path(args.results), strict=getattr(args, "strict", False))


def path_or_none(value: str | Path | None) -> Path | None:
    return Path(value) if value else None


def quiet_warnings(quiet: bool) -> None:
    """Warnings as one ``zsbench: warning:`` line each; under --quiet/--json a damaged cache entry
    (it can mean a failing disk) and images left out of a number are still said, on stderr."""
    from bench.core.errors import CacheWarning, DataLossWarning

    warnings.formatwarning = lambda msg, cat, *a, **k: f"zsbench: warning: {msg}\n"
    if quiet:
        warnings.simplefilter("ignore")
        warnings.simplefilter("default", CacheWarning)
        warnings.simplefilter("default", DataLossWarning)


def fail(message: str, code: int = 2) -> int:
    sys.stderr.write(f"zsbench: error: {message}\n")
    return code
