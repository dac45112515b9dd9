"""A record's images again, for pages and grids that show them: the task's source opened from what is
on disk (never downloaded for a report), and small JPEG thumbnails.

A record names its task and split; the sample indices it keeps are the source's, so ``source.load(i)``
is the image the model saw (before preprocessing). Where the data is not on this machine (a results
folder copied from a cluster), :func:`record_source` returns ``None`` with the reason, and pages show
the sample keys without images.
"""
from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from bench.core.errors import UserError


def record_source(record: Any, cache_dir: Path | None = None, data_dir: Path | None = None) -> tuple[Any, str]:
    """The record's source as it is on disk, or ``(None, why not)``."""
    from bench.core.paths import default_cache_dir, default_data_dir
    from bench.core.store import Store
    from tasks.sources import DataContext, open_source

    config = record.config
    store = Store(cache_dir or config.get("cache_dir") or default_cache_dir())
    data = data_dir or config.get("data_dir")
    ctx = DataContext(Path(data) if data else default_data_dir(store.root), store, config.profile)
    try:
        spec = _task_of(record)
        source = open_source(spec, record.split, ctx, fetch=False)
    except UserError as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - a source that cannot open offline: the page says why, not a traceback
        return None, f"{type(exc).__name__}: {exc}"
    if source is None:
        return None, f"task {record.task} ({record.split}) is not on this machine"
    return source, ""


def _task_of(record: Any):
    """The record's task: a registered name, or the folder a custom task was run from (kept in
    ``task_info.source``)."""
    from tasks.registry import get_task

    try:
        return get_task(record.task)
    except UserError:
        folder = record.task_info.get("source")
        if isinstance(folder, str) and Path(folder).is_dir():
            return get_task(folder)
        raise


def thumbnail_bytes(source: Any, index: int, size: int, quality: int = 80) -> bytes:
    """Sample ``index`` as a JPEG at most ``size`` px on its longer side."""
    image = source.load(int(index))
    image.thumbnail((size, size))
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def data_url(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def thumbnail(source: Any, index: int, size: int = 192, quality: int = 80) -> str:
    """Sample ``index`` as a JPEG data URL (see :func:`thumbnail_bytes`)."""
    return data_url(thumbnail_bytes(source, index, size, quality))
