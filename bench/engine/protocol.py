"""The one interface every evaluation protocol offers the runner and the report writers, and the
registry that finds protocols by name.

A protocol says which units of work a requested task name stands for (a plain task is one unit;
a shift suite is its in-distribution tasks and their shifts), which splits a unit needs, and how
to evaluate one unit from an :class:`~bench.engine.evaluation.Evaluation` (features, classifiers and the
other tasks of the run, all cached). It returns :class:`Outcome` values; the runner turns every
outcome into a record through one record builder, so all protocols' records carry the same fields.

A protocol declares everything about itself in its own module: its **options** (a dataclass of
``bench.engine.config.option`` fields: merged into ``zsbench run``'s parser, recorded under the
protocol's name in its records, part of its work keys), the **task kinds** it serves (a new kind
needs no edit of ``tasks/``), how its results are shown (:class:`Column`, ``board``, ``settings``,
``notes``, ``variant``), its **leaderboard views** (:class:`View`, ``zsbench leaderboard NAME``),
its **plot kinds** (:class:`PlotKind`, ``zsbench plot NAME``), its **report sections**
(:class:`ReportSection`) and its **paired test** (``compare``). No engine, report or command
code tests a protocol's name.

Protocols register by name in :data:`bench.engine.protocol_registry.PROTOCOLS`, or through the
``zsbench.protocols`` entry-point group.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Sequence


if TYPE_CHECKING:  # pragma: no cover
    from bench.engine.config import RunConfig
    from bench.engine.evaluation import Evaluation
    from bench.engine.record_schema import Adaptive

#: the ``Outcome`` / record layout this engine writes (see ``bench.engine.records.RECORD_VERSION``)
OUTCOME_VERSION = 2


@dataclass(frozen=True)
class Column:
    """One column a protocol's records show in the terminal table of a run.

    ``key``: a metric key (``record.metrics``), or ``config.NAME`` / ``task_info.NAME``.
    ``format``: ``pct`` (a fraction shown in %), ``ci`` (a [lo, hi] pair of fractions), ``int``,
    ``ratio`` (3 decimals) or ``text``.
    """

    header: str
    key: str
    format: str = "pct"

    def value(self, record: Any) -> Any:
        section, _, name = self.key.rpartition(".")
        if section == "config":
            return record.config.get(name)
        if section == "task_info":
            return record.task_info.get(name)
        return record.metrics.get(self.key)


#: the columns of a classifier's record (zero-shot, probes)
CLASSIFICATION_COLUMNS = (Column("top1", "top1"), Column("95% CI", "top1_ci95", "ci"), Column("top5", "top5"),
                          Column("mpc-recall", "mean_per_class_recall"))
#: paired tests ``compare`` knows: ``per-sample`` (the task metric's own: McNemar on top-1, a
#: bootstrap for mean per-class recall and Kinetics' mean of top-1 and top-5), ``mcnemar`` (top-1
#: per sample, e.g. R@1 per caption), ``score-bootstrap`` (a paired bootstrap of per-sample scores)
PAIRED_TESTS = ("per-sample", "mcnemar", "score-bootstrap")


def _resolved(target: "Callable | str") -> Callable:
    """A callable, or a ``"module:function"`` reference imported on first use (declaring a view or a plot
    imports nothing: ``zsbench --help`` lists them without pandas or matplotlib)."""
    if isinstance(target, str):
        from bench.core.registry import resolve_reference

        return resolve_reference(target)
    return target


@dataclass(frozen=True)
class View:
    """A leaderboard view a protocol adds: ``zsbench leaderboard NAME``.

    ``build(runs) -> DataFrame``: ``runs`` is every record as one table (``bench.report.collect``); a
    view without the records it needs raises a one-line ``UserError`` saying which runs to make.
    ``index_name`` heads the table's index column."""

    name: str
    help: str
    build: "Callable | str"
    index_name: str = "model"

    def table(self, runs: Any) -> Any:
        return _resolved(self.build)(runs)


