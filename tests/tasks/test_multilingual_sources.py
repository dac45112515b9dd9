"""The multilingual retrieval sets in CLIP_benchmark's layouts (XTD10, multilingual MSCOCO, XTD200, Flickr30k-200,
Crossmodal-3600, Flickr30k's Chinese captions): read into the same images, in the same order, with the same
captions as its own dataset classes give; the languages each task takes, and the one-line refusals."""
from __future__ import annotations

import json

import numpy as np
import pytest

from bench.core.errors import UserError
from tasks.registry import get_task
from tasks.sources import DataContext, open_source
from helpers.multilingual import SETS, write_annotations, write_images as _images


def _same(ours, theirs):
    assert len(ours) == len(theirs)
    for i in range(len(theirs)):
        image, captions = theirs[i]
        assert ours.captions[i] == list(captions)
        assert np.array_equal(np.asarray(ours.load(i)), np.asarray(image))


@pytest.mark.parametrize("name", [n for n in SETS if n != "crossmodal3600"])
def test_annotation_files_read_as_clip_benchmark_reads_them(tmp_path, name):
    from importlib import import_module

    module_name, cls, language = SETS[name]
    root = tmp_path / name  # DATA_DIR/<name>/ is its --dataset_root
    write_annotations(root, name, language)
    module = import_module(f"clip_benchmark.datasets.{module_name}")
    theirs = getattr(module, cls)(root=str(root), ann_file=str(root / module.OUTPUT_FILENAME_TEMPLATE.format(language)))
    assert language in module.SUPPORTED_LANGUAGES
    ours = open_source(get_task(name), "test", DataContext(tmp_path, None, language=language))
    _same(ours, theirs)


def test_crossmodal3600_from_its_own_files_as_clip_benchmark_builds_it(tmp_path):
    """Crossmodal-3600's captions.jsonl and images read offline as CLIP_benchmark's create_annotation_file reads them
    (the first caption in the language; an image missing from the folder left out); then its file, once it exists."""
    from clip_benchmark.datasets import crossmodal3600 as xm

    root = tmp_path / "crossmodal3600"
    _images(root / "xm3600" / "images", ["a1.jpg", "b2.jpg", "d4.jpg"])
    lines = [{"image/key": k, "fil": {"caption": [f"larawan {k}", f"iba pa {k}"]}, "de": {"caption": [f"Bild {k}"]}}
             for k in ("a1", "b2", "c3", "d4")]  # c3 has no image
    (root / "xm3600" / "captions.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    ctx = DataContext(tmp_path, None, language="fil")
    ours = open_source(get_task("crossmodal3600"), "test", ctx)
    xm.create_annotation_file(str(root), "fil")  # offline: the images and captions are there
    theirs = xm.Crossmodal3600(root=str(root), ann_file=str(root / xm.OUTPUT_FILENAME_TEMPLATE.format("fil")))
    _same(ours, theirs)
    assert ours.captions == [["larawan a1"], ["larawan b2"], ["larawan d4"]]
    _same(open_source(get_task("crossmodal3600"), "test", ctx), theirs)  # now from its annotation file


def test_flickr30k_in_chinese_reads_clip_benchmarks_zh_file(tmp_path):
    from clip_benchmark.datasets.builder import build_dataset

    root = tmp_path / "flickr30k"
    _images(root, ["5.jpg", "6.jpg"])
    (root / "flickr30k_test_zh.txt").write_text("image,caption\n5.jpg,一只狗在草地上奔跑\n6.jpg,两个人\n5.jpg,一只棕色的狗\n",
                                                encoding="utf-8")
    (root / "flickr30k_test_karpathy.txt").write_text("image,caption\n5.jpg,a dog runs\n6.jpg,two people\n")
    theirs = build_dataset("flickr30k", root=str(root), split="test", language="zh", download=False,
                           task="zeroshot_retrieval")
    ours = open_source(get_task("flickr30k"), "test", DataContext(tmp_path, None, language="zh"))
    _same(ours, theirs)
    assert ours.captions[0] == ["一只狗在草地上奔跑", "一只棕色的狗"]
    english = open_source(get_task("flickr30k"), "test", DataContext(tmp_path, None, language="en"))
    assert english.captions == [["a dog runs"], ["two people"]] and english.identity == ours.identity  # same images


def test_languages_match_clip_benchmarks_and_are_checked_per_task():
    from importlib import import_module

    from clip_benchmark.models.nllb_clip import lang_map

    from prompts.languages import language_set, nllb_language
    from tasks.languages import default_language, languages_for, task_languages

    for name, (module_name, _, _) in SETS.items():
        assert task_languages(get_task(name)) == import_module(f"clip_benchmark.datasets.{module_name}").SUPPORTED_LANGUAGES
    assert all(nllb_language(k) == v for k, v in lang_map.items()) and nllb_language("xx") is None
    assert default_language(get_task("xtd200")) == "eng_Latn" and default_language(get_task("xtd10")) == "en"
    assert languages_for(get_task("imagenet"), ["all"]) == ["en", "cn", "it", "jp", "ar"]
    assert languages_for(get_task("babel_imagenet"), ["de", "@babel"])[:2] == ["de", "af"]
    assert len(languages_for(get_task("babel_imagenet"), ["@babel"])) == len(language_set("babel")) == 90
    with pytest.raises(UserError, match=r"task imagenet has no such language; it takes en, cn, it, jp, ar"):
        languages_for(get_task("imagenet"), ["de"])
    with pytest.raises(UserError, match=r"task xtd10 has no such language; it takes de, en, es"):
        languages_for(get_task("xtd10"), ["ja"])  # XTD10 says jp; Crossmodal-3600 says ja
    for code in ("la", "fy", "br"):  # names without templates
        with pytest.raises(UserError, match=f"has {code} class names but no {code} templates"):
            languages_for(get_task("babel_imagenet"), [code])


def test_a_missing_set_says_where_to_get_it_in_one_line(tmp_path):
    with pytest.raises(UserError) as err:
        open_source(get_task("xtd10"), "test", DataContext(tmp_path, None, language="de"))
    text = str(err.value)
    assert "\n" not in text and "xtd10-de.json" in text and "create_annotation_file(" in text and "'de'" in text
    with pytest.raises(UserError, match="captions.zip"):
        open_source(get_task("crossmodal3600"), "test", DataContext(tmp_path, None, language="de"))
