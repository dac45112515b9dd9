"""Source adapters and the resolver that tries a task's sources in order.

A source type is a function ``(options, split, ctx, fetch) -> ImageSource | None``: ``None``
means "not on disk" when ``fetch`` is false; with ``fetch`` true it downloads or raises a
:class:`UserError` that says what to put where. Adding a type is adding one entry here.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from bench.core.store import Store
from bench.core.errors import UserError
from bench.core.profiles import CLIP, get_profile
from tasks.source_registry import SOURCE_TYPES  # source type -> opener (plug-ins: zsbench.sources)
from tasks.sources.base import ArraySource, FileListSource, ImageSource, PreprocessedDataset
from tasks.sources.imagefolder import ImageFolderSource
from tasks.sources.manifest import ManifestSource
from tasks.sources.mirrors import MIRRORS, open_mirror
from tasks.sources.torchvision import open_torchvision
from tasks.spec import SourceSpec, TaskSpec
from bench.core.paths import user_path


@dataclass(frozen=True)
class DataContext:
    data_dir: Path  # where downloads and user datasets live
    store: Store    # the cache (mirrors are decoded into it)
    profile: str = CLIP  # the run's profile: which source comes first, which task transforms apply
    wds_cache: Path | None = None  # where exports given by URL are mirrored (default: the cache's wds-urls/)
    language: str = "en"  # the run's --language (a multilingual caption set reads that language's file)

    @property
    def rules(self):
        return get_profile(self.profile)

    def for_source(self, task: TaskSpec, spec: SourceSpec) -> "DataContext":
        """``--data-dir`` with CLIP_benchmark's ``{dataset}`` / ``{dataset_cleaned}`` filled in for what this source
        reads (its --dataset_root template: ``/data/{dataset}``, ``.../wds_{dataset_cleaned}``); as given otherwise."""
        from tasks.reference_names import fill_dataset

        formatted = fill_dataset(str(self.data_dir), task.name, "--data-dir", spec.options)
        if formatted == str(self.data_dir):
            return self
        return replace(self, data_dir=Path(formatted))


def _path(options: dict, key: str, split: str, ctx: DataContext) -> Path:
    return user_path(str(options[key]).format(data_dir=ctx.data_dir, split=split, language=ctx.language))


def _missing(options: dict, path: Path, fetch: bool, what: str) -> None:
    """A local-only dataset that is absent: ``None`` while probing, the spec's hint when asked."""
    if fetch:
        raise UserError(options.get("missing_hint", f"{what} not found: {path}").format(path=path))


def _torchvision(options: dict, split: str, ctx: DataContext, fetch: bool) -> ImageSource | None:
    return open_torchvision(options, split, ctx.data_dir, fetch)


def _mirror(options: dict, split: str, ctx: DataContext, fetch: bool) -> ImageSource | None:
    split = options.get("splits", {}).get(split, split)
    return open_mirror(options["mirror"], split, ctx.store, fetch=fetch)


def _imagefolder(options: dict, split: str, ctx: DataContext, fetch: bool) -> ImageSource | None:
    path = _path(options, "path", split, ctx)
    if not path.is_dir() and options.get("optional"):
        return _missing(options, path, fetch, "image folder")
    # a task's own image transform (ObjectNet's border crop) is the CLIP protocol's, not the others'
    transform = options.get("transform") if ctx.rules.task_transforms else None
    return ImageFolderSource(path, include=options.get("include"), transform=transform)


def _csv(options: dict, split: str, ctx: DataContext, fetch: bool) -> ImageSource | None:
    path = _path(options, "path", split, ctx)
    if not path.is_file() and options.get("optional"):
        return _missing(options, path, fetch, "manifest")
    return ManifestSource(path, classes=options.get("classes"))


def _hf(options: dict, split: str, ctx: DataContext, fetch: bool) -> ImageSource | None:
    from tasks.sources.hf import open_hf

    if not fetch and not options.get("local"):
        return None  # the hub cache is datasets' business: only try when asked to fetch
    return open_hf(options, split, ctx.data_dir / "hf")


def _hf_captions(options: dict, split: str, ctx: DataContext, fetch: bool) -> ImageSource | None:
    from tasks.sources.hf import open_hf_captions

    if not fetch and not options.get("local"):
        return None  # as for "hf": only tried when fetching
    return open_hf_captions(options, split, ctx.data_dir / "hf")


def _webdataset(options: dict, split: str, ctx: DataContext, fetch: bool) -> ImageSource | None:
    from tasks.sources.webdataset import WebDatasetSource, hub_snapshot

    split = options.get("splits", {}).get(split, split)  # our split name -> the export's folder

    if "url" in options:  # an export at a URL: mirrored locally, then read as a folder
        from tasks.sources.wds_url import fetch_split, is_mirrored, mirror_folder

        cache = ctx.wds_cache or ctx.store.root / "wds-urls"
        local = mirror_folder(options["url"], cache)
        if is_mirrored(local, split):
            return WebDatasetSource(local, split)
        return WebDatasetSource(fetch_split(options["url"], split, cache), split) if fetch else None
    if "path" in options:
        path = _path(options, "path", split, ctx)
        if not (path / split).is_dir() and options.get("optional"):
            return _missing(options, path, fetch, "webdataset folder")
        return WebDatasetSource(path, split)
    repo = options["hf_repo"]
    # our download folder, or a CLIP_benchmark root given as --data-dir (DATA/wds_<name>/<split>/*.tar)
    for local in (ctx.data_dir / "wds" / repo.replace("/", "__"), ctx.data_dir / repo.rsplit("/", 1)[-1]):
        if (local / split).is_dir():
            return WebDatasetSource(local, split)
    if not fetch:
        return None
    return WebDatasetSource(hub_snapshot(repo, split, ctx.data_dir / "wds"), split)


