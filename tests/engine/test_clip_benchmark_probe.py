"""CLIP_benchmark's linear probe against its own ``linear_probe.evaluate``, run on the CPU (its code calls
``.cuda()``: those calls are made no-ops here, nothing else of it is touched) on the same cached features, seed and
generator state: the same weight decay and the same metrics."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.engine.clip_benchmark_probe import CBProbeSettings, evaluate


@pytest.fixture
def cpu_clip_benchmark(monkeypatch):
    """Its evaluate() on the CPU: .cuda() and .to('cuda') leave tensors and modules where they are; its accuracy()
    float()s a 1-element array, which numpy >= 2.3 refuses (patched to .item())."""
    from clip_benchmark.metrics import linear_probe, zeroshot_classification

    to = torch.Tensor.to
    monkeypatch.setattr(torch.Tensor, "cuda", lambda self, *a, **k: self)
    monkeypatch.setattr(torch.nn.Module, "cuda", lambda self, *a, **k: self)
    monkeypatch.setattr(torch.Tensor, "to", lambda self, *a, **k: self if a and a[0] == "cuda" else to(self, *a, **k))

    def accuracy(output, target, topk=(1,)):
        pred = output.topk(max(topk), 1, True, True)[1].t()
        correct = pred.eq(target.view(1, -1).expand_as(pred))
        return [correct[:k].reshape(-1).float().sum(0, keepdim=True).item() / len(target) for k in topk]

    monkeypatch.setattr(linear_probe, "accuracy", accuracy)
    monkeypatch.setattr(zeroshot_classification, "accuracy", accuracy)
    return linear_probe


def _features(seed=0, n=(120, 40, 60), dim=16, classes=6):
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(classes, dim))
    out = []
    for m in n:
        y = rng.integers(0, classes, size=m)
        out += [(means[y] + rng.normal(size=(m, dim)) * 1.5).astype(np.float32), y]
    return out


@pytest.mark.parametrize("fewshot_k, with_val", [(-1, True), (4, True), (-1, False)])
def test_equals_clip_benchmarks_linear_probe(cpu_clip_benchmark, tmp_path, fewshot_k, with_val):
    X_tr, y_tr, X_va, y_va, X_te, y_te = _features()
    folder = tmp_path / "features" / "m"
    folder.mkdir(parents=True)
    for split, X, y in (("train", X_tr, y_tr), ("val", X_va, y_va), ("test", X_te, y_te)):
        # what its Featurizer caches: the L2-normalised embeddings
        torch.save(torch.nn.functional.normalize(torch.as_tensor(X), dim=-1), folder / f"features_{split}.pt")
        torch.save(torch.as_tensor(y), folder / f"targets_{split}.pt")
    settings = CBProbeSettings(fewshot_k=fewshot_k, lr=0.1, epochs=3, batch_size=16, seed=1)
    torch.manual_seed(0)
    theirs = cpu_clip_benchmark.evaluate(None, None, None, fewshot_k, 16, 0, 0.1, 3, "m", 1,
                                         str(tmp_path / "features"), "cuda",
                                         val_dataloader=object() if with_val else None, normalize=True, amp=False)
    torch.manual_seed(0)
    ours = evaluate(X_tr, y_tr, X_te, y_te, *((X_va, y_va) if with_val else (None, None)), settings=settings)
    assert ours["weight_decay"] == theirs["weight_decay"]
    for key in ("lp_acc1", "lp_acc5", "lp_mean_per_class_recall"):
        assert ours[key] == pytest.approx(theirs[key], abs=1e-12), key


@pytest.mark.slow
def test_the_probe_method_runs_through_the_linear_probe_protocol(tiny_folder, tmp_path):
    """--probe-method clip_benchmark (implied by --profile clip_benchmark): its probe on the cached embeddings, from
    torch.manual_seed(--seed); the record says which method ran and is its own variant beside the paper's probe."""
    import shutil

    from bench.core.store import Store
    from bench.engine.features import extract_features
    from bench.engine.runner import RunConfig, run
    from bench.models import load_model
    from bench.protocols.probe import LinearProbeOptions, probe_variant
    from tasks.registry import register
    from tasks.sources import ImageFolderSource
    from tasks.spec import SourceSpec, TaskSpec

    for split in ("train", "test"):
        shutil.copytree(tiny_folder, tmp_path / "data" / "shapes" / split)
    register(TaskSpec(name="shapes-cb-probe", classnames="folder", templates="single", train_split="train",
                      sources=(SourceSpec("imagefolder", {"path": "{data_dir}/shapes/{split}"}),)))
    common = dict(models=[("ViT-S-32", "none")], tasks=["shapes-cb-probe"], protocols=["linear-probe"], seed=3,
                  out_dir=tmp_path / "r", cache_dir=tmp_path / "c", data_dir=tmp_path / "data", num_workers=0,
                  progress=False, batch_size=8)  # bf16 features depend on the batch (AMX): the same one below
    (cb,) = run(RunConfig(**common, protocol_options={"linear-probe": LinearProbeOptions(fewshot_epochs=4)},
                          profile="clip_benchmark"))
    (paper,) = run(RunConfig(**common))
    assert cb.config["probe_method"] == "clip_benchmark" and cb.config["probe_features"] == "embedding"
    assert "probe_method" not in paper.config and paper.config["probe_features"] == "pre-projection"
    assert probe_variant(cb.config) != probe_variant(paper.config)
    # the profile's image features: bf16 autocast, as its probe featurizes (amp on)
    backend = load_model("ViT-S-32", "none", store=Store(tmp_path / "c"), precision="bf16", seed=3)  # the run's init
    feats = {s: extract_features(backend, ImageFolderSource(tmp_path / "data" / "shapes" / s), s,
                                 store=None, batch_size=8, num_workers=0, progress=False) for s in ("train", "test")}
    torch.manual_seed(3)
    ours = evaluate(feats["train"].features, feats["train"].labels, feats["test"].features, feats["test"].labels,
                    settings=CBProbeSettings(epochs=4, seed=3))
    assert cb.metrics["top1"] == ours["lp_acc1"] and cb.config["weight_decay"] == 0.0  # no validation split


def test_a_test_class_the_probe_never_trained_on_is_never_predicted():
    """Its layer has a column per class up to the largest training label; a larger test label is padded with -inf
    (as the paper's probe pads), so per-sample results can index it."""
    from bench.engine.linear_probe import over_classes
    from bench.engine.sample_scores import sample_scores, softmax

    logits = over_classes(np.array([[1.0, 2.0], [3.0, 0.5]]), np.arange(2), np.array([0, 3]))
    assert logits.shape == (2, 4) and np.isneginf(logits[:, 2:]).all()
    scores = sample_scores(softmax(logits), np.array([0, 3]))
    assert scores["true_prob"][1] == 0.0
