"""Webdataset shards and CLIP_benchmark exports for tests: the layout its ``build_wds_dataset`` and DataComp read
(``classnames.txt``, ``zeroshot_classification_templates.txt``, ``<split>/nshards.txt``, ``<split>/0.tar``)."""
from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Iterable

import numpy as np
from PIL import Image


def write_shard(path: Path, samples: Iterable[tuple[str, dict[str, bytes]]]) -> None:
    """One tar shard: each sample's files as ``KEY.EXT`` members, in order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tar:
        for key, files in samples:
            for ext, data in files.items():
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def noise_png(rng: np.random.Generator, size: tuple[int, int] = (8, 8)) -> bytes:
    return png(Image.fromarray(rng.integers(0, 255, size=(*size, 3), dtype=np.uint8)))


def write_export(root: Path, classnames: list[str], images: list[bytes], labels: list[int],
                 templates: list[str] | None = None, split: str = "test") -> Path:
    """A CLIP_benchmark export of one split in one shard: PNG images with their labels, the class names, and
    the templates if given; returns ``root``."""
    (root / split).mkdir(parents=True, exist_ok=True)
    (root / "classnames.txt").write_text("\n".join(classnames) + "\n")
    if templates is not None:
        (root / "zeroshot_classification_templates.txt").write_text("\n".join(templates) + "\n")
    (root / split / "nshards.txt").write_text("1\n")
    write_shard(root / split / "0.tar", ((f"{n:05d}", {"png": image, "cls": str(label).encode()})
                                         for n, (image, label) in enumerate(zip(images, labels))))
    return root
