"""Captioned images for retrieval: open_clip's CSV/TSV training format, or JSON lines.

- CSV/TSV: one row per (image, caption), open_clip's columns ``filepath`` and ``title`` by
  default (comma for ``.csv``, tab for ``.tsv``; other column names as options). Several rows
  with the same image are one image with several captions.
- JSONL: one object per image, ``{"image": path, "captions": [...]}`` (``"caption"``: one).

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
    """Images with their captions; ``targets`` are the image indices (each image its own 'class')."""

    def __init__(self, images: list[Path], captions: list[list[str]], origin: str, root: Path):
        super().__init__(images, list(range(len(images))), origin=origin, root=root)
        self.captions = captions
        h = hashlib.sha256(self.identity.encode())
        for caps in captions:
            h.update(("\x1e".join(caps) + "\x1d").encode("utf-8"))
        self.identity = "captions:" + h.hexdigest()[:32]

    @property
    def n_captions(self) -> int:
        return sum(len(c) for c in self.captions)


def _group(rows: list[tuple[str, str, str]], file: Path) -> CaptionSource:
    """(where, image, caption) rows -> one entry per image, captions in order."""
    order: dict[str, list[str]] = {}
    for where, image, caption in rows:
        if not caption.strip():
            raise UserError(f"{where}: empty caption for {image}; remove the row or write the caption")
        order.setdefault(image, []).append(caption.strip())
    paths = []
    for image in order:
        p = user_path(image)
        p = p if p.is_absolute() else file.parent / p
        if not p.is_file():
            where = next(w for w, i, _ in rows if i == image)
            raise UserError(f"{where}: image file {p} does not exist; fix the path (paths are relative to {file.name})")
        paths.append(p)
    if not paths:
        raise UserError(f"{file} lists no captioned image")
    return CaptionSource(paths, list(order.values()), origin=str(file), root=file.parent)


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
