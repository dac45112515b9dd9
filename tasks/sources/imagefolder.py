"""A folder of class sub-folders (torchvision's ImageFolder layout): ``root/<class>/<image>``."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from PIL import Image

from bench.core.errors import UserError
from tasks.sources.base import FileListSource
from bench.core.paths import user_path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".jfif"}


def crop_border(pixels: int):
    """ObjectNet's images carry a 1-2 px border; the usual protocol crops 2 px (as in wise-ft)."""
    def crop(image: Image.Image) -> Image.Image:
        w, h = image.size
        return image.crop((pixels, pixels, w - pixels, h - pixels)) if w > 2 * pixels and h > 2 * pixels else image
    return crop


TRANSFORMS = {"crop_border_2": crop_border(2)}


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not p.name.startswith("."))


class ImageFolderSource(FileListSource):
    """Classes are the sorted sub-folder names (or ``include``, in that order); every image file
    below a class folder counts."""

    def __init__(self, root: Path | str, include: Sequence[str] | None = None, transform: str | None = None):
        root = user_path(root)
        if not root.is_dir():
            raise UserError(f"image folder not found: {root}; give a folder with one sub-folder per class")
        if include is not None:
            class_dirs = [root / name for name in include]
            absent = [d.name for d in class_dirs if not d.is_dir()]
            if absent:
                raise UserError(f"{root} lacks the class folder(s) {', '.join(absent[:5])}"
                                f"{' ...' if len(absent) > 5 else ''}: is this the complete dataset?")
        else:
            class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not class_dirs:
            raise UserError(f"{root} has no class sub-folders: put each class's images in {root}/<class name>/")
        paths, targets = [], []
        for label, folder in enumerate(class_dirs):
            files = list_images(folder)
            if not files:
                raise UserError(
                    f"class folder {folder} has no images ({', '.join(sorted(IMAGE_SUFFIXES))}): add images or remove the folder"
                )
            paths += files
            targets += [label] * len(files)
        if transform is not None and transform not in TRANSFORMS:
            raise ValueError(f"unknown image transform {transform!r}")
        super().__init__(paths, targets, origin=str(root), root=root, classes=[p.name for p in class_dirs],
                         transform=TRANSFORMS.get(transform) if transform else None)
        self.root = root
        if transform:
            self.identity += "+" + transform


class FlatFolderSource(FileListSource):
    """Every image file below a folder, in path order, unlabelled (label 0): a photo collection to search."""

    def __init__(self, root: Path | str):
        root = user_path(root)
        if not root.is_dir():
            raise UserError(f"image folder not found: {root}; give a folder of images")
        files = list_images(root)
        if not files:
            raise UserError(f"{root} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}): give a folder of images")
        super().__init__(files, [0] * len(files), origin=str(root), root=root, classes=None)
        self.root = root
