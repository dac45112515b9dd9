"""Image-caption selection (SugarCrepe, Winoground) against CLIP_benchmark's ``image_caption_selection.evaluate``
on generated data in CLIP_benchmark's layouts, and its one-line refusals."""
from __future__ import annotations

import base64
import json

from pathlib import Path

import numpy as np
import pytest
import torch

from bench.protocols.caption_selection import select
from conftest import make_image
from helpers.browser import explorer_page, require_chromium
from helpers.cli import run_cli

COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 200, 30), "yellow": (200, 200, 40)}


@pytest.fixture
def sugar_crepe_root(tmp_path):
    """CLIP_benchmark's SugarCrepe layout: ``val2017/`` images and ``swap_att.json`` with non-contiguous keys."""
    root = tmp_path / "data"
    (root / "val2017").mkdir(parents=True)
    rng = np.random.default_rng(0)
    names, items = list(COLOURS), {}
    for k in range(14):
        colour, other, shape = names[k % 4], names[(k + 1) % 4], ("square", "circle")[k % 2]
        filename = f"{k:012d}.jpg"
        make_image(rng, COLOURS[colour], shape).save(root / "val2017" / filename)
        items[str(3 * k + (k % 3))] = {"filename": filename, "caption": f"a {colour} {shape} on a dark ground",
                                       "negative_caption": f"a {other} {shape} on a dark ground"}
    (root / "swap_att.json").write_text(json.dumps(items))
    return root


@pytest.fixture
def winoground_root(tmp_path):
    """A Winoground-shaped dataset saved with ``save_to_disk`` (a DatasetDict with its test split)."""
    import datasets

    rng = np.random.default_rng(1)
    rows = {"id": [], "image_0": [], "image_1": [], "caption_0": [], "caption_1": []}
    for k in range(10):
        a, b = list(COLOURS)[k % 4], list(COLOURS)[(k + 2) % 4]
        rows["id"].append(k)
        rows["image_0"].append(make_image(rng, COLOURS[a], "square"))
        rows["image_1"].append(make_image(rng, COLOURS[b], "circle"))
        rows["caption_0"].append(f"a {a} square next to a {b} circle")
        rows["caption_1"].append(f"a {b} square next to a {a} circle")
    features = datasets.Features({"id": datasets.Value("int32"), "image_0": datasets.Image(),
                                  "image_1": datasets.Image(), "caption_0": datasets.Value("string"),
                                  "caption_1": datasets.Value("string")})
    root = tmp_path / "data"
    datasets.DatasetDict({"test": datasets.Dataset.from_dict(rows, features=features)}).save_to_disk(
        str(root / "winoground"))
    return root


def ours(task, root, checkpoint, tmp_path, profile="clip"):
    from bench.engine.runner import RunConfig, run

    (record,) = run(RunConfig(models=[("ViT-S-32", str(checkpoint))], tasks=[task], data_dir=root,
                              out_dir=tmp_path / "r", cache_dir=tmp_path / "c", num_workers=0, progress=False,
                              profile=profile, batch_size=4))
    return record


def theirs(dataset, checkpoint, profile):
    import open_clip
    from clip_benchmark.datasets.builder import image_captions_collate_fn
    from clip_benchmark.metrics.image_caption_selection import evaluate

    model, _, preprocess = open_clip.create_model_and_transforms("ViT-S-32", pretrained=str(checkpoint))
    model.eval()
    dataset.transform = preprocess
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, collate_fn=image_captions_collate_fn)
    return evaluate(model, loader, open_clip.get_tokenizer("ViT-S-32"), "cpu", amp=profile == "clip_benchmark")


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["clip", "clip_benchmark"])
def test_sugar_crepe_equals_clip_benchmark(sugar_crepe_root, vit_s32_checkpoint, tmp_path, profile):
    """clip: CLIP_benchmark with --no_amp; clip_benchmark: with its default autocast (bf16 on CPU)."""
    from clip_benchmark.datasets.builder import build_dataset

    record = ours("sugar_crepe/swap_att", sugar_crepe_root, vit_s32_checkpoint, tmp_path, profile)
    assert record.protocol == "caption-selection" and record.n_samples == 14  # the kind's own default protocol
    dataset = build_dataset("sugar_crepe/swap_att", root=str(sugar_crepe_root), split="test",
                            task="image_caption_selection")
    reference = theirs(dataset, vit_s32_checkpoint, profile)
    assert {k: record.metrics[k] for k in reference} == reference
    assert record.metrics["image_acc"] == 1.0 and record.metrics["acc"] == record.metrics["text_acc"]
    # per item: the record's decisions give the metrics again
    from bench.engine.records import load_predictions

    (path,) = (tmp_path / "r" / "runs").glob("*[0-9].json")
    p = load_predictions(path)
    assert p["text_correct"].mean() == record.metrics["text_acc"]
    assert np.array_equal(p["text_correct"], p["text_choice"][:, 0] == 0)
    assert np.array_equal(p["text_correct"], p["text_margin"] > 0)


