"""Images with several labels each (the ``multilabel`` task kind): Pascal VOC 2007 as CLIP_benchmark's
``voc2007_multilabel`` reads it, and a CSV of one's own.

- VOC 2007 (``clip_benchmark/datasets/voc2007.py``, ``PASCALVoc2007``): the split's image ids from
  ``VOCdevkit/VOC2007/ImageSets/Main/aeroplane_<split>.txt`` (the first column), and an image has class c when
  its ``Annotations/<id>.xml`` has an object named c (difficult ones included, as there); its 20 classes in its
  order.
- CSV: ``filepath,labels`` rows, the labels of an image separated by ``|``; paths relative to the file; the
  classes are the task's list if it gives one, else the labels seen, sorted.

``multilabels[i]`` is image i's 0/1 row over the classes. ``targets`` (what the rest of the pipeline orders and
samples by) is each image's first label.
"""
from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np

from bench.core.errors import UserError
from tasks.sources.base import FileListSource

#: VOC's 20 classes in CLIP_benchmark's order (clip_benchmark/datasets/voc2007.py, object_categories)
VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable",
               "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor")


class MultilabelSource(FileListSource):
    """Image files with a 0/1 row over ``classes`` each."""

    def __init__(self, paths: list[Path], multilabels: np.ndarray, classes: list[str], origin: str, root: Path):
        first = np.where(multilabels.any(axis=1), multilabels.argmax(axis=1), 0)
        super().__init__(paths, first.tolist(), origin=origin, root=root, classes=list(classes))
        self.multilabels = multilabels.astype(np.int8)
        h = hashlib.sha256(self.identity.encode())
        h.update(self.multilabels.tobytes())
        self.identity = "multilabel:" + h.hexdigest()[:32]


def open_voc2007(root: Path, split: str) -> MultilabelSource:
    import xml.etree.ElementTree as ET

    base = root / "VOCdevkit" / "VOC2007"
    listing = base / "ImageSets" / "Main" / f"{VOC_CLASSES[0]}_{split}.txt"
    if not listing.is_file():
        raise UserError(f"voc2007_multilabel: {listing} not found; put VOC 2007's VOCdevkit (trainval and test, "
                        "from host.robots.ox.ac.uk/pascal/VOC/voc2007) in DATA_DIR/voc2007/ as CLIP_benchmark does")
    ids = [line.split()[0] for line in listing.read_text().splitlines() if line.split()]
    index = {c: i for i, c in enumerate(VOC_CLASSES)}
    labels = np.zeros((len(ids), len(VOC_CLASSES)), dtype=np.int8)
    for row, image_id in enumerate(ids):
        xml = base / "Annotations" / f"{image_id}.xml"
        try:
            names = [obj.findtext("name") for obj in ET.parse(xml).findall("object")]
        except (OSError, ET.ParseError) as exc:
            raise UserError(f"voc2007_multilabel: cannot read {xml} ({type(exc).__name__}); fix or re-extract the "
                            "VOCdevkit") from None
        for name in names:
            if name not in index:
                raise UserError(f"voc2007_multilabel: {xml} names an object '{name}', not one of VOC's 20 classes")
            labels[row, index[name]] = 1
    paths = [base / "JPEGImages" / f"{i}.jpg" for i in ids]
    return MultilabelSource(paths, labels, list(VOC_CLASSES), origin=str(base), root=base)


def read_multilabel_csv(file: Path, classes: list[str] | None = None) -> MultilabelSource:
    try:
        rows = list(csv.DictReader(file.read_text(encoding="utf-8-sig").splitlines()))
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read multilabel file {file}: {exc}") from None
    if not rows or not {"filepath", "labels"} <= set(rows[0]):
        raise UserError(f"{file}: a multilabel CSV has the columns filepath,labels (labels separated by '|')")
    sets = [[label.strip() for label in (row["labels"] or "").split("|") if label.strip()] for row in rows]
    names = list(classes) if classes else sorted({label for s in sets for label in s})
    index = {c: i for i, c in enumerate(names)}
    labels = np.zeros((len(rows), len(names)), dtype=np.int8)
    paths = []
    for n, (row, labels_of) in enumerate(zip(rows, sets), start=2):
        path = file.parent / row["filepath"]
        if not path.is_file():
            raise UserError(f"{file}:{n}: image file {path} does not exist; fix the path (relative to {file.name})")
        for label in labels_of:
            if label not in index:
                raise UserError(f"{file}:{n}: label '{label}' is not one of the task's classes ({', '.join(names)})")
            labels[n - 2, index[label]] = 1
        paths.append(path)
    return MultilabelSource(paths, labels, names, origin=str(file), root=file.parent)
