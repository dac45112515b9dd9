"""What every data source gives the engine: a labelled image collection for one split.

Labels are known without decoding any image (so subsets and caches can be planned cheaply), and
``identity`` names the content, not the path: the same CIFAR-10 pixels read from torchvision's
download or from an offline mirror share one feature cache entry.
"""
from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np
from PIL import Image

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: Label written for a sample whose image could not be decoded (dropped after extraction).
BAD_IMAGE = -1


class ImageSource(ABC):
    """A split of a dataset: ``len``, ``targets`` and ``load(i) -> PIL.Image``."""

    identity: str
    targets: np.ndarray
    #: names found in the data itself (folder names), if any; task specs may replace them
    classes: list[str] | None = None
    origin: str = ""

    def __len__(self) -> int:
        return len(self.targets)

    @abstractmethod
    def load(self, index: int) -> Image.Image: ...

    def describe(self, index: int) -> str:
        """Where sample ``index`` comes from (a file path where there is one), for messages."""
        return f"{self.origin}[{index}]"

    def sample_key(self, index: int) -> str:
        """A name for sample ``index`` that lines it up across runs and lets a user find it: the file path
        relative to the source's root for files, else the position (a mirror's index, a table's row)."""
        return str(index)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL image as 8-bit RGB: grayscale, palette, RGBA (alpha dropped, as open_clip does),
    CMYK, and 16-bit / float grayscale (rescaled to 0-255 rather than clipped to white)."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        arr = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") else max(float(arr.max()), 1.0)
        if image.mode == "I" and arr.max() <= 255:
            top = 255.0
        arr = np.clip(np.round(arr * (255.0 / top)), 0, 255).astype(np.uint8)
        return Image.fromarray(arr, mode="L").convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return image.convert("RGB")


class ArraySource(ImageSource):
    """Images held as one ``uint8 [N, H, W, C]`` array (CIFAR, MNIST-like mirrors)."""

    def __init__(self, images: np.ndarray, targets: Sequence[int], origin: str, identity: str | None = None,
                 classes: list[str] | None = None):
        if len(images) != len(targets):
            raise ValueError(f"{origin}: {len(images)} images but {len(targets)} labels")
        self.images = images
        self.targets = np.asarray(targets, dtype=np.int64)
        self.origin = origin
        self.classes = classes
        self.identity = identity or content_identity(images, self.targets)

    def load(self, index: int) -> Image.Image:
        arr = self.images[index]
        return to_rgb(Image.fromarray(arr if arr.ndim == 2 or arr.shape[-1] != 1 else arr[..., 0]))


class FileListSource(ImageSource):
    """Images as files on disk with known labels (folders, manifests, file-based torchvision sets).

    The identity hashes relative paths, labels, sizes and modification times, so an edited or
    replaced image gives new features, while moving the whole folder keeps the cache.
    """

    def __init__(self, paths: Sequence, targets: Sequence[int], origin: str, root=None,
                 classes: list[str] | None = None, transform: Callable[[Image.Image], Image.Image] | None = None):
        from pathlib import Path

        self.paths = [Path(p) for p in paths]
        self.key_root = Path(root) if root is not None else None
        self.targets = np.asarray(targets, dtype=np.int64)
        self.origin = origin
        self.classes = classes
        self.transform = transform
        base = Path(root) if root is not None else None
        h = hashlib.sha256()
        for p, t in zip(self.paths, self.targets):
            st = p.stat()
            rel = p.relative_to(base).as_posix() if base is not None else p.name
            h.update(f"{rel}|{t}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        self.identity = "files:" + h.hexdigest()[:32]

    def load(self, index: int) -> Image.Image:
        with Image.open(self.paths[index]) as im:
            im.load()
            out = to_rgb(im)
        return self.transform(out) if self.transform else out

    def describe(self, index: int) -> str:
        return str(self.paths[index])

    def sample_key(self, index: int) -> str:
        path = self.paths[index]
        if self.key_root is not None:
            try:
                return path.relative_to(self.key_root).as_posix()
            except ValueError:
                pass
        return path.name


def content_identity(images: np.ndarray, targets: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(str(images.shape).encode())
    h.update(np.ascontiguousarray(images).tobytes())
    h.update(np.ascontiguousarray(targets, dtype=np.int64).tobytes())
    return "sha256:" + h.hexdigest()[:32]


class PreprocessedDataset:
    """A map-style dataset (what ``torch.utils.data.DataLoader`` takes) over chosen indices of a source:
    ``(pixels, label, index)``. A plain class, not a ``torch.utils.data.Dataset`` subclass (which adds
    nothing a DataLoader needs), so opening a task does not import torch.

    An image that cannot be decoded (truncated, corrupt, not an image) does not stop the run:
    it comes back as a blank image with label :data:`BAD_IMAGE`, and the extractor drops it and
    reports its path once (or stops with a one-line error under ``--on-bad-image fail``).
    """

    def __init__(self, source: ImageSource, indices: np.ndarray, preprocess: Callable[[Any], torch.Tensor]):
        self.source, self.indices, self.preprocess = source, np.asarray(indices), preprocess
        self._blank: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        index = int(self.indices[i])
        try:
            image = self.source.load(index)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            if self._blank is None:
                self._blank = self.preprocess(Image.new("RGB", (224, 224)))
            return self._blank, BAD_IMAGE, index
        return self.preprocess(image), int(self.source.targets[index]), index


def json_lines(file) -> Iterator[tuple[int, Any]]:
    """``(line number, parsed value)`` for each non-blank line of a JSON-lines file; a line that is not
    JSON stops with one message naming the file and line."""
    import json

    from bench.core.errors import UserError

    for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{file}:{n}: not a JSON object ({exc.msg})") from None


class AnnotatedFiles:
    """Image files named by an annotation file (association instances, caption-selection items): ``paths`` in
    sample order; the identity hashes the annotation file's bytes and each image's name, size and time."""

    paths: list

    def _identify(self, prefix: str, annotations, paths) -> str:
        import hashlib

        self.paths = list(paths)
        h = hashlib.sha256(annotations.read_bytes())
        for p in self.paths:
            st = p.stat()
            h.update(f"{p.name}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        return f"{prefix}:" + h.hexdigest()[:32]

    def load(self, index: int) -> Image.Image:
        with Image.open(self.paths[index]) as im:
            im.load()
            return to_rgb(im)

    def describe(self, index: int) -> str:
        return str(self.paths[index])

