"""`zsbench doctor`: the record re-scored exactly, variants equal to the same change made by hand,
ranking towards the expected figure, and one-line refusals."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from bench.apps.choices import DOCTOR_GROUPS as GROUPS


def test_preprocessing_variants_change_only_what_they_say():
    import open_clip
    import torch
    from torchvision import transforms as T

    from bench.apps.doctor import swap_interpolation, tensor_resize_without_antialias

    _, _, pre = open_clip.create_model_and_transforms("ViT-S-32", pretrained=None)
    bilinear = swap_interpolation(pre, "bilinear")
    resizes = [s for s in bilinear.transforms if isinstance(s, T.Resize)]
    assert resizes and all(r.interpolation == T.InterpolationMode.BILINEAR for r in resizes)
    assert swap_interpolation(pre, "bicubic") is None  # already bicubic: nothing to try
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8))  # shrunk: antialiasing matters
    a, b, c = pre(image), bilinear(image), tensor_resize_without_antialias(pre)(image)
    assert a.shape == b.shape == c.shape and not torch.allclose(a, b) and not torch.allclose(a, c, atol=1e-2)
    assert swap_interpolation(T.Compose([T.ToTensor()]), "bilinear") is None  # no resize: not applicable
    assert tensor_resize_without_antialias(T.Compose([T.ToTensor()])) is None


@pytest.mark.slow
def test_doctor_rescores_the_record_and_each_variant_equals_the_change_by_hand(tiny_folder, vit_s32_checkpoint,
                                                                              tmp_path):
    import open_clip
    import torch

    from bench.apps.doctor import Doctor, swap_interpolation
    from bench.engine.runner import RunConfig, run
    from prompts.ensemble import build_classifier

    cfg = dict(models=[("ViT-S-32", str(vit_s32_checkpoint))], tasks=[str(tiny_folder)], cache_dir=tmp_path / "c",
               num_workers=0, progress=False)
    (rec,) = run(RunConfig(out_dir=tmp_path / "r", **cfg))
    (single,) = run(RunConfig(out_dir=tmp_path / "r2", templates=["single"], **cfg))
    path = next((tmp_path / "r" / "runs").glob("*.json"))
    expected = single.metrics["top1"]
    groups = tuple(g for g in GROUPS if g != "profile")  # profiles: their own test below
    d = Doctor(path, progress=False, workers=0).run(expected, groups)
    assert d.rescored == d.recorded == rec.metrics["top1"] and d.n_samples == 20
    by_name = {f.variant: f for f in d.findings}
    assert by_name["templates: single (1)"].value == pytest.approx(single.metrics["top1"], abs=1e-12)
    assert d.ranked()[0].variant == "templates: single (1)"  # exactly closes the gap to the expected figure
    assert by_name["templates: single (1)"].closes(d.gap) in (None, pytest.approx(1.0))

    # bilinear resizing, by hand: open_clip's model and transform with the resize swapped
    model, _, pre = open_clip.create_model_and_transforms("ViT-S-32", pretrained=str(vit_s32_checkpoint))
    model.eval()
    bilinear = swap_interpolation(pre, "bilinear")
    from tasks.registry import get_task
    from tasks.sources import open_source
    from bench.engine.runner import data_context

    spec = get_task(str(tiny_folder))
    source = open_source(spec, spec.split, data_context(tmp_path / "c", None))
    with torch.no_grad():
        feats = model.encode_image(torch.stack([bilinear(source.load(i)) for i in range(len(source))]))
        weights = build_classifier(model, open_clip.get_tokenizer("ViT-S-32"), rec.task_info["prompt_classnames"],
                                   rec.task_info["templates_used"])
    top1 = float(((feats / feats.norm(dim=-1, keepdim=True)) @ weights).argmax(1).eq(
        torch.as_tensor(source.targets)).float().mean())
    found = by_name["resize interpolation bilinear"]
    assert found.value == pytest.approx(top1, abs=1e-9) and found.cost.startswith("image features (20 images)")
    again = Doctor(path, progress=False, workers=0).run(expected, groups)  # second time: all from the cache
    assert {f.variant: f.cost for f in again.findings}["resize interpolation bilinear"] == "cached"
    assert "image precision bf16" in by_name and by_name["image precision bf16"].group == "model"


def test_doctor_tries_each_difference_of_the_other_profiles(tiny_folder, vit_s32_checkpoint, tmp_path):
    """A clip-profile record: clip_benchmark's names (the folders' verbatim, underscores kept), its bf16
    text tower, its bf16 image tower and logits, each alone; the names variant equals a run made so."""
    from bench.apps.doctor import Doctor
    from bench.engine.runner import RunConfig, run

    cfg = dict(models=[("ViT-S-32", str(vit_s32_checkpoint))], tasks=[str(tiny_folder)], cache_dir=tmp_path / "c",
               num_workers=0, progress=False, templates=["single"])
    run(RunConfig(out_dir=tmp_path / "r", **cfg))
    (cb_names,) = run(RunConfig(out_dir=tmp_path / "r2", profile="clip_benchmark", precision="fp32",
                                text_precision="fp32", **cfg))
    assert "red_square" in cb_names.task_info["classnames"]
    d = Doctor(next((tmp_path / "r" / "runs").glob("*.json")), progress=False, workers=0).run(None, ("profile",))
    by_name = {f.variant: f for f in d.findings}
    assert {f.group for f in d.findings} == {"profile"}
    assert by_name["profile clip_benchmark: its class names and templates"].value == \
        pytest.approx(cb_names.metrics["top1"], abs=1e-12)
    assert by_name["profile clip_benchmark: text tower in bf16"].cost == "text embeddings"
    assert by_name["profile clip_benchmark: image tower in bf16, logits in bf16"].value is not None
    assert not any(v.startswith("profile datacomp: text tower") for v in by_name)  # fp32 on a CPU, as ours


@pytest.mark.slow
def test_doctor_cli_refuses_what_it_cannot_do(tiny_folder, tmp_path):
    from helpers.cli import run_cli as zsbench

    out = zsbench("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", str(tiny_folder), "--protocol",
                  "linear-probe", "--out", str(tmp_path / "r"), "--workers", "0", "--quiet", cache=tmp_path / "c",
                  cwd=tmp_path)
    assert out.returncode == 2 or out.returncode == 0  # tiny folders have no train split: refused or run
    fake = tmp_path / "probe.json"
    fake.write_text(json.dumps({"model": "m", "pretrained": "p", "task": "cifar10", "protocol": "linear-probe",
                                "metrics": {"primary": 0.5}, "n_samples": 1}))
    bad = zsbench("doctor", str(fake), cache=tmp_path / "c", cwd=tmp_path)
    assert bad.returncode == 2 and "re-scores zero-shot" in bad.stderr and "Traceback" not in bad.stderr
    fake.write_text(json.dumps({"model": "m", "pretrained": "p", "task": "cifar10", "protocol": "zeroshot",
                                "metrics": {"primary": 0.5}, "n_samples": 1}))
    bad = zsbench("doctor", str(fake), "--published", cache=tmp_path / "c", cwd=tmp_path)
    assert bad.returncode == 2 and "publishes no figure" in bad.stderr and "--expect" in bad.stderr
