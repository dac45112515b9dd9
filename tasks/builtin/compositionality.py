"""Compositionality: image-caption selection (``--protocol caption-selection``), named as CLIP_benchmark names
them (``sugar_crepe/<subset>``, ``winoground``). Sources: SugarCrepe, Hsieh et al. 2023 (data: the
RAIVNLab/sugar-crepe repository, images: COCO val2017); Winoground, Thrush et al. 2022 (facebook/winoground)."""
from __future__ import annotations

from tasks.sources.caption_selection import SUGAR_CREPE_SUBSETS
from tasks.spec import SourceSpec, TaskSpec

KIND = "caption-selection"

SPECS = [
    *(TaskSpec(name=f"sugar_crepe/{subset}", kind=KIND, metric="acc", classnames=None, templates=None,
               description=f"SugarCrepe {subset.replace('_', ' ')}: a COCO image, its caption and a hard negative "
                           "caption; accuracy = the caption scores above the negative",
               sources=(SourceSpec("sugar_crepe", {"subset": subset}),))
      for subset in SUGAR_CREPE_SUBSETS),
    TaskSpec(name="winoground", kind=KIND, metric="acc", classnames=None, templates=None,
             description="Winoground: two images, two captions with the same words in another order; text, image "
                         "and group scores (CLIP_benchmark's text_acc, image_acc, acc)",
             sources=(SourceSpec("paired_images", {"local": "winoground", "hf_repo": "facebook/winoground"}),),
             sizes={"test": 400}),
]
