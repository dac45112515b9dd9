"""The pixel cache: decoded crops shared by models of one geometry give the very pixels (and so the very
features) of the uncached path, survive interruption, and respect their cap."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.core.store import Store
from bench.engine.features import extract_features
from bench.engine.pixel_cache import PixelCache, split_preprocess


@pytest.fixture(scope="module")
def two_models(tmp_path_factory, vit_s32_checkpoint):
    """Two different ViT-S-32 checkpoints (same geometry: 224 bicubic resize, centre crop)."""
    import open_clip

    from bench.models import load_model

    torch.manual_seed(7)
    other = tmp_path_factory.mktemp("ckpt2") / "other.pt"
    torch.save(open_clip.create_model("ViT-S-32", pretrained=None).state_dict(), other)
    return [load_model("ViT-S-32", str(p)) for p in (vit_s32_checkpoint, other)]


def source_of(folder):
    from tasks.sources.imagefolder import ImageFolderSource

    return ImageFolderSource(folder)


def test_split_of_open_clip_preprocessing(two_models):
    split = split_preprocess(two_models[0].preprocess)
    assert split is not None
    assert "Resize" in split.geometry_id and "CenterCrop" in split.geometry_id and "Normalize" not in split.geometry_id
    assert split_preprocess(lambda image: image) is None  # anything but a torchvision Compose decodes as before


def test_tensors_from_crops_equal_the_models_own_preprocessing(two_models, tiny_folder):
    backend = two_models[0]
    split = split_preprocess(backend.preprocess)
    source = source_of(tiny_folder)
    for i in range(len(source)):
        image = source.load(i)
        ours = split.tensors(split.crop(image)[None])[0]
        assert torch.equal(ours, backend.preprocess(image)), source.describe(i)


def test_features_equal_uncached_and_the_second_model_decodes_nothing(two_models, tiny_folder, tmp_path, monkeypatch):
    source = source_of(tiny_folder)
    store = Store(tmp_path / "cache")
    pixels = PixelCache(store)
    kwargs = dict(num_workers=0, progress=False, batch_size=8, chunk_size=8)
    first = extract_features(two_models[0], source, "all", store=store, pixels=pixels, **kwargs)
    assert first.info["pixel_cache"] == "on"
    plain = extract_features(two_models[0], source, "all", store=Store(tmp_path / "plain"), **kwargs)
    assert np.array_equal(first.features, plain.features) and np.array_equal(first.labels, plain.labels)
    # the second model reads the crops: no image is decoded again
    from tasks.sources.base import FileListSource

    def no_decoding(self, index):
        raise AssertionError(f"decoded {self.describe(index)} again")

    monkeypatch.setattr(FileListSource, "load", no_decoding)
    second = extract_features(two_models[1], source, "all", store=store, pixels=pixels, **kwargs)
    monkeypatch.undo()
    reference = extract_features(two_models[1], source, "all", store=Store(tmp_path / "plain2"), **kwargs)
    assert np.array_equal(second.features, reference.features)
    assert not np.array_equal(first.features, second.features)  # two models, one set of crops
    assert len([p for p in store.area("pixels").iterdir() if p.is_dir()]) == 1


def test_a_lost_or_damaged_crop_chunk_is_recomputed(two_models, tiny_folder, tmp_path):
    source = source_of(tiny_folder)
    store = Store(tmp_path / "cache")
    kwargs = dict(num_workers=0, progress=False, batch_size=8, chunk_size=8)
    extract_features(two_models[0], source, "all", store=Store(tmp_path / "f1"), pixels=PixelCache(store), **kwargs)
    [entry] = [p for p in store.area("pixels").iterdir() if p.is_dir()]
    chunks = sorted(entry.glob("chunk*.crops.npy"))
    assert len(chunks) == 3  # 20 images in chunks of 8
    chunks[0].unlink()
    chunks[1].write_bytes(b"garbage")
    again = extract_features(two_models[0], source, "all", store=Store(tmp_path / "f2"), pixels=PixelCache(store),
                             **kwargs)
    plain = extract_features(two_models[0], source, "all", store=Store(tmp_path / "f3"), **kwargs)
    assert np.array_equal(again.features, plain.features)
    assert len(sorted(entry.glob("chunk*.crops.npy"))) == 3


def test_over_the_cap_decodes_without_the_cache_and_says_so(two_models, tiny_folder, tmp_path):
    source = source_of(tiny_folder)
    store = Store(tmp_path / "cache")
    with pytest.warns(UserWarning, match="would pass its cap"):
        out = extract_features(two_models[0], source, "all", store=store, pixels=PixelCache(store, cap=1000),
                               num_workers=0, progress=False)
    assert out.info["pixel_cache"] == "over cap"
    assert not any(store.area("pixels").iterdir())


def test_the_cap_counts_each_crop_at_its_own_size():
    import torchvision.transforms as T

    from bench.engine.pixel_cache import split_preprocess

    def size(*steps):
        return split_preprocess(T.Compose([*steps, T.ToTensor(), T.Normalize([0.5] * 3, [0.5] * 3)])).crop_bytes

    assert size(T.Resize(256), T.CenterCrop(240)) == 240 * 240 * 3
    assert size(T.Resize((300, 200))) == 300 * 200 * 3
    assert size(T.Resize(336), T.CenterCrop((336, 336))) == 336 * 336 * 3
