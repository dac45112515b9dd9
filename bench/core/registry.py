"""One registry type for every kind of plug-in: backends, protocols, tasks, sources, suites, commands.

A registry maps names to values. Built-ins register in code; third-party packages register through
an entry-point group (``zsbench.protocols``, ``zsbench.backends``, ...) and need no edit of ours.
A value may be the object itself or a ``"module:attr"`` reference, imported only when that entry
is used: listing the names (``zsbench --help``) never imports a backend or a protocol.

This is the floor: it imports nothing else of ours but the error type.
"""
from __future__ import annotations

import difflib
import importlib
from importlib import metadata
from typing import Any, Callable, Generic, Iterator, TypeVar

from bench.core.errors import UserError

T = TypeVar("T")


def resolve_reference(reference: str) -> Any:
    """``"package.module:attr"`` -> the attribute; ``"package.module"`` -> the module."""
    module, _, attr = reference.partition(":")
    obj = importlib.import_module(module)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """Named values of one kind, from code and from the entry-point group ``group``.

    ``on_plugin``: how an entry point joins (default: registered under its own name, loaded on
    first use). The task registry, whose plug-ins name their tasks themselves, loads them eagerly.
    ``builtins``: registers the built-ins on first use (when collecting them costs imports).
    """

    def __init__(self, kind: str, group: str, on_plugin: Callable[["Registry[T]", Any], None] | None = None,
                 builtins: Callable[[], None] | None = None):
        self.kind, self.group = kind, group
        self._entries: dict[str, Any] = {}
        self._on_plugin = on_plugin
        self._builtins = builtins
        self._plugins_read = False

    # -- registering --------------------------------------------------------------------------
    def register(self, name: str, value: T | str, *, replace: bool = False) -> T | str:
        """Register ``value`` (an object, or a ``"module:attr"`` reference) as ``name``."""
        old = self._entries.get(name)
        if old is not None and not replace and old is not value and old != value:
            raise ValueError(f"{self.kind} '{name}' is registered twice with different values")
        self._entries[name] = value
        return value

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def _read_plugins(self) -> None:
        if self._builtins is not None:
            load, self._builtins = self._builtins, None
            load()
        if self._plugins_read:
            return
        self._plugins_read = True
        for ep in metadata.entry_points(group=self.group):
            if self._on_plugin is not None:
                self._on_plugin(self, ep)
            else:
                self._entries.setdefault(ep.name, ep)

    def reload_plugins(self) -> None:
        """Read the entry-point group again (after installing a package in a running process)."""
        self._plugins_read = False
        self._read_plugins()

    # -- reading ------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Every registered name, built-ins first, in registration order (nothing imported)."""
        self._read_plugins()
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        self._read_plugins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def reference(self, name: str) -> str | None:
        """The ``"module:attr"`` an entry points at, when it is a reference (None for an object)."""
        self._read_plugins()
        value = self._entries.get(name)
        if isinstance(value, metadata.EntryPoint):
            return value.value
        return value if isinstance(value, str) else None

    def get(self, name: str) -> T:
        """The value registered as ``name`` (imported on first use); a UserError naming the known ones."""
        self._read_plugins()
        if name not in self._entries:
            raise self.unknown(name)
        value = self._entries[name]
        if isinstance(value, metadata.EntryPoint):
            value = value.load()
            self._entries[name] = value
        elif isinstance(value, str):
            value = resolve_reference(value)
            self._entries[name] = value
        return value

    def unknown(self, name: str) -> UserError:
        known = self.names()
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        return UserError(f"unknown {self.kind} '{name}': {hint}use one of {', '.join(known)}")

    def snapshot(self) -> dict[str, Any]:
        """The entries as they are, built-ins and plug-ins read (for code that registers temporarily and
        restores: tests, the contracts)."""
        self._read_plugins()
        return dict(self._entries)

    def restore(self, entries: dict[str, Any]) -> None:
        self._entries = dict(entries)
        self._plugins_read = True
