"""The source types, registered by name: what a task spec's ``SourceSpec.type`` names.

The built-in openers register themselves from :mod:`tasks.sources`; a plug-in registers through the
``zsbench.sources`` entry-point group (the entry point's name is the type, its value an opener
``(options, split, ctx, fetch) -> ImageSource | None``). Kept apart from :mod:`tasks.sources` so the
task-file reader can ask which types exist without importing the openers (and their imports).
"""
from __future__ import annotations

from typing import Callable

from bench.core.registry import Registry

SOURCE_TYPES: Registry[Callable] = Registry("source type", "zsbench.sources")
