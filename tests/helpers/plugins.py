"""Install a plug-in package the way pip would (a ``*.dist-info`` folder with ``entry_points.txt``
on ``sys.path``), so zsbench finds it through its entry-point groups and nothing of ours is edited."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"


def registries():
    from bench.commands import COMMANDS
    from bench.engine.protocol_registry import PROTOCOLS
    from bench.models import BACKENDS
    from tasks.registry import TASKS
    import tasks.sources  # noqa: F401 - registers the built-in source types, so a snapshot holds them
    from tasks.source_registry import SOURCE_TYPES
    from tasks.suites import SUITES

    return [BACKENDS, PROTOCOLS, TASKS, SOURCE_TYPES, SUITES, COMMANDS]


@contextmanager
def installed_plugin(site: Path, name: str, entry_points: dict[str, dict[str, str]]) -> Iterator[None]:
    """``site``: a fresh folder standing for site-packages; ``entry_points``: group -> {name: "module:attr"}."""
    dist = site / f"{name}-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n" for group, eps in entry_points.items()))
    saved = [(r, r.snapshot()) for r in registries()]
    sys.path[:0] = [str(site), str(PLUGINS)]
    try:
        for r in registries():
            r.reload_plugins()
        yield
    finally:
        for p in (str(site), str(PLUGINS)):
            sys.path.remove(p)
        for r, entries in saved:
            r.restore(entries)
