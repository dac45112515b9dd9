"""A module that is imported on its first use, not where it is named.

``torch = lazy_module("torch")`` at the top of a module keeps the code reading as usual while
``import torch`` (1-4 s here, most of a cached run's start) happens only when something calls into it:
a run whose features and classifiers all come from the cache never does. Annotations need
``from __future__ import annotations`` (they stay strings); a class that subclasses a torch class
needs the real module, so it lives apart from the code that names torch lazily.
"""
from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any


class LazyModule(ModuleType):
    """Stands for module ``name``; any attribute imports it and reads from the real module."""

    def __init__(self, name: str):
        super().__init__(name)

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self.__name__), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self.__name__}{'' if self.__name__ not in sys.modules else ' (imported)'}>"


def lazy_module(name: str) -> Any:
    """The module ``name`` if it is already imported, else a stand-in that imports it on first use."""
    return sys.modules.get(name) or LazyModule(name)
