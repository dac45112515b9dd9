"""DataComp's 38-task suite: the task list, its metrics (against scikit-learn and hand-worked cases),
the WILDS/fairness metadata route, WinoGAViL against DataComp's own recipe, and the published rows."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest

from conftest import make_image
from helpers.wds import write_shard

# DataComp's tasklist.yml (github.com/mlfoundations/datacomp): task -> main metric (acc1 where it names none)
DATACOMP_METRICS = {
    "imagenet": "top1", "caltech101": "mean_per_class_recall", "cifar10": "top1", "cifar100": "top1",
    "clevr_counts": "top1", "clevr_distance": "top1", "country211": "top1", "dtd": "top1", "eurosat": "top1",
    "fgvc_aircraft": "mean_per_class_recall", "food101": "top1", "gtsrb": "top1", "imagenet-sketch": "top1",
    "imagenet-v2": "top1", "imagenet-a": "top1", "imagenet-o": "top1", "imagenet-r": "top1",
    "kitti_distance": "top1", "mnist": "top1", "objectnet": "top1", "flowers102": "mean_per_class_recall",
    "oxford_pets": "mean_per_class_recall", "voc2007": "top1", "pcam": "top1", "rendered_sst2": "top1",
    "resisc45": "top1", "stanford_cars": "top1", "stl10": "top1", "sun397": "top1", "svhn": "top1",
    "flickr30k": "mean_recall@1", "mscoco": "mean_recall@1", "winogavil": "jaccard_score_10-12",
    "iwildcam": "F1-macro_all", "camelyon17": "top1", "fmow": "acc_worst_region", "dollar_street": "acc_top5_wg",
    "geode": "acc_wg",
}


def test_datacomp_suite_is_the_38_tasks_with_their_metrics():
    from tasks.registry import get_task
    from tasks.suites import read_suite

    suite = read_suite("@datacomp")
    assert len(suite) == 38 and set(suite) == set(DATACOMP_METRICS)
    assert {t: get_task(t).metric for t in suite} == DATACOMP_METRICS
    assert len(read_suite("@datacomp-vtab")) == 13 and set(read_suite("@datacomp-vtab")) <= set(suite)
    assert read_suite("@datacomp-retrieval") == ["flickr30k", "mscoco", "winogavil"]


@pytest.mark.slow
def test_tasks_suite_datacomp_lists_all_38(tmp_path):
    from helpers.cli import run_cli as zsbench

    out = zsbench("tasks", "--suite", "datacomp", cache=tmp_path, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = [ln.split() for ln in out.stdout.splitlines()[2:] if ln.strip()]
    assert len(rows) == 38
    assert {r[0]: next(m for m in r if m in set(DATACOMP_METRICS.values())) for r in rows} == DATACOMP_METRICS


def test_f1_macro_is_wilds_label_set():
    """WILDS' F1(average='macro') passes labels=unique(y_true) to scikit-learn: classes only
    predicted do not count; classes never predicted count as 0."""
    from sklearn.metrics import f1_score

    from bench.engine.group_metrics import f1_macro_present

    rng = np.random.default_rng(0)
    for _ in range(20):
        y = rng.integers(0, 12, 200)
        p = np.where(rng.random(200) < 0.4, y, rng.integers(0, 20, 200))  # predicts classes absent from y too
        ref = f1_score(y, p, average="macro", labels=np.unique(y))
        assert f1_macro_present(p, y) == pytest.approx(ref, abs=1e-12)
        assert f1_macro_present(p, y) != pytest.approx(f1_score(y, p, average="macro"), abs=1e-6)
    # hand-worked: class 0 (tp 1, 2 predicted, 1 true) F1 2/3; class 1 never predicted: 0 -> mean 1/3
    assert f1_macro_present(np.array([0, 0]), np.array([0, 1])) == pytest.approx(1 / 3)


def test_worst_group_accuracy_by_hand():
    from bench.engine.group_metrics import group_accuracies, grouped_metrics

    correct = np.array([1, 1, 0, 1, 0, 0, 1], dtype=bool)
    groups = np.array([0, 0, 0, 2, 2, 3, 3])  # group 1 is empty: it is not the worst
    assert group_accuracies(correct, groups) == {0: (2 / 3, 3), 2: (0.5, 2), 3: (0.5, 2)}
    labels = np.array([3, 1, 2, 0, 4, 5, 6])
    top5 = np.array([[3, 0, 0, 0, 0], [9, 1, 0, 0, 0], [9, 9, 9, 9, 9], [0, 1, 2, 3, 4],
                     [9, 9, 9, 9, 4], [9, 9, 9, 9, 9], [6, 0, 0, 0, 0]])
    meta = np.stack([groups, np.zeros(7, int)], axis=1)
    top1 = grouped_metrics({"fields": ["g", "x"], "by": "g", "metric": "acc_wg"}, top5, labels, meta, "t")
    assert top1["acc_wg"] == pytest.approx(1 / 3)  # group 0: only sample 0 right at rank 1
    assert top1["acc_wg_groups"]["g:2"] == {"accuracy": 0.5, "count": 2}  # sample 4's label is only at rank 5
    top5k = grouped_metrics({"fields": ["g", "x"], "by": "g", "metric": "acc_top5_wg", "topk": 5}, top5, labels,
                            meta, "t")
    assert top5k["acc_top5_wg"] == 0.5 and top5k["acc_top5_wg_groups"]["g:2"] == {"accuracy": 1.0, "count": 2}


def _shard(path, samples):
    """A webdataset tar: KEY.png + KEY.cls + KEY.npy per sample."""
    write_shard(path, ((key, {"png": image, "cls": str(label).encode(), "npy": meta})
                       for key, image, label, meta in samples))


@pytest.fixture
def fmow_export(tmp_path):
    """A small stand-in for DataComp's FMoW export: 62 class names, 3 templates, 24 images in 4
    regions (metadata columns region, year, y), at the path a download would land."""
    root = tmp_path / "data" / "wds" / "djghosh__wds_wilds-fmow_test"
    (root / "test").mkdir(parents=True)
    (root / "classnames.txt").write_text("\n".join(f"land use {i}" for i in range(62)) + "\n")
    (root / "zeroshot_classification_templates.txt").write_text("a satellite photo of {c}.\n{c}.\nan aerial view of {c}.\n")
    rng = np.random.default_rng(0)
    samples = []
    for n in range(24):
        buf = io.BytesIO()
        make_image(rng, tuple(int(v) for v in rng.integers(0, 255, 3)), ("square", "circle")[n % 2]).save(buf, "PNG")
        npy = io.BytesIO()
        np.save(npy, np.array([n % 4, 2010 + n % 3, n % 5]))
        samples.append((f"{n:05d}", buf.getvalue(), n % 5, npy.getvalue()))
    _shard(root / "test" / "0.tar", samples)
    return tmp_path / "data"


@pytest.mark.slow
def test_fmow_worst_region_from_the_exports_metadata(fmow_export, vit_s32_checkpoint, tmp_path):
    from bench.engine.records import load_predictions
    from bench.engine.runner import RunConfig, run

    (rec,) = run(RunConfig(models=[("ViT-S-32", str(vit_s32_checkpoint))], tasks=["fmow"], data_dir=fmow_export,
                           out_dir=tmp_path / "r", cache_dir=tmp_path / "c", num_workers=0, progress=False))
    assert rec.config["metric"] == "acc_worst_region" and rec.templates == "source" and rec.config["n_templates"] == 3
    preds = load_predictions(next((tmp_path / "r" / "runs").glob("*.json")))
    right = preds["top5"][:, 0] == preds["labels"]
    region = np.arange(24)[preds["indices"]] % 4
    by_region = [right[region == g].mean() for g in range(4)]
    assert rec.metrics["primary"] == rec.metrics["acc_worst_region"] == pytest.approx(min(by_region))
    assert rec.metrics["acc_worst_region_groups"]["region:1"] == {"accuracy": pytest.approx(by_region[1]), "count": 6}


def test_grouped_task_without_metadata_says_so():
    from bench.core.errors import UserError
    from bench.engine.group_metrics import grouped_metrics

    with pytest.raises(UserError, match="no per-sample metadata"):
        grouped_metrics({"fields": ["region"], "by": "region", "metric": "acc_wg"}, np.zeros((2, 1)), np.zeros(2),
                        None, "geode")


@pytest.fixture
def winogavil_jsonl(tmp_path):
    """8 association instances (5, 6, 10 and 12 candidates) as DATA_DIR/winogavil/test.jsonl."""
    root = tmp_path / "data" / "winogavil"
    root.mkdir(parents=True)
    rng = np.random.default_rng(1)
    lines = []
    cues = ["apple", "Ocean", "fire", "ice", "umbrella", "night", "Engine", "grass"]
    for k, n in enumerate([5, 6, 10, 12, 10, 12, 5, 6]):
        names = []
        for j in range(n):
            name = f"i{k}_{j}.png"
            make_image(rng, tuple(int(v) for v in rng.integers(0, 255, 3)), ("square", "circle")[j % 2]).save(root / name)
            names.append(name)
        assoc = list(rng.choice(names, size=2 + k % 3, replace=False))
        lines.append(json.dumps({"cue": cues[k], "candidates": names, "associations": assoc}))
    (root / "test.jsonl").write_text("\n".join(lines) + "\n")
    return tmp_path / "data"


@pytest.mark.slow
def test_winogavil_equals_datacomps_recipe(winogavil_jsonl, vit_s32_checkpoint, tmp_path):
    """Re-scored as eval_utils/wino_eval.py does: open_clip's transform and tokenizer, 'A/An <cue>',
    argsort's last n, scikit-learn's jaccard_score, means by candidate count."""
    import open_clip
    import torch
    from PIL import Image
    from sklearn.metrics import jaccard_score

    from bench.engine.runner import RunConfig, run

    (rec,) = run(RunConfig(models=[("ViT-S-32", str(vit_s32_checkpoint))], tasks=["winogavil"],
                           data_dir=winogavil_jsonl, out_dir=tmp_path / "r", cache_dir=tmp_path / "c", num_workers=0,
                           progress=False))
    assert rec.protocol == "association" and rec.n_samples == 8

    model, _, transform = open_clip.create_model_and_transforms("ViT-S-32", pretrained=str(vit_s32_checkpoint))
    model.eval()
    tokenizer = open_clip.get_tokenizer("ViT-S-32")
    scores, sizes = [], []
    for line in (winogavil_jsonl / "winogavil" / "test.jsonl").read_text().splitlines():
        ex = json.loads(line)
        images = torch.stack([transform(Image.open(winogavil_jsonl / "winogavil" / c)) for c in ex["candidates"]])
        cue = ex["cue"].lower()
        text = tokenizer([f"An {cue}" if cue[0] in "aeiou" else f"A {cue}"])
        y_true = np.isin(ex["candidates"], ex["associations"])
        with torch.no_grad():
            sims = (model.encode_text(text, normalize=True) @ model.encode_image(images, normalize=True).T).squeeze(0)
        top = np.argsort(sims.numpy())[-y_true.sum():]
        scores.append(jaccard_score(y_true, np.isin(np.arange(len(images)), top)))
        sizes.append(len(images))
    scores, sizes = np.array(scores), np.array(sizes)
    assert rec.metrics["jaccard_score_10-12"] == pytest.approx(scores[sizes >= 10].mean(), abs=1e-9)
    assert rec.metrics["jaccard_score_5-6"] == pytest.approx(scores[sizes <= 6].mean(), abs=1e-9)
    assert rec.metrics["avg_jaccard_score"] == pytest.approx(scores.mean(), abs=1e-9)
    assert rec.metrics["primary"] == rec.metrics["jaccard_score_10-12"]


def test_published_rows_fill_the_38_columns_and_match_their_average():
    """open_clip's table: every model has all 38 tasks, and their plain mean is the table's own
    'Average perf. on 38 datasets' (values rounded to 4 digits)."""
    from bench.report.leaderboard import published, published_averages
    from tasks.suites import read_suite

    pub = published()
    suite = set(read_suite("@datacomp"))
    per_model = pub.groupby(["model", "pretrained"])
    assert len(per_model) == len(published_averages()) > 100
    for key, group in per_model:
        assert set(group.task) == suite, key
        assert group.value.mean() == pytest.approx(published_averages()[key], abs=1.5e-4), key


def test_leaderboard_with_published_fills_the_suite(tmp_path):
    from bench.report.collect import load_runs
    from bench.report.leaderboard import leaderboard
    from helpers.records import add

    out = tmp_path / "results"
    add(out, "ViT-B-32", "laion2b_s34b_b79k", "cifar10", 0.9)
    table = leaderboard(load_runs(out), with_published=True, suite="datacomp")
    pub = table.loc["ViT-B-32 / laion2b_s34b_b79k (published)"]
    task_columns = [c for c in table.columns if c not in ("average", "tasks", "profile") and not c.startswith("mean ")]
    assert pub["profile"] == "datacomp"  # open_clip's table was made with DataComp's code
    assert len(task_columns) == 38 and pub[task_columns].notna().all() and pub["tasks"] == 38
    assert not np.isnan(pub["average"]) and not np.isnan(pub["mean vtab"]) and not np.isnan(pub["mean retrieval"])
    mine = table.loc["ViT-B-32 / laion2b_s34b_b79k"]
    assert np.isnan(mine["average"]) and mine["tasks"] == 1  # 1/38: no average
