"""Each source adapter reads a tiny generated fixture; bad input gives one clear error."""
from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.core.errors import UserError
from tasks.sources import DataContext, ImageFolderSource, ManifestSource, open_source
from tasks.sources.base import to_rgb
from tasks.sources.torchvision import open_torchvision
from tasks.sources.webdataset import WebDatasetSource
from tasks.spec import SourceSpec, TaskSpec
from helpers.wds import write_shard as shard


def png_bytes(colour, size=(12, 10), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, colour).save(buf, format="PNG")
    return buf.getvalue()


def write_folder(root: Path, classes=("cat", "dog"), per_class=3) -> Path:
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            (root / name / f"{i}.png").write_bytes(png_bytes((40 * c, 20 * i, 100)))
    return root


def test_imagefolder_reads_classes_and_unicode(tmp_path):
    src = ImageFolderSource(write_folder(tmp_path / "ü-data", classes=("chat_noir", "çhien")))
    assert src.classes == ["chat_noir", "çhien"] and src.targets.tolist() == [0, 0, 0, 1, 1, 1]
    assert src.load(4).mode == "RGB" and "çhien" in src.describe(4)


def test_manifest_csv_and_tsv(tmp_path):
    write_folder(tmp_path / "imgs")
    (tmp_path / "m.csv").write_text("path,label\nimgs/cat/0.png,cat\nimgs/dog/1.png,dog\nimgs/cat/2.png,cat\n")
    src = ManifestSource(tmp_path / "m.csv")
    assert src.classes == ["cat", "dog"] and src.targets.tolist() == [0, 1, 0]
    (tmp_path / "m.tsv").write_text("imgs/dog/0.png\tdog\nimgs/cat/0.png\tcat\n")
    src = ManifestSource(tmp_path / "m.tsv", classes=["dog", "cat"])
    assert src.targets.tolist() == [0, 1] and src.load(0).size == (12, 10)


def test_manifest_errors_name_the_row(tmp_path):
    write_folder(tmp_path / "imgs")
    (tmp_path / "missing.csv").write_text("imgs/cat/0.png,cat\nimgs/cat/9.png,cat\n")
    with pytest.raises(UserError, match=r"missing.csv:2: image file .*9.png does not exist"):
        ManifestSource(tmp_path / "missing.csv")
    (tmp_path / "label.csv").write_text("imgs/cat/0.png,cat\nimgs/dog/0.png,wolf\n")
    with pytest.raises(UserError, match=r"label.csv:2: label 'wolf' is not in the class list"):
        ManifestSource(tmp_path / "label.csv", classes=["cat", "dog"])
    with pytest.raises(UserError, match="manifest not found"):
        ManifestSource(tmp_path / "nope.csv")


def write_shard(path: Path, items, templates=True) -> None:
    shard(path, ((key, {"webp" if key.endswith("w") else "png": blob, "cls": str(label).encode()})
                 for key, (blob, label) in items.items()))


def test_webdataset_clip_benchmark_layout(tmp_path):
    root = tmp_path / "wds"
    write_shard(root / "test" / "0.tar", {"s000": (png_bytes((255, 0, 0)), 1), "s001": (png_bytes((0, 0, 255)), 0)})
    write_shard(root / "test" / "1.tar", {"s002": (png_bytes(128, mode="L"), 1)})
    (root / "classnames.txt").write_text("blue thing\nred thing\n")
    (root / "zeroshot_classification_templates.txt").write_text("a photo of a {c}.\n")
    src = WebDatasetSource(root, "test")
    assert src.targets.tolist() == [1, 0, 1] and src.classes == ["blue thing", "red thing"]
    assert src.templates == ["a photo of a {c}."]
    assert src.load(0).getpixel((0, 0)) == (255, 0, 0) and src.load(2).mode == "RGB"
    (root / "test" / "2.tar").write_bytes(b"this is not a tar file at all" * 40)
    with pytest.raises(UserError, match=r"shard .*2.tar is not a readable tar archive"):
        WebDatasetSource(root, "test")


def test_webdataset_shards_in_clip_benchmarks_order(tmp_path):
    """``nshards.txt`` names the shards (0.tar .. N-1.tar), as CLIP_benchmark reads them; without it the
    order is numeric, so 2.tar comes before 10.tar (a plain sort would swap them, and --limit and the
    per-sample predictions would follow another order than CLIP_benchmark's)."""
    root = tmp_path / "wds"
    (root / "classnames.txt").parent.mkdir(parents=True)
    (root / "classnames.txt").write_text("a\nb\n")
    for i in range(12):
        write_shard(root / "test" / f"{i}.tar", {f"s{i:03d}": (png_bytes((i * 20, 0, 0)), i % 2)})
    numeric = WebDatasetSource(root, "test")
    assert [p.name for p in numeric.shards] == [f"{i}.tar" for i in range(12)]
    assert [numeric.load(i).getpixel((0, 0))[0] for i in range(12)] == [i * 20 for i in range(12)]
    (root / "test" / "nshards.txt").write_text("10\n")  # CLIP_benchmark reads these ten, no more
    assert [p.name for p in WebDatasetSource(root, "test").shards] == [f"{i}.tar" for i in range(10)]
    (root / "test" / "nshards.txt").write_text("13\n")
    with pytest.raises(UserError, match=r"nshards.txt says 13 shards but 12.tar is missing"):
        WebDatasetSource(root, "test")


