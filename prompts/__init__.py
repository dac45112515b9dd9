"""Prompts: template sets, class-name sets, and CLIP's prompt ensemble."""
from prompts.classnames import get_classnames
from prompts.ensemble import build_classifier
from prompts.templates import get_templates, template_set_names

__all__ = ["build_classifier", "get_classnames", "get_templates", "template_set_names"]
