"""What the report writers know of a protocol: only what the protocol says of itself.

Every writer (terminal tables, leaderboards, ``compare``, plots, the HTML page) asks here how a
record's protocol shows its results, through the attributes of
:class:`~bench.engine.protocol.Protocol` (``board``, ``zero_shot``, ``columns``, ``paired_test``,
``views``, ``plots``, ``report_sections``, ``published``, ``settings``, ``notes``, ``variant``). None of
them tests a protocol's name, so a protocol a plug-in registers is shown like a built-in. Records of a protocol that is not installed
here (a plug-in's records read elsewhere) get the interface's defaults.
"""
from __future__ import annotations

from bench.core.errors import UserError
from bench.engine.protocol import PlotKind, Protocol, ReportSection, View
from bench.engine.protocol_registry import PROTOCOLS, installed


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


def all_views() -> dict[str, View]:
    """Every leaderboard view an installed protocol declares (``zsbench leaderboard NAME``), by name."""
    return _unique(v for _, cls in installed() for v in cls.views())


def all_plot_kinds() -> dict[str, PlotKind]:
    """Every plot kind an installed protocol declares (``zsbench plot NAME``), by name, first declaration kept."""
    return _unique(k for _, cls in installed() for k in cls.plots())


def _unique(items, key=lambda item: item.name) -> dict:
    """The items by ``key``, the first of each kept, in first-seen order."""
    out: dict = {}
    for item in items:
        out.setdefault(key(item), item)
    return out


def plot_kind(name: str) -> PlotKind:
    kinds = all_plot_kinds()
    if name not in kinds:
        raise UserError(f"unknown plot kind '{name}': the installed protocols provide {', '.join(kinds)}")
    return kinds[name]


def view(name: str) -> View:
    views = all_views()
    if name not in views:
        raise UserError(f"unknown leaderboard view '{name}': the installed protocols provide "
                        f"{', '.join(['table', *views])}")
    return views[name]


def plot_kinds(names) -> list[str]:
    """The plot kinds the records of these protocols feed, in first-seen order."""
    return list(dict.fromkeys(k.name for n in names for k in describe(n).plots()))


def report_sections(names) -> list[ReportSection]:
    """The report sections the records of these protocols declare, in first-seen order (one per title)."""
    return list(_unique((s for n in names for s in describe(n).report_sections()), key=lambda s: s.title).values())
