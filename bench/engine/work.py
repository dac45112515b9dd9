"""Work keys: the name of one record's worth of work, known before any model loads.

A key hashes the model string, the identity of its weights (a checkpoint file's resolved path,
size and modification time; a tag or hub id as written), the task, the protocol and its unit
(robustness: role and parent), the template override, and every option that changes a number
(``RunConfig.result_options``), and the protocol's own options. Records carry theirs (``config.work_key``), so a run with
``skip_existing`` (every sweep job) and the sweep planner skip what is already done, and a
changed checkpoint file, option or template set is new work.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bench.core.hashing import stable_hash

if TYPE_CHECKING:  # pragma: no cover
    from bench.engine.config import RunConfig


def weights_identity(pretrained: str | None) -> str | None:
    """A checkpoint file as (resolved path, size, mtime); anything else as written."""
    if pretrained:
        path = Path(pretrained).expanduser()
        if path.is_file():
            st = path.stat()
            return f"file:{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    return pretrained


def work_key(model: str, pretrained: str | None, task: str, protocol: str, templates: str | None,
             config: "RunConfig", role: str = "task", parent: str | None = None) -> str:
    parts = ["work-v1", model, weights_identity(pretrained), task, protocol, templates, role, parent,
             config.result_options()]
    section = config.protocol_section(protocol)
    if section is not None:  # the protocol's own options (protocols that declare none keep their keys)
        parts.append(section)
    return stable_hash(parts)


def work_keys_for(model: str, pretrained: str | None, task: str, config: "RunConfig") -> list[str]:
    """Every work key one requested task name stands for under the config's protocols and templates."""
    from bench.engine.protocol_registry import get_protocol, protocols_for

    keys = []
    for name in protocols_for(task, config.protocols):
        protocol = get_protocol(name)
        for unit in protocol.units(task, config):
            for templates in protocol.template_sets(config):
                keys.append(work_key(model, pretrained, unit.task, name, templates, config, unit.role, unit.parent))
    return keys
