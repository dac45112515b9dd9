"""A zsbench process that cannot import torch: a run served from the cache must not need it (its start-up
would cost seconds of imports)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers.cli import REPO

#: run zsbench with torch, open_clip, torchvision and transformers made unimportable: any import of them fails
NO_TORCH = """
import runpy, sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "torchvision", "open_clip", "transformers"):
            raise ImportError("a cached run imported " + name)
sys.meta_path.insert(0, Refuse())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run_without_torch(*args: object, cache: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """``zsbench ARGS`` in a fresh process where importing torch, torchvision, open_clip or transformers fails."""
    env = {**os.environ, "ZSBENCH_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", NO_TORCH, str(REPO / "cli.py"), *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=timeout)
