"""What `zsbench tasks` shows: each task's spec as plain data, and whether its data is on disk."""
from __future__ import annotations

from dataclasses import asdict

from bench.core.errors import UserError
from tasks.sources import DataContext, open_source
from tasks.spec import TaskSpec


def local_status(spec: TaskSpec, ctx: DataContext) -> dict[str, str]:
    """Per split: ``"N images"`` if a source has it on disk, ``"-"`` if none does (nothing is fetched)."""
    status = {}
    for split in spec.splits:
        try:
            source = open_source(spec, split, ctx, fetch=False)
        except UserError as exc:
            status[split] = f"broken: {exc}"
            continue
        status[split] = f"{len(source):,}" if source is not None else "-"
    return status


def describe(spec: TaskSpec) -> dict:
    """A JSON-able view of the spec (class lists summarised)."""
    out = asdict(spec)
    if isinstance(spec.classnames, (list, tuple)) and len(spec.classnames) > 8:
        out["classnames"] = list(spec.classnames[:8]) + [f"... ({len(spec.classnames)} in all)"]
    for source in out["sources"]:
        include = source["options"].get("include")
        if include and len(include) > 8:
            source["options"]["include"] = include[:4] + [f"... ({len(include)} folders)"]
    return out
