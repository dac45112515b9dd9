"""Multilingual evaluation against CLIP_benchmark 1.6.2 itself, with a random-init checkpoint: Babel-ImageNet in
two languages of one run (each equal to ``clip_benchmark eval --dataset babel_imagenet --language xx`` per metric,
the shared images forwarded once), a multilingual retrieval set in two languages (equal to its zeroshot_retrieval),
CuPL's class-specific prompts (its classifier within 1e-6), NLLB-CLIP's tokenizer language, and the refusals."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import TINY
from helpers.cli import run_cli

LANGUAGES = ["om", "xh"]  # Babel's two smallest: 18 and 35 classes, 6 of them shared


@pytest.fixture
def cb_on_cpu(monkeypatch):
    """CLIP_benchmark's zero-shot evaluate on the CPU; its accuracy() float()s a 1-element array, which numpy >= 2.3
    refuses (patched to .item(), its formula unchanged)."""
    from clip_benchmark.metrics import zeroshot_classification as zsc

    def accuracy(output, target, topk=(1,)):
        pred = output.topk(max(topk), 1, True, True)[1].t()
        correct = pred.eq(target.view(1, -1).expand_as(pred))
        return [correct[:k].reshape(-1).float().sum(0, keepdim=True).item() / len(target) for k in topk]

    monkeypatch.setattr(zsc, "accuracy", accuracy)
    return zsc


def _model(checkpoint, name="ViT-S-32"):
    import open_clip

    model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=str(checkpoint))
    return model.eval(), preprocess, open_clip.get_tokenizer(name)


@pytest.mark.slow
def test_babel_imagenet_in_two_languages_equals_clip_benchmark(imagenet_val, tiny, tmp_path, cb_on_cpu):
    from clip_benchmark.datasets.builder import build_dataset

    from bench.engine.runner import RunConfig, run

    records = run(RunConfig(models=[(TINY, str(tiny))], tasks=["babel_imagenet"],
                            languages=LANGUAGES, data_dir=imagenet_val, out_dir=tmp_path / "r", cache_dir=tmp_path / "c",
                            num_workers=0, progress=False, batch_size=16))
    assert [r.config["language"] for r in records] == LANGUAGES
    model, preprocess, tokenizer = _model(tiny, TINY)
    for record, language in zip(records, LANGUAGES):
        ds = build_dataset("babel_imagenet", root=str(imagenet_val / "imagenet"), transform=preprocess, split="test",
                           language=language, download=False)
        loader = torch.utils.data.DataLoader(ds, batch_size=16, num_workers=0)
        theirs = cb_on_cpu.evaluate(model, loader, tokenizer, ds.classes, ds.templates, "cpu", amp=False)
        assert record.n_samples == len(ds) == len(ds.classes) and record.task_info["classnames"] == ds.classes
        assert record.task_info["templates_used"] == [t.replace("{c}", "{}") for t in ds.templates]
        for ours, key in (("top1", "acc1"), ("top5", "acc5"), ("mean_per_class_recall", "mean_per_class_recall")):
            assert record.metrics[ours] == pytest.approx(theirs[key], abs=1e-9), (language, ours)
        assert record.task_info["classnames_origin"].startswith(f"babel_imagenet ({language.upper()})")
    # the image rows the two languages share were forwarded once: xh's extraction took om's 6 from the cache
    assert records[1].task_info["feature_rows_reused"] == 6
    assert records[0].task_info["feature_cache"] == "miss" and records[0].n_samples == 18


@pytest.mark.slow
def test_xtd10_in_two_languages_equals_clip_benchmarks_retrieval(vit_s32_checkpoint, tmp_path):
    from clip_benchmark.datasets import xtd10
    from clip_benchmark.metrics.zeroshot_retrieval import evaluate

    from bench.engine.runner import RunConfig, run
    from helpers.multilingual import write_annotations

    root = tmp_path / "data" / "xtd10"
    for language in ("de", "jp"):
        write_annotations(root, "xtd10", language, n=9)  # the same images, captions per language
    records = run(RunConfig(models=[("ViT-S-32", str(vit_s32_checkpoint))], tasks=["xtd10"], languages=["de", "jp"],
                            data_dir=tmp_path / "data", out_dir=tmp_path / "r", cache_dir=tmp_path / "c",
                            num_workers=0, progress=False, batch_size=4))
    model, preprocess, tokenizer = _model(vit_s32_checkpoint)
    for record, language in zip(records, ("de", "jp")):
        ds = xtd10.XTD10(root=str(root), ann_file=str(root / f"xtd10-{language}.json"), transform=preprocess)
        loader = torch.utils.data.DataLoader(ds, batch_size=4, collate_fn=lambda b: (
            torch.stack([x for x, _ in b]), [t for _, t in b]))
        theirs = evaluate(model, loader, tokenizer, "cpu", amp=False)
        assert record.config["language"] == language and record.n_samples == 9
        for key, value in theirs.items():
            assert record.metrics[key] == pytest.approx(value, abs=1e-9), (language, key)
    entries = [p for p in (tmp_path / "c" / "features").iterdir() if p.is_dir()]
    assert len(entries) == 1  # one extraction of the nine images for both languages


@pytest.mark.slow
def test_cupl_prompts_give_clip_benchmarks_classifier(tiny, tmp_path):
    """``--templates cupl`` on Imagenette's 10 ImageNet classes: CLIP_benchmark's zero_shot_classifier with its
    cupl_prompts.json (class-specific prompts looked up by its English names, 150 per class) within 1e-6."""
    from clip_benchmark.metrics.zeroshot_classification import zero_shot_classifier

    from bench.engine.classifiers import cached_classifier
    from bench.models import load_model
    from prompts.languages import cupl_table
    from prompts.references import cb_file
    from prompts.templates import ClassPrompts
    from tasks.classes import resolve_classnames, resolve_templates
    from tasks.registry import get_task
    from tasks.subsets import class_subset

    spec = get_task("imagenette")
    prompts, name = resolve_templates(spec, "cupl")
    assert isinstance(prompts, ClassPrompts) and name == "cupl" and [len(p) for p in prompts] == [150] * 10
    english = cb_file("classnames", "en")["imagenet1k"]
    names = [english[ids[0]] for ids in class_subset("imagenette")]
    backend = load_model(TINY, str(tiny))
    ours, _ = cached_classifier(backend, resolve_classnames(spec, None), prompts, None)
    model, _, tokenizer = _model(tiny, TINY)
    theirs = zero_shot_classifier(model, tokenizer, names, cupl_table()["imagenet1k"], "cpu", amp=False)
    assert ours.shape == tuple(theirs.shape) and np.abs(ours - theirs.numpy()).max() < 1e-6


def test_class_prompt_tables_are_matched_by_name(tmp_path):
    """A task file's class -> prompts table (any task), different counts per class; a table that leaves a class
    out, or names one the task lacks, is refused in one line."""
    from bench.core.errors import UserError
    from prompts.ensemble import class_prompts
    from prompts.templates import ClassPrompts, class_prompts_by_name

    table = class_prompts_by_name({"cat": ["a small cat", "a cat asleep"], "dog": "a big dog"}, ["cat", "dog"], "t")
    assert isinstance(table, ClassPrompts) and [len(p) for p in table] == [2, 1]
    assert class_prompts(["cat", "dog"], table) == (["a small cat", "a cat asleep", "a big dog"], [0, 0, 1])
    with pytest.raises(UserError, match="class 'dog' has no prompts"):
        class_prompts_by_name({"cat": ["x"]}, ["cat", "dog"], "t")
    with pytest.raises(UserError, match="class 'bird' is not a class of the task"):
        class_prompts_by_name({"cat": ["x"], "dog": ["y"], "bird": ["z"]}, ["cat", "dog"], "t")


def test_nllb_clip_tokenizer_language_is_set_and_recorded():
    """NLLB-CLIP's tokenizer is told the language through CLIP_benchmark's table (its weights and tokenizer are not
    to be had offline: the tokenizer is a stand-in that records the call); the code is in the text fingerprint."""
    from bench.core.errors import UserError
    from bench.models.base import check_language, prepare_language
    from bench.models.openclip import OpenCLIPBackend

    class Tokenizer:
        code = None

        def set_src_lang_special_tokens(self, code):
            self.code = code

    backend = OpenCLIPBackend.__new__(OpenCLIPBackend)
    backend.name, backend._model = "nllb-clip-base", object()
    backend._tokenizer = type("HF", (), {"tokenizer": Tokenizer()})()
    backend._card = {"fingerprint": "f", "info": {}}
    backend.precision, backend.channels_last = "fp32", False
    before = backend.text_fingerprint
    prepare_language(backend, "jp", "nllb-clip-base")
    assert backend._tokenizer.tokenizer.code == "jpn_Jpan" and backend.info()["tokenizer_language"] == "jpn_Jpan"
    assert backend.text_fingerprint != before
    prepare_language(backend, "deu_Latn", "nllb-clip-base")  # FLORES-200 codes map to themselves
    assert backend._tokenizer.tokenizer.code == "deu_Latn"
    with pytest.raises(UserError, match="--language xx: NLLB-CLIP"):
        check_language("nllb-clip-base", "xx")
    check_language("ViT-B-32", "xx")  # other tokenizers are not told


@pytest.mark.parametrize("args, message", [
    (["--task", "imagenet", "--language", "de"], "task imagenet has no such language; it takes en, cn, it, jp, ar"),
    (["--task", "babel_imagenet", "--language", "la"], "has la class names but no la templates"),
    (["--task", "babel_imagenet", "--language", "klingon"], "Babel-ImageNet has no language 'klingon': use one of af"),
    (["--task", "cifar10", "--templates", "cupl"], "task cifar10 is not an ImageNet-class task"),
    (["--task", "babel_imagenet", "--language", "@nope"], "--language @nope: no such language set"),
    (["--task", "babel_imagenet", "--model", "nllb-clip-base", "--pretrained", "none", "--language", "de",
      "--language", "af"], "--language af: NLLB-CLIP (nllb-clip-base) has no tokenizer code"),  # before any load
])
def test_bad_languages_and_prompt_tables_are_one_line_exit_2(tmp_path, args, message):
    if "--model" not in args:
        args = [*args, "--model", "ViT-S-32", "--pretrained", "none"]
    result = run_cli("run", *args, "--data-dir", str(tmp_path), "--out", str(tmp_path / "r"), "--quiet",
                     cache=tmp_path / "c")
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line]
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_a_task_files_class_prompt_table(tmp_path):
    """A task file's ``templates`` may be a class -> prompts table; a class it leaves out stops the run."""
    from helpers.wds import noise_png

    folder = tmp_path / "imgs"
    for c in ("cat", "dog"):
        (folder / c).mkdir(parents=True)
        (folder / c / "1.png").write_bytes(noise_png(np.random.default_rng(len(c))))
    task = tmp_path / "pets.toml"
    task.write_text(f'name = "pets2"\n[source]\ntype = "imagefolder"\npath = "{folder}"\n'
                    '[prompts.templates]\ncat = ["a photo of a cat", "a cat"]\n')
    result = run_cli("run", "--task", str(task), "--model", "ViT-S-32", "--pretrained", "none", "--out",
                     str(tmp_path / "r"), "--quiet", cache=tmp_path / "c")
    assert result.returncode == 2 and "class 'dog' has no prompts" in result.stderr, result.stderr
    task.write_text(task.read_text() + 'dog = ["a photo of a dog"]\n')
    result = run_cli("run", "--task", str(task), "--model", "ViT-S-32", "--pretrained", "none", "--out",
                     str(tmp_path / "r"), "--quiet", "--json", cache=tmp_path / "c")
    assert result.returncode == 0, result.stderr
    (record,) = json.loads(result.stdout)
    assert record["task_info"]["templates_used"] == [["a photo of a cat", "a cat"], ["a photo of a dog"]]