def _captions(options: dict, split: str, ctx: DataContext, fetch: bool) -> ImageSource | None:
    from tasks.sources.captions import read_caption_jsonl, read_caption_table, read_coco_captions, read_karpathy_txt

    path = _path(options, "path_by_language" if ctx.language != "en" and "path_by_language" in options else "path",
                 split, ctx)
    if not path.is_file():
        if options.get("optional"):
            return _missing(options, path, fetch, "caption file")
        raise UserError(f"caption file not found: {path}; give a CSV/TSV (filepath,title columns) or a JSONL file")
    layout = options.get("layout")
    if layout in ("karpathy_txt", "coco_json"):  # CLIP_benchmark's annotation files, images in their own folder
        folder = options.get("images_by_split", {}).get(split, options.get("images", "."))
        images = user_path(str(folder).format(data_dir=ctx.data_dir, split=split))
        return (read_karpathy_txt if layout == "karpathy_txt" else read_coco_captions)(path, images)
    if path.suffix.lower() == ".jsonl":
        return read_caption_jsonl(path)
    return read_caption_table(path, options.get("image_column"), options.get("caption_column"), options.get("separator"))


def _multilingual_captions(options: dict, split: str, ctx: DataContext, fetch: bool) -> ImageSource | None:
    """A multilingual retrieval set in CLIP_benchmark's layout: its annotation file for the run's language under the
    dataset folder (its --dataset_root), or for Crossmodal-3600 the set's own captions.jsonl read as it reads it."""
    from tasks.sources.captions import read_multilingual_annotations, read_xm3600

    root = _path(options, "root", split, ctx)
    file = root / str(options["file"]).format(language=ctx.language)
    if file.is_file():
        return read_multilingual_annotations(file, root)
    if options.get("xm3600") and (root / "xm3600" / "captions.jsonl").is_file():
        return read_xm3600(root / "xm3600", ctx.language)
    hint = str(options.get("missing_hint", "{path} not found")).replace("{language}", ctx.language)
    return _missing({"missing_hint": hint.replace("{root}", str(root))}, file, fetch, "annotation file")


def _constant(options: dict, split: str, ctx: DataContext, fetch: bool) -> ImageSource | None:
    """Blank images with given labels (CLIP_benchmark's dummy set: one sample, label 0, its two class names)."""
    import numpy as np

    labels = list(options.get("labels", [0]))
    return ArraySource(np.zeros((len(labels), 224, 224, 3), dtype=np.uint8), labels, origin=options.get("origin", "blank"),
                       classes=options.get("classes"))


def _voc2007(options: dict, split: str, ctx: DataContext, fetch: bool) -> ImageSource | None:
    from tasks.sources.multilabel import open_voc2007

    root = _path(options, "path", split, ctx)
    if not fetch and not (root / "VOCdevkit").is_dir():
        return None
    return open_voc2007(root, split)


def _multilabel_csv(options: dict, split: str, ctx: DataContext, fetch: bool) -> ImageSource | None:
    from tasks.sources.multilabel import read_multilabel_csv

    path = _path(options, "path", split, ctx)
    if not path.is_file():
        raise UserError(f"multilabel file not found: {path}; give a CSV with filepath,labels columns")
    return read_multilabel_csv(path, options.get("classes"))


def _association(options: dict, split: str, ctx: DataContext, fetch: bool) -> ImageSource | None:
    from tasks.sources.association import open_associations

    path = _path(options, "path", split, ctx) if "path" in options else None
    if path is not None and path.is_file():
        return open_associations(options, split, path, ctx.data_dir / "hf")
    if "hf_repo" not in options:
        return _missing(options, path, fetch, "association file")
    return open_associations(options, split, None, ctx.data_dir / "hf", local=path) if fetch else None


def _sugar_crepe(options: dict, split: str, ctx: DataContext, fetch: bool) -> ImageSource | None:
    from tasks.sources.caption_selection import open_sugar_crepe

    return open_sugar_crepe(options, split, ctx.data_dir, fetch)


def _paired_images(options: dict, split: str, ctx: DataContext, fetch: bool) -> ImageSource | None:
    from tasks.sources.caption_selection import open_paired_images

    return open_paired_images(options, split, ctx.data_dir, fetch)


def _corrupted(options: dict, split: str, ctx: DataContext, fetch: bool) -> ImageSource | None:
    from tasks.registry import get_task
    from tasks.sources.corrupted import CorruptedSource

    base = open_source(get_task(options["of"]), split, ctx, fetch=fetch)
    if base is None:
        return None
    return CorruptedSource(base, options["corruption"], int(options["severity"]), int(options.get("seed", 0)))


