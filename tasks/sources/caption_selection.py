"""Image-caption selection items (SugarCrepe, Winoground): each item is a few images and a few captions, the
i-th image belonging with the i-th caption.

- **SugarCrepe** (Hsieh et al. 2023), in CLIP_benchmark's layout: a folder holding COCO's ``val2017/`` images
  and ``<subset>.json``, an object whose keys (non-contiguous numbers as strings) map to ``{"filename",
  "caption", "negative_caption"}``: one image, its caption and a hard negative. Items in the file's key order,
  as CLIP_benchmark's ``SugarCrepe`` dataset reads them.
- **Winoground** (Thrush et al. 2022): two images and two captions per item, from the gated Hugging Face
  dataset ``facebook/winoground`` (test split; columns ``image_0``, ``image_1``, ``caption_0``,
  ``caption_1``), or a copy saved with ``datasets``' ``save_to_disk``.

The samples of the source are every item's images, item after item, so image features go through the same
cache as every other task; ``items`` say which samples and captions belong together.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.core.errors import UserError, short_reason
from tasks.sources.base import AnnotatedFiles, ImageSource, to_rgb

#: CLIP_benchmark's SugarCrepe subsets (``clip_benchmark.datasets.builder``)
SUGAR_CREPE_SUBSETS = ("add_att", "add_obj", "replace_att", "replace_obj", "replace_rel", "swap_att", "swap_obj")
SUGAR_CREPE_KEYS = ("filename", "caption", "negative_caption")
SUGAR_CREPE_WHERE = ("the RAIVNLab/sugar-crepe repository's data/{subset}.json and COCO's val2017 images "
                     "(images.cocodataset.org/zips/val2017.zip, unzipped)")


@dataclass(frozen=True)
class SelectionItem:
    """One item: its images are samples ``start .. start + n_images - 1``; caption i goes with image i (a
    caption past the last image, such as SugarCrepe's negative, goes with none)."""

    key: str
    start: int
    n_images: int
    captions: tuple[str, ...]


class SelectionSource(ImageSource):
    """Every item's images in item order; ``targets`` is each image's item index."""

    items: list[SelectionItem]

    def _index(self, items: list[SelectionItem]) -> None:
        self.items = items
        self.targets = np.concatenate([np.full(i.n_images, k, dtype=np.int64) for k, i in enumerate(items)])

    def sample_key(self, index: int) -> str:
        item = self.items[int(self.targets[index])]
        return f"{item.key}#{index - item.start}"


class SugarCrepeSource(AnnotatedFiles, SelectionSource):
    def __init__(self, annotations: Path, images: Path):
        try:
            data = json.loads(annotations.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UserError(f"{annotations}: not a SugarCrepe JSON file ({short_reason(exc, 100)}); get it from "
                            f"{SUGAR_CREPE_WHERE.format(subset=annotations.stem)}") from None
        if not isinstance(data, dict) or not data:
            raise UserError(f"{annotations}: expected a JSON object of items {{key: {{filename, caption, "
                            "negative_caption}}}}")
        items, paths = [], []
        for key, row in data.items():
            missing = [k for k in SUGAR_CREPE_KEYS if not isinstance(row, dict) or not isinstance(row.get(k), str)]
            if missing:
                raise UserError(f"{annotations}: item {key} has no '{missing[0]}' (each item needs "
                                f"{', '.join(SUGAR_CREPE_KEYS)}): fix the file or fetch it again")
            path = images / row["filename"]
            if not path.is_file():
                raise UserError(f"{annotations}: item {key}: image {path} is not on disk; put COCO's val2017 images "
                                f"in {images}")
            items.append(SelectionItem(str(key), len(paths), 1, (row["caption"], row["negative_caption"])))
            paths.append(path)
        self._index(items)
        self.origin = str(annotations)
        self.identity = self._identify("sugar-crepe", annotations, paths)


class PairedImagesSource(SelectionSource):
    """A ``datasets`` table with columns ``image_0``, ``image_1``, ``caption_0``, ``caption_1`` (Winoground)."""

    COLUMNS = ("image_0", "image_1", "caption_0", "caption_1")

    def __init__(self, dataset: Any, origin: str):
        missing = [c for c in self.COLUMNS if c not in dataset.column_names]
        if missing:
            raise UserError(f"{origin}: no column '{missing[0]}' (Winoground has {', '.join(self.COLUMNS)})")
        keys = dataset["id"] if "id" in dataset.column_names else range(len(dataset))
        captions = dataset.select_columns(["caption_0", "caption_1"])
        self._index([SelectionItem(str(k), 2 * n, 2, (row["caption_0"], row["caption_1"]))
                     for n, (k, row) in enumerate(zip(keys, captions))])
        self.dataset, self.origin = dataset, origin
        self.identity = "hf:" + str(getattr(dataset, "_fingerprint", origin))

    def load(self, index: int) -> Image.Image:
        item = int(self.targets[index])
        image = self.dataset[item][f"image_{index - self.items[item].start}"]
        image.load()
        return to_rgb(image)


def open_sugar_crepe(options: dict, split: str, data_dir: Path, fetch: bool) -> SelectionSource | None:
    """``options["subset"]`` from ``options["path"]`` (a task file's folder) if given, else ``DATA/sugar_crepe/`` or
    ``DATA/`` itself (a CLIP_benchmark root)."""
    subset = options["subset"]
    if split != "test":
        raise UserError(f"SugarCrepe has only a test split, not '{split}'")
    roots = [Path(options["path"])] if options.get("path") else [data_dir / "sugar_crepe", data_dir]
    for root in roots:
        if (root / f"{subset}.json").is_file():
            return SugarCrepeSource(root / f"{subset}.json", root / "val2017")
    if not fetch:
        return None
    raise UserError(f"SugarCrepe {subset}: {data_dir / 'sugar_crepe' / (subset + '.json')} not found; put "
                    f"{SUGAR_CREPE_WHERE.format(subset=subset)} in {data_dir / 'sugar_crepe'} (or pass that folder "
                    "as --data-dir, as CLIP_benchmark's --dataset_root)")


def open_paired_images(options: dict, split: str, data_dir: Path, fetch: bool) -> SelectionSource | None:
    """A ``save_to_disk`` copy at ``DATA/<local>`` if there is one, else the (gated) hub dataset."""
    import datasets

    local = data_dir / options["local"]
    datasets.logging.set_verbosity_error()
    if local.is_dir():
        try:
            saved = datasets.load_from_disk(str(local))
        except Exception as exc:
            raise UserError(f"{local}: not a dataset saved with datasets' save_to_disk ({short_reason(exc, 100)})") \
                from None
        table = saved[split] if isinstance(saved, datasets.DatasetDict) else saved
        return PairedImagesSource(table, origin=f"{local}[{split}]")
    if not fetch:
        return None
    from bench.core.net import hub_offline_unless_reachable

    repo = options["hf_repo"]
    with hub_offline_unless_reachable():
        try:
            table = datasets.load_dataset(repo, split=split, cache_dir=str(data_dir / "hf"))
        except Exception as exc:
            gated = "gated" in str(exc).lower() or "401" in str(exc) or "403" in str(exc)
            why = ("it is gated: accept its terms on the hub and log in (huggingface-cli login, or HF_TOKEN)" if gated
                   else short_reason(exc, 100))
            raise UserError(f"Hugging Face dataset {repo} could not be loaded ({why}); or save a copy with "
                            f"datasets' save_to_disk in {local}") from None
    return PairedImagesSource(table, origin=f"hf:{repo}[{split}]")
