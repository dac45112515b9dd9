"""CLIP_benchmark's retrieval annotation files in its own layout (its --dataset_root): Flickr's Karpathy text files
(flickr8k, flickr30k) and COCO's caption JSON (mscoco), every split; read into the same images, in the same order,
with the same captions as its ``build_dataset`` gives."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from bench.core.errors import UserError
from tasks.registry import get_task
from tasks.sources import DataContext, open_source


def _images(folder, names, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.fromarray(rng.integers(0, 255, size=(20, 24, 3), dtype=np.uint8)).save(folder / name)


def _same(ours, theirs, captions_of):
    assert len(ours) == len(theirs)
    for i in range(len(theirs)):
        image, captions = theirs[i]
        assert ours.captions[i] == list(captions_of(captions))
        assert np.array_equal(np.asarray(ours.load(i)), np.asarray(image.convert("RGB")))


@pytest.mark.parametrize("split", ["test", "train"])
def test_flickr_karpathy_files_read_as_clip_benchmark_reads_them(tmp_path, split):
    from clip_benchmark.datasets.builder import build_dataset

    root = tmp_path / "flickr8k"
    _images(root, ["10.jpg", "2.jpg", "33.jpg"])
    (root / f"flickr8k_{split}_karpathy.txt").write_text(
        "image,caption\n10.jpg,a dog runs, fast, on grass\n10.jpg,a brown dog\n\n2.jpg,two birds\n"
        "33.jpg,a man, a hat\n2.jpg,birds on a wire\n")
    ours = open_source(get_task("flickr8k"), split, DataContext(tmp_path, None))
    theirs = build_dataset("flickr8k", root=str(root), split=split, download=False, task="zeroshot_retrieval")
    _same(ours, theirs, lambda c: c)
    assert ours.captions[0] == ["a dog runs, fast, on grass", "a brown dog"]  # split at '.jpg,', not at every comma


def test_coco_caption_json_read_as_clip_benchmark_reads_it(tmp_path):
    from clip_benchmark.datasets.builder import build_dataset

    root = tmp_path / "mscoco"
    _images(root / "val2014", ["COCO_val2014_7.jpg", "COCO_val2014_3.jpg"])
    (root / "coco_test_karpathy.json").write_text(json.dumps({
        "images": [{"id": 7, "file_name": "COCO_val2014_7.jpg"}, {"id": 3, "file_name": "COCO_val2014_3.jpg"}],
        "annotations": [{"id": 1, "image_id": 7, "caption": "a cat"}, {"id": 2, "image_id": 3, "caption": "a car"},
                        {"id": 3, "image_id": 7, "caption": "a sleeping cat"}]}))
    ours = open_source(get_task("mscoco"), "test", DataContext(tmp_path, None), fetch=False)
    theirs = build_dataset("mscoco_captions", root=str(root), split="test", download=False, task="zeroshot_retrieval")
    _same(ours, theirs, lambda c: c)
    assert ours.captions == [["a car"], ["a cat", "a sleeping cat"]]  # images in id order, as COCO's API lists them


def test_a_bad_annotation_line_is_one_line(tmp_path):
    root = tmp_path / "flickr8k"
    _images(root, ["1.jpg"])
    (root / "flickr8k_test_karpathy.txt").write_text("image,caption\n1.png,a picture\n")
    with pytest.raises(UserError, match="flickr8k_test_karpathy.txt:2: expected 'IMAGE.jpg,caption'"):
        open_source(get_task("flickr8k"), "test", DataContext(tmp_path, None))
    with pytest.raises(UserError, match="Kaggle's flickr8k"):  # absent: where to get it, in one line
        open_source(get_task("flickr8k"), "test", DataContext(tmp_path / "empty", None))
