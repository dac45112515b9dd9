"""Tasks: specs, the registry, and source adapters."""
from tasks.registry import get_task, list_tasks, register
from tasks.spec import SourceSpec, TaskSpec

__all__ = ["SourceSpec", "TaskSpec", "get_task", "list_tasks", "register"]
