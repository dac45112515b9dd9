"""Model strings users bring: OpenAI's clip.load names, and the Imagenette task behind the demo."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from bench.models.openclip import OPENAI_CLIP_NAMES, resolve_openai_name

CLIP_BENCHMARK = Path(__import__("clip_benchmark").__file__).parent / "datasets"


def test_every_clip_load_name_maps_to_open_clips_quickgelu_openai_weights():
    import open_clip

    openai = {m for m, tag in open_clip.list_pretrained() if tag == "openai"}
    # clip.available_models() of the OpenAI repository
    assert set(OPENAI_CLIP_NAMES) == {"RN50", "RN101", "RN50x4", "RN50x16", "RN50x64", "ViT-B/32", "ViT-B/16",
                                      "ViT-L/14", "ViT-L/14@336px"}
    for name, target in OPENAI_CLIP_NAMES.items():
        model, tag = resolve_openai_name(name, None)
        assert (model, tag) == (target, "openai") and model in openai and model.endswith("-quickgelu")
    assert resolve_openai_name("RN50", "yfcc15m") == ("RN50", "yfcc15m")  # an open_clip request stays one


@pytest.mark.slow
def test_an_openai_name_with_a_local_checkpoint_records_what_it_resolved_to(tiny_folder, tmp_path):
    import open_clip

    from bench.engine.runner import RunConfig, run

    torch.manual_seed(0)
    ckpt = tmp_path / "clip_vit_b32.pt"
    torch.save(open_clip.create_model("ViT-B-32-quickgelu", pretrained=None).state_dict(), ckpt)
    (rec,) = run(RunConfig(models=[("ViT-B/32", str(ckpt))], tasks=[str(tiny_folder)], templates=["single"],
                           no_save=True, cache_dir=tmp_path / "c", num_workers=0, progress=False))
    assert rec.model == "ViT-B/32"
    assert rec.model_info["open_clip_model"] == "ViT-B-32-quickgelu" and rec.model_info["quick_gelu"] is True


def test_an_openai_name_offline_fails_in_one_line_naming_the_resolved_model(store):
    from bench.core.errors import UserError
    from bench.models import load_model

    with pytest.raises(UserError, match="ViT-B-16-quickgelu/openai"):
        load_model("ViT-B/16", store=store)


def test_imagenette_uses_clips_imagenet_names_for_its_ten_wnids():
    from tasks.registry import get_task

    from tasks.classes import resolve_classnames

    spec = get_task("imagenette")
    theirs = json.loads((CLIP_BENCHMARK / "en_classnames.json").read_text())["imagenet1k"]
    # Imagenette's classes are these ImageNet-1k indices (wnid order)
    assert resolve_classnames(spec, None) == [theirs[i] for i in (0, 217, 482, 491, 497, 566, 569, 571, 574, 701)]
    hf = [s for s in spec.sources if s.type == "hf"][0].options
    assert hf["repo"] == "frgfm/imagenette" and hf["config"] == "320px" and hf["splits"]["val"] == "validation"
