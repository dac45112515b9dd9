"""Multilingual retrieval sets written in CLIP_benchmark's layouts (what its create_annotation_file leaves on disk)."""
from __future__ import annotations

import json

import numpy as np
from PIL import Image

#: our task -> (CLIP_benchmark's module, its dataset class, a language of the set)
SETS = {"xtd10": ("xtd10", "XTD10", "jp"), "multilingual_mscoco_captions": ("multilingual_mscoco", "Multilingual_MSCOCO", "de"),
        "xtd200": ("xtd200", "XTD200", "deu_Latn"), "flickr30k-200": ("flickr30k_200", "Flickr30k_200", "zho_Hans"),
        "crossmodal3600": ("crossmodal3600", "Crossmodal3600", "fil")}


def write_images(folder, names, seed=0):
    """Random small JPEGs named ``names`` in ``folder``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.fromarray(rng.integers(0, 255, size=(18, 22, 3), dtype=np.uint8)).save(folder / name)


def write_annotations(root, name: str, language: str, n: int = 5, seed: int = 0) -> list[str]:
    """CLIP_benchmark's annotation file for ``name`` in ``language`` (what its create_annotation_file writes: absolute
    image paths, one caption each), its images under ROOT/<name>/images/."""
    from importlib import import_module

    module = import_module(f"clip_benchmark.datasets.{SETS[name][0]}")
    images = root / name / "images"
    names = [f"{1000 + 7 * i}.jpg" for i in range(n)]
    write_images(images, names, seed)
    captions = [f"caption {i} in {language}, ünïcödé {'字' * i}" for i in range(n)]
    (root / module.OUTPUT_FILENAME_TEMPLATE.format(language)).write_text(json.dumps(
        {"image_paths": [str(images / f) for f in names], "annotations": captions, "indicies": list(range(n))},
        ensure_ascii=False), encoding="utf-8")
    return captions
