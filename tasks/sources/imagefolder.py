"""A folder of class sub-folders (torchvision's ImageFolder layout): ``root/<class>/<image>``."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from bench.errors import UserError
from tasks.sources.base import ImageSource

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


class ImageFolderSource(ImageSource):
    """Classes are the sorted sub-folder names; every image file below a class folder counts."""

    def __init__(self, root: Path | str):
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise UserError(f"image folder not found: {self.root}; give a folder with one sub-folder per class")
        class_dirs = sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not class_dirs:
            raise UserError(f"{self.root} has no class sub-folders: put each class's images in {self.root}/<class name>/")
        self.classes = [p.name for p in class_dirs]
        paths, targets = [], []
        for label, folder in enumerate(class_dirs):
            files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise UserError(
                    f"class folder {folder} has no images ({', '.join(sorted(IMAGE_SUFFIXES))}): add images or remove the folder"
                )
            paths += files
            targets += [label] * len(files)
        self.paths = paths
        self.targets = np.asarray(targets, dtype=np.int64)
        self.origin = str(self.root)
        h = hashlib.sha256()
        for p, t in zip(paths, targets):
            st = p.stat()
            h.update(f"{p.relative_to(self.root).as_posix()}|{t}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        self.identity = "folder:" + h.hexdigest()[:32]

    def load(self, index: int) -> Image.Image:
        with Image.open(self.paths[index]) as im:
            im.load()
            return im.convert("RGB")
