"""Evaluation profiles reproduce each reference to the letter: DataComp's CLEVR-distance quirk (its
clip-benchmark 1.4.0 drops the blank class name), CLIP_benchmark 1.6.2's autocast numbers on CPU, and
the switches in between (defaults per suite, ObjectNet's border, legacy work keys)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from bench.core.profiles import DIFFERENCES, PROFILES, default_profile
from bench.engine.config import RunConfig
from conftest import make_image
from helpers.wds import png, write_export

#: CLIP_benchmark's class names for VTAB's CLEVR closest-object distance, blank class included
CLEVR_DISTANCE = ["very nearby", "nearby", "near", "", "distant", "very distant"]
EXPORT = "djghosh__wds_vtab-clevr_closest_object_distance_test"


@pytest.fixture
def clevr_export(tmp_path):
    """DataComp's layout for clevr_distance, where a download lands under --data-dir: 18 images,
    3 per label 0..5, with CLIP_benchmark's six names (one blank) and two templates."""
    rng = np.random.default_rng(7)
    images = [png(make_image(rng, tuple(int(v) for v in rng.integers(0, 255, 3)), ("square", "circle")[n % 2]))
              for n in range(18)]
    root = write_export(tmp_path / "data" / "wds" / EXPORT, CLEVR_DISTANCE, images, [n % 6 for n in range(18)],
                        templates=["{c} shapes.", "a photo of {c} objects."])
    return root


def _names(profile: str, data_dir):
    from tasks.classes import resolve_classnames_with_origin, resolve_templates
    from tasks.registry import get_task
    from tasks.sources import DataContext, open_source

    spec = get_task("clevr_distance")
    config = RunConfig(tasks=["clevr_distance"], profile=profile)
    source = open_source(spec, "test", DataContext(data_dir, None, profile))
    names, origin = resolve_classnames_with_origin(spec, source, config.prompt_choice)
    return names, origin, resolve_templates(spec, None, source, config.prompt_choice)[0]


def test_clevr_distance_names_per_profile(clevr_export):
    """The issue's test: DataComp's 5 names under datacomp, the 6 verbatim names under clip_benchmark,
    each equal to what that reference's own reader gives."""
    from clip_benchmark.datasets.builder import build_dataset

    text = (clevr_export / "classnames.txt").read_text()
    datacomp_14 = [line.strip() for line in text.splitlines() if line.strip()]  # clip-benchmark 1.4.0, builder.py:630
    cb_162 = build_dataset("wds/vtab/clevr_closest_object_distance", root=str(clevr_export), split="test",
                           download=False).classes                              # CLIP_benchmark 1.6.2's own reader
    data_dir = clevr_export.parent.parent
    names, origin, templates = _names("datacomp", data_dir)
    assert names == datacomp_14 == ["very nearby", "nearby", "near", "distant", "very distant"]
    assert "1 blank line(s) dropped" in origin and templates == ["{} shapes.", "a photo of {} objects."]
    names, origin, _ = _names("clip_benchmark", data_dir)
    assert names == cb_162 == CLEVR_DISTANCE and len(names) == 6
    assert _names("clip", data_dir)[0] == CLEVR_DISTANCE  # the task's own rule: the export's names, blank kept


