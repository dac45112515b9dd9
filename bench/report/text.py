"""Plain-text building blocks for the terminal: percentages, aligned tables, and the table of run records
whose columns the protocols declare. Each command renders its own output from these (its module in
``bench.commands``); every function returns lines or a string and prints nothing.
"""
from __future__ import annotations

from typing import Any


def pct(value: Any, digits: int = 2) -> str:
    """A fraction as a percentage, ``-`` for a missing value."""
    return "-" if value is None else f"{100 * value:.{digits}f}"


def format_table(rows: list[list[str]], header: list[str], left: int = 4) -> str:
    """Plain-text table: the first ``left`` columns left-aligned, the (numeric) rest right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        return "  ".join(str(c).ljust(w) if i < left else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths))).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def _cell(column, record) -> str:
    """One protocol-declared column of a record, formatted as the column says."""
    value = column.value(record)
    if value is None:
        return "-"
    if column.format == "pct":
        return pct(value)
    if column.format == "ci":
        lo, hi = value
        return f"{100 * lo:.1f}-{100 * hi:.1f}"
    if column.format == "ratio":
        return f"{value:.3f}"
    return str(value)


def records_table(records) -> str:
    """One table of records whose protocols show the same columns: model, task, how the number was
    made (the protocol's ``settings``), n, the main metric, the protocol's own columns, features."""
    from bench.report.protocols import describe

    columns = describe(records[0].protocol).columns
    header = ["model", "pretrained", "task", "protocol", "settings", "n", "main metric",
              *(c.header for c in columns), "features"]
    rows = []
    for r in records:
        protocol = describe(r.protocol)
        primary = r.metrics.get("primary")
        main = f"{pct(primary)} {r.config.get('metric', 'top1')}" if isinstance(primary, (int, float)) else "-"
        rows.append([r.model, r.pretrained, r.task, r.protocol, protocol.settings(r), str(r.n_samples), main,
                     *(_cell(c, r) for c in columns), r.task_info.get("feature_cache", "-")])
    return format_table(rows, header, left=5)