@pytest.mark.slow
def test_winoground_from_a_saved_copy_equals_clip_benchmark(winoground_root, vit_s32_checkpoint, tmp_path):
    import datasets
    from clip_benchmark.datasets.winoground import WinoGround

    record = ours("winoground", winoground_root, vit_s32_checkpoint, tmp_path)
    dataset = WinoGround.__new__(WinoGround)  # its own __getitem__, on our saved copy instead of the hub
    dataset.ds = datasets.load_from_disk(str(winoground_root / "winoground"))["test"]
    reference = theirs(dataset, vit_s32_checkpoint, "clip")
    assert {k: record.metrics[k] for k in reference} == reference and record.n_samples == 10
    assert record.task_info["n_images"] == 20 and record.config["n_captions"] == 20


def test_selection_rule_by_hand():
    # two images, two captions: image 0 picks caption 0, image 1 picks caption 0 (text wrong);
    # caption 0 picks image 0, caption 1 picks image 1 (image right)
    s = np.array([[0.9, 0.1], [0.6, 0.5]])
    d = select(s)
    assert (d["text"], d["image"]) == (False, True)
    assert d["text_margin"] == pytest.approx(-0.1) and d["image_margin"] == pytest.approx(0.3)
    tie = select(np.array([[0.5, 0.5]]))  # argmax takes the first: the true caption wins a tie
    assert tie["text"] and tie["image"] and np.isnan(tie["image_margin"])