for _type, _opener in (("torchvision", _torchvision), ("mirror", _mirror), ("imagefolder", _imagefolder), ("csv", _csv),
                       ("hf", _hf), ("hf_captions", _hf_captions), ("webdataset", _webdataset), ("corrupted", _corrupted), ("captions", _captions),
                       ("multilingual_captions", _multilingual_captions), ("constant", _constant),
                       ("association", _association), ("sugar_crepe", _sugar_crepe), ("paired_images", _paired_images),
                       ("voc2007", _voc2007), ("multilabel_csv", _multilabel_csv)):
    SOURCE_TYPES.register(_type, _opener)


def _describe(spec: SourceSpec, ctx: DataContext) -> str:
    where = spec.options.get("path") or spec.options.get("hf_repo") or spec.options.get("repo") or \
        spec.options.get("mirror") or spec.options.get("dataset") or ""
    return f"{spec.type} {str(where).format(data_dir=ctx.data_dir, split='<split>')}".strip()


def _choice_note(task: TaskSpec, spec: SourceSpec, source: ImageSource, ctx: DataContext,
                 first: SourceSpec) -> str | None:
    """When the data does not come from the task's first choice, one line saying where it came from
    instead (a run on another copy than the one meant, e.g. the torchvision set instead of an export
    under --data-dir, has other images and another size: it must not pass unnoticed). Where another
    profile reads other images for the task (an ``exclusive`` source of its own), the line says which
    images this run read and what that profile reads instead."""
    notes = []
    if spec is not first:
        notes.append(f"{task.name}: read from {source.origin} ({len(source)} samples), not from the first choice "
                     f"({_describe(first, ctx)}{'' if ctx.profile == CLIP else ' under --profile ' + ctx.profile}), "
                     "which is not on disk")
    for other in task.sources:
        if other.options.get("exclusive") and other.options.get("profile") != ctx.profile:
            notes.append(f"{task.name}: this run read {source.origin} ({len(source)} samples); --profile "
                         f"{other.options['profile']} reads {_describe(other, ctx)} instead "
                         f"({other.options.get('what', 'other images')}), as that reference does")
    return "; ".join(notes) or None


def candidate_sources(task: TaskSpec, profile: str) -> list[SourceSpec]:
    """The task's sources to try under ``profile``, in order. A source marked for one profile comes first under
    it (DataComp's nlphuji retrieval sets); one marked ``exclusive`` is the only one tried under its profile
    and is never tried under another (CLIP_benchmark's torchvision copies of SUN397, EuroSAT and Caltech-101:
    all images, no split, so no other source may stand in for them, nor they for another)."""
    own = [s for s in task.sources if s.options.get("profile") == profile]
    if any(s.options.get("exclusive") for s in own):
        return [s for s in own if s.options.get("exclusive")]
    rest = [s for s in task.sources if s not in own and not s.options.get("exclusive")]
    return own + rest


def open_source(task: TaskSpec, split: str, ctx: DataContext, fetch: bool = True) -> ImageSource | None:
    """The first of the task's sources that has the split on disk, else the first that fetches it.

    With ``fetch=False`` only what is already on disk is considered (``None`` if nothing is).
    """
    problems: list[str] = []
    ordered = candidate_sources(task, ctx.profile)
    for attempt in ((False, True) if fetch else (False,)):
        for spec in ordered:
            if spec.type not in SOURCE_TYPES:
                raise UserError(f"task {task.name}: unknown source type '{spec.type}' (known: "
                                f"{', '.join(SOURCE_TYPES.names())})")
            opener = SOURCE_TYPES.get(spec.type)
            if "splits" in spec.options and split not in spec.options["splits"]:
                continue  # this source does not carry the split
            if ctx.language not in spec.options.get("languages", (ctx.language,)):
                continue  # captions in other languages than the run's (Flickr30k's English exports for --language zh)
            try:
                source = opener(spec.options, split, ctx.for_source(task, spec), attempt)
            except UserError as exc:
                if not attempt:
                    continue  # probing the disk: a problem here is reported when fetching
                if len(ordered) == 1:
                    raise
                problems.append(str(exc))
                continue
            if source is not None:
                source.spec_options = spec.options  # per-source class-name rules (see tasks.classes)
                if spec.options.get("model_transform"):  # applied inside each model's preprocessing (ImageNet-W)
                    source.model_transform = spec.options["model_transform"]
                    source.identity = f"{source.identity}+model:{source.model_transform}"
                source.choice_note = _choice_note(task, spec, source, ctx, ordered[0])
                return source
    if not fetch:
        return None
    if not problems:
        problems.append("none of its sources has it")
    raise UserError(f"task {task.name}: no source could provide the '{split}' split: {' | '.join(problems)}")


__all__ = ["ArraySource", "DataContext", "FileListSource", "ImageFolderSource", "ImageSource", "MIRRORS",
           "ManifestSource", "PreprocessedDataset", "SOURCE_TYPES", "SourceSpec", "open_source"]
