"""Content hashes: the names under which the store keeps what it computed.

A key hashes *what made* a result (model fingerprint, data identity, options), never a display
name, so two runs that would compute the same numbers share them and any change gets new ones.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def stable_hash(obj: Any, length: int = 20) -> str:
    """A short sha256 of a JSON-able object with sorted keys (stable across runs and machines)."""
    blob = json.dumps(obj, sort_keys=True, default=str, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:length]


def file_sha256(path: Path, block: int = 1 << 20) -> str:
    """sha256 of a file, read in blocks (checkpoints and dataset archives can be gigabytes)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(block), b""):
            h.update(chunk)
    return h.hexdigest()
