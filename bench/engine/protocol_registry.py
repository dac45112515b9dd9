"""The protocols, registered by name: ``--protocol NAME`` finds its class here.

The built-ins are listed by their own package (``bench.protocols.BUILTIN``: ``"module:Class"`` references,
imported only when a run asks for them); a plug-in registers through the ``zsbench.protocols`` entry-point
group (the entry point's name is the protocol's name). Light on purpose: option parsing reads the names.
"""
from __future__ import annotations

from typing import Any

from bench.core.registry import Registry

#: name -> Protocol subclass, imported on use. The built-in protocols are registered by their own package
#: (``bench.protocols.BUILTIN``, read on first use: the engine names none of them); plug-ins through the
#: ``zsbench.protocols`` entry-point group
PROTOCOLS: Registry[type] = Registry("protocol", "zsbench.protocols",
                                     builtins=lambda: _register_builtins("bench.protocols:BUILTIN"))


def _register_builtins(reference: str) -> None:
    from bench.core.registry import resolve_reference

    for name, target in resolve_reference(reference):
        PROTOCOLS.register(name, target)


def register_protocol(name: str, target: "type | str") -> None:
    """Make ``--protocol NAME`` run the Protocol class ``target`` (or its ``"module:Class"``)."""
    PROTOCOLS.register(name, target, replace=True)


def protocol_class(name: str) -> type:
    """The class registered as ``name`` (a UserError listing the known ones otherwise)."""
    return PROTOCOLS.get(name)


def get_protocol(name: str) -> Any:
    """An instance of the protocol registered as ``name``."""
    return protocol_class(name)()


def protocol_names() -> tuple[str, ...]:
    return tuple(PROTOCOLS.names())


def protocols_for(task: str, requested: list[str]) -> list[str]:
    """The protocols to run on a task: those asked for, else the default for the task's kind (the installed
    protocol that declares it in ``default_for``: zero-shot for classification, retrieval for captioned
    images, ...; a suite stands for its tasks)."""
    if requested:
        return list(dict.fromkeys(requested))
    from tasks.registry import get_task

    return [default_protocol(get_task(task).kind)]


def installed() -> list[tuple[str, type]]:
    """(name, class) of every registered protocol that imports; a plug-in that fails to import is left out here
    and said in one line when it is asked for by name."""
    from bench.core.errors import UserError

    out = []
    for name in PROTOCOLS.names():
        try:
            out.append((name, PROTOCOLS.get(name)))
        except UserError:
            continue
    return out


def kind_names_classes(kind: str) -> bool:
    """Whether tasks of ``kind`` have class names to prompt (their protocol builds classifiers from templates:
    classification, multi-label), as the protocol that evaluates the kind declares (``uses_templates``)."""
    return bool(protocol_class(default_protocol(kind)).uses_templates)


def default_protocol(kind: str) -> str:
    """The protocol that evaluates a task of ``kind`` when no --protocol is given."""
    from bench.core.errors import UserError

    serving = []
    for name, cls in installed():
        if kind in cls.default_for:
            return name
        if kind in cls.kinds:
            serving.append(name)
    if serving:
        return serving[0]
    raise UserError(f"no installed protocol evaluates tasks of kind '{kind}': install the plug-in that declares it, "
                    "or fix the task's kind")
