"""ImageNet-1k validation (ILSVRC 2012), with CLIP's 1000 class names and 80 templates.

The images must be on disk (they cannot be downloaded without an account): the 50,000
validation images in ImageFolder layout, one folder per wnid, sorted wnids = class index.
"""
from tasks.registry import register
from tasks.spec import SourceSpec, TaskSpec

register(TaskSpec(
    name="imagenet",
    description="ImageNet-1k validation: 1000 classes, 50,000 images (local files only)",
    sources=(SourceSpec("imagefolder", {
        "path": "{data_dir}/imagenet/{split}",
        "optional": True,
        "missing_hint": "ImageNet is not on disk: put the 50,000 validation images in ImageFolder layout at "
                        "DATA_DIR/imagenet/val/<wnid>/*.JPEG (1000 wnid folders, e.g. n01440764) and pass --data-dir DATA_DIR",
    }),),
    classnames="imagenet",
    templates="openai_imagenet",
    split="val",
    train_split="train",
    n_classes=1000,
))
