"""Under ``--profile clip_benchmark``, sun397, eurosat and caltech101 read what ``clip_benchmark eval --dataset``
reads: torchvision's copies, every image, no split (its builder: "split argument ignored"), named as it names them
(SUN397's own names with ``_`` and ``/`` as spaces; its EuroSAT and Caltech-101 lists given by position; its own
Caltech101 class, unlike torchvision's, keeps the BACKGROUND_Google folder). Under any other profile those copies are never read, and a run says which images it
read and what the clip_benchmark profile reads instead. Checked against CLIP_benchmark's own ``build_dataset`` on
generated copies in torchvision's layouts: same images in the same order, same labels, same class names."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench.engine.config import RunConfig
from helpers.wds import noise_png, write_export
from tasks.classes import resolve_classnames_with_origin
from tasks.registry import get_task
from tasks.sources import DataContext, open_source

EUROSAT = ["AnnualCrop", "Forest", "HerbaceousVegetation", "Highway", "Industrial", "Pasture", "PermanentCrop",
           "Residential", "River", "SeaLake"]
#: SUN397's ClassName.txt: three real entries (one with a sub-category), then made-up ones up to 397
SUN = ["/a/abbey", "/a/apartment_building/outdoor", "/b/bus_interior"] + [f"/z/zone_{i}" for i in range(394)]
#: Caltech-101's 102 folders: the first real ones (upper case sorts first), then made-up ones
CALTECH = ["BACKGROUND_Google", "Faces", "Faces_easy", "Leopards", "Motorbikes"] + [f"cat_{i:03d}" for i in range(97)]


def _image(rng, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 255, size=(40, 48, 3), dtype=np.uint8)).save(path)


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    """torchvision's layouts as zsbench finds them under DATA (DATA/<name>/ is torchvision's root) and as
    CLIP_benchmark's --dataset_root sees them (the same folder)."""
    data = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for c in EUROSAT:
        for i in range(2):
            _image(rng, data / "eurosat" / "eurosat" / "2750" / c / f"{c}_{i}.jpg")
    sun = data / "sun397" / "SUN397"
    sun.mkdir(parents=True)
    (sun / "ClassName.txt").write_text("\n".join(SUN) + "\n")
    for c in SUN[:3]:
        for i in range(2):
            _image(rng, sun / c.strip("/") / f"sun_{abs(hash(c)) % 1000}{i}.jpg")
    for n, c in enumerate(CALTECH):
        for i in range(2 if n < 3 else 1):
            _image(rng, data / "caltech101" / "caltech101" / "101_ObjectCategories" / c / f"image_000{i + 1}.jpg")
    return data


@pytest.mark.parametrize("task, theirs, n_images", [("eurosat", "eurosat", 20), ("sun397", "sun397", 6),
                                                     ("caltech101", "caltech101", 105)])
def test_the_clip_benchmark_profile_reads_what_clip_benchmark_reads(copies, task, theirs, n_images):
    from clip_benchmark.datasets.builder import build_dataset

    spec = get_task(task)
    source = open_source(spec, "test", DataContext(copies, None, "clip_benchmark"))
    ds = build_dataset(theirs, root=str(copies / theirs), split="test", download=False)
    assert len(source) == len(ds) == n_images            # every image (Caltech's BACKGROUND_Google included)
    for i in range(len(ds)):
        image, label = ds[i]
        assert int(source.targets[i]) == label
        assert np.array_equal(np.asarray(source.load(i)), np.asarray(image.convert("RGB")))
    names, origin = resolve_classnames_with_origin(spec, source, RunConfig(profile="clip_benchmark").prompt_choice)
    assert names == list(ds.classes)
    if task == "sun397":
        assert names[:3] == ["abbey", "apartment building outdoor", "bus interior"]
    if task == "caltech101":  # CLIP_benchmark's own Caltech101 keeps the background folder: 102 classes
        assert len(names) == 102 and names[:3] == ["background", "off-center face", "centered face"]
    assert origin.startswith("clip_benchmark") or task == "sun397"


def test_other_profiles_never_read_those_copies_and_say_what_they_read(copies, tmp_path):
    from bench.core.errors import UserError

    # only CLIP_benchmark's whole copies on disk: the clip profile finds nothing it may read for the test split
    for task in ("sun397", "eurosat", "caltech101"):
        assert open_source(get_task(task), "test", DataContext(copies, None, "clip"), fetch=False) is None
    # with CLIP_benchmark's VTAB export of EuroSAT there, the clip profile reads it and says what it read
    rng = np.random.default_rng(1)
    write_export(tmp_path / "wds_vtab-eurosat", [f"class {i}" for i in range(10)], [noise_png(rng) for _ in range(4)],
                 list(range(4)), templates=["a photo of {c}."])
    source = open_source(get_task("eurosat"), "test", DataContext(tmp_path, None, "clip"), fetch=False)
    assert len(source) == 4 and "wds_vtab-eurosat" in source.origin
    assert "eurosat: this run read" in source.choice_note
    assert "--profile clip_benchmark reads torchvision EuroSAT instead (torchvision's EuroSAT: all 27,000 images" \
        in source.choice_note
    # and the clip_benchmark profile does not fall back to that export when its own copy is missing
    with pytest.raises(UserError, match="EuroSAT"):
        open_source(get_task("eurosat"), "test", DataContext(tmp_path, None, "clip_benchmark"))


def test_data_dir_templates_fill_in_clip_benchmarks_dataset_names(copies, tmp_path):
    """CLIP_benchmark's --dataset_root templates: ``{dataset}`` (its dataset name for what a source reads) and
    ``{dataset_cleaned}`` (``/`` as ``-``), so one --data-dir serves per-dataset folders laid out for it."""
    from bench.core.errors import UserError

    # /data/{dataset}: its names for the whole copies under --profile clip_benchmark (sun397 -> per/sun397/...)
    ctx = DataContext(tmp_path / "per" / "{dataset}", None, "clip_benchmark")
    (tmp_path / "per").mkdir()
    for name in ("eurosat", "sun397"):
        (tmp_path / "per" / name).symlink_to(copies, target_is_directory=True)
    source = open_source(get_task("sun397"), "test", ctx, fetch=False)
    assert source is not None and len(source) == 6 and "per/sun397" in source.origin
    # .../wds_{dataset_cleaned}: an export of its VTAB EuroSAT found as vtab-eurosat
    spec = get_task("eurosat")
    export = next(s for s in spec.sources if s.type == "webdataset")
    ctx = DataContext(tmp_path / "exports" / "wds_{dataset_cleaned}", None, "clip")
    assert ctx.for_source(spec, export).data_dir == tmp_path / "exports" / "wds_vtab-eurosat"
    with pytest.raises(UserError, match="only {dataset} and {dataset_cleaned}"):
        DataContext(tmp_path / "{model}", None, "clip").for_source(spec, export)
