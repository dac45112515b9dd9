"""``--decode tensor`` (bench.engine.tensor_decode): JPEGs decoded by torchvision.io and cropped as uint8 tensors
on the run's device. Only the CPU can run here; on CUDA the same code passes ``device="cuda"`` to
``decode_jpeg`` (nvJPEG) and runs the same transforms there. Close to the PIL reference, never confused with it."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from bench.engine.features import extract_features
from bench.engine.pixel_cache import split_preprocess
from bench.engine.tensor_decode import decode_one, tensor_geometry
from bench.models import load_model
from tasks.sources import ImageFolderSource


@pytest.fixture(scope="module")
def photos(tmp_path_factory, tiny_folder):
    """The tiny folder plus larger JPEGs (real resizing: 300x200 and 180x260) and one truncated JPEG."""
    root = tmp_path_factory.mktemp("photos") / "shapes"
    shutil.copytree(tiny_folder, root)
    rng = np.random.default_rng(1)
    for k, size in enumerate(((300, 200), (180, 260))):
        smooth = np.kron(rng.integers(0, 255, (size[1] // 20, size[0] // 20, 3)), np.ones((20, 20, 1))).astype(np.uint8)
        Image.fromarray(smooth).save(root / "red_square" / f"large{k}.jpg", quality=92)
    data = (root / "red_square" / "large0.jpg").read_bytes()
    (root / "blue_circle" / "truncated.jpg").write_bytes(data[:len(data) // 3])
    return root


def test_tensor_crops_are_within_a_few_levels_of_pil(photos):
    """The geometry (antialiased bicubic resize, centre crop) on a decoded uint8 tensor against PIL's on the
    decoded image: not bit-identical (another resampling implementation), but a few levels apart at most."""
    backend = load_model("ViT-S-32", "none", store=None)
    split_at = split_preprocess(backend.preprocess)
    geometry = tensor_geometry(split_at)
    assert geometry is not None and len(geometry) == 2
    for name in ("large0.jpg", "large1.jpg"):
        path = photos / "red_square" / name
        tensor = decode_one(path.read_bytes(), torch.device("cpu"))
        for step in geometry:
            tensor = step(tensor)
        ours = tensor.permute(1, 2, 0).numpy().astype(int)
        reference = split_at.crop(Image.open(path).convert("RGB")).astype(int)
        assert ours.shape == reference.shape == (224, 224, 3)
        diff = np.abs(ours - reference)
        assert diff.mean() < 1.0 and diff.max() <= 12, (diff.mean(), diff.max())


def test_tensor_decode_features_match_pil_cached_apart_and_recorded(photos, tmp_path):
    from bench.core.store import Store

    backend = load_model("ViT-S-32", "none", store=None)
    source = ImageFolderSource(photos)
    store = Store(tmp_path / "cache")
    with pytest.warns(Warning, match="truncated.jpg"):
        pil = extract_features(backend, source, "all", store=store, num_workers=0, progress=False)
    with pytest.warns(Warning, match="truncated.jpg"):
        tensor = extract_features(backend, source, "all", store=store, num_workers=0, progress=False, decode="tensor")
    assert pil.info["decode"] == "pil" and tensor.info["decode"] == "tensor"
    assert tensor.info["cache"] == "miss" and tensor.info["key"] != pil.info["key"]  # never confused in the cache
    assert np.array_equal(pil.indices, tensor.indices) and np.array_equal(pil.labels, tensor.labels)
    a, b = np.asarray(pil.features), np.asarray(tensor.features)
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosine.min() > 0.999, cosine.min()
    again = extract_features(backend, source, "all", store=store, num_workers=0, progress=False, decode="tensor")
    assert again.info["cache"] == "hit" and np.array_equal(np.asarray(again.features), b)


def test_a_preprocessing_tensors_cannot_take_decodes_with_pil():
    from torchvision import transforms as T

    weird = T.Compose([T.Resize(224), T.Lambda(lambda im: im.rotate(3)), T.ToTensor(), T.Normalize([0.5] * 3, [0.5] * 3)])
    assert tensor_geometry(split_preprocess(weird)) is None
    assert tensor_geometry(None) is None


@pytest.mark.slow
def test_run_records_the_decode(photos, tmp_path):
    from helpers.cli import run_cli as zsbench

    out = zsbench("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", str(photos), "--templates", "single",
                  "--decode", "tensor", "--json", "--quiet", "--out", str(tmp_path / "results"), cache=tmp_path / "c",
                  cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    import json

    (record,) = json.loads(out.stdout)
    assert record["task_info"]["decode"] == "tensor" and record["config"]["decode"] == "tensor"
