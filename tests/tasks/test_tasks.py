"""The built-in registry: every spec resolves its class names and templates, with the right
counts, and the shift subsets match the published lists."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.engine.protocol_registry import default_protocol
from tasks.classes import resolve_classnames, resolve_templates
from tasks.registry import get_task, list_tasks
from tasks.sources.base import ImageSource
from tasks.subsets import class_subset, imagenet_wnids, objectnet_classes, subset_wnids

CLIP_BENCHMARK = Path(__import__("clip_benchmark").__file__).parent / "datasets"


class NoData(ImageSource):
    """Stands in for a dataset that is not on disk: labels only, no own class names."""

    def __init__(self, n: int):
        self.targets = np.arange(n) % max(n, 1)
        self.origin, self.identity, self.classes = "no data", "none", None

    def load(self, index):  # pragma: no cover - never decoded
        raise AssertionError


EXPECTED = {"imagenet": 1000, "imagenet-v2": 1000, "imagenet-sketch": 1000, "imagenet-r": 200, "imagenet-a": 200,
            "objectnet": 113, "cifar10": 10, "cifar100": 100, "mnist": 10, "fashion-mnist": 10, "svhn": 10,
            "stl10": 10, "food101": 101, "stanford_cars": 196, "fgvc_aircraft": 100, "dtd": 47, "oxford_pets": 37,
            "caltech101": 102, "flowers102": 102, "sun397": 397, "eurosat": 10, "resisc45": 45, "gtsrb": 43,
            "kitti_distance": 4, "country211": 211, "pcam": 2, "fer2013": 7, "clevr_counts": 8,
            "rendered_sst2": 2, "ucf101": 101, "kinetics700": 700}


def test_the_clip_suite_is_registered():
    names = {t.name for t in list_tasks()}
    assert set(EXPECTED) <= names


@pytest.mark.parametrize("spec", list_tasks(), ids=lambda s: s.name)
def test_every_builtin_resolves_names_and_templates(spec):
    if spec.kind == "retrieval":  # captions instead of class names and templates
        assert spec.metric == "mean_recall@1" and default_protocol(spec.kind) == "retrieval" and spec.classnames is None
        return
    if spec.kind == "association":  # cue words and candidate images (WinoGAViL)
        assert default_protocol(spec.kind) == "association" and spec.classnames is None
        return
    from bench.engine.protocol_registry import kind_names_classes

    if spec.kind != "classification" and not kind_names_classes(spec.kind):  # caption-selection: its own data
        assert default_protocol(spec.kind) and spec.classnames is None and spec.templates is None
        return
    data = NoData(spec.n_classes or 1000)  # classification, and a protocol's own kind that prompts class names (multilabel)
    if spec.classnames == "source":  # DataComp's own exports: names and templates ship with the data
        data.classes = [f"class {i}" for i in range(spec.n_classes)]
        data.templates = ["a photo of {c}.", "{c}."]
        assert spec.templates == "source" or spec.kind != "classification"
    names = resolve_classnames(spec, data)
    if spec.language_table:  # each language its own classes (Babel-ImageNet's English: all 1000 of ImageNet's)
        from prompts.languages import language_classes

        assert spec.n_classes is None and len(names) == len(language_classes(spec.language_table, "en", spec.name).names)
    else:
        assert len(names) == spec.n_classes == EXPECTED.get(spec.name, spec.n_classes)
    templates, _ = resolve_templates(spec, None, data)
    assert templates and all("{}" in t for t in templates)
    assert spec.split in spec.sizes or not spec.sizes


def test_paper_metrics():
    mpcr = {t.name for t in list_tasks() if t.metric == "mean_per_class_recall"}
    assert mpcr == {"fgvc_aircraft", "oxford_pets", "caltech101", "flowers102",  # CLIP paper, Table 9
                    "vtab/caltech101"}  # CLIP_benchmark's name for caltech101 on VTAB's split: the same metric


def test_imagenet_r_and_a_subsets_against_clip_benchmark():
    """Our wnid lists (data file) against CLIP_benchmark's code, an independent copy."""
    import ast
    import re

    src = (CLIP_BENCHMARK / "builder.py").read_text()
    for name, var in (("imagenet-r", "imagenet_r_wnids"), ("imagenet-a", "imagenet_a_wnids")):
        theirs = ast.literal_eval(re.search(var + r" = (\[.*?\]|\{.*?\})\n", src, re.S).group(1))
        assert sorted(theirs) == subset_wnids(name) and len(theirs) == 200
        wnids = imagenet_wnids()
        assert [ids[0] for ids in class_subset(name)] == [wnids.index(w) for w in sorted(theirs)]
    names = resolve_classnames(get_task("imagenet-r"), NoData(200))
    assert names[0] == "goldfish" and len(set(map(str, names))) == 200