def _language_records(out):
    """Two models on Babel-ImageNet in three languages (model B lacks one), and an English-only task."""
    from helpers.records import add

    for model, figures in (("A", {"en": 0.70, "de": 0.60, "om": 0.20}), ("B", {"en": 0.50, "de": 0.45})):
        for i, (language, acc) in enumerate(figures.items()):
            add(out, model, "x", "babel_imagenet", acc, extra={"language": language}, created=f"2026010{i + 1}T000000")
        add(out, model, "x", "cifar10", 0.8)


def test_language_view_has_models_as_rows_and_languages_as_columns(tmp_path):
    from bench.protocols.zeroshot import language_table
    from bench.report.collect import load_runs

    _language_records(tmp_path)
    table = language_table(load_runs(tmp_path))
    assert list(table.columns) == ["en", "de", "om", "mean", "languages"]  # English first
    a, b = table.loc[("A / x", "babel_imagenet")], table.loc[("B / x", "babel_imagenet")]
    assert a["languages"] == 3 and b["languages"] == 2 and np.isnan(b["om"])
    assert a["mean"] == pytest.approx((a["en"] + a["de"] + a["om"]) / 3) and b["mean"] == pytest.approx((b["en"] + b["de"]) / 2)
    assert "cifar10" not in table.index.get_level_values("task")  # one language only
    result = run_cli("leaderboard", "languages", "--results", str(tmp_path))
    assert result.returncode == 0 and "babel_imagenet" in result.stdout and "om" in result.stdout, result.stderr
    # the main board keeps one column per language (never one language silently standing for the others)
    board = run_cli("leaderboard", "--results", str(tmp_path))
    assert "babel_imagenet (de)" in board.stdout and "babel_imagenet (om)" in board.stdout, board.stdout


