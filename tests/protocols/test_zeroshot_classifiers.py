"""CLIP_benchmark's --save_clf and --load_clfs as zero-shot options: a saved classifier is its torch.save format
(what its --load_clfs reads), and loading several scores with their plain mean, as its evaluate() does."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.core.errors import UserError
from bench.engine.config import RunConfig
from bench.protocols.zeroshot import ZeroShotOptions


def _run(tiny_folder, checkpoint, tmp_path, templates, **options):
    from bench.engine.runner import run

    return run(RunConfig(models=[("ViT-S-32", str(checkpoint))], tasks=[str(tiny_folder)], templates=templates,
                         out_dir=tmp_path / "r", cache_dir=tmp_path / "c", num_workers=0, progress=False,
                         protocol_options={"zeroshot": ZeroShotOptions(**options)}))


@pytest.mark.slow
def test_saved_classifiers_are_clip_benchmarks_format_and_loaded_ones_are_averaged(tiny_folder, vit_s32_checkpoint,
                                                                                  tmp_path):
    from bench.core.store import Store
    from bench.engine.features import extract_features
    from bench.engine.zeroshot import zeroshot_logits
    from bench.models import load_model
    from tasks.sources import ImageFolderSource

    saved = _run(tiny_folder, vit_s32_checkpoint, tmp_path, ["single", "openai_imagenet"],
                 save_classifier=str(tmp_path / "clf" / "{dataset}-{templates}.pt"))
    paths = [tmp_path / "clf" / "shapes-single.pt", tmp_path / "clf" / "shapes-openai_imagenet.pt"]
    weights = [torch.load(p, weights_only=True) for p in paths]  # what CLIP_benchmark's --load_clfs reads
    assert all(w.dtype == torch.float32 and w.shape == (384, 4) for w in weights)
    # loading both: CLIP_benchmark's load_clfs mean (zeroshot_classification.py:196-201), one record
    (loaded,) = _run(tiny_folder, vit_s32_checkpoint, tmp_path, ["single", "openai_imagenet"],
                     load_classifiers=[str(p) for p in paths])
    theirs = weights[0] / 2 + weights[1] / 2
    backend = load_model("ViT-S-32", str(vit_s32_checkpoint), store=Store(tmp_path / "c"))
    feats = extract_features(backend, ImageFolderSource(tiny_folder), "all", store=Store(tmp_path / "c"),
                             num_workers=0, progress=False)
    top1 = float((zeroshot_logits(feats.features, theirs.numpy()).argmax(1) == feats.labels).mean())
    assert loaded.metrics["top1"] == pytest.approx(top1) and loaded.templates == "loaded(2)"
    assert [c["path"] for c in loaded.config["classifiers_loaded"]] == [str(p) for p in paths]
    assert {r.templates for r in saved} == {"single", "openai_imagenet"}
    # the saved classifier is the run's own
    single = next(r for r in saved if r.templates == "single")
    assert single.metrics["top1"] == pytest.approx(float((zeroshot_logits(feats.features, weights[0].numpy())
                                                          .argmax(1) == feats.labels).mean()))


def test_bad_classifier_files_are_one_line(tiny_folder, tmp_path):
    with pytest.raises(UserError, match="--load-classifiers .*nope.pt: file not found"):
        from bench.engine.protocol_registry import get_protocol

        get_protocol("zeroshot").check(RunConfig(protocol_options={
            "zeroshot": ZeroShotOptions(load_classifiers=[str(tmp_path / "nope.pt")])}))
    (tmp_path / "bad.pt").write_bytes(b"not a tensor")
    from bench.protocols.zeroshot import read_classifier

    with pytest.raises(UserError, match="bad.pt: not a saved tensor"):
        read_classifier(tmp_path / "bad.pt")
    np.save(tmp_path / "ok.npy", np.ones((3, 2), dtype=np.float32))
    assert read_classifier(tmp_path / "ok.npy").shape == (3, 2)