@pytest.mark.slow
def test_datacomp_profile_gives_datacomps_numbers(clevr_export, vit_s32_checkpoint, tmp_path):
    """End to end under --profile datacomp against DataComp's own computation (eval_utils/wds_eval.py:
    CLIP_benchmark's reader, zero_shot_classifier, run_classification with amp=False, argmax, top-1/top-5
    by zsc.accuracy since 5 >= 5 classes, scikit-learn's balanced accuracy), on the CPU where its
    torch.cuda.amp.autocast does nothing. Labels 3..5 point one class further, quirk included."""
    import open_clip
    from clip_benchmark.datasets.builder import build_dataset
    from clip_benchmark.metrics import zeroshot_classification as zsc
    from sklearn.metrics import balanced_accuracy_score

    from bench.engine.records import load_predictions
    from bench.engine.runner import run

    model, _, transform = open_clip.create_model_and_transforms("ViT-S-32", pretrained=str(vit_s32_checkpoint))
    model.eval()
    dataset = build_dataset("wds/vtab/clevr_closest_object_distance", root=str(clevr_export), transform=transform,
                            split="test", download=False)
    classnames = [c for c in dataset.classes if c]  # what 1.4.0's reader returns (builder.py:630)
    loader = torch.utils.data.DataLoader(dataset.batched(8), batch_size=None, shuffle=False, num_workers=0)
    classifier = zsc.zero_shot_classifier(model, open_clip.get_tokenizer("ViT-S-32"), classnames,
                                          dataset.templates, "cpu", amp=False)
    logits, target = zsc.run_classification(model, classifier, loader, "cpu", amp=False)
    pred = logits.argmax(axis=1)
    # zsc.accuracy's own lines (float() of a 1-element array fails under numpy 2, so .item() here)
    top = logits.topk(5, 1, True, True)[1].t()
    correct = top.eq(target.view(1, -1).expand_as(top))
    acc1, acc5 = (correct[:k].reshape(-1).float().sum().item() / len(target) for k in (1, 5))
    mpcr = balanced_accuracy_score(target, pred)

    out = tmp_path / "results"
    (record,) = run(RunConfig(models=[("ViT-S-32", str(vit_s32_checkpoint))], tasks=["clevr_distance"], profile="datacomp", data_dir=clevr_export.parent.parent,
                              out_dir=out, cache_dir=tmp_path / "cache", num_workers=0, progress=False))
    assert record.config["profile"] == "datacomp" and record.task_info["classnames"] == classnames
    assert "labels from 3 on point one class further" in record.task_info["source_note"]
    preds = load_predictions(next((out / "runs").glob("*.json")))
    assert np.array_equal(preds["labels"], target.numpy()) and np.array_equal(preds["top5"][:, 0], pred.numpy())
    m = record.metrics
    assert m["top1"] == pytest.approx(acc1, abs=1e-12) and m["top5"] == pytest.approx(acc5, abs=1e-12)
    assert m["mean_per_class_recall"] == pytest.approx(mpcr, abs=1e-12)
    assert acc5 < 1.0  # label 5 has no class: never right, even in the top 5 of 5


@pytest.mark.slow
def test_clip_benchmark_profile_keeps_the_blank_clevr_class_and_equals_its_logits(clevr_export, vit_s32_checkpoint,
                                                                                   tmp_path):
    """CLIP_benchmark 1.6.2 keeps CLEVR distance's blank class name (``[line.strip() for line in ...]``: six
    classes, one of them ""), prompts it like any other ("a photo of  objects.") and scores it; under
    ``--profile clip_benchmark`` zsbench does the same, logit for logit with its autocast (bf16 on the CPU)."""
    import open_clip
    from clip_benchmark.datasets.builder import build_dataset
    from clip_benchmark.metrics import zeroshot_classification as zsc

    from bench.core.store import Store
    from bench.engine.classifiers import cached_classifier
    from bench.engine.records import load_predictions
    from bench.engine.runner import run
    from bench.engine.zeroshot import zeroshot_logits
    from bench.models import load_model

    model, _, transform = open_clip.create_model_and_transforms("ViT-S-32", pretrained=str(vit_s32_checkpoint))
    model.eval()
    dataset = build_dataset("wds/vtab/clevr_closest_object_distance", root=str(clevr_export), transform=transform,
                            split="test", download=False)
    assert dataset.classes == CLEVR_DISTANCE
    loader = torch.utils.data.DataLoader(dataset.batched(8), batch_size=None, shuffle=False, num_workers=0)
    tokenizer = open_clip.get_tokenizer("ViT-S-32")
    classifier = zsc.zero_shot_classifier(model, tokenizer, dataset.classes, dataset.templates, "cpu", amp=True)
    logits, target = zsc.run_classification(model, classifier, loader, "cpu", amp=True)

    out, cache = tmp_path / "results", tmp_path / "cache"
    (record,) = run(RunConfig(models=[("ViT-S-32", str(vit_s32_checkpoint))], tasks=["clevr_distance"],
                              profile="clip_benchmark", data_dir=clevr_export.parent.parent, out_dir=out,
                              cache_dir=cache, num_workers=0, progress=False, batch_size=8))  # its batch above
    assert record.task_info["classnames"] == CLEVR_DISTANCE and record.task_info["n_classes"] == 6
    preds = load_predictions(next((out / "runs").glob("*.json")))
    assert np.array_equal(preds["labels"], target.numpy())
    assert np.array_equal(preds["top5"][:, 0], logits.argmax(axis=1).numpy())
    # the classifier (blank class included) and the logits, from the run's cache, bit for bit
    backend = load_model("ViT-S-32", str(vit_s32_checkpoint), store=Store(cache), precision="bf16")
    backend.text_precision = "bf16"
    weights, info = cached_classifier(backend, CLEVR_DISTANCE, [t.replace("{c}", "{}") for t in dataset.templates],
                                      Store(cache))
    assert info["cache"] == "hit" and np.array_equal(weights, classifier.float().numpy())
    feats = _cached_clevr_features(backend, clevr_export, cache)
    assert np.array_equal(zeroshot_logits(feats.features, weights, precision="bf16"), logits.float().numpy())
    assert record.metrics["top1"] == pytest.approx((logits.argmax(1) == target).float().mean().item())