def test_objectnet_mapping():
    classes = objectnet_classes()
    assert len(classes) == 113
    ids = [i for c in classes for i in c["imagenet"]]
    assert len(ids) == len(set(ids)) == 125 and all(0 <= i < 1000 for i in ids)
    by_name = {c["name"]: c["imagenet"] for c in classes}
    clip_names = json.loads((Path(__file__).parents[2] / "prompts/data/clip_prompts.json").read_text())["datasets"]["ImageNet"]["classes"]
    assert [clip_names[i] for i in by_name["Alarm clock"]] == ["analog clock", "digital clock"]
    assert [clip_names[i] for i in by_name["Banana"]] == ["banana"]
    assert [c["folder"] for c in classes] == sorted(c["folder"] for c in classes)


def test_order_by_source_reorders_clip_names_to_the_data():
    """Oxford Pets: CLIP lists cats first; torchvision orders breeds alphabetically."""
    spec = get_task("oxford_pets")
    tv_classes = sorted(resolve_classnames(spec, NoData(37)), key=str.casefold)
    source = NoData(37)
    source.classes = [c.title() for c in tv_classes]
    source.spec_options = spec.sources[0].options
    names = resolve_classnames(spec, source)
    assert [n.casefold() for n in names] == [c.casefold() for c in tv_classes]


def test_clip_names_agree_with_clip_benchmark_where_both_exist():
    theirs = json.loads((CLIP_BENCHMARK / "en_classnames.json").read_text())
    for ours, key in (("flowers102", "flowers"), ("gtsrb", "gtsrb"), ("country211", "country211"),
                      ("caltech101", "caltech101"), ("pcam", "pcam"), ("svhn", "svhn")):
        assert resolve_classnames(get_task(ours), NoData(len(theirs[key]))) == theirs[key]


def test_third_party_tasks_register_through_entry_points(tmp_path):
    """A package exposing an entry point in group ``zsbench.tasks`` registers on first lookup."""
    import sys

    from helpers.plugins import installed_plugin
    from tasks.registry import get_task

    site = tmp_path / "site"
    site.mkdir()
    (site / "my_zsbench_plugin.py").write_text(
        "from tasks.registry import register\nfrom tasks.spec import SourceSpec, TaskSpec\n"
        "register(TaskSpec(name='plugin-task', sources=(SourceSpec('imagefolder', {'path': '/x'}),), classnames='source'))\n"
        "MORE = [TaskSpec(name='plugin-task-2', sources=(SourceSpec('imagefolder', {'path': '/y'}),), classnames='source')]\n")
    with installed_plugin(site, "my-zsbench-plugin", {"zsbench.tasks": {"mine": "my_zsbench_plugin",
                                                                         "more": "my_zsbench_plugin:MORE"}}):
        assert get_task("plugin-task").name == "plugin-task"
        assert get_task("plugin-task-2").sources[0].options["path"] == "/y"
    sys.modules.pop("my_zsbench_plugin", None)
    with pytest.raises(Exception, match="unknown task 'plugin-task'"):
        get_task("plugin-task")


def test_classnames_file_replaces_a_tasks_names(tmp_path):
    from bench.core.errors import UserError
    from tasks.classes import override_classnames
    from tasks.registry import get_task

    spec = get_task("cifar10")
    own = resolve_classnames(spec, NoData(10))
    zh = ["飞机", "汽车", "鸟", "猫", "鹿", "狗", "青蛙", "马", "船", "卡车"]
    (tmp_path / "names.txt").write_text("\n".join(zh) + "\n", encoding="utf-8")
    assert override_classnames(spec, own, tmp_path / "names.txt") == zh
    (tmp_path / "names.json").write_text(json.dumps({"cifar10": zh, "mnist": [str(i) for i in range(10)]}),
                                         encoding="utf-8")
    assert override_classnames(spec, own, tmp_path / "names.json") == zh
    assert override_classnames(get_task("cifar100"), ["x"] * 100, tmp_path / "names.json") == ["x"] * 100  # not named
    (tmp_path / "short.json").write_text(json.dumps(zh[:9]), encoding="utf-8")
    with pytest.raises(UserError, match="9 names for task cifar10, which has 10 classes"):
        override_classnames(spec, own, tmp_path / "short.json")


