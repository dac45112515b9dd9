"""Multi-label classification: VOC 2007 read as CLIP_benchmark's voc2007_multilabel reads it, and mean average
precision equal to its zeroshot_classification.evaluate on a generated VOCdevkit with a random-init checkpoint."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from bench.core.errors import UserError
from tasks.sources.multilabel import VOC_CLASSES

#: image id -> the objects in it (VOC class names)
OBJECTS = {"000001": ["dog", "person"], "000002": ["train"], "000004": ["car", "car", "person"],
           "000006": ["chair", "diningtable", "pottedplant"], "000008": ["chair"], "000010": ["horse", "person"]}


def _object(name: str) -> str:
    return (f"<object><name>{name}</name><pose>Left</pose><truncated>0</truncated><difficult>0</difficult>"
            "<bndbox><xmin>1</xmin><ymin>2</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object>")


@pytest.fixture
def vocdevkit(tmp_path):
    base = tmp_path / "voc2007" / "VOCdevkit" / "VOC2007"
    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (base / sub).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for image_id, objects in OBJECTS.items():
        Image.fromarray(rng.integers(0, 255, size=(48, 64, 3), dtype=np.uint8)).save(base / "JPEGImages" /
                                                                                      f"{image_id}.jpg")
        (base / "Annotations" / f"{image_id}.xml").write_text(
            f"<annotation><filename>{image_id}.jpg</filename>{''.join(map(_object, objects))}</annotation>")
    (base / "ImageSets" / "Main" / "aeroplane_test.txt").write_text("".join(f"{i} -1\n" for i in OBJECTS))
    return tmp_path


def test_voc2007_reads_as_clip_benchmark_reads_it(vocdevkit):
    from clip_benchmark.datasets.voc2007 import PASCALVoc2007

    from tasks.registry import get_task
    from tasks.sources import DataContext, open_source

    ours = open_source(get_task("voc2007_multilabel"), "test", DataContext(vocdevkit, None))
    theirs = PASCALVoc2007(str(vocdevkit / "voc2007"), "test")
    assert list(ours.classes) == list(theirs.classes) == list(VOC_CLASSES)
    assert np.array_equal(ours.multilabels, theirs.labels.numpy().astype(np.int8))
    for i in range(len(theirs)):
        assert np.array_equal(np.asarray(ours.load(i)), np.asarray(theirs[i][0]))


def test_average_precision_is_clip_benchmarks_formula():
    from clip_benchmark.metrics.zeroshot_classification import average_precision_per_class

    from bench.protocols.multilabel import average_precision_per_class as ours

    rng = np.random.default_rng(3)
    scores, targets = rng.normal(size=(50, 7)), (rng.random((50, 7)) < 0.3).astype(np.int8)
    targets[:, 6] = 0  # a class without a positive: AP 0, as there
    theirs = average_precision_per_class(torch.tensor(scores), torch.tensor(targets)).numpy()
    assert np.allclose(ours(scores, targets), theirs, atol=1e-6) and ours(scores, targets)[6] == 0


@pytest.mark.slow
def test_mean_average_precision_equals_clip_benchmark(vocdevkit, vit_s32_checkpoint, tmp_path, monkeypatch):
    import open_clip
    from clip_benchmark.datasets.voc2007 import PASCALVoc2007
    from clip_benchmark.metrics import zeroshot_classification as zsc

    from bench.engine.runner import RunConfig, run

    monkeypatch.setenv("ZSBENCH_CPU_FORWARD", "eager")  # open_clip's own forward: the same features bit for bit
    model, _, preprocess = open_clip.create_model_and_transforms("ViT-S-32", pretrained=str(vit_s32_checkpoint))
    model.eval()
    dataset = PASCALVoc2007(str(vocdevkit / "voc2007"), "test", transform=preprocess)
    loader = torch.utils.data.DataLoader(dataset, batch_size=4)
    theirs = zsc.evaluate(model, loader, open_clip.get_tokenizer("ViT-S-32"), dataset.classes,
                          ["a photo of a {c}."], "cpu", amp=False)
    (record,) = run(RunConfig(models=[("ViT-S-32", str(vit_s32_checkpoint))], tasks=["voc2007_multilabel"],
                              data_dir=vocdevkit, out_dir=tmp_path / "r", cache_dir=tmp_path / "c", num_workers=0,
                              progress=False))
    assert record.protocol == "multilabel" and record.n_samples == 6
    assert record.metrics["mean_average_precision"] == pytest.approx(theirs["mean_average_precision"], abs=1e-6)
    assert record.config["positives_per_class"]["person"] == 3


def test_a_multilabel_csv_task(tmp_path):
    from tasks.registry import get_task
    from tasks.sources import DataContext, open_source

    for name in ("a.png", "b.png"):
        Image.new("RGB", (8, 8)).save(tmp_path / name)
    (tmp_path / "labels.csv").write_text("filepath,labels\na.png,cat|dog\nb.png,dog\n")
    (tmp_path / "task.toml").write_text('name = "pets-ml"\nkind = "multilabel"\n'
                                        '[source]\ntype = "multilabel_csv"\npath = "labels.csv"\n')
    spec = get_task(str(tmp_path / "task.toml"))
    assert spec.kind == "multilabel" and spec.metric == "mean_average_precision"
    source = open_source(spec, spec.split, DataContext(tmp_path, None))
    assert source.classes == ["cat", "dog"] and source.multilabels.tolist() == [[1, 1], [0, 1]]
    (tmp_path / "labels.csv").write_text("filepath,labels\na.png,cat|dog\nmissing.png,dog\n")
    with pytest.raises(UserError, match="labels.csv:3: image file .*missing.png does not exist"):
        open_source(spec, spec.split, DataContext(tmp_path, None))