def _cached_clevr_features(backend, clevr_export, cache):
    """The run's cached image features of the CLEVR export (a cache hit: nothing is computed again)."""
    from bench.core.store import Store
    from bench.engine.features import extract_features
    from tasks.registry import get_task
    from tasks.sources import DataContext, open_source

    source = open_source(get_task("clevr_distance"), "test", DataContext(clevr_export.parent.parent, None,
                                                                        "clip_benchmark"))
    feats = extract_features(backend, source, "test", store=Store(cache), num_workers=0, progress=False)
    assert feats.info["cache"] == "hit"
    return feats


@pytest.mark.slow
def test_clip_benchmark_profile_equals_clip_benchmark_with_its_autocast(tiny_folder, vit_s32_checkpoint, tmp_path):
    """``clip_benchmark eval``'s default (amp on: torch.autocast('cpu'), bf16) logit for logit: the
    classifier averaged in bf16 over the full-context text forward, the image tower and 100 * f @ W in
    bf16; and the folder's names verbatim (underscores kept)."""
    import open_clip
    from clip_benchmark.metrics import zeroshot_classification as zsc

    from bench.core.store import Store
    from bench.engine.classifiers import cached_classifier
    from bench.engine.features import extract_features
    from bench.engine.records import load_predictions
    from bench.engine.runner import run
    from bench.engine.zeroshot import zeroshot_logits
    from bench.models import load_model
    from tasks.sources import ImageFolderSource

    model, _, preprocess = open_clip.create_model_and_transforms("ViT-S-32", pretrained=str(vit_s32_checkpoint))
    model.eval()
    src = ImageFolderSource(tiny_folder)
    names = list(src.classes)  # 'red_square': CLIP_benchmark formats names as given
    templates = ["a photo of a {c}.", "itap of a {c}.", "a {c} in a video game."]

    class DS(torch.utils.data.Dataset):
        def __len__(self):
            return len(src)

        def __getitem__(self, i):
            return preprocess(Image.open(src.paths[i]).convert("RGB")), int(src.targets[i])

    clf = zsc.zero_shot_classifier(model, open_clip.get_tokenizer("ViT-S-32"), names, templates, "cpu", amp=True)
    cb_logits, cb_true = zsc.run_classification(model, clf, torch.utils.data.DataLoader(DS(), batch_size=7), "cpu",
                                                amp=True)
    tfile = tmp_path / "templates.txt"
    tfile.write_text("\n".join(t.replace("{c}", "{}") for t in templates))
    out, cache = tmp_path / "results", tmp_path / "cache"
    (record,) = run(RunConfig(models=[("ViT-S-32", str(vit_s32_checkpoint))], tasks=[str(tiny_folder)],
                              templates=[str(tfile)], profile="clip_benchmark", out_dir=out, cache_dir=cache,
                              num_workers=0, progress=False, batch_size=7))  # CLIP_benchmark's batch above:
    # bf16 image features depend on the batch they are computed in (CPUs with AMX); text is batched per
    # class as CLIP_benchmark does under any reduced precision
    assert record.config["precision"] == "bf16" and record.config["text_precision"] == "bf16"
    assert record.task_info["classnames"] == names
    preds = load_predictions(next((out / "runs").glob("*.json")))
    assert np.array_equal(preds["top5"][:, 0], cb_logits.argmax(1).numpy())
    backend = load_model("ViT-S-32", str(vit_s32_checkpoint), store=Store(cache), precision="bf16")
    backend.text_precision = "bf16"
    feats = extract_features(backend, src, "all", store=Store(cache), num_workers=0, progress=False)
    weights, info = cached_classifier(backend, names, [t.replace("{c}", "{}") for t in templates], Store(cache))
    assert feats.info["cache"] == "hit" and info["cache"] == "hit"
    assert np.array_equal(weights, clf.float().numpy())  # bit for bit
    assert np.array_equal(zeroshot_logits(feats.features, weights, precision="bf16"), cb_logits.float().numpy())
    assert record.metrics["top1"] == pytest.approx((cb_logits.argmax(1) == cb_true).float().mean().item())


