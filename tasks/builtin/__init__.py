"""Built-in task specs, one module per dataset family, each a list of plain ``TaskSpec`` data.

The registry collects them (``tasks.registry`` imports this package; nothing here imports the
registry, so the two never form an import cycle).
"""
from __future__ import annotations

from tasks.builtin import cifar, clip_suite, compositionality, datacomp, digits, imagenet, retrieval, vtab
from tasks.spec import TaskSpec


def builtin_specs() -> list[TaskSpec]:
    return [*cifar.SPECS, *clip_suite.SPECS, *compositionality.SPECS, *datacomp.SPECS, *digits.SPECS, *imagenet.SPECS, *retrieval.SPECS,
            *vtab.SPECS]