def test_language_heat_maps_sort_by_english_gap_and_by_resource(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bench.protocols import zeroshot
    from bench.report.collect import load_runs

    _language_records(tmp_path)
    runs = load_runs(tmp_path)
    task, grid = zeroshot._heat_task(runs)
    assert task == "babel_imagenet" and sorted(grid.index) == ["de", "en", "om"]
    assert zeroshot._english_gap_order(grid) == ["en", "de", "om"]
    assert zeroshot._resource_order(task, grid) == ["en", "de", "om"]  # 1000, then DE's and OM's 18 classes
    for kind in ("languages", "languages-by-resource"):
        result = run_cli("plot", kind, "--results", str(tmp_path), "--out", str(tmp_path / "plots"))
        assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "plots").glob("*.png"))) == 2
    plt.close("all")
    with pytest.raises(Exception, match="no task has zero-shot records in two languages"):
        zeroshot.language_table(runs[runs.task == "cifar10"])


def test_the_ensemble_averages_each_class_over_its_own_prompts():
    """Three classes with 3, 1 and 2 prompts: each column is the normalised mean of its own prompts' normalised
    embeddings (computed by hand), whatever batches the prompts were encoded in."""
    from prompts.ensemble import build_classifier
    from prompts.templates import ClassPrompts

    g = torch.Generator().manual_seed(3)
    table = {f"p{i}": torch.randn(8, generator=g) for i in range(6)}

    class Encoder:
        def encode_texts(self, texts):
            return torch.stack([table[t] for t in texts])

    prompts = ClassPrompts([["p0", "p1", "p2"], ["p3"], ["p4", "p5"]])
    for batch in (1, 2, 64):
        got = build_classifier(Encoder(), None, ["a", "b", "c"], prompts, batch_size=batch)
        for column, owned in enumerate(prompts):
            mean = torch.stack([torch.nn.functional.normalize(table[p], dim=0) for p in owned]).mean(dim=0)
            assert torch.allclose(got[:, column], mean / mean.norm(), atol=1e-6)


