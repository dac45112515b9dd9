"""--prompt-source and --language against CLIP_benchmark's own files and code (the installed
clip-benchmark package is the independent copy), and webdataset exports that align the task's names
instead of replacing them."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.core.errors import UserError
from prompts.references import CB_KEYS, LANGUAGES
from prompts.templates import named_sets
from tasks.classes import PromptChoice, resolve_classnames, resolve_templates
from tasks.registry import get_task
from helpers.wds import png, write_export

CB_DIR = Path(__import__("clip_benchmark").__file__).parent / "datasets"
SHIPPED = Path(__file__).resolve().parents[2] / "prompts" / "data" / "clip_benchmark"
CB_EN, CN = PromptChoice("clip_benchmark", "en"), PromptChoice("clip_benchmark", "cn")


def cb(kind: str, language: str = "en") -> dict:
    return json.loads((CB_DIR / f"{language}_{kind}.json").read_text(encoding="utf-8"))


def test_shipped_files_are_clip_benchmarks_verbatim():
    for language in LANGUAGES:
        for kind in ("classnames", "zeroshot_classification_templates"):
            name = f"{language}_{kind}.json"
            assert (SHIPPED / name).read_bytes() == (CB_DIR / name).read_bytes(), name


def test_the_two_references_differ_where_the_audit_found():
    """Prompt texts differ for CLEVR counts (digits vs words), FER2013 (CLIP's synonyms) and Oxford
    Pets (CLIP_benchmark capitalises the breeds: only a case-keeping tokenizer sees it); EuroSAT,
    Oxford Pets, Caltech-101 and FER2013 list their classes in another order; templates differ for
    CLEVR, PCam and RESISC45; everything else CLIP_benchmark keys is the same."""
    names_differ, order_differs, templates_differ = set(), set(), set()
    for set_name in CB_KEYS:
        if set_name not in named_sets():  # openai_imagenet (a template set), voc2007 (DataComp's export)
            continue
        task = get_task(set_name)
        if task.templates == "source":  # voc2007: DataComp's export, names and templates from the data
            continue
        key = CB_KEYS[set_name]
        if key in cb("classnames"):
            clip = resolve_classnames(task, None)
            ours = resolve_classnames(task, None, CB_EN)
            if ours != clip:
                names_differ.add(set_name)
            words = [(n if isinstance(n, str) else n[0]).casefold() for n in clip]
            theirs = [n.casefold() for n in cb("classnames")[key]]
            if words != theirs and sorted(words) == sorted(theirs):
                order_differs.add(set_name)
        if resolve_templates(task, None)[0] != resolve_templates(task, None, None, CB_EN)[0]:
            templates_differ.add(set_name)
    assert names_differ == {"clevr_counts", "fer2013", "oxford_pets"}
    assert order_differs == {"eurosat", "oxford_pets", "caltech101", "fer2013"}
    assert templates_differ == {"clevr_counts", "pcam", "resisc45"}
    assert resolve_classnames(get_task("clevr_counts"), None, CB_EN)[0] == "ten"  # CLIP's order: '10' first
    assert resolve_templates(get_task("pcam"), None, None, CB_EN) == (
        ["a histopathology slide showing {}", "histopathology image of {}"], "clip_benchmark:en:pcam")


def test_chinese_imagenet_is_clip_benchmarks_verbatim():
    names = resolve_classnames(get_task("imagenet"), None, CN)
    assert names == cb("classnames", "cn")["imagenet1k"] and len(names) == 1000
    assert names.count("太阳镜") == 2  # kept, as published
    templates, label = resolve_templates(get_task("imagenet"), None, None, CN)
    raw = cb("zeroshot_classification_templates", "cn")["imagenet1k"]
    assert templates == [t.replace("{c}", "{}") for t in raw] and len(templates) == 80 and len(set(templates)) == 78
    assert label == "clip_benchmark:cn:openai_imagenet"


def test_imagenet_a_in_chinese_equals_clip_benchmarks_builder(tmp_path):
    """CLIP_benchmark's own build_dataset('imagenet-a', language='cn') on a 200-folder stand-in."""
    from clip_benchmark.datasets.builder import build_dataset

    from tasks.subsets import subset_wnids

    for wnid in subset_wnids("imagenet-a"):
        (tmp_path / "a" / wnid).mkdir(parents=True)
        Image.new("RGB", (4, 4)).save(tmp_path / "a" / wnid / "x.png")
    ds = build_dataset("imagenet-a", root=str(tmp_path / "a"), language="cn", download=False)
    assert resolve_classnames(get_task("imagenet-a"), None, CN) == ds.classes
    assert resolve_templates(get_task("imagenet-a"), None, None, CN)[0] == [t.replace("{c}", "{}") for t in ds.templates]


def test_other_languages_need_clip_benchmark_and_names_in_that_language():
    from bench.engine.config import RunConfig
    from prompts.references import check_choice

    with pytest.raises(UserError, match="only CLIP_benchmark ships names and templates in cn; drop --prompt-source"):
        check_choice("clip", "cn")
    # --language alone implies the one reference that has it, and that is what is recorded
    assert RunConfig(language="cn").prompt_source == "clip_benchmark" == RunConfig(language="cn").recorded()["prompt_source"]
    assert RunConfig().prompt_source == "clip" and RunConfig(prompt_source="clip_benchmark").prompt_source == "clip_benchmark"
    with pytest.raises(UserError, match="no cn names in CLIP_benchmark.*--classnames FILE"):
        resolve_classnames(get_task("cifar10"), None, CN)
    for language in ("it", "jp", "ar"):
        lang = PromptChoice("clip_benchmark", language)
        assert resolve_classnames(get_task("imagenet"), None, lang) == cb("classnames", language)["imagenet1k"]


@pytest.mark.slow
def test_a_repeated_template_weighs_twice_as_in_clip_benchmark():
    import open_clip
    import torch
    from clip_benchmark.metrics.zeroshot_classification import zero_shot_classifier

    from prompts.ensemble import build_classifier

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-S-32", pretrained=None).eval()
    tokenizer = open_clip.get_tokenizer("ViT-S-32")
    names = cb("classnames", "cn")["imagenet1k"][:4]
    raw = cb("zeroshot_classification_templates", "cn")["imagenet1k"]
    templates = [t.replace("{c}", "{}") for t in raw]
    ours = build_classifier(model, tokenizer, names, templates)
    theirs = zero_shot_classifier(model, tokenizer, names, raw, "cpu", amp=False)
    assert torch.allclose(ours, theirs.float(), atol=1e-5)
    once = build_classifier(model, tokenizer, names, list(dict.fromkeys(templates)))
    assert not torch.allclose(ours, once, atol=1e-6)  # the two repeats change the average


def _export(root: Path, classnames: list[str], labels: list[int]) -> None:
    write_export(root, classnames, [png(Image.new("RGB", (8, 8), (n * 20 % 255, 0, 0))) for n in range(len(labels))],
                 labels)


def test_a_webdataset_export_aligns_the_tasks_names_never_replaces_them(tmp_path, store):
    from tasks.sources import DataContext, open_source

    words = ["three", "four", "five", "six", "seven", "eight", "nine", "ten"]  # CLIP_benchmark's label order
    _export(tmp_path / "wds" / "clip-benchmark__wds_vtab-clevr_count_all", words, list(range(8)))
    ctx = DataContext(tmp_path, store)
    spec = get_task("clevr_counts")
    source = open_source(spec, "test", ctx, fetch=False)
    assert source is not None and source.classes == words
    assert resolve_classnames(spec, source) == ["3", "4", "5", "6", "7", "8", "9", "10"]  # CLIP's names, export order
    assert resolve_templates(spec, None, source)[0] == ["a photo of {} objects."]
    assert resolve_classnames(spec, source, CB_EN) == words
    assert resolve_templates(spec, None, source, CB_EN)[0] == ["a picture of {} objects"]

    fer = ["angry", "disgusted", "fearful", "happy", "neutral", "sad", "surprised"]  # alphabetical export
    _export(tmp_path / "wds" / "clip-benchmark__wds_fer2013", fer, list(range(7)))
    spec = get_task("fer2013")
    source = next(s for s in [open_source(spec, "test", ctx, fetch=False)] if s is not None)
    names = resolve_classnames(spec, source)
    assert names[4] == ["neutral", "bored"] and names[3] == ["happy", "smiling"]  # CLIP's synonyms kept

    _export(tmp_path / "wds" / "clip-benchmark__wds_vtab-kitti_closest_vehicle_distance",
            ["a photo i took of a car on my left or right side.", "car nearby", "x", "y"], [0, 1, 2, 3])
    spec = get_task("kitti_distance")
    with pytest.raises(UserError, match="'car nearby'.*matches no name.*--prompt-source clip_benchmark"):
        resolve_classnames(spec, open_source(spec, "test", ctx, fetch=False))


@pytest.fixture
def imagenette_folder(tmp_path):
    from tasks.subsets import IMAGENETTE_WNIDS

    rng = np.random.default_rng(0)
    for wnid in IMAGENETTE_WNIDS:
        (tmp_path / "data" / "imagenette2-320" / "val" / wnid).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(
            tmp_path / "data" / "imagenette2-320" / "val" / wnid / "a.png")
    return tmp_path / "data"


@pytest.mark.slow
def test_a_chinese_zero_shot_record_carries_clip_benchmarks_names_and_templates(imagenette_folder, vit_s32_checkpoint,
                                                                                 tmp_path):
    from helpers.cli import run_cli as zsbench

    out = zsbench("run", "--model", "ViT-S-32", "--pretrained", str(vit_s32_checkpoint), "--task", "imagenette",
                  "--data-dir", str(imagenette_folder), "--prompt-source", "clip_benchmark", "--language", "cn",
                  "--out", str(tmp_path / "r"), "--json", "--workers", "0", cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (rec,) = json.loads(out.stdout)
    cn_names = cb("classnames", "cn")["imagenet1k"]
    assert rec["task_info"]["prompt_classnames"] == [cn_names[i] for i in (0, 217, 482, 491, 497, 566, 569, 571, 574, 701)]
    assert rec["task_info"]["classnames_origin"] == "clip_benchmark (cn)"
    raw = cb("zeroshot_classification_templates", "cn")["imagenet1k"]
    assert rec["task_info"]["templates_used"] == [t.replace("{c}", "{}") for t in raw]
    assert rec["config"]["language"] == "cn" and rec["config"]["prompt_source"] == "clip_benchmark"
    assert rec["templates"] == "clip_benchmark:cn:openai_imagenet"

    alone = zsbench("run", "--model", "ViT-S-32", "--pretrained", str(vit_s32_checkpoint), "--task", "imagenette",
                    "--data-dir", str(imagenette_folder), "--language", "cn", "--no-save", "--json", "--workers", "0",
                    cache=tmp_path / "c", cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr
    (same,) = json.loads(alone.stdout)  # --language cn alone: CLIP_benchmark implied, recorded, the same numbers
    assert same["config"]["prompt_source"] == "clip_benchmark" and same["metrics"] == rec["metrics"]
    assert same["task_info"]["prompt_classnames"] == rec["task_info"]["prompt_classnames"]
    bad = zsbench("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", "imagenette", "--language", "cn",
                  "--prompt-source", "clip", "--data-dir", str(imagenette_folder), cache=tmp_path / "c", cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "drop --prompt-source" in bad.stderr


def test_with_published_says_when_the_prompt_sources_differ(tmp_path):
    from bench.report.collect import load_runs
    from bench.report.leaderboard import prompt_source_notes
    from tasks.classes import reference_differences
    from helpers.records import add

    assert reference_differences("clevr_counts") == ["class names", "templates"]
    assert reference_differences("pcam") == ["templates"] and reference_differences("cifar10") == []
    out = tmp_path / "results"
    m, p = "ViT-B-32", "laion2b_s34b_b79k"
    add(out, m, p, "clevr_counts", 0.2)                      # CLIP's prompts (the default)
    add(out, m, p, "cifar10", 0.9)                           # same prompts in both references
    add(out, m, p, "pcam", 0.5, extra={"prompt_source": "clip_benchmark", "profile": "datacomp"})  # as published
    add(out, m, p, "cifar100", 0.5, extra={"prompt_source": "clip_benchmark", "profile": "clip_benchmark"})
    add(out, m, p, "imagenet", 0.5, extra={"prompt_source": "clip_benchmark", "language": "cn"})
    notes = prompt_source_notes(load_runs(out))
    assert len(notes) == 3
    assert any(" on cifar100: made under --profile clip_benchmark" in n and "--profile datacomp" in n for n in notes)
    assert any(n.startswith(f"{m} / {p} on clevr_counts: class names and templates from clip (en)") for n in notes)
    assert any(" on imagenet: " in n and "(cn)" in n for n in notes)
