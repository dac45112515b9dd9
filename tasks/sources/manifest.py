"""A CSV/TSV manifest: one ``path,label`` row per image, paths relative to the manifest.

A header row (``path,label``) is optional. Labels are class names; the class order is the
``classes`` option (a list or a one-name-per-line file) when given, else the sorted labels.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

from bench.core.errors import UserError
from tasks.sources.base import FileListSource
from bench.core.paths import user_path

HEADER_NAMES = {"path", "file", "filename", "image", "filepath"}


def read_manifest(path: Path) -> list[tuple[int, str, str]]:
    """``(line number, image path, label)`` rows; the delimiter is a tab for .tsv, else sniffed."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read manifest {path}: {exc}") from None
    if path.suffix.lower() == ".tsv":
        delimiter = "\t"
    else:
        first = text.splitlines()[0] if text.strip() else ""
        delimiter = "\t" if "\t" in first and "," not in first else ";" if ";" in first and "," not in first else ","
    rows = []
    for lineno, row in enumerate(csv.reader(text.splitlines(), delimiter=delimiter), start=1):
        if not row or not "".join(row).strip() or row[0].startswith("#"):
            continue
        if lineno == 1 and row[0].strip().lower() in HEADER_NAMES:
            continue
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            raise UserError(f"{path}:{lineno}: expected 'path{delimiter}label', got {delimiter.join(row)!r}")
        rows.append((lineno, row[0].strip(), row[1].strip()))
    if not rows:
        raise UserError(f"manifest {path} has no rows: add one 'path,label' line per image")
    return rows


class ManifestSource(FileListSource):
    def __init__(self, manifest: Path | str, classes: Sequence[str] | str | None = None):
        manifest = user_path(manifest)
        if not manifest.is_file():
            raise UserError(f"manifest not found: {manifest}; give a CSV/TSV file with 'path,label' rows")
        rows = read_manifest(manifest)
        if isinstance(classes, str):
            class_file = user_path(classes)
            if not class_file.is_absolute():
                class_file = manifest.parent / class_file
            if not class_file.is_file():
                raise UserError(f"class list {class_file} (named by manifest task {manifest}) not found")
            classes = [ln.strip() for ln in class_file.read_text(encoding="utf-8").splitlines() if ln.strip()]
        names = list(classes) if classes is not None else sorted({label for _, _, label in rows})
        index = {name: i for i, name in enumerate(names)}
        paths, targets = [], []
        for lineno, rel, label in rows:
            if label not in index:
                raise UserError(f"{manifest}:{lineno}: label '{label}' is not in the class list "
                                f"({', '.join(names[:6])}{', ...' if len(names) > 6 else ''}); fix the row or add the class")
            file = user_path(rel)
            file = file if file.is_absolute() else manifest.parent / file
            if not file.is_file():
                raise UserError(f"{manifest}:{lineno}: image file {file} does not exist; fix the path "
                                "(paths are relative to the manifest) or remove the row")
            paths.append(file)
            targets.append(index[label])
        super().__init__(paths, targets, origin=str(manifest), root=manifest.parent, classes=names)
