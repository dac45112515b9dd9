"""Short constructors for the source specs the built-in tasks share, so a dataset stays a few
lines of data. CLIP_benchmark publishes every dataset of its suite as webdataset shards on the
Hugging Face hub (``clip-benchmark/wds_<name>``); most tasks list them as the download route."""
from __future__ import annotations

from typing import Any

from bench.core.profiles import CLIP_BENCHMARK
from tasks.spec import SourceSpec


def torchvision(dataset: str, splits: dict[str, dict] | None = None, **options: Any) -> SourceSpec:
    """A ``torchvision.datasets`` class; ``splits`` maps our split names to constructor keywords."""
    return SourceSpec("torchvision", {"dataset": dataset, **({"splits": splits} if splits else {}), **options})


#: the Hugging Face repositories of CLIP_benchmark's webdataset exports: ``clip-benchmark/wds_<export>``
EXPORT_REPO = "clip-benchmark/wds_"


def clip_benchmark_copy(source: SourceSpec, name: str, what: str) -> SourceSpec:
    """``source`` as what ``clip_benchmark eval --dataset NAME`` reads where it takes a dataset whole (no split:
    "split argument ignored"): the only source of the task's test split under ``--profile clip_benchmark``, and
    never read under another profile (its test split is every image). ``what`` says so in the records of other
    profiles; ``name`` is CLIP_benchmark's dataset name (its result files')."""
    return SourceSpec(source.type, {**source.options, "splits": {"test": {}}, "profile": CLIP_BENCHMARK,
                                    "exclusive": True, "what": what, "clip_benchmark_name": name})


def wds(name: str, **options: Any) -> SourceSpec:
    """CLIP_benchmark's webdataset copy. Its classnames.txt (CLIP_benchmark's names, in the export's
    label order) aligns the task's own names to the labels by name (``aliases``: export name -> task
    name where the two spell a class differently); it never replaces them."""
    return SourceSpec("webdataset", {"hf_repo": f"{EXPORT_REPO}{name}", "order_by_source": True, **options})


def local_folder(path: str, hint: str, **options: Any) -> SourceSpec:
    """An ImageFolder under DATA_DIR that cannot be downloaded; ``hint`` says how to get it."""
    return SourceSpec("imagefolder", {"path": "{data_dir}/" + path, "optional": True,
                                      "missing_hint": hint + " (DATA_DIR: --data-dir or $ZSBENCH_DATA)", **options})


def mirror(key: str, **options: Any) -> SourceSpec:
    return SourceSpec("mirror", {"mirror": key, **options})


TRAIN_TEST = {"test": {"train": False}, "train": {"train": True}}
SPLIT_NAMES = {"test": {"split": "test"}, "train": {"split": "train"}}


def datacomp_wds(task: str, **options: Any) -> SourceSpec:
    """DataComp's webdataset export of a task (``djghosh/wds_<task>_test`` on the hub, as its
    download_evalsets.py names them): classnames.txt, zeroshot_classification_templates.txt and
    test/*.tar, with KEY.npy metadata for the WILDS and fairness sets."""
    return SourceSpec("webdataset", {"hf_repo": f"djghosh/wds_{task.replace('/', '-')}_test",
                                     "classnames": "source", **options})
