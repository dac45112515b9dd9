"""Task names with parts: the one parser for ``SUITE/CORRUPTION/SEVERITY`` and plain names.

Generated shift tasks are named ``cifar10-c/gaussian_noise/3``: the suite they belong to, the
corruption and its severity. Every place that groups or folds such tasks (the task list, the
robustness summary, the leaderboard's robustness view, the plots) reads them through
:func:`parse_task_name`, so the naming rule lives here and nowhere else.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskName:
    """A task name split into its parts; ``corruption``/``severity`` are None for plain tasks."""

    full: str
    base: str                     # the suite (``cifar10-c``) or the plain task name
    corruption: str | None = None
    severity: int | None = None

    @property
    def is_generated(self) -> bool:
        """A generated shift task (``SUITE/CORRUPTION/SEVERITY``)."""
        return self.corruption is not None

    @property
    def family_label(self) -> str:
        """What to fold it into: the corruption for generated tasks, else the task itself."""
        return self.corruption if self.corruption is not None else self.full


def parse_task_name(name: str) -> TaskName:
    """``"cifar10-c/fog/2"`` -> suite, corruption, severity; anything else is a plain name.

    Only a registered-style name with exactly three parts and a whole-number severity counts as
    generated: a path such as ``data/my_task.toml`` stays a plain name.
    """
    parts = str(name).split("/")
    if len(parts) == 3 and all(parts) and parts[2].isdigit() and "." not in parts[0]:
        return TaskName(name, parts[0], parts[1], int(parts[2]))
    return TaskName(name, name)


def generated_task_name(suite: str, corruption: str, severity: int) -> str:
    """The inverse of :func:`parse_task_name` for generated shift tasks."""
    return f"{suite}/{corruption}/{severity}"
