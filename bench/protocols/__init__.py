"""Evaluation protocols, registered by name.

A protocol is a :class:`~bench.protocols.base.Protocol` subclass in its own module; it registers
here with its name and ``module:Class``, imported only when a run asks for it. The runner loops
over tasks x templates x protocols and never learns a protocol's name, so adding one (retrieval,
say) is one module plus one line below. This file imports nothing heavy: ``zsbench --help`` lists
the names from it.
"""
from __future__ import annotations

import importlib

#: name -> "module:Class"
PROTOCOLS: dict[str, str] = {
    "zeroshot": "bench.protocols.zeroshot:ZeroShot",
    "linear-probe": "bench.protocols.probe:LinearProbe",
    "few-shot": "bench.protocols.few_shot:FewShot",
    "robustness": "bench.protocols.robustness:Robustness",
    "retrieval": "bench.protocols.retrieval:Retrieval",
    "association": "bench.protocols.association:Association",
}


def register_protocol(name: str, target: str) -> None:
    """Make ``--protocol NAME`` run the Protocol class at ``target`` ("module:Class")."""
    PROTOCOLS[name] = target


def get_protocol(name: str):
    """An instance of the protocol registered as ``name``."""
    from bench.core.errors import UserError

    if name not in PROTOCOLS:
        raise UserError(f"unknown protocol '{name}': use one of {', '.join(PROTOCOLS)}")
    module, _, cls = PROTOCOLS[name].partition(":")
    return getattr(importlib.import_module(module), cls)()


def protocol_names() -> tuple[str, ...]:
    return tuple(PROTOCOLS)


def protocols_for(task: str, requested: list[str]) -> list[str]:
    """The protocols to run on a task: those asked for, else the task's own default (zero-shot
    classification, or retrieval for a captioned-image task; a suite stands for its tasks)."""
    if requested:
        return list(dict.fromkeys(requested))
    from tasks.registry import get_task

    return [get_task(task).default_protocol]
