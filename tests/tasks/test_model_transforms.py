"""ImageNet-W as CLIP_benchmark 1.6.2 builds it: the imagenet-w package's AddWatermark inserted into the model's own
transform before Normalize, at its CenterCrop size, so the model sees the same pixels; features and zero-shot
figures against CLIP_benchmark's builder and evaluate on a generated ImageNet layout."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import TINY


@pytest.mark.slow
def test_features_and_figures_equal_clip_benchmarks(imagenet_val, tiny, tmp_path, monkeypatch):
    import open_clip
    from clip_benchmark.datasets.builder import build_dataset
    from clip_benchmark.metrics import zeroshot_classification as zsc

    from bench.engine.features import extract_features
    from bench.engine.runner import RunConfig, run
    from bench.models import load_model
    from prompts.classnames import get_classnames
    from tasks.registry import get_task
    from tasks.sources import DataContext, open_source

    model, _, preprocess = open_clip.create_model_and_transforms(TINY, pretrained=str(tiny))
    model.eval()
    # CLIP_benchmark 1.6.2 reads imagenet-w's names from a custom file only, first its imagenet1k key, then its own
    clip_names = [str(n) for n in get_classnames("imagenet")]
    names = tmp_path / "names.json"
    names.write_text(json.dumps({"imagenet1k": clip_names, "imagenet-w": clip_names}))
    templates = tmp_path / "templates.json"
    templates.write_text(json.dumps({"imagenet1k": ["a photo of a {c}."]}))
    ds = build_dataset("imagenet-w", root=str(imagenet_val / "imagenet"), transform=preprocess, split="test",
                       custom_classname_file=str(names), custom_template_file=str(templates))
    backend = load_model(TINY, str(tiny))
    source = open_source(get_task("imagenet-w"), "val", DataContext(imagenet_val, None))
    rows = np.arange(0, 1000, 37)
    ours = extract_features(backend, source, "val", rows, progress=False, num_workers=0).features
    with torch.inference_mode():
        theirs = model.encode_image(torch.stack([ds[int(i)][0] for i in rows])).numpy()
    assert np.abs(ours - theirs).max() < 1e-4
    plain = open_source(get_task("imagenet"), "val", DataContext(imagenet_val, None))
    unmarked = extract_features(backend, plain, "val", rows, progress=False, num_workers=0).features
    assert np.abs(ours - unmarked).max() > 1e-2  # the watermark changes what the model sees

    def accuracy(output, target, topk=(1,)):  # its accuracy() float()s a 1-element array (numpy >= 2.3)
        pred = output.topk(max(topk), 1, True, True)[1].t()
        correct = pred.eq(target.view(1, -1).expand_as(pred))
        return [correct[:k].reshape(-1).float().sum(0, keepdim=True).item() / len(target) for k in topk]

    monkeypatch.setattr(zsc, "accuracy", accuracy)
    loader = torch.utils.data.DataLoader(ds, batch_size=64, num_workers=0)
    expected = zsc.evaluate(model, loader, open_clip.get_tokenizer(TINY), ds.classes, ds.templates, "cpu", amp=False)
    (record,) = run(RunConfig(models=[(TINY, str(tiny))], tasks=["imagenet-w"], templates=["single"],
                              classnames_file=names, data_dir=imagenet_val, out_dir=tmp_path / "r",
                              cache_dir=tmp_path / "c", num_workers=0, progress=False, pixel_cache="on"))
    for key, theirs_key in (("top1", "acc1"), ("top5", "acc5"), ("mean_per_class_recall", "mean_per_class_recall")):
        assert record.metrics[key] == pytest.approx(expected[theirs_key], abs=1e-9), key
    assert record.task_info["data_identity"].endswith("+model:imagenet_w")


def test_a_preprocessing_without_normalize_is_refused_in_one_line():
    from torchvision.transforms import CenterCrop, Compose, ToTensor

    from bench.core.errors import UserError
    from bench.models.model_transforms import with_model_transform

    with pytest.raises(UserError, match="needs a CenterCrop and a Normalize"):
        with_model_transform(Compose([CenterCrop(224), ToTensor()]), "imagenet_w")
    with pytest.raises(UserError, match="not one: use an open_clip model"):
        with_model_transform(lambda im: im, "imagenet_w")


@pytest.mark.parametrize("profile", ["clip", "clip_benchmark"])
def test_dummy_is_clip_benchmarks_smoke_test(tiny, tmp_path, profile):
    """One zero tensor for the model, label 0, 'blank image' vs 'noisy image': the same probabilities as
    CLIP_benchmark's Dummy through its zero-shot classifier (its one template for it)."""
    import open_clip
    from clip_benchmark.datasets.builder import build_dataset
    from clip_benchmark.metrics import zeroshot_classification as zsc

    from bench.engine.records import load_predictions
    from bench.engine.runner import RunConfig, run

    (record,) = run(RunConfig(models=[(TINY, str(tiny))], tasks=["dummy"], out_dir=tmp_path / "r", profile=profile,
                              cache_dir=tmp_path / "c", num_workers=0, progress=False, precision="fp32",
                              text_precision="fp32"))
    model, _, _ = open_clip.create_model_and_transforms(TINY, pretrained=str(tiny))
    model.eval()
    ds = build_dataset("dummy", root="unused", transform=None, split="test")
    assert record.task_info["classnames"] == ds.classes == ["blank image", "noisy image"]
    classifier = zsc.zero_shot_classifier(model, open_clip.get_tokenizer(TINY), ds.classes, ds.templates, "cpu",
                                          amp=False)
    with torch.inference_mode():
        image = torch.nn.functional.normalize(model.encode_image(ds[0][0][None]), dim=-1)
        probs = (model.logit_scale.exp() * image @ classifier).softmax(dim=-1)[0].numpy()
    preds = load_predictions(next((tmp_path / "r" / "runs").glob("*.json")))
    assert int(preds["top5"][0, 0]) == int(probs.argmax()) and record.n_samples == len(ds) == 1
    assert float(preds["true_prob"][0]) == pytest.approx(float(probs[0]), abs=1e-5)
    assert record.metrics["top1"] == float(probs.argmax() == 0)