@dataclass(frozen=True)
class PlotKind:
    """A plot a protocol's records feed: ``zsbench plot NAME`` (PNG + SVG), and the report's figures.

    ``draw(runs, plt) -> Figure``; a kind without the records it needs raises a one-line ``UserError``."""

    name: str
    help: str
    draw: "Callable | str"

    def figure(self, runs: Any, plt: Any) -> Any:
        return _resolved(self.draw)(runs, plt)


@dataclass(frozen=True)
class ReportSection:
    """A section of ``zsbench report`` for a protocol's records: a title and a table (``build(runs) ->
    DataFrame``; a ``UserError`` leaves the section out)."""

    title: str
    build: "Callable | str"
    index: bool = True

    def table(self, runs: Any) -> Any:
        return _resolved(self.build)(runs)


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
    adaptive: "Adaptive | None" = None                       # --target-ci / --top K: the record's section


@dataclass
class SampleResults:
    """One record's per-sample results as its protocol reads them (:meth:`Protocol.sample_results`): what
    ``zsbench samples``, the explorer and ``compare`` take from a record, one entry per unit (an image; an
    image-caption item), in the record's order.

    A classification's answer is a class (its name is the task's); a protocol whose units each have answers
    of their own (the captions of an item) gives their texts in ``answers``, the right one at ``labels``."""

    indices: Any            # each unit's index in the task (how records of several models are lined up)
    labels: Any             # the right answer (a class; an index into ``answers``)
    predicted: Any          # the model's answer (its top-1 class; the caption an item's first image chose)
    correct: Any            # booleans: what the task's metric counts as right (top-1; an item right on both sides)
    answers: Any = None     # [units, k] texts of each unit's own answers ("" pads), None: the task's class names
    images: Any = None      # the task index of each unit's (first) image, None: ``indices``
    per_item: bool = False  # each unit answers among its own texts (captions), not the task's classes

    def take(self, order: Any) -> "SampleResults":
        """The same results for the units at positions ``order``."""
        pick = (lambda a: None if a is None else a[order])
        return SampleResults(self.indices[order], self.labels[order], self.predicted[order], self.correct[order],
                             pick(self.answers), pick(self.images), self.per_item)

    def answer(self, position: int, value: int, classnames: Sequence[str]) -> str:
        """Answer ``value`` of the unit at ``position`` in words."""
        if self.answers is not None:
            row = self.answers[position]
            return str(row[value]) if 0 <= value < len(row) else "-"
        return str(classnames[value]) if 0 <= value < len(classnames) else str(value)