def test_an_export_folder_is_a_task_with_the_exports_names_and_templates(tmp_path):
    """``--task path/to/export`` (CLIP_benchmark's layout) and a task file of type webdataset evaluate with
    the export's own class names and templates, as CLIP_benchmark and DataComp do, not CLIP's ImageNet set."""
    from tasks.classes import resolve_classnames, resolve_templates
    from tasks.registry import get_task
    from tasks.sources import DataContext, open_source

    root = tmp_path / "wds_mine"
    write_shard(root / "test" / "0.tar", {"s000": (png_bytes((255, 0, 0)), 1), "s001": (png_bytes((0, 0, 255)), 0)})
    (root / "classnames.txt").write_text("blue thing\nred thing\n")
    (root / "zeroshot_classification_templates.txt").write_text("a photo of a {c}.\nan image of {c}.\n")
    ctx = DataContext(tmp_path / "data", None)
    (tmp_path / "mine.toml").write_text(f'name = "mine"\n[source]\ntype = "webdataset"\npath = "{root}"\n')
    for spec in (get_task(str(root)), get_task(str(tmp_path / "mine.toml"))):
        assert spec.sources[0].type == "webdataset" and spec.split == "test"
        source = open_source(spec, spec.split, ctx)
        assert resolve_classnames(spec, source) == ["blue thing", "red thing"]
        assert resolve_templates(spec, None, source) == (["a photo of a {}.", "an image of {}."], "source")


def test_hf_datasets_source_local_parquet(tmp_path):
    import datasets

    from tasks.sources.hf import open_hf

    ds = datasets.Dataset.from_dict(
        {"img": [Image.new("RGB", (8, 8), (i * 60, 0, 0)) for i in range(4)], "y": [0, 1, 1, 0]},
        features=datasets.Features({"img": datasets.Image(), "y": datasets.ClassLabel(names=["a", "b"])}))
    ds.to_parquet(str(tmp_path / "data.parquet"))
    src = open_hf({"repo": "parquet", "data_files": {"test": "data.parquet"}, "image_column": "img",
                   "label_column": "y"}, "test", tmp_path / "hfcache", base=tmp_path)
    assert src.targets.tolist() == [0, 1, 1, 0] and src.classes == ["a", "b"]
    assert src.load(3).getpixel((0, 0)) == (180, 0, 0)
    with pytest.raises(UserError, match="has no column 'label'"):
        open_hf({"repo": "parquet", "data_files": {"test": "data.parquet"}, "image_column": "img"}, "test",
                tmp_path / "hfcache", base=tmp_path)


