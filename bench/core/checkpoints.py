"""A training run's checkpoints: which files, in which order, at which step."""
from __future__ import annotations

import glob
import re
from pathlib import Path
from bench.core.paths import user_path


def checkpoint_glob(pattern: str, base: Path | None = None) -> list[str]:
    """Checkpoint files matching ``pattern``, in training order (by the step number in the name)."""
    pattern = str(user_path(pattern))
    if base is not None and not Path(pattern).is_absolute() and not glob.glob(pattern):
        pattern = str(base / pattern)
    return sorted((p for p in glob.glob(pattern) if Path(p).is_file()), key=checkpoint_sort_key)


def checkpoint_step(path: str) -> int | None:
    """The step or epoch number in a checkpoint's file name (``epoch_12.pt`` -> 12)."""
    numbers = re.findall(r"\d+", Path(path).stem)
    return int(numbers[-1]) if numbers else None


def checkpoint_sort_key(path: str) -> tuple:
    step = checkpoint_step(path)
    return (step is None, step if step is not None else 0, path)
