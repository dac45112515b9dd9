"""What the report writers know of a protocol: only what the protocol says of itself.

Every writer (terminal tables, leaderboards, ``compare``, plots, the HTML page) asks here how a
record's protocol shows its results, through the attributes of
:class:`~bench.engine.protocol.Protocol` (``board``, ``role``, ``columns``, ``paired_test``,
``plot_kinds``, ``published``, ``settings``, ``notes``). None of them tests a protocol's name, so a
protocol a plug-in registers is shown like a built-in. Records of a protocol that is not installed
here (a plug-in's records read elsewhere) get the interface's defaults.
"""
from __future__ import annotations

from bench.core.errors import UserError
from bench.engine.protocol import Protocol
from bench.engine.protocol_registry import PROTOCOLS


class UnregisteredProtocol(Protocol):
    """Stands for a protocol whose records exist but whose class is not installed."""

    name = "?"

    def evaluate(self, ev, unit, templates):  # pragma: no cover - never run
        raise UserError(f"protocol '{self.name}' is not installed here")


def describe(name: str) -> Protocol:
    """The protocol instance that answers for the records of protocol ``name`` (the registry keeps
    the imported class, so asking again costs nothing)."""
    if name not in PROTOCOLS:
        return type(f"Unregistered_{name}", (UnregisteredProtocol,), {"name": name})()
    return PROTOCOLS.get(name)()


def boards() -> list[str]:
    """Every leaderboard a registered protocol's records join (``leaderboard/compare --protocol``)."""
    return list(dict.fromkeys(describe(n).board_name() for n in PROTOCOLS.names()))


def plot_kinds(names) -> list[str]:
    """The plot kinds the records of these protocols feed, in first-seen order."""
    return list(dict.fromkeys(k for n in names for k in describe(n).plot_kinds))
