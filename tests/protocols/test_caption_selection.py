"""Image-caption selection (SugarCrepe, Winoground) against CLIP_benchmark's ``image_caption_selection.evaluate``
on generated data in CLIP_benchmark's layouts, and its one-line refusals."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench.protocols.caption_selection import select
from conftest import make_image
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
