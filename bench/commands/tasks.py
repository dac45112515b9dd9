"""``zsbench tasks``: the registered tasks, one suite's tasks, or one task's spec."""
from __future__ import annotations

import argparse

from bench.commands.base import Command, path_or_none, print_json
from bench.core.errors import UserError
from bench.engine.config import add_options
from bench.report.text import format_table
from tasks.names import parse_task_name


def add_arguments(t: argparse.ArgumentParser) -> None:
    t.add_argument("action", nargs="?", default="list", choices=["list", "show"])
    t.add_argument("name", nargs="?", help="task name or path (for show)")
    t.add_argument("--local", action="store_true", help="also check which splits are on disk (no downloads)")
    t.add_argument("--languages", metavar="TASK", help="the --language codes TASK takes (with each language's class "
                                                       "count where its classes depend on the language: Babel-ImageNet)")
    t.add_argument("--suite", help="list one suite's tasks (clip, imagenet-shifts, retrieval, offline, or a file) "
                                   "with their metrics and what is on disk")
    add_options(t, "cache_dir", "data_dir", "json", cache_dir="cache folder (offline mirrors live there)",
                json="print the tasks (or the spec) as JSON")


def execute(args: argparse.Namespace) -> int:
    from bench.engine.runner import data_context
    from tasks.catalog import describe, local_status
    from tasks.registry import get_task, list_tasks

    ctx = data_context(path_or_none(args.cache_dir), path_or_none(args.data_dir))
    if args.languages:
        rows = language_rows(get_task(args.languages))
        if args.json:
            print_json([{"language": code, "classes": n} for code, n in rows])
        else:
            print(format_table([[code, "-" if n is None else str(n)] for code, n in rows], ["language", "classes"]))
        return 0
    if args.action == "show":
        if not args.name:
            raise UserError("`zsbench tasks show` needs a task name or path, e.g. `zsbench tasks show cifar10`")
        spec = get_task(args.name)
        print_json({**describe(spec), "on_disk": local_status(spec, ctx)})
        return 0
    if args.suite:
        from tasks.suites import read_suite

        specs = [get_task(name) for name in read_suite(args.suite if args.suite.startswith("@") else "@" + args.suite)]
        status = {s.name: local_status(s, ctx) for s in specs}
    else:
        specs = list_tasks()
        status = {s.name: local_status(s, ctx) for s in specs} if args.local else {}
    if args.json:
        print_json([{"name": s.name, "description": s.description, "metric": s.metric, "split": s.split,
                     "n_classes": s.n_classes, "sizes": s.sizes, "parent": s.parent,
                     "sources": [src.type for src in s.sources], **({"on_disk": status[s.name]} if status else {})}
                    for s in specs])
        return 0
    print("\n".join(tasks_table(specs, status)))
    return 0


def language_rows(spec) -> list[tuple[str, int | None]]:
    """(code, class count) for each language a task takes; the count where the language decides the classes."""
    from tasks.languages import task_languages

    codes = task_languages(spec)
    if not spec.language_table:
        return [(code, spec.n_classes) for code in codes]
    from prompts.languages import language_classes

    return [(code, len(language_classes(spec.language_table, code, spec.name).classes)) for code in codes]


def tasks_table(specs, status: dict[str, dict[str, str]]) -> list[str]:
    """One line per task; generated shift tasks folded into one line per suite unless ``status``."""
    rows, families = [], {}
    for s in specs:
        name = parse_task_name(s.name)
        if name.is_generated and not status:
            families[name.base] = families.get(name.base, 0) + 1
            continue
        sizes = " ".join(f"{k} {v:,}" for k, v in s.sizes.items()) or "-"
        row = [s.name, str(s.n_classes or "-"), sizes, s.metric, "/".join(src.type for src in s.sources)]
        if status:
            row.append(" ".join(f"{k}:{v}" for k, v in status[s.name].items()))
        rows.append(row + [s.description])
    header = ["task", "classes", "published sizes", "metric", "sources"] + (["on disk"] if status else []) + ["description"]
    lines = [format_table(rows, header, left=len(header))]
    lines += [f"{family}/<corruption>/<severity>: {count} generated shift tasks (see `zsbench robustness --suite "
              f"{family}`)" for family, count in families.items()]
    if not status:
        lines.append("\n(--local checks which datasets are already on disk; `zsbench tasks show NAME` prints one spec)")
    return lines


COMMAND = Command("tasks", "list registered tasks, or `tasks show NAME` for one spec",
                  "The registered tasks (built-in, generated shift suites, plug-ins) with their class counts, "
                  "published sizes, metrics and sources; --local checks what is on disk; `tasks show NAME|PATH` "
                  "prints one spec as JSON.", add_arguments, execute)
