"""The one interface every evaluation protocol offers the runner.

A protocol says which units of work a requested task name stands for (a plain task is one unit;
a shift suite is its in-distribution tasks and their shifts), which splits a unit needs, and how
to evaluate one unit from an :class:`~bench.evaluation.Evaluation` (features, classifiers and the
other tasks of the run, all cached). It returns :class:`Outcome` values; the runner turns every
outcome into a record through one record builder, so all protocols' records carry the same fields.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # pragma: no cover
    from bench.config import RunConfig
    from bench.evaluation import Evaluation


@dataclass(frozen=True)
class Unit:
    """One piece of a protocol's work: a task, and the role it plays there.

    ``parent``: the task this unit is measured against (robustness: the in-distribution task).
    ``optional``: a unit whose data is not on disk is skipped (listed), not an error.
    ``train``: the unit needs the task's training (and validation) split too.
    """

    task: str
    role: str = "task"
    parent: str | None = None
    optional: bool = False
    train: bool = False
    details: tuple[tuple[str, Any], ...] = ()

    def detail(self, key: str, default: Any = None) -> Any:
        return dict(self.details).get(key, default)


@dataclass
class Outcome:
    """What evaluating one unit measured; the runner adds everything the record shares."""

    metrics: dict[str, Any]                 # must include "primary": the task's own metric
    n_samples: int
    templates: str = "-"                    # the template set's name, for template-using protocols
    config: dict[str, Any] = field(default_factory=dict)     # protocol settings, into record.config
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step
    task_info: dict[str, Any] = field(default_factory=dict)  # facts about the data as evaluated
    predictions: dict[str, Any] | None = None                # per-sample arrays (.preds.npz)


class Protocol(ABC):
    """An evaluation protocol: a name, the work it plans, and how it evaluates one unit."""

    #: the ``--protocol`` name; also the record's ``protocol``
    name: ClassVar[str]
    #: the metric keys its outcomes carry (besides ``primary``)
    metrics: ClassVar[tuple[str, ...]] = ()
    #: evaluated once per ``--templates`` set (zero-shot) or once per unit (probes)
    uses_templates: ClassVar[bool] = False
    #: the task kinds it applies to (``TaskSpec.kind``)
    kinds: ClassVar[tuple[str, ...]] = ("classification",)

    def units(self, requested: str, config: "RunConfig") -> list[Unit]:
        """The units a requested task name stands for (default: the task itself)."""
        return [Unit(requested, train=self.needs_train(config))]

    def template_sets(self, config: "RunConfig") -> list[str | None]:
        """The ``--templates`` overrides it runs once each; one pass (None) for protocols without templates."""
        return list(config.templates) if self.uses_templates else [None]

    def needs_train(self, config: "RunConfig") -> bool:
        """Whether units need the training split (probes)."""
        return False

    def check(self, config: "RunConfig") -> None:
        """Refuse a configuration this protocol cannot run, before any slow step."""

    @abstractmethod
    def evaluate(self, ev: "Evaluation", unit: Unit, templates: str | None) -> list[Outcome]:
        """Evaluate one unit (``templates``: the ``--templates`` override, or None for the task's own)."""
