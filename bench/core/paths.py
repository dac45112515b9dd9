"""Where things live: the cache, the datasets, the results folder, and files shipped with us.

Every folder the engine writes to is checked here before any slow step, so a mistake in a path
costs a second, not a finished feature extraction.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bench.core.errors import UserError


def user_path(text: "str | os.PathLike[str]") -> Path:
    """A path as the user wrote it, ``~`` and ``~user`` expanded where they name a home folder (``~nobody-here``
    stays as written, to be found absent with the rest, rather than stopping with pathlib's RuntimeError)."""
    path = Path(text)
    try:
        return path.expanduser()
    except RuntimeError:
        return path


def default_cache_dir() -> Path:
    """``$ZSBENCH_CACHE`` or ``~/.cache/zsbench``."""
    return Path(os.environ.get("ZSBENCH_CACHE") or Path.home() / ".cache" / "zsbench").expanduser()


def default_data_dir(cache_root: Path) -> Path:
    """``$ZSBENCH_DATA`` or ``CACHE/datasets``: downloads and user datasets."""
    return Path(os.environ.get("ZSBENCH_DATA") or Path(cache_root) / "datasets").expanduser()


def package_file(package: str, *parts: str) -> Path:
    """A data file shipped inside one of our packages (``package_file("bench", "data", "x.json")``).

    Resolved from the imported package's own folder, so it works the same from a checkout, an
    editable install and a wheel (the files are declared as package data in pyproject.toml).
    """
    import importlib

    module = importlib.import_module(package)
    return Path(module.__file__).resolve().parent.joinpath(*parts)


def ensure_writable_dir(path: Path, flag: str = "--out") -> Path:
    """Create ``path`` if needed and prove a file can be written there; else a one-line UserError.

    Called before any model load or feature extraction: an unwritable results folder must fail
    at once, not after a minute of work.
    """
    path = user_path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".zsbench-write-test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UserError(f"{flag} {path} is not a writable folder ({reason}): pass {flag} with a folder you can "
                        "write to") from None
    return path
