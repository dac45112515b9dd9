"""``zsbench search``: its scores are the models' own cosines, and bad input is one line.

The references are open_clip's ``encode_text`` / ``encode_image`` with the model's own eval
transform, and transformers' ``get_text_features`` / ``get_image_features`` with the checkpoint's
processor, computed here image by image; zsbench's scores must equal them within 1e-5.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from helpers.cli import run_cli

QUERY = "a photo of a red square"


def images_of(folder: Path) -> list[Path]:
    from tasks.sources.imagefolder import list_images

    return list_images(folder)


def search_json(*args, cache) -> list[dict]:
    r = run_cli("search", *args, "--json", "--workers", "0", cache=cache)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def open_clip_reference(vit_s32_checkpoint, tiny_folder):
    import open_clip

    model, _, preprocess = open_clip.create_model_and_transforms("ViT-S-32", pretrained=str(vit_s32_checkpoint))
    model.eval()
    tokenizer = open_clip.get_tokenizer("ViT-S-32")
    with torch.inference_mode():
        text = F.normalize(model.encode_text(tokenizer([QUERY])).float(), dim=-1)[0]
        images = {str(p): F.normalize(model.encode_image(preprocess(Image.open(p).convert("RGB")).unsqueeze(0)).float(),
                                      dim=-1)[0] for p in images_of(tiny_folder)}
    return text, images


def test_scores_equal_open_clip_cosines(open_clip_reference, vit_s32_checkpoint, tiny_folder, tmp_path):
    text, images = open_clip_reference
    hits = search_json(QUERY, "--images", str(tiny_folder), "--model", "ViT-S-32", "--pretrained",
                       str(vit_s32_checkpoint), "--top", "100", cache=tmp_path / "c")
    assert len(hits) == len(images) == 20
    expected = {path: float(vec @ text) for path, vec in images.items()}
    for hit in hits:
        assert hit["score"] == pytest.approx(expected[hit["path"]], abs=1e-5), hit["path"]
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    # --like: image to image; the example itself comes first with cosine 1
    first = sorted(images)[3]
    like = search_json("--like", first, "--images", str(tiny_folder), "--model", "ViT-S-32", "--pretrained",
                       str(vit_s32_checkpoint), "--top", "5", cache=tmp_path / "c")
    assert like[0]["path"] == first and like[0]["score"] == pytest.approx(1.0, abs=1e-5)
    for hit in like:
        assert hit["score"] == pytest.approx(float(images[hit["path"]] @ images[first]), abs=1e-5)


@pytest.mark.slow
def test_scores_equal_transformers_cosines(tiny_folder, tmp_path):
    import transformers

    from helpers.tiny_hf import build

    folder = build("clip", tmp_path / "hf", seed=0)
    model = transformers.AutoModel.from_pretrained(folder).eval()
    processor = transformers.AutoProcessor.from_pretrained(folder)
    def pooled(out):  # a tensor (older transformers) or an output whose pooler_output is the embedding
        return out if isinstance(out, torch.Tensor) else out.pooler_output

    with torch.inference_mode():
        text = F.normalize(pooled(model.get_text_features(**processor(text=[QUERY], return_tensors="pt",
                                                                     padding=True))), dim=-1)[0]
        expected = {}
        for p in images_of(tiny_folder):
            pixels = processor(images=Image.open(p).convert("RGB"), return_tensors="pt")["pixel_values"]
            image = pooled(model.get_image_features(pixel_values=pixels))
            expected[str(p)] = float(F.normalize(image, dim=-1)[0] @ text)
    hits = search_json(QUERY, "--images", str(tiny_folder), "--model", f"transformers:{folder}", "--top", "100",
                       cache=tmp_path / "c")
    assert {h["path"] for h in hits} == set(expected)
    for hit in hits:
        assert hit["score"] == pytest.approx(expected[hit["path"]], abs=1e-5), hit["path"]


def test_chunked_exact_top_k_and_faiss_agree_with_a_full_sort(tmp_path):
    from bench.apps.search import exact_top_k, faiss_available, faiss_index, faiss_top_k
    from bench.engine.feature_chunks import FeatureChunks

    rng = np.random.default_rng(0)
    feats = rng.normal(size=(5000, 32)).astype(np.float32)
    parts = []
    for i, start in enumerate(range(0, 5000, 1024)):  # as the cache stores them: chunk files, memory-mapped
        np.save(tmp_path / f"c{i}.npy", feats[start:start + 1024])
        parts.append(tmp_path / f"c{i}.npy")
    query = rng.normal(size=32).astype(np.float32)
    query /= np.linalg.norm(query)
    cos = (feats / np.linalg.norm(feats, axis=1, keepdims=True)) @ query
    want = np.argsort(-cos, kind="stable")[:25]
    rows, scores = exact_top_k(FeatureChunks(parts), query, 25)
    assert np.array_equal(rows, want) and np.allclose(scores, cos[want], atol=1e-6)
    # a selection of rows (what a cached entry with dropped images looks like) and an in-memory matrix
    keep = np.arange(0, 5000, 3)
    rows_sel, _ = exact_top_k(FeatureChunks(parts).take(keep), query, 10)
    assert np.array_equal(keep[rows_sel], keep[np.argsort(-cos[keep], kind="stable")[:10]])
    assert np.array_equal(exact_top_k(feats, query, 25)[0], want)
    if faiss_available():
        rows_f, scores_f = faiss_top_k(faiss_index(FeatureChunks(parts), tmp_path / "i.faiss"), query, 25)
        assert np.array_equal(rows_f, want) and np.allclose(scores_f, cos[want], atol=1e-5)
        assert (tmp_path / "i.faiss").exists()


def test_html_grid_escapes_names(vit_s32_checkpoint, tmp_path):
    from conftest import make_image

    folder = tmp_path / "photos"
    folder.mkdir()
    make_image(np.random.default_rng(0), (200, 30, 30), "square").save(folder / "<img src=x onerror=alert(1)>.png")
    make_image(np.random.default_rng(1), (30, 30, 200), "circle").save(folder / "plain.jpg")
    page = tmp_path / "out" / "results.html"
    search_json(QUERY, "--images", str(folder), "--model", "ViT-S-32", "--pretrained", str(vit_s32_checkpoint),
                "--html", str(page), cache=tmp_path / "c")
    text = page.read_text()
    assert "&lt;img src=x onerror=alert(1)&gt;" in text and "<img src=x onerror" not in text
    assert text.count("data:image/jpeg;base64,") == 2


@pytest.mark.parametrize("case", ["empty folder", "empty query", "undecodable like", "missing like", "both"])
def test_bad_input_is_one_line_and_exit_2(case, vit_s32_checkpoint, tiny_folder, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    model = ["--model", "ViT-S-32", "--pretrained", str(vit_s32_checkpoint)]
    args, words = {
        "empty folder": ([QUERY, "--images", str(empty)], "holds no images"),
        "empty query": (["  ", "--images", str(tiny_folder)], "the query is empty"),
        "undecodable like": (["--like", str(bad), "--images", str(tiny_folder)], "cannot decode image"),
        "missing like": (["--like", str(tmp_path / "nope.jpg"), "--images", str(tiny_folder)], "no such image"),
        "both": ([QUERY, "--like", str(bad), "--images", str(tiny_folder)], "not both"),
    }[case]
    r = run_cli("search", *args, *model, cache=tmp_path / "c")
    assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