def write_idx(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_torchvision_array_backed_and_file_backed(tmp_path):
    rng = np.random.default_rng(0)
    raw = tmp_path / "mnist" / "MNIST" / "raw"
    images = rng.integers(0, 255, size=(6, 28, 28), dtype=np.uint8)
    write_idx(raw / "t10k-images-idx3-ubyte", images)
    write_idx(raw / "t10k-labels-idx1-ubyte", np.array([3, 1, 4, 1, 5, 9]))
    write_idx(raw / "train-images-idx3-ubyte", images[:2])  # torchvision checks that all four files exist
    write_idx(raw / "train-labels-idx1-ubyte", np.array([0, 1]))
    src = open_torchvision({"dataset": "MNIST", "splits": {"test": {"train": False}}}, "test", tmp_path, fetch=False)
    assert src.targets.tolist() == [3, 1, 4, 1, 5, 9]
    assert np.array_equal(np.asarray(src.load(2))[..., 0], images[2])
    write_folder(tmp_path / "imagefolder")  # torchvision.datasets.ImageFolder: labels from .targets
    src = open_torchvision({"dataset": "ImageFolder", "splits": {"test": {}}}, "test", tmp_path, fetch=False)
    assert src.targets.tolist() == [0, 0, 0, 1, 1, 1] and src.classes == ["cat", "dog"]


def test_image_modes_are_converted_not_rejected():
    sixteen = Image.fromarray((np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000))
    assert sixteen.mode.startswith("I;16")
    rgb = to_rgb(sixteen)
    assert rgb.mode == "RGB" and np.asarray(rgb)[..., 0].max() > 200 and np.asarray(rgb)[0, 0, 0] == 0
    assert to_rgb(Image.new("CMYK", (4, 4), (0, 255, 255, 0))).getpixel((0, 0))[0] > 200  # red
    assert to_rgb(Image.new("RGBA", (4, 4), (10, 20, 30, 0))).getpixel((0, 0)) == (10, 20, 30)
    assert to_rgb(Image.new("L", (4, 4), 77)).getpixel((0, 0)) == (77, 77, 77)
    p = Image.new("P", (4, 4), 0)
    p.info["transparency"] = 0
    assert to_rgb(p).mode == "RGB"


def test_empty_class_folder_and_missing_folder(tmp_path):
    root = write_folder(tmp_path / "d")
    (root / "empty").mkdir()
    with pytest.raises(UserError, match=r"class folder .*empty has no images"):
        ImageFolderSource(root)
    with pytest.raises(UserError, match="image folder not found"):
        ImageFolderSource(tmp_path / "absent")


def test_local_only_dataset_says_what_to_put_where(tmp_path, store):
    spec = TaskSpec(name="x", sources=(SourceSpec("imagefolder", {"path": "{data_dir}/x/{split}", "optional": True,
                                                                  "missing_hint": "put x at {path}"}),),
                    classnames="source")
    ctx = DataContext(tmp_path, store)
    assert open_source(spec, "test", ctx, fetch=False) is None
    with pytest.raises(UserError, match=r"put x at .*x/test"):
        open_source(spec, "test", ctx)


def test_imagenet_webdataset_val_is_clip_benchmarks_test_folder(tmp_path):
    """CLIP_benchmark exports ImageNet's validation images as the split 'test'."""
    from tasks.registry import get_task
    from tasks.sources import DataContext, open_source

    root = tmp_path / "wds" / "clip-benchmark__wds_imagenet1k" / "test"
    write_shard(root / "0.tar", {f"s{i}": (png_bytes((i * 100, 0, 0)), i) for i in range(2)})
    src = open_source(get_task("imagenet"), "val", DataContext(tmp_path, None))
    assert len(src) == 2 and src.origin.endswith("/test")


@pytest.mark.slow
def test_a_clip_benchmark_root_as_data_dir_is_read_and_a_fallback_is_said(tmp_path):
    """--data-dir pointing at a CLIP_benchmark root (DATA/wds_<name>/test/*.tar) is where the export is
    read from; when a task's data comes from another source than its first choice, the run says so."""
    from helpers.cli import run_cli

    root = tmp_path / "cb_root" / "wds_cifar100"
    write_shard(root / "test" / "0.tar", {f"s{i:03d}": (png_bytes((i * 40, 0, 0)), i % 3) for i in range(6)})
    (root / "test" / "nshards.txt").write_text("1\n")
    from tasks.registry import get_task
    from tasks.sources import DataContext, open_source

    names = get_task("cifar100")
    source = open_source(names, "test", DataContext(tmp_path / "cb_root", None))
    assert len(source) == 6 and "wds_cifar100" in source.origin
    assert "cifar100: read from" in source.choice_note and "not from the first choice (torchvision" in source.choice_note
    out = run_cli("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", "cifar100", "--templates", "single", "--data-dir",
                  tmp_path / "cb_root", "--workers", "0", "--quiet", "--no-save", "--cache-dir", tmp_path / "c",
                  cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "note: cifar100: read from" in out.stdout and "(6 samples)" in out.stdout


def test_an_absent_torchvision_dataset_is_found_absent_without_importing_torchvision(tmp_path):
    """Probing a task's first-choice source (torchvision's CIFAR10) where its folder is absent or empty answers
    None at once: importing torchvision would cost seconds of a cached run that then reads an offline mirror."""
    import subprocess
    import sys

    from helpers.startup import NO_TORCH

    (tmp_path / "data" / "cifar10").mkdir(parents=True)   # empty, as a failed download leaves it
    probe = ("from pathlib import Path; from tasks.sources.torchvision import open_torchvision; "
             f"print(open_torchvision({{'dataset': 'CIFAR10', 'splits': {{'test': {{'train': False}}}}}}, 'test', "
             f"Path({str(tmp_path / 'data')!r}), False))")
    script = tmp_path / "probe.py"
    script.write_text(probe)
    done = subprocess.run([sys.executable, "-c", NO_TORCH, str(script)], capture_output=True, text=True,
                          cwd=str(__import__("helpers.cli", fromlist=["REPO"]).REPO))
    assert done.returncode == 0 and done.stdout.strip() == "None", done.stderr[-1500:]
