"""Telling "the network is unreachable" apart from other failures, quickly.

Hub clients retry for about a minute before giving up. When the host does not even resolve we
switch the Hugging Face hub to offline mode for the call, so weights already in the local cache
still load and missing ones fail at once with our one-line message.
"""
from __future__ import annotations

import contextlib
import os
import socket
import threading
from typing import Iterator
from urllib.parse import urlparse


def reachable(host: str, port: int = 443, timeout: float = 3.0) -> bool:
    """True if a TCP connection to ``host:port`` opens within ``timeout`` seconds."""
    result = [False]

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result[0] = True
        except OSError:
            pass

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout + 0.5)
    return result[0]


def hf_host() -> str:
    return urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"


@contextlib.contextmanager
def hub_offline_unless_reachable() -> Iterator[bool]:
    """Yield whether the hub is reachable; if not, run the block in HF offline mode."""
    try:
        import huggingface_hub.constants as hub_constants
    except ImportError:  # pragma: no cover - huggingface_hub comes with open_clip
        yield True
        return
    if hub_constants.HF_HUB_OFFLINE or reachable(hf_host()):
        yield not hub_constants.HF_HUB_OFFLINE
        return
    import sys

    # `datasets` keeps its own copy of the flag; patch it too when it is in use.
    modules = [hub_constants] + ([sys.modules["datasets.config"]] if "datasets.config" in sys.modules else [])
    old = [m.HF_HUB_OFFLINE for m in modules]
    for m in modules:
        m.HF_HUB_OFFLINE = True
    try:
        yield False
    finally:
        for m, value in zip(modules, old):
            m.HF_HUB_OFFLINE = value
