"""``zsbench models``: the loadable models of every registered backend."""
from __future__ import annotations

import argparse

from bench.commands.base import Command, add_json, print_json
from bench.report.text import format_table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_json(parser, 'print [{"model": ..., "pretrained": ..., "note": ...}, ...]')


def execute(args: argparse.Namespace) -> int:
    from bench.models import list_models

    rows = list_models()
    if args.json:
        print_json([{"model": m, "pretrained": p, "note": n} for m, p, n in rows])
    else:
        print(models_table(rows))
    return 0


def models_table(rows: list[tuple[str, str, str]]) -> str:
    return format_table([list(r) for r in rows], ["model", "pretrained", "note"])


COMMAND = Command("models", "list loadable models", "Every backend's loadable models: open_clip names and "
                  "pretrained tags, transformers: checkpoints, the offline ConSE baseline, and plug-ins' models.",
                  add_arguments, execute)
