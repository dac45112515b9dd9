"""``startup``: ``zsbench --help``, every command's ``--help`` and a fully cached run, fresh processes."""
from __future__ import annotations

import time
from typing import Any

from bench.apps.perf.common import jpeg_folder


def startup_section(commands: list[str], repeats: int = 3) -> dict[str, Any]:
    """Wall seconds of ``zsbench --help``, each command's ``--help`` and a fully cached run (a random-init
    ViT-S-32 checkpoint on a small generated folder, run once first to fill the caches), each in a fresh
    process; the median of ``repeats``."""
    import os
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    cli = Path(__file__).resolve().parents[2] / "cli.py"

    def timed(args, env) -> float:
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            done = subprocess.run([sys.executable, str(cli), *args], capture_output=True, text=True, env=env)
            times.append(time.perf_counter() - t)
            if done.returncode != 0:
                raise RuntimeError(f"zsbench {' '.join(args)} failed: {done.stderr.strip()[-300:]}")
        return sorted(times)[len(times) // 2]

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "ZSBENCH_CACHE": str(Path(tmp) / "cache"), "HF_HUB_OFFLINE": "1"}
        out["help"] = timed(["--help"], env)
        out["command_help"] = {name: timed([name, "--help"], env) for name in commands}
        import torch
        import open_clip

        ckpt = Path(tmp) / "vit_s32.pt"
        torch.manual_seed(0)
        torch.save(open_clip.create_model("ViT-S-32", pretrained=None).state_dict(), ckpt)
        folder = jpeg_folder(Path(tmp) / "imgs", 32)
        run = ["run", "--model", "ViT-S-32", "--pretrained", str(ckpt), "--task", str(folder), "--templates", "single",
               "--out", str(Path(tmp) / "results"), "--quiet", "--no-save"]
        timed(run[:], env)  # fills the feature and classifier caches
        out["cached_run"] = timed(run, env)
    out["slowest_help"] = max(out["command_help"].values())
    return out
