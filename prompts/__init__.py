"""Prompts: template sets, class-name sets, and CLIP's prompt ensemble.

``build_classifier`` (which needs torch) is imported on first use, so reading names and templates
stays light (``zsbench --help`` reads the prompt sources and languages from here).
"""
from typing import Any

from prompts.classnames import get_classnames
from prompts.templates import get_templates, template_set_names

__all__ = ["build_classifier", "get_classnames", "get_templates", "template_set_names"]


def __getattr__(name: str) -> Any:
    if name == "build_classifier":
        from prompts.ensemble import build_classifier

        return build_classifier
    raise AttributeError(name)