def test_bad_sugar_crepe_input_is_one_line(sugar_crepe_root, tmp_path):
    args = ("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", "sugar_crepe/swap_att", "--data-dir",
            sugar_crepe_root, "--cache-dir", tmp_path / "c", "--out", tmp_path / "r", "--quiet")
    items = json.loads((sugar_crepe_root / "swap_att.json").read_text())
    first = next(iter(items))
    broken = {**items, first: {k: v for k, v in items[first].items() if k != "negative_caption"}}
    (sugar_crepe_root / "swap_att.json").write_text(json.dumps(broken))
    out = run_cli(*args, cwd=tmp_path)
    assert out.returncode == 2 and f"item {first} has no 'negative_caption'" in out.stderr
    (sugar_crepe_root / "swap_att.json").write_text(json.dumps(items))
    (sugar_crepe_root / "val2017" / items[first]["filename"]).unlink()
    out = run_cli(*args, cwd=tmp_path)
    assert out.returncode == 2 and "is not on disk" in out.stderr and items[first]["filename"] in out.stderr
    absent = run_cli(*args[:7], "--data-dir", tmp_path / "empty", "--cache-dir", tmp_path / "c", "--quiet", cwd=tmp_path)
    assert absent.returncode == 2 and "RAIVNLab/sugar-crepe" in absent.stderr and "val2017" in absent.stderr
    assert len(out.stderr.strip().splitlines()) == len(absent.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_items_in_samples_and_the_explorer(sugar_crepe_root, vit_s32_checkpoint, tmp_path):
    """Per item, `samples` and the explorer show the item's own caption and negative and the one each model chose
    (the protocol's ``sample_results``); questions about classes are refused in one line; the explorer in
    Chromium draws the item grid with both captions."""
    from bench.engine.records import load_predictions
    from bench.report.collect import load_runs
    from bench.report.explorer import explorer_data

    task, results = "sugar_crepe/swap_att", tmp_path / "results"
    res = run_cli("run", "--model", "ViT-S-32", "--pretrained", "none", "--model", "ViT-S-32", "--pretrained",
                  vit_s32_checkpoint, "--task", task, "--data-dir", sugar_crepe_root, "--workers", "0", "--quiet",
                  "--out", results, "--cache-dir", tmp_path / "c", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    items = json.loads((sugar_crepe_root / "swap_att.json").read_text())
    keys = list(items)
    preds = [load_predictions(p) for p in sorted((results / "runs").glob("*[0-9].json"))]
    assert [list(p["keys"]) for p in preds] == [keys, keys]
    assert all(list(map(list, p["captions"])) == [[v["caption"], v["negative_caption"]] for v in items.values()]
               for p in preds)
    right = np.stack([p["text_correct"] & p["image_correct"] for p in preds])

    out = run_cli("samples", results, "--task", task, "--hard", "--disagree", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert len(shown["hard"]) == int((~right.any(axis=0)).sum())
    assert len(shown["disagree"]) == int((right.any(axis=0) & ~right.all(axis=0)).sum())
    for row in shown["hard"] + shown["disagree"]:
        item = items[row["key"]]
        assert row["label"] == item["caption"]
        assert set(row["predictions"].values()) <= {item["caption"], item["negative_caption"]}
    for question in ("--label-issues", "--confusions", "--per-class"):
        bad = run_cli("samples", results, "--task", task, question, cwd=tmp_path)
        assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
        assert "answer per item: ask --hard or --disagree" in bad.stderr

    data = explorer_data(load_runs(results), "t")
    (payload,) = [p for p in data.tasks if p is not None]
    assert payload["items"] and payload["n"] == len(items) and payload["shown"]["key"] == keys   # all 14 shown
    assert payload["shown"]["answers"] == [[v["caption"], v["negative_caption"]] for v in items.values()]
    by_pretrained = {json.loads(path.read_text())["pretrained"]: p
                     for p, path in zip(preds, sorted((results / "runs").glob("*[0-9].json")))}
    for k, m in enumerate(payload["models"]):  # each model's choice and right/wrong bits, item by item
        p = by_pretrained[data.board["models"][m]["pretrained"]]
        assert payload["shown"]["pred"][k] == p["text_choice"][:, 0].tolist()
        bits = np.unpackbits(np.frombuffer(base64.b64decode(payload["correct"][k]), np.uint8))[:len(items)]
        assert np.array_equal(bits.astype(bool), p["text_correct"] & p["image_correct"])

    from bench.engine.metrics import mcnemar_exact
    from bench.report.compare import compare_records

    paths = sorted((results / "runs").glob("*[0-9].json"))
    c = compare_records(str(paths[0]), str(paths[1]), task, "a", "b")   # McNemar per item, right on both sides
    assert (c.n, c.acc_a, c.acc_b) == (len(items), right[0].mean(), right[1].mean())
    assert c.p_value == mcnemar_exact(right[0], right[1])

    _explorer_items_in_chromium(results, tmp_path, items)


def _explorer_items_in_chromium(results, tmp_path, items):
    require_chromium()
    res = run_cli("report", "--results", results, "--out", tmp_path / "r.html", "--quiet", cache=tmp_path / "c",
                  cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    with explorer_page(tmp_path / "r.html") as (page, errors):
        page.locator("#zs-board-table td.cell").first.click()
        page.wait_for_selector("#zs-grid figure img")
        figures = page.locator("#zs-grid figure")
        assert figures.count() == len(items)
        first = figures.first.text_content()
        item = items[figures.first.get_attribute("data-key")]
        assert f"caption: {item['caption']}" in first and f"other: {item['negative_caption']}" in first
        page.click("#zs-ab")
        assert "right (both sides) A" in page.text_content("#zs-ab-test")
        sides = page.locator("h3.ab-side").all_text_contents()   # A right/B wrong, B right/A wrong, both wrong
        assert [t.split(" (")[0] for t in sides] == ["A right, B wrong", "B right, A wrong", "both wrong"]
        shown = sum(int(t.split("(")[1].split(" of ")[0]) for t in sides)
        assert shown == sum(int(t.split(" of ")[1].split(" ")[0]) for t in sides)  # all 14 items fit the budget
    assert errors == []


def test_a_grouped_sample_grows_by_whole_items():
    """Under --target-ci a unit is an item: the order draws items in a seeded random order and keeps each item's
    images together (Winoground: two per item), so every prefix of whole units is whole items."""
    from types import SimpleNamespace

    from bench.engine.adaptive import AdaptiveSample
    from bench.protocols.caption_selection import CaptionSelection

    targets = np.repeat(np.arange(50), 2)          # 50 items of two images each, images 2k and 2k + 1
    task = SimpleNamespace(source=SimpleNamespace(targets=targets), indices=np.arange(100))
    sample = AdaptiveSample.of(task, "acc", 3, CaptionSelection)
    assert sample.N == 50 and sorted(sample.units.tolist()) == list(range(50))
    assert np.array_equal(sample.units, np.random.default_rng(3).permutation(50))
    assert np.array_equal(sample.order, np.stack([2 * sample.units, 2 * sample.units + 1], axis=1).ravel())
    assert [sample.images(n) for n in (0, 1, 7, 50)] == [0, 2, 14, 100]
    values = sample.values({"text_correct": np.array([1, 1, 0], bool), "image_correct": np.array([1, 0, 0], bool)})
    assert values.tolist() == [1.0, 0.0, 0.0]


@pytest.mark.slow
def test_target_ci_on_items_stops_early_and_holds_the_full_figure(tmp_path):
    """--target-ci on 1,600 SugarCrepe-layout items with the demo plug-in's colour model (an image's mean colour
    against the colour a caption names; noisy patches make it err): the run stops before the last item, its
    interval holds the full run's accuracy, and its items are the first n of the seeded random order."""
    from helpers.plugins import installed_plugin
    from PIL import Image

    root, rng = tmp_path / "data", np.random.default_rng(5)
    (root / "val2017").mkdir(parents=True)
    names, items = list(COLOURS), {}
    for k in range(1600):
        colour, other = names[k % 4], names[(k + 1 + k // 4 % 3) % 4]
        rgb = np.clip(np.array(COLOURS[colour]) + rng.normal(0, 90, 3), 0, 255)
        Image.fromarray(np.clip(rgb + rng.normal(0, 10, (8, 8, 3)), 0, 255).astype(np.uint8)).save(
            root / "val2017" / f"{k}.png")
        items[str(2 * k + 1)] = {"filename": f"{k}.png", "caption": f"a {colour} patch",
                                 "negative_caption": f"a {other} patch"}
    (root / "swap_obj.json").write_text(json.dumps(items))
    common = ("--model", "colour:v1", "--task", "sugar_crepe/swap_obj", "--data-dir", root, "--cache-dir",
              tmp_path / "c", "--out", tmp_path / "r", "--quiet", "--json", "--workers", "0")
    with installed_plugin(tmp_path / "site", "zsbench-demo-plugin",
                          {"zsbench.backends": {"colour:": "zsbench_demo_plugin:ColourBackend"}}):
        adaptive = run_cli("run", *common, "--target-ci", "6", cwd=tmp_path)
        full = run_cli("run", *common, cwd=tmp_path)
    assert adaptive.returncode == 0 and full.returncode == 0, adaptive.stderr + full.stderr
    (a,), (f,) = json.loads(adaptive.stdout), json.loads(full.stdout)
    section = a["adaptive"]
    assert section["N"] == 1600 and 512 <= section["n"] < 1600 and section["reached"] and section["metric"] == "acc"
    assert section["interval"][1] - section["interval"][0] <= 0.06
    assert section["interval"][0] <= f["metrics"]["acc"] <= section["interval"][1]
    assert 0.6 < f["metrics"]["acc"] < 0.95   # the colour model errs: the interval is not trivially [1, 1]
    pa, pf = (dict(np.load(tmp_path / "r" / "runs" / Path(r["predictions_file"]).name)) for r in (a, f))
    assert np.array_equal(pa["indices"], np.random.default_rng(0).permutation(1600)[:section["n"]])
    assert np.array_equal(pa["text_correct"], pf["text_correct"][pa["indices"]])   # the same decisions per item
    assert a["metrics"]["acc"] == pytest.approx(pf["text_correct"][pa["indices"]].mean())
