"""ImageNet metadata for the shift datasets: wnids, the 200-class subsets of ImageNet-R and
ImageNet-A, and ObjectNet's 113 classes with the ImageNet classes each corresponds to.

The data (``tasks/data/imagenet_meta.json``) names its sources; the R/A lists were checked
against a second, independent transcription when the file was made.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from bench.core.errors import UserError


@lru_cache(maxsize=None)
def imagenet_meta() -> dict:
    return json.loads((Path(__file__).parent / "data" / "imagenet_meta.json").read_text(encoding="utf-8"))


def imagenet_wnids() -> list[str]:
    return list(imagenet_meta()["imagenet_wnids"])


def objectnet_classes() -> list[dict]:
    """``[{"folder", "name", "imagenet": [indices]}]`` in folder-name order (= label order)."""
    return list(imagenet_meta()["objectnet"])


def subset_wnids(name: str) -> list[str]:
    key = {"imagenet-r": "imagenet_r_wnids", "imagenet-a": "imagenet_a_wnids"}[name]
    return list(imagenet_meta()[key])


SUBSETS = ("imagenet-r", "imagenet-a", "objectnet", "imagenette")

#: Imagenette's 10 classes (fast.ai), in wnid order = the label order of its folders and of the
#: Hugging Face copy frgfm/imagenette (tench, English springer, cassette player, chain saw, church,
#: French horn, garbage truck, gas pump, golf ball, parachute)
IMAGENETTE_WNIDS = ["n01440764", "n02102040", "n02979186", "n03000684", "n03028079", "n03394916", "n03417042",
                    "n03425413", "n03445777", "n03888257"]


def class_subset(name: str) -> list[list[int]]:
    """For each class of the shift task, the ImageNet class indices it stands for."""
    if name == "objectnet":
        return [list(c["imagenet"]) for c in objectnet_classes()]
    if name in ("imagenet-r", "imagenet-a", "imagenette"):
        index = {w: i for i, w in enumerate(imagenet_wnids())}
        return [[index[w]] for w in (IMAGENETTE_WNIDS if name == "imagenette" else subset_wnids(name))]
    raise UserError(f"unknown class subset '{name}' (known: {', '.join(SUBSETS)})")


def imagenet_names_of(wnids: list[str]) -> list:
    """CLIP's ImageNet class names for the given wnids, in the given order."""
    from prompts.classnames import get_classnames

    names, index = get_classnames("imagenet"), {w: i for i, w in enumerate(imagenet_wnids())}
    missing = [w for w in wnids if w not in index]
    if missing:
        raise UserError(f"not ImageNet-1k wnids: {', '.join(missing)}")
    return [names[index[w]] for w in wnids]
