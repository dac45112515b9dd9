"""CLIP_benchmark's and DataComp's dataset names, accepted by ``--task`` for the task they stand for.

A user who comes from ``clip_benchmark eval --dataset cars`` or DataComp's ``tasklist.yml``
(``vtab/pets``, ``wilds/iwildcam``, ``retrieval/flickr_1k_test_image_text_retrieval``) types the
name they know; ``get_task`` maps it here. ``wds/<name>`` (CLIP_benchmark's webdataset form of any
of its datasets) maps like ``<name>``. The CLIP_benchmark keys are checked against its own
``dataset_collection`` (clip-benchmark 1.6.2, ``clip_benchmark/datasets/builder.py``) by the tests;
the DataComp keys are ``tasklist.yml``'s at mlfoundations/datacomp@4a8df19.

Names of theirs that zsbench has no task for get a one-line answer naming the way round (their
export folder as ``--task``), never a silent substitute. Where CLIP_benchmark has two datasets under two names
(``eurosat`` and ``caltech101`` read whole, ``vtab/eurosat`` and ``vtab/caltech101`` on VTAB's split), zsbench
has two tasks: the plain ones read the whole dataset under ``--profile clip_benchmark`` and VTAB's split otherwise
(the record says which), the ``vtab/`` ones read VTAB's split always.
"""
from __future__ import annotations

from tasks.builtin.common import EXPORT_REPO
from tasks.builtin.vtab import CLIP_BENCHMARK_NAMES as _VTAB_REST

#: CLIP_benchmark's dataset name -> zsbench task
CLIP_BENCHMARK: dict[str, str] = {
    # image-caption selection: zsbench's tasks carry CLIP_benchmark's own names
    **{f"sugar_crepe/{s}": f"sugar_crepe/{s}" for s in ("add_att", "add_obj", "replace_att", "replace_obj",
                                                         "replace_rel", "swap_att", "swap_obj")},
    "imagenet1k": "imagenet", "imagenet1k-unverified": "imagenet",  # its ImageFolder of val/: ours, read so
    "imagenet-w": "imagenet-w", "dummy": "dummy",
    "imagenetv2": "imagenet-v2", "imagenet_sketch": "imagenet-sketch",
    "imagenet-a": "imagenet-a", "imagenet-r": "imagenet-r", "imagenet-o": "imagenet-o", "objectnet": "objectnet",
    "cifar10": "cifar10", "cifar100": "cifar100", "voc2007": "voc2007", "fer2013": "fer2013", "sun397": "sun397",
    "voc2007_multilabel": "voc2007_multilabel",
    "cars": "stanford_cars", "fgvc_aircraft": "fgvc_aircraft", "mnist": "mnist", "stl10": "stl10", "gtsrb": "gtsrb",
    "country211": "country211", "renderedsst2": "rendered_sst2", "food101": "food101", "dtd": "dtd",
    "pets": "oxford_pets", "flowers": "flowers102", "eurosat": "eurosat", "pcam": "pcam",
    "mscoco_captions": "mscoco", "flickr30k": "flickr30k", "flickr8k": "flickr8k",
    # multilingual: zsbench's tasks carry CLIP_benchmark's own names
    **{n: n for n in ("babel_imagenet", "xtd10", "xtd200", "crossmodal3600", "multilingual_mscoco_captions",
                      "flickr30k-200")},
    "vtab/caltech101": "vtab/caltech101", "vtab/cifar10": "cifar10", "vtab/cifar100": "cifar100",
    "vtab/clevr_count_all": "clevr_counts", "vtab/clevr_closest_object_distance": "clevr_distance",
    "vtab/dtd": "dtd", "vtab/eurosat": "vtab/eurosat", "vtab/kitti_closest_vehicle_distance": "kitti_distance",
    "vtab/flowers": "flowers102", "vtab/pets": "oxford_pets", "vtab/pcam": "pcam", "vtab/resisc45": "resisc45",
    "vtab/svhn": "svhn", **_VTAB_REST,
}
#: DataComp's task keys (tasklist.yml) that CLIP_benchmark does not share -> zsbench task
DATACOMP: dict[str, str] = {
    "retrieval/flickr_1k_test_image_text_retrieval": "flickr30k",
    "retrieval/mscoco_2014_5k_test_image_text_retrieval": "mscoco", "misc/winogavil": "winogavil",
    "wilds/iwildcam": "iwildcam", "wilds/camelyon17": "camelyon17", "wilds/fmow": "fmow",
    "fairness/dollar_street": "dollar_street", "fairness/geode": "geode",
}
ALIASES: dict[str, str] = {**CLIP_BENCHMARK, **DATACOMP}
#: CLIP_benchmark dataset names zsbench has no task for (besides its ``vtab/``, ``tfds/`` and ``fairness/`` ones)
CLIP_BENCHMARK_ONLY = ("caltech101",)
#: where CLIP_benchmark's --custom_template_file falls back to for a dataset it does not name
TEMPLATE_FALLBACK_KEY = "imagenet1k"