class Protocol(ABC):
    """An evaluation protocol: a name, the work it plans, and how it evaluates one unit."""

    #: the ``--protocol`` name; also the record's ``protocol``
    name: ClassVar[str]
    #: what it measures, in a few words (``zsbench run --help`` lists every installed protocol with it)
    summary: ClassVar[str] = ""
    #: the metric keys its outcomes carry (besides ``primary``)
    metrics: ClassVar[tuple[str, ...]] = ()
    #: evaluated once per ``--templates`` set (zero-shot) or once per unit (probes)
    uses_templates: ClassVar[bool] = False
    #: ``--target-ci`` / ``--top K`` may evaluate it on a growing sample: its outcome for one unit is
    #: one Outcome whose predictions hold per-sample ``top5`` and ``labels`` (bench.engine.adaptive), or the
    #: values of its ``bounded_metrics``
    adaptive: ClassVar[bool] = False
    #: metrics of its own that are means over units of values in [0, 1]: ``--target-ci`` bounds them with the values
    #: :meth:`unit_values` gives (classification's top-1, top-5 and mean per-class recall are bounded by the engine)
    bounded_metrics: ClassVar[tuple[str, ...]] = ()
    #: the task kinds it applies to (``TaskSpec.kind``)
    kinds: ClassVar[tuple[str, ...]] = ("classification",)

    # -- how its results are shown (read by bench.report and the commands) ----------------------
    #: the leaderboard (and ``compare --protocol``) its records join; None: one of its own
    board: ClassVar[str | None] = None
    #: its figures are zero-shot (nothing trained on the task): its board is the headline one, its records
    #: draw checkpoint curves, and other protocols' views compare against them (probe vs zero-shot)
    zero_shot: ClassVar[bool] = False
    #: terminal columns after model, task, settings, n and the main metric
    columns: ClassVar[tuple[Column, ...]] = ()
    #: how ``compare`` pairs two models' records (one of PAIRED_TESTS), None: not comparable
    paired_test: ClassVar[str | None] = "per-sample"
    #: its figures are comparable with open_clip's published zero-shot table
    published: ClassVar[bool] = False
    #: the CLIP_benchmark task its records stand for (``run --format clip_benchmark``), if any
    clip_benchmark_task: ClassVar[str | None] = None
    #: its own run options: a dataclass whose fields are ``bench.engine.config.option(...)`` declarations
    #: (flag, help, parser); None: it takes none. Read with ``config.options_for(protocol)``.
    options: ClassVar[type | None] = None
    #: the task kinds it evaluates by default (``TaskSpec.kind`` -> this protocol when no --protocol is given)
    default_for: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def views(cls) -> tuple[View, ...]:
        """Leaderboard views it adds (``zsbench leaderboard NAME``)."""
        return ()

    @classmethod
    def plots(cls) -> tuple[PlotKind, ...]:
        """Plot kinds its records feed (``zsbench plot NAME``; a kind several protocols feed is drawn once)."""
        return ()

    @classmethod
    def report_sections(cls) -> tuple[ReportSection, ...]:
        """Sections ``zsbench report`` shows for its records (after the leaderboards)."""
        return ()

    @classmethod
    def contract_task(cls, folder: Any) -> str | None:
        """A small task of a kind of its own, generated in ``folder``, for ``bench.contracts.check_protocol`` (a
        task file's path or a task name); None: the contract's generated tasks (classification, retrieval,
        association, a shift suite) suit it."""
        return None

    @classmethod
    def unit_groups(cls, source: Any) -> Any:
        """Each image's unit where a unit is several images (an image-caption item): ``--target-ci`` then grows its
        sample by whole units. None: each image is a unit."""
        return None

    @classmethod
    def unit_values(cls, predictions: dict[str, Any], metric: str) -> Any:
        """Per unit of an outcome's predictions, its value of ``metric`` (one of :attr:`bounded_metrics`), in [0, 1]."""
        raise NotImplementedError(f"protocol {cls.name} declares bounded metrics but no unit_values")

    @classmethod
    def sample_results(cls, predictions: dict[str, Any]) -> SampleResults | None:
        """Its per-sample results from a record's (or an outcome's) predictions; None: its records keep none that
        say right or wrong per unit. Default: a classification's (``top5`` and ``labels``: right when the top
        class is the label)."""
        import numpy as np

        if "top5" not in predictions or "labels" not in predictions:
            return None
        labels = np.asarray(predictions["labels"], dtype=np.int64)
        predicted = np.asarray(predictions["top5"])[:, 0].astype(np.int64)
        return SampleResults(np.asarray(predictions["indices"]), labels, predicted, predicted == labels)

    @classmethod
    def contract_options(cls) -> Any:
        """Its options for ``bench.contracts.check_protocol``'s runs (an ``options`` instance: small, so the contract
        stays fast), None: the defaults."""
        return None

    def key_options(self, config: "RunConfig") -> dict | None:
        """What of its options goes into a work key: those set off their defaults (``protocol_key_section``). A
        protocol whose default depends on the run (another profile's method) adds what it resolved to."""
        return config.protocol_key_section(self.name)

    def variant(self, config: Any) -> str:
        """What tells two of its records of one model, task and template set apart (a probe's features and
        training subset): such records are different classifiers and keep their own rows. ``-``: nothing."""
        return "-"

    @classmethod
    def board_name(cls) -> str:
        return cls.board or cls.name

    def settings(self, record: Any) -> str:
        """The terminal column that says how a record's number was made (default: the templates)."""
        return str(record.templates)

    def notes(self, records: Sequence[Any]) -> list[str]:
        """Lines printed after a run's tables about this protocol's records (``records``: the whole run)."""
        return []

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

