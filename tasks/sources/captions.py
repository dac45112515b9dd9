"""Captioned images for retrieval: open_clip's CSV/TSV training format, or JSON lines.

- CSV/TSV: one row per (image, caption), open_clip's columns ``filepath`` and ``title`` by
  default (comma for ``.csv``, tab for ``.tsv``; other column names as options). Several rows
  with the same image are one image with several captions.
- JSONL: one object per image, ``{"image": path, "captions": [...]}`` (``"caption"``: one).
- CLIP_benchmark's annotation files (its ``--annotation_file``): Flickr's Karpathy text files
  (``flickr30k_test_karpathy.txt``: a header line, then ``IMAGE.jpg,caption`` per line, split at the first
  ``.jpg,`` as its ``Flickr`` dataset splits them) and COCO's caption JSON (``coco_test_karpathy.json``:
  ``images`` with ``id``/``file_name``, ``annotations`` with ``image_id``/``caption``; images in id order,
  captions in file order, as torchvision's ``CocoCaptions`` reads them); paths relative to an image folder.

Paths are relative to the file. The images are the source's samples (label = image index) and
``captions[i]`` are image i's captions, in file order.
"""
from __future__ import annotations

import csv
import hashlib
from pathlib import Path

from bench.core.errors import UserError
from tasks.sources.base import FileListSource, json_lines
from bench.core.paths import user_path

IMAGE_KEYS = ("filepath", "image", "path", "file", "filename", "image_path")
CAPTION_KEYS = ("title", "caption", "captions", "text", "txt")


class CaptionSource(FileListSource):
    """Images with their captions; ``targets`` are the image indices (each image its own 'class').

    ``identity`` names the images only (the feature cache's key): the captions of another language over the same
    images (XTD10's 11, Flickr30k's Chinese) reuse one extraction. ``captions_identity`` adds the captions."""

    def __init__(self, images: list[Path], captions: list[list[str]], origin: str, root: Path):
        super().__init__(images, list(range(len(images))), origin=origin, root=root)
        self.captions = captions
        h = hashlib.sha256(self.identity.encode())
        for caps in captions:
            h.update(("\x1e".join(caps) + "\x1d").encode("utf-8"))
        self.captions_identity = "captions:" + h.hexdigest()[:32]

    @property
    def n_captions(self) -> int:
        return sum(len(c) for c in self.captions)


def _group(rows: list[tuple[str, str, str]], file: Path, images: Path | None = None) -> CaptionSource:
    """(where, image, caption) rows -> one entry per image, captions in order; image paths relative to ``images``
    (default: the file's folder)."""
    base = file.parent if images is None else images
    order: dict[str, list[str]] = {}
    for where, image, caption in rows:
        if not caption.strip():
            raise UserError(f"{where}: empty caption for {image}; remove the row or write the caption")
        order.setdefault(image, []).append(caption.strip())
    paths = []
    for image in order:
        p = user_path(image)
        p = p if p.is_absolute() else base / p
        if not p.is_file():
            where = next(w for w, i, _ in rows if i == image)
            raise UserError(f"{where}: image file {p} does not exist; fix the path (paths are relative to {base})")
        paths.append(p)
    if not paths:
        raise UserError(f"{file} lists no captioned image")
    return CaptionSource(paths, list(order.values()), origin=str(file), root=base)


def read_caption_table(file: Path, image_column: str | None = None, caption_column: str | None = None,
                       separator: str | None = None) -> CaptionSource:
    """open_clip's CSV/TSV format (``filepath``/``title`` unless named)."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read caption file {file}: {exc}") from None
    sep = separator or ("\t" if file.suffix.lower() == ".tsv" else ",")
    reader = csv.DictReader(text.splitlines(), delimiter=sep)
    columns = reader.fieldnames or []
    image_col = image_column or next((c for c in columns if c.strip().lower() in IMAGE_KEYS), None)
    caption_col = caption_column or next((c for c in columns if c.strip().lower() in CAPTION_KEYS), None)
    for what, col in (("image", image_col), ("caption", caption_col)):
        if col is None or col not in columns:
            raise UserError(f"{file}: no {what} column (columns: {', '.join(columns) or 'none'}); name it "
                            f"{'filepath' if what == 'image' else 'title'} as open_clip does, or set "
                            f"{what}_column in a task file")
    rows = [(f"{file}:{n}", (row.get(image_col) or "").strip(), row.get(caption_col) or "")
            for n, row in enumerate(reader, start=2)]
    return _group(rows, file)


def read_caption_jsonl(file: Path) -> CaptionSource:
    rows = []
    for n, obj in json_lines(file):
        caps = obj.get("captions", obj.get("caption")) if isinstance(obj, dict) else None
        if not isinstance(obj, dict) or not isinstance(obj.get("image"), str) or caps is None:
            raise UserError(f'{file}:{n}: expected {{"image": path, "captions": [...]}}')
        for cap in ([caps] if isinstance(caps, str) else caps):
            rows.append((f"{file}:{n}", obj["image"], str(cap)))
    return _group(rows, file)


def read_karpathy_txt(file: Path, images: Path) -> CaptionSource:
    """CLIP_benchmark's Flickr8k/Flickr30k annotation file (``clip_benchmark/datasets/flickr.py``)."""
    try:
        lines = file.read_text(encoding="utf-8").splitlines()[1:]  # its reader skips the header line
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read annotation file {file}: {exc}") from None
    rows = []
    for n, line in enumerate(lines, start=2):
        if line.strip():
            image, sep, caption = line.strip().partition(".jpg,")
            if not sep:
                raise UserError(f"{file}:{n}: expected 'IMAGE.jpg,caption' (CLIP_benchmark's Flickr annotation lines)")
            rows.append((f"{file}:{n}", image + ".jpg", caption))
    return _group(rows, file, images)


