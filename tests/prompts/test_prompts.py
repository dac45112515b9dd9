"""Template and class-name sets, and the prompt ensemble against open_clip's own builder."""
from __future__ import annotations

import json

import open_clip
import pytest
import torch

from bench.core.errors import UserError
from prompts import build_classifier, get_classnames, get_templates
from prompts.templates import template_set_names


def test_imagenet_sets_match_open_clip():
    from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES, OPENAI_IMAGENET_TEMPLATES, SIMPLE_IMAGENET_TEMPLATES

    assert get_classnames("imagenet") == list(IMAGENET_CLASSNAMES)
    ours = get_templates("openai_imagenet")
    assert len(ours) == 80
    assert [t.replace("{}", "X") for t in ours] == [t("X") for t in OPENAI_IMAGENET_TEMPLATES]
    assert [t.replace("{}", "X") for t in get_templates("simple_imagenet")] == [t("X") for t in SIMPLE_IMAGENET_TEMPLATES]
    assert get_templates("single") == ["a photo of a {}."]


def test_per_dataset_sets_match_clip_benchmark():
    """CLIP_benchmark transcribed the same prompts file independently."""
    import clip_benchmark.datasets as cbd
    from importlib import resources

    base = resources.files(cbd)
    cb_templates = json.loads(base.joinpath("en_zeroshot_classification_templates.json").read_text())
    cb_classes = json.loads(base.joinpath("en_classnames.json").read_text())
    for ours, theirs in [("cifar10", "cifar10"), ("cifar100", "cifar100"), ("mnist", "mnist"), ("eurosat", "eurosat")]:
        assert get_templates(ours) == [t.replace("{c}", "{}") for t in cb_templates[theirs]], ours
    assert get_classnames("mnist") == cb_classes["mnist"]
    assert len(get_classnames("cifar100")) == 100
    for name in template_set_names():
        assert get_templates(name)


def test_template_files(tmp_path):
    txt = tmp_path / "t.txt"
    txt.write_text("a photo of a {}.\n\n# comment\nart of the {}.\n", encoding="utf-8")
    assert get_templates(str(txt)) == ["a photo of a {}.", "art of the {}."]
    js = tmp_path / "cb.json"
    js.write_text(json.dumps({"cifar10": ["a photo of a {c}."], "mnist": ["a photo of the number: \"{c}\"."]}))
    assert get_templates(str(js), dataset_key="cifar10") == ["a photo of a {}."]
    with pytest.raises(UserError, match="several datasets"):
        get_templates(str(js))


@pytest.mark.parametrize("bad, match", [
    (["a photo of a dog."], "no {} slot"),
    ([], "empty"),
    (["a {}.", "a {}."], "appears twice"),
])
def test_bad_templates(bad, match):
    with pytest.raises(UserError, match=match):
        get_templates(bad)


def test_bad_template_file_names_the_template(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("a photo of a {}.\nno slot here\n")
    with pytest.raises(UserError, match="'no slot here'.*t.txt"):
        get_templates(str(f))


@pytest.mark.parametrize("bad, match", [([], "no class names"), (["cat", "dog", "Cat"], "appears twice")])
def test_bad_classnames(bad, match):
    with pytest.raises(UserError, match=match):
        get_classnames(bad)


@pytest.mark.parametrize("arch", ["ViT-S-32", pytest.param("RN50", marks=pytest.mark.slow)])
def test_build_classifier_equals_open_clip(arch):
    torch.manual_seed(0)
    model = open_clip.create_model(arch, pretrained=None).eval()
    tokenizer = open_clip.get_tokenizer(arch)
    classnames = ["tench", "goldfish", "great white shark", "a very long class name " * 3, "crane", "iPod"]
    templates = get_templates("simple_imagenet")
    ours = build_classifier(model, tokenizer, classnames, templates, batch_size=16)
    ref = open_clip.build_zero_shot_classifier(model, tokenizer, classnames, templates, num_classes_per_batch=4)
    assert ours.shape == ref.shape == (model.text_projection.shape[1], len(classnames))
    assert (ours - ref).abs().max().item() < 1e-5
    assert torch.allclose(ours.norm(dim=0), torch.ones(len(classnames)), atol=1e-5)


def test_synonyms_average_all_their_prompts():
    """A class given as synonyms (CLIP's FER2013 names) averages every synonym x template prompt."""
    vocab = {"a x.": [1.0, 0.0], "a y.": [0.0, 2.0], "a z.": [3.0, 4.0]}

    class Fake:
        def encode_texts(self, texts):
            return torch.tensor([vocab[t] for t in texts])

    w = build_classifier(Fake(), None, [["x", "y"], "z"], ["a {}."])
    expected0 = torch.tensor([0.5, 0.5]) / torch.tensor([0.5, 0.5]).norm()
    assert torch.allclose(w[:, 0], expected0)
    assert torch.allclose(w[:, 1], torch.tensor([0.6, 0.8]))
