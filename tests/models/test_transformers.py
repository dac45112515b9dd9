"""The transformers backend against transformers itself, on tiny random models built offline.

For CLIP, SigLIP, Chinese-CLIP and AltCLIP: zsbench's per-image top-1 with a single template
equals the ``zero-shot-image-classification`` pipeline's (``hypothesis_template`` = the template),
``predict --json`` probabilities equal the pipeline's scores to 1e-3, and the ensemble classifier
equals normalise -> mean -> renormalise of ``get_text_features``.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers.cli import run_cli as zsbench
from helpers.tiny_hf import build

#: builds four checkpoints and runs the pipeline: seconds each, so all of it is a slow test
pytestmark = pytest.mark.slow

FAMILIES = ["clip", "siglip", "chinese_clip", "altclip"]
TEMPLATE = "a photo of a {}."


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    pytest.importorskip("sentencepiece")
    root = tmp_path_factory.mktemp("hf")
    return {kind: build(kind, root / kind, seed=i) for i, kind in enumerate(FAMILIES)}


def pipeline_for(folder):
    import transformers

    transformers.logging.set_verbosity_error()
    return transformers.pipeline("zero-shot-image-classification", model=str(folder), device="cpu")


def image_files(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("kind", FAMILIES)
def test_per_image_predictions_equal_the_pipeline(kind, tiny_models, tiny_folder, tmp_path):
    from bench.engine.records import load_predictions
    from bench.engine.runner import RunConfig, run

    (rec,) = run(RunConfig(models=[(f"transformers:{tiny_models[kind]}", None)], tasks=[str(tiny_folder)],
                           templates=[TEMPLATE], out_dir=tmp_path / "r", cache_dir=tmp_path / "c", num_workers=0,
                           progress=False))
    assert rec.model_info["backend"] == "transformers" and rec.model_info["model_type"] == kind
    expected_padding = "max_length" if kind == "siglip" else True
    assert rec.model_info["tokenizer_kwargs"]["padding"] == expected_padding
    preds = load_predictions(next((tmp_path / "r" / "runs").glob("*.json")))
    classnames = rec.task_info["classnames"]
    pipe = pipeline_for(tiny_models[kind])
    from tasks.registry import get_task
    from tasks.sources import DataContext, open_source

    source = open_source(get_task(str(tiny_folder)), rec.split, DataContext(tmp_path / "d", None))
    # the whole ranking of the 4 classes per image (top-1 first): random models often give every
    # image the same top-1, so the order of the rest is what tells the two apart
    ours = {int(i): tuple(classnames[int(c)] for c in row) for i, row in zip(preds["indices"], preds["top5"])}
    theirs = {}
    for i in ours:
        out = pipe(str(source.describe(i)), candidate_labels=classnames, hypothesis_template=TEMPLATE)
        theirs[i] = tuple(d["label"] for d in out)
    assert {i: r[0] for i, r in ours.items()} == {i: r[0] for i, r in theirs.items()}  # per-image top-1
    assert ours == theirs
    assert len(set(theirs.values())) > 1, "a degenerate model: every image ranked the same"


@pytest.mark.parametrize("kind", FAMILIES)
def test_predict_json_probabilities_equal_the_pipeline_scores(kind, tiny_models, tiny_folder, tmp_path):
    images = image_files(tiny_folder)[:4]
    labels = ["red square", "blue circle", "green square", "café circle"]
    out = zsbench("predict", *map(str, images), "--model", f"transformers:{tiny_models[kind]}", "--classes",
                  ",".join(labels), "--templates", TEMPLATE, "--top", "4", "--json", cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    ours = json.loads(out.stdout)
    pipe = pipeline_for(tiny_models[kind])
    for item, image in zip(ours, images):
        assert item["image"] == str(image)
        theirs = {d["label"]: d["score"] for d in pipe(str(image), candidate_labels=labels, hypothesis_template=TEMPLATE)}
        got = {d["label"]: d["prob"] for d in item["top"]}
        assert got.keys() == theirs.keys()
        assert all(abs(got[k] - theirs[k]) < 1e-3 for k in got), (got, theirs)
    if kind == "siglip":  # independent sigmoids: they need not sum to 1
        assert abs(sum(d["prob"] for d in ours[0]["top"]) - 1) > 1e-3


@pytest.mark.parametrize("kind", FAMILIES)
def test_ensemble_classifier_is_the_mean_of_normalised_text_features(kind, tiny_models):
    from bench.engine.classifiers import cached_classifier
    from bench.models import load_model
    from bench.models.hf_transformers import FAMILIES as SETTINGS

    backend = load_model(f"transformers:{tiny_models[kind]}")
    names = ["red square", "blue circle", ["green disc", "green circle"]]
    templates = ["a photo of a {}.", "a small {}.", "this is the {}."]
    ours, _ = cached_classifier(backend, names, templates, store=None)
    import transformers

    model = transformers.AutoModel.from_pretrained(str(tiny_models[kind])).eval()
    tok = transformers.AutoProcessor.from_pretrained(str(tiny_models[kind])).tokenizer
    kwargs = {"padding": SETTINGS[kind]["padding"]}
    if kind == "siglip":
        kwargs.update(max_length=64, truncation=True)
    columns = []
    with torch.no_grad():
        for name in names:
            texts = [t.format(s) for s in ([name] if isinstance(name, str) else name) for t in templates]
            out = model.get_text_features(**tok(texts, return_tensors="pt", **kwargs))
            emb = F.normalize(out if isinstance(out, torch.Tensor) else out.pooler_output, dim=-1)
            columns.append(F.normalize(emb.mean(dim=0), dim=-1))
    assert np.allclose(ours, torch.stack(columns, dim=1).numpy(), atol=1e-5)


def test_chinese_prompts_reach_the_chinese_tokenizer(tiny_models, tmp_path):
    from bench.models import load_model

    backend = load_model(f"transformers:{tiny_models['chinese_clip']}")
    ids = backend.tokenizer(["一张红色方块的照片。"])["input_ids"][0]
    assert backend.tokenizer.unk_token_id not in ids  # every character is in the hand-written vocabulary
    emb = backend.encode_texts(["一张红色方块的照片。", "一张蓝色圆形的照片。"])
    assert emb.shape == (2, backend.embed_dim) and not torch.allclose(emb[0], emb[1])


def test_a_cached_run_does_not_load_the_weights(tiny_models, tiny_folder, tmp_path, monkeypatch):
    from bench.models.hf_transformers import TransformersBackend
    from bench.engine.runner import RunConfig, run

    config = RunConfig(models=[(f"transformers:{tiny_models['clip']}", None)], tasks=[str(tiny_folder)],
                       templates=["single"], no_save=True, cache_dir=tmp_path / "c", num_workers=0, progress=False)
    first = run(config)[0]
    monkeypatch.setattr(TransformersBackend, "model", property(lambda self: pytest.fail("weights loaded")))
    again = run(config)[0]
    assert again.metrics == first.metrics and again.task_info["feature_cache"] == "hit"


@pytest.mark.parametrize("make, needle", [
    (lambda d: d.mkdir(), "has no config.json"),
    (lambda d: (d.mkdir(), (d / "config.json").write_text('{"model_type": "bert"}')),
     "model_type 'bert'"),
])
def test_bad_folders_are_one_line_errors(make, needle, tmp_path):
    folder = tmp_path / "m"
    make(folder)
    out = zsbench("run", "--model", f"transformers:{folder}", "--task", "cifar10", cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 2 and needle in out.stderr and out.stderr.count("\n") == 1
    if "bert" in needle:
        assert "chinese_clip, clip, siglip" in out.stderr.replace("altclip, ", "")  # the supported types


def test_hub_id_not_cached_offline_says_what_to_do(tmp_path, monkeypatch):
    (tmp_path / "x.png").write_bytes(b"")
    out = zsbench("predict", str(tmp_path / "x.png"), "--model", "transformers:someone/not-a-cached-model",
                  "--classes", "a,b", cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "someone/not-a-cached-model" in out.stderr and "download it once" in out.stderr


def test_predict_undecodable_image_names_it(tiny_models, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    out = zsbench("predict", str(bad), "--model", f"transformers:{tiny_models['clip']}", "--classes", "a,b",
                  cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 2 and f"cannot decode image {bad}" in out.stderr and out.stderr.count("\n") == 1


def test_a_cached_run_imports_neither_torch_nor_transformers(tiny_models, tiny_folder, tmp_path):
    """A transformers model served from the cache: its identity comes from the folder's files (the tokenizer's
    length limit from tokenizer_config.json), so neither torch nor transformers is imported."""
    import json

    from bench.engine.runner import RunConfig, run
    from bench.models.hf_transformers import tokenizer_max_length
    from helpers.startup import run_without_torch
    import transformers

    for folder in tiny_models.values():  # the limit read from the file is the one the loaded tokenizer has
        limit = transformers.AutoProcessor.from_pretrained(str(folder)).tokenizer.model_max_length
        assert tokenizer_max_length(folder) == (limit if limit < 1e12 else None)
    model = f"transformers:{tiny_models['clip']}"
    (first,) = run(RunConfig(models=[(model, None)], tasks=[str(tiny_folder)], templates=["single"], num_workers=0,
                             cache_dir=tmp_path / "cache", out_dir=tmp_path / "first", progress=False))
    done = run_without_torch("run", "--model", model, "--task", tiny_folder, "--templates", "single", "--out",
                             tmp_path / "cached", "--quiet", "--json", cache=tmp_path / "cache")
    assert done.returncode == 0, done.stderr[-2000:]
    (cached,) = json.loads(done.stdout)
    assert cached["task_info"]["feature_cache"] == "hit" and cached["metrics"] == first.metrics.to_dict()