def read_coco_captions(file: Path, images: Path) -> CaptionSource:
    """COCO's caption JSON, as torchvision's ``CocoCaptions`` (CLIP_benchmark's mscoco_captions) reads it."""
    import json

    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        names = {int(im["id"]): str(im["file_name"]) for im in data["images"]}
        captions: dict[int, list[str]] = {i: [] for i in names}
        for ann in data["annotations"]:
            captions[int(ann["image_id"])].append(str(ann["caption"]))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{file} is not COCO's caption JSON (images with id/file_name, annotations with "
                        f"image_id/caption): {type(exc).__name__} {exc}") from None
    rows = [(f"{file}: image {i}", names[i], c) for i in sorted(names) for c in captions[i]]
    return _group(rows, file, images)


def looks_like_captions(file: Path) -> bool:
    """A .jsonl file, or a CSV/TSV whose header names a caption column (not a path,label manifest)."""
    if file.suffix.lower() == ".jsonl":
        return True
    try:
        first = file.read_text(encoding="utf-8-sig").splitlines()[0]
    except (OSError, UnicodeDecodeError, IndexError):
        return False
    sep = "\t" if file.suffix.lower() == ".tsv" else ","
    return any(c.strip().lower() in CAPTION_KEYS for c in first.split(sep))


def _image_path(text: str, root: Path) -> Path:
    """An image path as CLIP_benchmark wrote it into an annotation file: absolute, or relative to where it ran
    (its ``--dataset_root`` joined as given); found relative to the dataset folder when not there."""
    p = user_path(text)
    if p.is_absolute() or p.is_file():
        return p
    return root / p


def read_multilingual_annotations(file: Path, root: Path) -> CaptionSource:
    """CLIP_benchmark's annotation file of a multilingual retrieval set (``xtd10-de.json``, ``xtd200-deu_Latn.json``,
    ``crossmodal3600_captions-de.json``, ...): ``image_paths`` and ``annotations``, one caption per image, each entry
    its own sample in file order, as its XTD10 / XTD200 / Crossmodal3600 / Multilingual_MSCOCO / Flickr30k_200
    datasets read it."""
    import json

    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        paths, captions = list(data["image_paths"]), [str(c) for c in data["annotations"]]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UserError(f"{file} is not CLIP_benchmark's annotation file (image_paths and annotations lists): "
                        f"{type(exc).__name__} {exc}") from None
    return _one_caption_each(paths, captions, file, root)


def _one_caption_each(paths: list, captions: list[str], where: Path, root: Path) -> CaptionSource:
    images = []
    for i, text in enumerate(paths):
        p = _image_path(str(text), root)
        if not p.is_file():
            raise UserError(f"{where}: image {i} ({text}) does not exist; fix the path or rebuild the file")
        images.append(p)
    if not images:
        raise UserError(f"{where} lists no captioned image")
    return CaptionSource(images, [[c] for c in captions[:len(images)]], origin=str(where), root=root)


def read_xm3600(folder: Path, language: str) -> CaptionSource:
    """Crossmodal-3600 from its own files (``xm3600/captions.jsonl``, ``xm3600/images/KEY.jpg``), read as
    CLIP_benchmark's ``create_annotation_file`` reads them: each line's first caption in ``language``, images
    missing from the folder left out."""
    file = folder / "captions.jsonl"
    paths, captions = [], []
    for n, obj in json_lines(file):
        try:
            key, caption = obj["image/key"], obj[language]["caption"][0]
        except (KeyError, TypeError, IndexError):
            raise UserError(f"{file}:{n}: no {language} caption (Crossmodal-3600's image/key and "
                            f"{language}.caption)") from None
        image = folder / "images" / f"{key}.jpg"
        if image.is_file():
            paths.append(image)
            captions.append(str(caption))
    return _one_caption_each(paths, captions, file, folder)