def _short(name: str) -> str | None:
    """CLIP_benchmark's short form of a prefixed name (``vtab/pets`` -> ``pets``), which its keyed files may use."""
    return name.split("/", 1)[1] if name.startswith(("vtab/", "tfds/", "wds/")) else None


def file_keys(task: str) -> list[str]:
    """The keys a file keyed by dataset (CLIP_benchmark's --custom_classname_file / --custom_template_file
    layout, or ours) may hold for our ``task``, in the order they are looked up: our name, then each
    CLIP_benchmark name of it, each followed by its short form (``vtab/flowers``, ``flowers``)."""
    keys = [task]
    for name, ours in CLIP_BENCHMARK.items():
        if ours == task:
            keys += [name, _short(name)]
    return [k for k in dict.fromkeys(keys) if k]


def clip_benchmark_key(key: str) -> bool:
    """Whether ``key`` is a dataset name of CLIP_benchmark's, prefixed or short, mapped to a task of ours or not."""
    from prompts.references import cb_file

    bare = key.removeprefix("wds/")  # its webdataset form of any of its names
    return (bare in CLIP_BENCHMARK or bare in CLIP_BENCHMARK_ONLY or bare.startswith(("vtab/", "tfds/", "fairness/"))
            or any(_short(name) == bare for name in CLIP_BENCHMARK)
            or any(bare in cb_file(kind, "en") for kind in ("classnames", "zeroshot_classification_templates")))




def export_dataset(options: dict) -> str | None:
    """CLIP_benchmark's dataset name (without ``wds/``) of the export a webdataset source reads
    (``clip-benchmark/wds_vtab-eurosat`` -> ``vtab/eurosat``), or None."""
    repo = str(options.get("hf_repo", ""))
    if not repo.startswith(EXPORT_REPO):
        return None
    export = repo[len(EXPORT_REPO):]
    return export.replace("-", "/", 1) if export.startswith(("vtab-", "tfds-")) else export


def clip_benchmark_name(task: str, options: dict | None = None) -> str:
    """The dataset name CLIP_benchmark gives what our ``task`` reads through a source with ``options``: the export's
    name for one of its exports, the name a whole-dataset copy stands for, else its name for the task (``cars``
    for stanford_cars), else ours."""
    options = options or {}
    name = export_dataset(options) or options.get("clip_benchmark_name")
    if name:
        return str(name)
    return next((theirs for theirs, ours in CLIP_BENCHMARK.items() if ours == task), task)


def reference_task(name: str) -> str | None:
    """The zsbench task a CLIP_benchmark / DataComp dataset name stands for (``wds/`` stripped)."""
    bare = name.removeprefix("wds/")
    return ALIASES.get(bare)


def unmapped_hint(name: str) -> str | None:
    """For a name of theirs with no zsbench task: what to do instead (one clause)."""
    bare = name.removeprefix("wds/")
    if bare == "caltech101":
        return ("CLIP_benchmark's caltech101 is Caltech-101 read whole: --task caltech101 --profile clip_benchmark; "
                "its vtab/caltech101 (VTAB's split) is --task vtab/caltech101; or give the export folder as --task")
    if bare.startswith("tfds/"):
        folder = "wds_" + bare.replace("/", "-")
        return (f"CLIP_benchmark reads '{name}' through timm's TensorFlow Datasets reader, and TensorFlow is not a "
                f"dependency of zsbench: give its webdataset export (clip-benchmark/{folder}, or one written by "
                "CLIP_benchmark's clip_benchmark_export_wds) as --task")
    if bare.startswith(("vtab/", "tfds/", "fairness/")) or bare in CLIP_BENCHMARK_ONLY:
        folder = "wds_" + bare.replace("/", "-")
        return (f"'{name}' is a CLIP_benchmark/DataComp dataset zsbench has no task for: download its export "
                f"(clip-benchmark/{folder} on the Hugging Face hub) and give the folder as --task")
    return None


def fill_dataset(template: str, task: str, flag: str, options: dict | None = None) -> str:
    """A folder template with CLIP_benchmark's ``{dataset}`` / ``{dataset_cleaned}`` (its --dataset_root and
    --output templates) filled in with its name of what ``task`` reads; as given without a placeholder."""
    import re

    from bench.core.errors import UserError

    if not re.search(r"\{[A-Za-z_]\w*\}", template):
        return template
    name = clip_benchmark_name(task, options)
    try:
        return template.format(dataset=name, dataset_cleaned=name.replace("/", "-"))
    except (KeyError, IndexError, ValueError):
        raise UserError(f"{flag} {template}: only {{dataset}} and {{dataset_cleaned}} can be filled in") from None
