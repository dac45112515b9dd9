"""The plan of a run and its work keys: the one iterator the runner, ``--top K`` selection and the sweep
planner walk (:func:`plan_steps` -> :func:`plan_work`: each step, template set and work key), and the key
that names one record's worth of work, known before any model loads.

A key hashes the model string, the identity of its weights (a checkpoint file's resolved path,
size and modification time; a tag or hub id as written), the task, the protocol and its unit
(robustness: role and parent), the template override, and every option that changes a number
(``RunConfig.result_options``), and the protocol's own options. Records carry theirs (``config.work_key``), so a run with
``skip_existing`` (every sweep job) and the sweep planner skip what is already done, and a
changed checkpoint file, option or template set is new work.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator

from bench.core.errors import UserError
from bench.core.hashing import stable_hash
from bench.core.paths import user_path

if TYPE_CHECKING:  # pragma: no cover
    from bench.engine.config import RunConfig
    from bench.engine.protocol import Protocol, Unit


def weights_identity(pretrained: str | None) -> str | None:
    """A checkpoint file as (resolved path, size, mtime); anything else as written."""
    if pretrained:
        path = user_path(pretrained)
        if path.is_file():
            st = path.stat()
            return f"file:{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    return pretrained


def work_key(model: str, pretrained: str | None, task: str, protocol: str, templates: str | None,
             config: "RunConfig", role: str = "task", parent: str | None = None) -> str:
    parts = ["work-v1", model, weights_identity(pretrained), task, protocol, templates, role, parent,
             config.result_options()]
    from bench.engine.protocol_registry import PROTOCOLS, get_protocol

    section = get_protocol(protocol).key_options(config) if protocol in PROTOCOLS else None
    if section is not None:  # the protocol's own options set off their defaults (so adding one keeps old keys)
        parts.append(section)
    return stable_hash(parts)


@dataclass
class Step:
    """One planned evaluation: a protocol on a unit."""

    protocol: "Protocol"
    unit: "Unit"


@dataclass(frozen=True)
class Work:
    """One record's worth of work: a step under one template set (None: the task's own, or no templates)."""

    step: Step
    templates: str | None
    config: "RunConfig"

    def key(self, model: str, pretrained: str | None) -> str:
        """The work key of this work for one model (records carry it; done work is skipped)."""
        unit = self.step.unit
        return work_key(model, pretrained, unit.task, self.step.protocol.name, self.templates, self.config, unit.role,
                        unit.parent)


def plan_steps(requested: Iterable[str], config: "RunConfig", check_kinds: bool = True) -> list[Step]:
    """Each requested task (suites expanded by the caller) under each protocol asked for, or the default of the
    task's kind, expanded into the protocol's units; every protocol checks the config once. ``check_kinds``:
    refuse a unit whose task kind the protocol does not evaluate."""
    from bench.engine.protocol_registry import default_protocol, get_protocol, protocols_for
    from tasks.registry import get_task

    protocols: dict = {}
    steps = []
    for name_requested in requested:
        for name in protocols_for(name_requested, config.protocols):
            if name not in protocols:
                protocols[name] = get_protocol(name)
                protocols[name].check(config)
            protocol = protocols[name]
            for unit in protocol.units(name_requested, config):
                spec = None if unit.optional or not check_kinds else get_task(unit.task)
                if spec is not None and spec.kind not in protocol.kinds:
                    raise UserError(f"task {unit.task} is a {spec.kind} task, which --protocol {name} does not "
                                    f"evaluate: use --protocol {default_protocol(spec.kind)}")
                steps.append(Step(protocol, unit))
    return steps


def plan_work(steps: Iterable[Step], config: "RunConfig") -> Iterator[Work]:
    """Every step once per template set its protocol runs: the runner, ``--top K`` and the sweep planner walk
    this, so the three name the same work with the same keys."""
    for step in steps:
        for templates in step.protocol.template_sets(config):
            yield Work(step, templates, config)


def work_keys_for(model: str, pretrained: str | None, task: str, config: "RunConfig") -> list[str]:
    """Every work key one requested task name stands for under the config's protocols, templates and languages
    (each language the run asks of the task, as the runner plans them)."""
    from tasks.languages import run_languages

    codes = run_languages(task, config.languages)
    configs = [config] if codes is None else [config.for_language(code) for code in codes]
    return [w.key(model, pretrained) for one in configs
            for w in plan_work(plan_steps([task], one, check_kinds=False), one)]
