"""The rest of VTAB-1k (Zhai et al. 2019) as CLIP_benchmark 1.6.2 evaluates it (``build_vtab_dataset``: DMLab,
Diabetic Retinopathy, dSprites and SmallNORB with each attribute it predicts), and the two fine-grained sets it
reads the same way, CUB-200-2011 and iNaturalist 2017.

CLIP_benchmark reads these through TensorFlow Datasets and VTAB's splits; its webdataset exports
(``clip-benchmark/wds_vtab-<name>``) hold the same test splits with its class names and templates, and are what
zsbench reads (TensorFlow is not a dependency). So each task takes both lists from its export ("source"), as
CLIP_benchmark does for ``wds/`` data; several of these lists exist nowhere else (dSprites' and SmallNORB's come
from TFDS's feature names). Without the export on disk or a network, the download fails in one line naming the
repository; with a copy elsewhere, give its folder as ``--task`` or ``--data-dir``.
"""
from tasks.builtin.common import wds
from tasks.spec import TaskSpec

#: (our name, CLIP_benchmark's vtab/ name, description, classes: TFDS's feature sizes, which CLIP_benchmark keeps
#: as they are, since it builds VTAB's data classes without their num_classes)
_VTAB = (
    ("dmlab", "dmlab", "DMLab (VTAB structured): distance to and kind of the reward object, 6 classes", 6),
    ("diabetic_retinopathy", "diabetic_retinopathy", "Diabetic Retinopathy (VTAB specialized): severity grade 0-4 "
     "of retina photographs (btgraham-300), 5 classes", 5),
    ("dsprites_shape", "dsprites_label_shape", "dSprites (VTAB structured): the sprite's shape", 3),
    ("dsprites_scale", "dsprites_label_scale", "dSprites (VTAB structured): the sprite's scale", 6),
    ("dsprites_orientation", "dsprites_label_orientation", "dSprites (VTAB structured): the sprite's orientation "
     "(TFDS's 40 values: CLIP_benchmark does not bin them as VTAB's 16-class task does)", 40),
    ("dsprites_x_position", "dsprites_label_x_position", "dSprites (VTAB structured): the sprite's horizontal "
     "position (TFDS's 32 values, unbinned as in CLIP_benchmark)", 32),
    ("dsprites_y_position", "dsprites_label_y_position", "dSprites (VTAB structured): the sprite's vertical "
     "position (TFDS's 32 values, unbinned as in CLIP_benchmark)", 32),
    ("smallnorb_category", "smallnorb_label_category", "SmallNORB (VTAB structured): the toy's category", 5),
    ("smallnorb_elevation", "smallnorb_label_elevation", "SmallNORB (VTAB structured): the camera's elevation", 9),
    ("smallnorb_azimuth", "smallnorb_label_azimuth", "SmallNORB (VTAB structured): the camera's azimuth", 18),
    ("smallnorb_lighting", "smallnorb_label_lighting", "SmallNORB (VTAB structured): the lighting", 6),
    ("cub", "cub", "CUB-200-2011 birds (VTAB's split): 200 species", 200),
    ("inaturalist2017", "inaturalist", "iNaturalist 2017 (VTAB's split): 5,089 species", 5089),
    # three CLIP tasks as CLIP_benchmark's vtab/ names read them (TFDS's splits, its export's lists): twins of
    # stanford_cars, food101 and sun397, which read the original datasets
    ("vtab/cars", "cars", "Stanford Cars as CLIP_benchmark's vtab/cars reads it (TFDS cars196's test split, its "
     "export); stanford_cars reads the original", 196),
    ("vtab/food101", "food101", "Food-101 as CLIP_benchmark's vtab/food101 reads it (TFDS's validation split as "
     "test, its export); food101 reads the original", 101),
    ("vtab/sun397", "sun397", "SUN397 as CLIP_benchmark's vtab/sun397 reads it (TFDS's split, its export); sun397 "
     "reads the original", 397),
)
#: CLIP_benchmark's dataset name -> ours (tasks.reference_names takes these)
CLIP_BENCHMARK_NAMES = {f"vtab/{theirs}": ours for ours, theirs, _, _ in _VTAB}

#: this family's specs; tasks.registry registers them
SPECS: list[TaskSpec] = [
    TaskSpec(name=ours, description=description, sources=(wds(f"vtab-{theirs}"),),
             classnames="source", templates="source", n_classes=n_classes, train_split="train")
    for ours, theirs, description, n_classes in _VTAB
]
