"""Source adapters and the resolver that tries a task's sources in order."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from bench.cache import Store
from bench.errors import UserError
from tasks.sources.base import ArraySource, ImageSource, PreprocessedDataset
from tasks.sources.imagefolder import ImageFolderSource
from tasks.sources.mirrors import CIFAR10_NPM, load_mirror
from tasks.sources.torchvision import open_torchvision
from tasks.spec import SourceSpec, TaskSpec


@dataclass(frozen=True)
class DataContext:
    data_dir: Path  # where downloads and user datasets live
    store: Store    # the cache (mirrors are decoded into it)


MIRRORS = {CIFAR10_NPM.key: CIFAR10_NPM}


def _torchvision(options: dict, split: str, ctx: DataContext, fetch: bool) -> ImageSource | None:
    return open_torchvision(options, split, ctx.data_dir, fetch)


def _mirror(options: dict, split: str, ctx: DataContext, fetch: bool) -> ImageSource | None:
    mirror = MIRRORS[options["mirror"]]
    arrays = load_mirror(mirror, split, ctx.store, fetch=fetch)
    if arrays is None:
        return None
    images, labels = arrays
    return ArraySource(images, labels, origin=f"offline mirror {mirror.package.spec}")


def _imagefolder(options: dict, split: str, ctx: DataContext, fetch: bool) -> ImageSource | None:
    path = Path(str(options["path"]).format(data_dir=ctx.data_dir, split=split)).expanduser()
    if not path.is_dir() and options.get("optional"):
        if fetch:
            raise UserError(options.get("missing_hint", f"{path} not found"))
        return None
    return ImageFolderSource(path)


SOURCE_TYPES: dict[str, Callable[[dict, str, DataContext, bool], ImageSource | None]] = {
    "torchvision": _torchvision,
    "mirror": _mirror,
    "imagefolder": _imagefolder,
}


def open_source(task: TaskSpec, split: str, ctx: DataContext) -> ImageSource:
    """The first of the task's sources that has the split on disk, else the first that fetches it."""
    problems: list[str] = []
    for fetch in (False, True):
        for spec in task.sources:
            opener = SOURCE_TYPES.get(spec.type)
            if opener is None:
                raise UserError(f"task {task.name}: unknown source type '{spec.type}' (known: {', '.join(SOURCE_TYPES)})")
            try:
                source = opener(spec.options, split, ctx, fetch)
            except UserError as exc:
                if len(task.sources) == 1:
                    raise
                problems.append(str(exc))
                continue
            if source is not None:
                return source
    raise UserError(f"task {task.name}: no source could provide the '{split}' split: {' | '.join(problems)}")


__all__ = ["ArraySource", "DataContext", "ImageFolderSource", "ImageSource", "PreprocessedDataset",
           "SOURCE_TYPES", "open_source"]