def test_clip_benchmark_keyed_files_are_read_as_clip_benchmark_reads_them(tmp_path):
    """CLIP_benchmark's --custom_classname_file / --custom_template_file are keyed by its dataset names (``pets``,
    ``cars``, ``vtab/flowers`` or ``flowers``); its templates fall back to ``imagenet1k``. Such files were silently
    ignored (class names) or refused (templates); a key that names no dataset is refused, never ignored."""
    from bench.core.errors import UserError
    from tasks.classes import override_classnames, resolve_templates
    from tasks.registry import get_task

    pets, cars, flowers = (get_task(n) for n in ("oxford_pets", "stanford_cars", "flowers102"))
    names = {"pets": [f"pet {i}" for i in range(37)], "cars": [f"car {i}" for i in range(196)],
             "vtab/flowers": [f"flower {i}" for i in range(102)]}
    f = tmp_path / "custom_classnames.json"
    f.write_text(json.dumps(names), encoding="utf-8")
    assert override_classnames(pets, ["x"] * 37, f) == names["pets"]
    assert override_classnames(cars, ["x"] * 196, f) == names["cars"]
    assert override_classnames(flowers, ["x"] * 102, f) == names["vtab/flowers"]
    f.write_text(json.dumps({**names, "petz": names["pets"]}), encoding="utf-8")
    with pytest.raises(UserError, match="key 'petz' names no task.*did you mean.*pets"):
        override_classnames(pets, ["x"] * 37, f)

    t = tmp_path / "custom_templates.json"
    t.write_text(json.dumps({"imagenet1k": ["a photo of a {c}.", "itap of a {c}."], "cars": ["a photo of a {c}, a car."]}))
    assert resolve_templates(cars, str(t)) == (["a photo of a {}, a car."], f"{t}#cars")
    assert resolve_templates(get_task("cifar10"), str(t)) == (["a photo of a {}.", "itap of a {}."], f"{t}#imagenet1k")
    t.write_text(json.dumps({"imagenet1k": ["a photo of a {c}."], "carz": ["a photo of a {c}, a car."]}))
    with pytest.raises(UserError, match="key 'carz' names no task"):
        resolve_templates(cars, str(t))
    # CLIP_benchmark's own files, given as custom files, are keyed by its names, all of which are known keys
    assert resolve_templates(get_task("resisc45"), str(_cb_data("en_zeroshot_classification_templates.json")))[1] \
        .endswith("#resisc45")
    cb_names = _cb_data("en_classnames.json")
    assert override_classnames(pets, ["x"] * 37, cb_names) == json.loads(cb_names.read_text())["pets"]


def _cb_data(name: str):
    from prompts.templates import DATA

    return DATA / "clip_benchmark" / name


@pytest.mark.slow
def test_classnames_option_reaches_the_run_and_the_record(tiny_folder, tmp_path):
    from bench.engine.runner import RunConfig, run

    names = ["bleu rond", "jaune rond", "vert carré", "rouge carré"]  # the folders in label order
    (tmp_path / "n.json").write_text(json.dumps(names), encoding="utf-8")
    (rec,) = run(RunConfig(models=[("ViT-S-32", "none")], tasks=[str(tiny_folder)], templates=["single"],
                           classnames_file=tmp_path / "n.json", no_save=True, cache_dir=tmp_path / "c",
                           num_workers=0, progress=False))
    assert rec.task_info["classnames"] == names and rec.config["classnames_file"] == str(tmp_path / "n.json")


def test_clip_benchmark_and_datacomp_dataset_names_are_accepted():
    """Every dataset in CLIP_benchmark's own collections either maps to a task (checked: same data, i.e.
    the task's CLIP_benchmark export or class-name key agrees) or is refused in one line naming the way
    round; `wds/<name>` maps like `<name>`; DataComp's tasklist keys map to the 38-task suite."""
    from clip_benchmark.datasets.builder import dataset_collection

    from bench.core.errors import UserError
    from prompts.references import CB_KEYS
    from tasks.reference_names import CLIP_BENCHMARK, DATACOMP
    from tasks.registry import get_task
    from tasks.suites import read_suite

    theirs = {name for names in dataset_collection.values() for name in names}
    for name in sorted(theirs):
        for spelled in (name, "wds/" + name):
            if name in CLIP_BENCHMARK:
                spec = get_task(spelled)
                assert spec.name == CLIP_BENCHMARK[name]
                repos = [s.options.get("hf_repo", "") for s in spec.sources]
                export = "clip-benchmark/wds_" + name.replace("/", "-")
                bare = name.split("/")[-1]
                assert export in repos or spec.name in (bare, name) or CB_KEYS.get(spec.name) in (bare, bare + "_vtab"), \
                    (name, repos)
            else:
                with pytest.raises(UserError, match=r"zsbench has no task|torchvision's Caltech-101|export"):
                    get_task(spelled)
    assert set(CLIP_BENCHMARK) - theirs <= {"cifar10", "cifar100", "food101", "dtd", "pets", "flowers", "eurosat",
                                            "pcam", "imagenet-o", "imagenet1k-unverified",  # outside its collections
                                            "babel_imagenet", "xtd10", "xtd200", "crossmodal3600", "flickr30k-200",
                                            "multilingual_mscoco_captions", "imagenet-w", "dummy",
                                            *(f"vtab/{n}" for n in ("cub", "inaturalist", "dsprites_label_shape",
                                                                    "cars", "food101", "sun397",
                                                                    "dsprites_label_scale", "dsprites_label_y_position",
                                                                    "smallnorb_label_category",
                                                                    "smallnorb_label_lighting"))}
    mapped = {get_task(k).name for k in DATACOMP} | {get_task(k).name for k in CLIP_BENCHMARK}
    # vtab/caltech101 and vtab/eurosat: VTAB's split always; @datacomp runs caltech101 and eurosat, which read that
    # same split under --profile datacomp
    assert mapped | {n.removeprefix("vtab/") for n in mapped} >= set(read_suite("@datacomp"))
