"""The rest of the CLIP paper's zero-shot / linear-probe suite (Radford et al. 2021, Table 9).

Class names and templates are the CLIP repository's (data/prompts.md), in CLIP's order; where a
torchvision dataset orders its labels differently, ``order_by_source`` matches CLIP's names to
the dataset's own (case-insensitively) or a map renames them. Metrics follow the paper's
Table 9: mean per-class recall for FGVC Aircraft, Oxford Pets, Caltech-101 and Flowers-102,
top-1 elsewhere. Hateful Memes (ROC AUC) and Pascal VOC (11-point mAP) need metrics this suite
does not compute yet and are not registered.
"""
from dataclasses import replace

from tasks.builtin.common import SPLIT_NAMES, clip_benchmark_copy, local_folder, torchvision, wds
from tasks.spec import TaskSpec

#: this family's specs; tasks.registry registers them (the registry imports us, never the reverse)
SPECS: list[TaskSpec] = []

MPCR = "mean_per_class_recall"


def splits(*names: str, **renamed: str) -> dict:
    return {**{n: {"split": n} for n in names}, **{ours: {"split": theirs} for ours, theirs in renamed.items()}}


EUROSAT_NAMES = {  # torchvision's folder names -> CLIP's names (CLIP lists them in another order)
    "AnnualCrop": "annual crop land", "Forest": "forest", "HerbaceousVegetation": "brushland or shrubland",
    "Highway": "highway or road", "Industrial": "industrial buildings or commercial buildings",
    "Pasture": "pasture land", "PermanentCrop": "permanent crop land",
    "Residential": "residential buildings or homes or apartments", "River": "river", "SeaLake": "lake or sea",
}


#: CLIP_benchmark's CLEVR count names (words) -> CLIP's (digits)
CLEVR_WORDS = {w: str(n) for n, w in enumerate(["three", "four", "five", "six", "seven", "eight", "nine", "ten"], 3)}


def middle_frames(name: str, title: str) -> tuple:
    return (local_folder(f"{name}-frames/{{split}}", f"{title} is video: extract each test clip's middle frame "
                         f"(e.g. ffmpeg -ss <duration/2> -i clip.mp4 -frames:v 1 frame.jpg) into "
                         f"DATA_DIR/{name}-frames/test/<class>/, one folder per class in CLIP's class order"),)


