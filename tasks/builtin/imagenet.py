"""ImageNet-1k and its distribution shifts (CLIP paper section 3.3), with CLIP's 1000 class
names and 80 templates.

None of these can be downloaded without an account or a manual step except through
CLIP_benchmark's webdataset copies on the Hugging Face hub; each local layout is the official
archive's, and the message for a missing copy says where to put it. ImageNet-R and -A cover
200 ImageNet classes and ObjectNet 113 (``class_subset``; data in tasks/data/imagenet_meta.json).
"""
from tasks.builtin.common import local_folder, mirror, wds
from tasks.spec import SourceSpec, TaskSpec
from tasks.subsets import IMAGENETTE_WNIDS, objectnet_classes, subset_wnids

#: this family's specs; tasks.registry registers them (the registry imports us, never the reverse)
SPECS: list[TaskSpec] = []

#: ImageNet's validation images, where every ImageNet-class task over them reads them (one feature cache entry)
IMAGENET_SOURCES = (local_folder("imagenet/{split}", "ImageNet is not on disk: put the 50,000 validation images in "
                                 "ImageFolder layout at DATA_DIR/imagenet/val/<wnid>/*.JPEG (1000 wnid folders, e.g. "
                                 "n01440764)"),
                    wds("imagenet1k", splits={"val": "test"}))  # CLIP_benchmark's export names the val split "test"

SPECS.append(TaskSpec(
    name="imagenet", paper="ImageNet",
    description="ImageNet-1k (ILSVRC 2012): 1000 classes; zero-shot on the validation set",
    sources=IMAGENET_SOURCES,
    classnames="imagenet", templates="openai_imagenet", split="val", train_split="train", n_classes=1000,
    sizes={"val": 50000, "train": 1281167},
))
SPECS.append(TaskSpec(
    name="imagenet-w",
    description="ImageNet-W (Li et al. 2023): ImageNet's validation images with a transparent watermark drawn in "
                "each model's centre crop before its Normalize, as CLIP_benchmark builds it (pip install imagenet-w, "
                "CC BY-NC 4.0)",
    sources=tuple(SourceSpec(spec.type, {**spec.options, "model_transform": "imagenet_w"}) for spec in IMAGENET_SOURCES),
    classnames="imagenet", templates="openai_imagenet", split="val", n_classes=1000, parent="imagenet",
    sizes={"val": 50000},
))
SPECS.append(TaskSpec(
    name="dummy",
    description="CLIP_benchmark's smoke test: one sample, label 0, classes 'blank image' and 'noisy image', fed to "
                "the model as zeros in place of its preprocessed pixels (no data needed)",
    sources=(SourceSpec("constant", {"labels": [0], "origin": "dummy", "model_transform": "zero_pixels"}),),
    # its names (builder.py's Dummy) and its one template (its en_zeroshot_classification_templates.json "dummy")
    classnames=["blank image", "noisy image"], templates=["a photo of a {}"], n_classes=2, sizes={"test": 1},
))
SPECS.append(TaskSpec(
    name="babel_imagenet",
    description="Babel-ImageNet (Geigle et al. 2023): ImageNet's validation images in 90 languages, each the classes "
                "with a translation (18-1000), NLLB-translated templates (CLIP_benchmark's tables; --language CODE, "
                "all or @babel)",
    sources=IMAGENET_SOURCES, classnames="imagenet", templates="openai_imagenet", split="val", train_split="train",
    languages="babel", language_table="babel_imagenet", sizes={"val": 50000, "train": 1281167},
))

SHIFT = dict(classnames="imagenet", templates="openai_imagenet", split="test", parent="imagenet")

SPECS.append(TaskSpec(
    name="imagenet-v2", description="ImageNet-V2 matched-frequency (Recht et al. 2019): 10,000 new test images",
    sources=(local_folder("imagenetv2-matched-frequency-format-val",
                          "ImageNet-V2 is not on disk: unpack imagenetv2-matched-frequency.tar.gz from "
                          "huggingface.co/datasets/vaishaal/ImageNetV2 into DATA_DIR (folders 0..999)",
                          include=[str(i) for i in range(1000)]),
             wds("imagenetv2")),
    n_classes=1000, sizes={"test": 10000}, **SHIFT,
))
SPECS.append(TaskSpec(
    name="imagenet-sketch", description="ImageNet-Sketch (Wang et al. 2019): 50,889 sketches of the 1000 classes",
    sources=(local_folder("imagenet-sketch/sketch", "ImageNet-Sketch is not on disk: unpack ImageNet-Sketch.zip "
                          "(github.com/HaohanWang/ImageNet-Sketch) so that DATA_DIR/imagenet-sketch/sketch/<wnid>/ exist"),
             wds("imagenet_sketch")),
    n_classes=1000, sizes={"test": 50889}, **SHIFT,
))
for name, size, url in (("imagenet-r", 30000, "people.eecs.berkeley.edu/~hendrycks/imagenet-r.tar"),
                        ("imagenet-a", 7500, "people.eecs.berkeley.edu/~hendrycks/imagenet-a.tar")):
    SPECS.append(TaskSpec(
        name=name, description=f"ImageNet-{name[-1].upper()} (Hendrycks et al. 2021): {size:,} images of 200 ImageNet classes",
        sources=(local_folder(name, f"{name} is not on disk: download {url} and unpack it so that DATA_DIR/{name}/<wnid>/ exist",
                              include=subset_wnids(name)),
                 wds(name)),
        n_classes=200, class_subset=name, sizes={"test": size}, **SHIFT,
    ))
SPECS.append(TaskSpec(
    name="objectnet", description="ObjectNet (Barbu et al. 2019): the 113 classes that overlap ImageNet, 2 px border cropped",
    sources=(local_folder("objectnet-1.0/images", "ObjectNet is not on disk: unzip objectnet-1.0.zip (objectnet.dev) into "
                          "DATA_DIR so that DATA_DIR/objectnet-1.0/images/<class folder>/ exist",
                          include=[c["folder"] for c in objectnet_classes()], transform="crop_border_2"),
             wds("objectnet")),
    **{**SHIFT, "classnames": [c["name"].lower() for c in objectnet_classes()]},
    n_classes=113, class_subset="objectnet", sizes={"test": 18574},
))
SPECS.append(TaskSpec(
    name="foolbox-imagenet", description="20 labelled ImageNet validation images from the foolbox 3.3.4 wheel (offline smoke test)",
    sources=(mirror("foolbox-imagenet"),), classnames="imagenet", templates="openai_imagenet", n_classes=1000,
    sizes={"test": 20},
))

SPECS.append(TaskSpec(
    name="imagenette", description="Imagenette (fast.ai): 10 easy ImageNet classes, validation split (320 px)",
    sources=(local_folder("imagenette2-320/{split}", "Imagenette is not on disk: unpack imagenette2-320.tgz "
                          "(github.com/fastai/imagenette) into DATA_DIR so that DATA_DIR/imagenette2-320/val/<wnid>/ "
                          "exist", include=IMAGENETTE_WNIDS),
             SourceSpec("hf", {"repo": "frgfm/imagenette", "config": "320px",
                               "splits": {"val": "validation", "train": "train"}})),
    classnames="imagenet", class_subset="imagenette", templates="openai_imagenet", split="val", train_split="train",
    n_classes=10, sizes={"val": 3925, "train": 9469},
))