def test_profile_defaults_and_what_they_decide():
    assert default_profile(["@datacomp"]) == "datacomp" and default_profile(["@clip"]) == "clip"
    assert default_profile(["@datacomp", "cifar10"]) == "clip" and default_profile([]) == "clip"
    dc = RunConfig(tasks=["@datacomp"])
    assert (dc.profile, dc.prompt_source, dc.precision, dc.text_precision) == ("datacomp", "clip_benchmark", "fp32",
                                                                                "fp32")
    assert RunConfig(tasks=["@datacomp"], device="cuda").text_precision == "fp16"  # torch.cuda.amp on GPU only
    cb = RunConfig(tasks=["cifar10"], profile="clip_benchmark")
    assert (cb.precision, cb.text_precision, cb.score_precision) == ("bf16", "bf16", "bf16")
    assert RunConfig(tasks=["cifar10"], profile="clip_benchmark", device="cuda:1").precision == "fp16"
    explicit = RunConfig(tasks=["@datacomp"], profile="clip", precision="bf16", prompt_source="clip_benchmark")
    assert (explicit.profile, explicit.prompt_source, explicit.precision) == ("clip", "clip_benchmark", "bf16")
    # the clip profile is what ran before profiles existed: its work keys are the old ones
    assert "profile" not in RunConfig(tasks=["cifar10"]).result_options()
    assert "text_precision" not in RunConfig(tasks=["cifar10"]).result_options()
    assert RunConfig(tasks=["cifar10"], profile="datacomp").result_options()["profile"] == "datacomp"


def test_every_difference_names_its_source_and_a_value_per_profile():
    fields = set(PROFILES["clip"].__dataclass_fields__)
    for d in DIFFERENCES:
        assert set(d.values) == set(PROFILES) and d.sources
        assert all(("@" in s or " v1." in s) and ":" in s.split(" — ")[0] for s in d.sources), d.what
        named = [f.strip().split(" ")[0] for f in d.field.split("/")]
        assert d.field.startswith("(") or all(f in fields for f in named), d.field


def test_objectnet_border_is_the_clip_profiles(tmp_path):
    """The 2-px crop is the testbed's (CLIP profile); CLIP_benchmark and DataComp feed the image as is."""
    from tasks.registry import get_task
    from tasks.sources import DataContext, open_source

    spec = get_task("objectnet")
    for folder in spec.sources[0].options["include"]:  # all 113 class folders, one image each
        image_dir = tmp_path / "objectnet-1.0" / "images" / folder
        image_dir.mkdir(parents=True)
        Image.new("RGB", (20, 16), (9, 9, 9)).save(image_dir / "a.png")
    for profile, size in (("clip", (16, 12)), ("clip_benchmark", (20, 16)), ("datacomp", (20, 16))):
        source = open_source(spec, "test", DataContext(tmp_path, None, profile))
        assert source.load(0).size == size, profile