def test_compare_pairs_each_language_apart(tmp_path):
    """Two checkpoints on Babel-ImageNet in English and German: two comparisons, one per language (before, the newest
    record of either language silently stood for the task)."""
    from bench.report.collect import load_runs
    from bench.report.compare import compare

    from helpers.records import add

    for i, (language, a, b) in enumerate((("en", 0.70, 0.60), ("de", 0.50, 0.55))):
        add(tmp_path, "M", "a", "babel_imagenet", a, extra={"language": language}, created=f"2026010{i + 1}T000000")
        add(tmp_path, "M", "b", "babel_imagenet", b, extra={"language": language}, created=f"2026010{i + 1}T000000")
    out = compare(load_runs(tmp_path), "M:a", "M:b", n_resamples=200)
    assert [c.task for c in out] == ["babel_imagenet", "babel_imagenet (de)"]
    assert out[0].acc_a > out[0].acc_b and out[1].acc_a < out[1].acc_b


def test_samples_read_one_language(tmp_path):
    """ImageNet's English and Chinese records share images: `samples` reads English by default and lists the other
    as left out; --language cn reads the Chinese ones; an unrecorded language is one line."""
    from helpers.records import add

    for i, language in enumerate(("en", "cn")):
        for model, acc in (("A", 0.7), ("B", 0.5)):
            add(tmp_path, model, "x", "imagenet", acc - 0.1 * i, extra={"language": language},
                created=f"2026010{i + 1}T000000")
    english = run_cli("samples", str(tmp_path), "--task", "imagenet", "--hard", "--json")
    assert english.returncode == 0, english.stderr
    assert [m.split(" [")[0] for m in json.loads(english.stdout)["models"]] == ["A / x", "B / x"]
    assert "records in cn (another language" in english.stdout + english.stderr
    chinese = run_cli("samples", str(tmp_path), "--task", "imagenet", "--hard", "--language", "cn", "--json")
    assert chinese.returncode == 0 and len(json.loads(chinese.stdout)["models"]) == 2, chinese.stderr
    missing = run_cli("samples", str(tmp_path), "--task", "imagenet", "--hard", "--language", "de")
    assert missing.returncode == 2 and "languages recorded: cn, en" in missing.stderr


def test_clip_benchmarks_cupl_file_as_templates_is_cupl():
    """CLIP_benchmark's own `--custom_template_file cupl_prompts.json` (one key, imagenet1k, a class -> prompts table)
    given as --templates: the same prompts as --templates cupl for a task named with CLIP_benchmark's English names."""
    from prompts.languages import clip_benchmark_data
    from tasks.classes import PromptChoice, resolve_classnames, resolve_templates
    from tasks.registry import get_task

    spec, choice = get_task("imagenette"), PromptChoice("clip_benchmark", "en", "clip_benchmark")
    names = resolve_classnames(spec, None, choice)
    path = str(clip_benchmark_data("cupl_prompts.json"))
    from_file, label = resolve_templates(spec, path, None, choice, names)
    assert label == f"{path}#imagenet1k" and list(from_file) == list(resolve_templates(spec, "cupl")[0])