SUITE = [
    TaskSpec(name="stl10", paper="STL10", description="STL-10: 10 classes, 96x96",
             sources=(torchvision("STL10", SPLIT_NAMES), wds("stl10")), classnames="stl10", templates="stl10",
             n_classes=10, train_split="train", sizes={"test": 8000, "train": 5000}),
    TaskSpec(name="food101", paper="Food101", description="Food-101: 101 dishes",
             sources=(torchvision("Food101", SPLIT_NAMES), wds("food101")), classnames="food101", templates="food101",
             n_classes=101, train_split="train", sizes={"test": 25250, "train": 75750}),
    TaskSpec(name="stanford_cars", paper="StanfordCars", description="Stanford Cars: 196 make/model/year classes",
             sources=(torchvision("StanfordCars", SPLIT_NAMES,
                                  manual="the Stanford Cars download link is gone; put the Kaggle copy "
                                         "(devkit, cars_train, cars_test, cars_test_annos_withlabels.mat) in {root}"),
                      wds("cars")),
             classnames="stanford_cars", templates="stanford_cars", n_classes=196, train_split="train",
             sizes={"test": 8041, "train": 8144}),
    TaskSpec(name="fgvc_aircraft", paper="FGVCAircraft", description="FGVC Aircraft: 100 variants",
             sources=(torchvision("FGVCAircraft", splits("test", "train", "val"), kwargs={"annotation_level": "variant"}),
                      wds("fgvc_aircraft")),
             classnames="fgvc_aircraft", templates="fgvc_aircraft", metric=MPCR, n_classes=100,
             train_split="train", val_split="val", sizes={"test": 3333, "train": 3334, "val": 3333}),
    TaskSpec(name="dtd", paper="DescribableTextures", description="Describable Textures (split 1): 47 classes",
             sources=(torchvision("DTD", splits("test", "train", "val"), kwargs={"partition": 1}), wds("dtd")),
             classnames="dtd", templates="dtd", n_classes=47, train_split="train", val_split="val",
             sizes={"test": 1880, "train": 1880, "val": 1880}),
    TaskSpec(name="oxford_pets", paper="OxfordPets", description="Oxford-IIIT Pets: 37 breeds",
             sources=(torchvision("OxfordIIITPet", splits("test", train="trainval"), order_by_source=True),
                      wds("vtab-pets")),
             classnames="oxford_pets", templates="oxford_pets", metric=MPCR, n_classes=37, train_split="train",
             sizes={"test": 3669, "train": 3680}),
    TaskSpec(name="caltech101", paper="Caltech101", description="Caltech-101 (VTAB split, with a background class): 102 classes",
             sources=(wds("vtab-caltech101"), clip_benchmark_copy(  # its own Caltech101 class keeps the background
                 local_folder("caltech101/caltech101/101_ObjectCategories", clip_benchmark_names="caltech101",
                              hint="Caltech-101 as CLIP_benchmark reads it: put its 101_ObjectCategories folder (all "
                                   "102 sub-folders, BACKGROUND_Google included) in DATA/caltech101/caltech101/"),
                 "caltech101", what="Caltech-101's 101_ObjectCategories: all 9,144 images of its 102 folders, "
                                    "background included, no split")), classnames="caltech101", templates="caltech101", metric=MPCR,
             n_classes=102, train_split="train", sizes={"test": 6085, "train": 3060}),
    TaskSpec(name="flowers102", paper="Flowers102", description="Oxford Flowers-102",
             sources=(torchvision("Flowers102", splits("test", "train", "val")), wds("vtab-flowers")),
             classnames="flowers102", templates="flowers102", metric=MPCR, n_classes=102, train_split="train",
             val_split="val", sizes={"test": 6149, "train": 1020, "val": 1020}),
    TaskSpec(name="sun397", paper="SUN397", description="SUN397 scenes (CLIP_benchmark's split)",
             sources=(wds("sun397"), clip_benchmark_copy(
                 torchvision("SUN397", classnames="source", name_replace=(("_", " "), ("/", " "))), "sun397",
                 what="torchvision's SUN397: all 108,754 images, no split, its own class names")), classnames="sun397", templates="sun397", n_classes=397, train_split="train"),
    TaskSpec(name="eurosat", paper="EuroSAT", description="EuroSAT RGB satellite images: 10 land-use classes",
             sources=(wds("vtab-eurosat"), torchvision("EuroSAT", {"all": {}}, classnames=EUROSAT_NAMES),
                      clip_benchmark_copy(torchvision("EuroSAT", clip_benchmark_names="eurosat"), "eurosat",
                                          what="torchvision's EuroSAT: all 27,000 images, no split")),
             split="test",
             classnames="eurosat", templates="eurosat", n_classes=10, train_split="train",
             sizes={"test": 5400, "train": 16200}),
    TaskSpec(name="resisc45", paper="RESISC45", description="NWPU-RESISC45 remote sensing scenes: 45 classes",
             sources=(wds("vtab-resisc45"),), classnames="resisc45", templates="resisc45", n_classes=45,
             train_split="train", sizes={"test": 6300}),
    TaskSpec(name="gtsrb", paper="GTSRB", description="German Traffic Sign Recognition Benchmark: 43 classes",
             sources=(torchvision("GTSRB", SPLIT_NAMES), wds("gtsrb")), classnames="gtsrb", templates="gtsrb",
             n_classes=43, train_split="train", sizes={"test": 12630, "train": 26640}),
    TaskSpec(name="kitti_distance", paper="KITTI", description="KITTI closest-vehicle distance (4 classes, VTAB)",
             sources=(wds("vtab-kitti_closest_vehicle_distance"),), classnames="kitti_distance",
             templates="kitti_distance", n_classes=4, train_split="train", sizes={"test": 711}),
    TaskSpec(name="country211", paper="Country211", description="Country211 (CLIP's geolocation set): 211 countries",
             sources=(torchvision("Country211", splits("test", "train", val="valid")), wds("country211")),
             classnames="country211", templates="country211", n_classes=211, train_split="train", val_split="val",
             sizes={"test": 21100, "train": 31650, "val": 10550}),
    TaskSpec(name="pcam", paper="PatchCamelyon", description="PatchCamelyon histopathology patches: 2 classes",
             sources=(torchvision("PCAM", splits("test", "train", "val")), wds("vtab-pcam")), classnames="pcam",
             templates="pcam", n_classes=2, train_split="train", val_split="val",
             sizes={"test": 32768, "train": 262144, "val": 32768}),
    TaskSpec(name="fer2013", paper="FacialEmotionRecognition2013", description="FER2013 facial expressions: 7 classes",
             sources=(torchvision("FER2013", SPLIT_NAMES,
                                  manual="FER2013 comes from Kaggle (kaggle competitions download -c "
                                         "challenges-in-representation-learning-facial-expression-recognition-challenge); "
                                         "put its CSV files in {root}"),
                      wds("fer2013")),
             classnames="fer2013", templates="fer2013", n_classes=7, train_split="train",
             sizes={"test": 3589, "train": 28709}),
    TaskSpec(name="clevr_counts", paper="CLEVRCounts", description="CLEVR object counts 3-10 (VTAB)",
             sources=(wds("vtab-clevr_count_all", aliases=CLEVR_WORDS),), classnames="clevr_counts", templates="clevr_counts",
             n_classes=8, train_split="train", sizes={"test": 15000}),
    TaskSpec(name="rendered_sst2", paper="SST2", description="Rendered SST-2: sentiment of rendered sentences",
             sources=(torchvision("RenderedSST2", splits("test", "train", "val")), wds("renderedsst2")),
             classnames="rendered_sst2", templates="rendered_sst2", n_classes=2, train_split="train",
             val_split="val", sizes={"test": 1821, "train": 6920, "val": 872}),
    TaskSpec(name="ucf101", paper="UCF101", description="UCF101 actions, one middle frame per test clip",
             sources=middle_frames("ucf101", "UCF101"), classnames="ucf101", templates="ucf101", n_classes=101),
    TaskSpec(name="kinetics700", paper="Kinetics700", description="Kinetics-700 actions, one middle frame per validation clip",
             sources=middle_frames("kinetics700", "Kinetics-700"), classnames="kinetics700", templates="kinetics700",
             n_classes=700, metric="mean_top1_top5"),  # the CLIP paper's Table 9: mean(top1, top5); both recorded
    TaskSpec(name="birdsnap", paper="Birdsnap", description="Birdsnap: 500 North American bird species (local copy only)",
             sources=(local_folder("birdsnap/{split}", "Birdsnap's images are fetched by URL list (the authors' "
                                   "get_birdsnap.py); put them in ImageFolder layout at DATA_DIR/birdsnap/test/<species>/"),),
             classnames="birdsnap", templates="birdsnap", n_classes=500),
]

SPECS.extend(SUITE)


def _vtab_split(spec: TaskSpec) -> TaskSpec:
    """CLIP_benchmark's ``vtab/<name>`` for a task whose plain name it reads whole (EuroSAT, Caltech-101): the same
    task on VTAB's split under every profile, so the two of its datasets stay two (its vtab collection names this)."""
    return replace(spec, name=f"vtab/{spec.name}", sources=tuple(s for s in spec.sources if not s.options.get("exclusive")),
                   description=f"{spec.description}; CLIP_benchmark's vtab/{spec.name}: VTAB's split under every "
                               "profile (its plain name reads the whole dataset under --profile clip_benchmark)")


SPECS.extend(_vtab_split(s) for s in SUITE if s.name in ("eurosat", "caltech101"))
