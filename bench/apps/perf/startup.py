"""``startup``: ``zsbench --help``, every command's ``--help`` and a fully cached run, fresh processes."""
from __future__ import annotations

import sys
import time
from typing import Any

from bench.apps.perf.common import jpeg_folder, median_seconds

#: ``zsbench`` in a fresh process, from a checkout or an installed wheel alike (the console script's module)
ZSBENCH = [sys.executable, "-c", "import sys; from cli import main; sys.exit(main())"]


def startup_section(commands: list[str], repeats: int = 3) -> dict[str, Any]:
    """Wall seconds of ``zsbench --help``, each command's ``--help`` and a fully cached run (a random-init
    ViT-S-32 checkpoint on a small generated folder, run once first to fill the caches), each in a fresh
    process; the median of ``repeats``."""
    import os
    import subprocess
    import tempfile
    from pathlib import Path

    def timed(args, env) -> float:
        def once() -> None:
            done = subprocess.run([*ZSBENCH, *args], capture_output=True, text=True, env=env)
            if done.returncode != 0:
                raise RuntimeError(f"zsbench {' '.join(args)} failed: {done.stderr.strip()[-300:]}")

        return median_seconds(once, repeats)[0]

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
        out["cached_demo"] = cached_demo(timed, Path(tmp))
    out["slowest_help"] = max(out["command_help"].values())
    return out


#: the offline demo (`make demo`): the ConSE baseline on CIFAR-10 with two template sets
DEMO = ["run", "--model", "conse-effnetlite0-minilm", "--task", "cifar10", "--templates", "openai_imagenet",
        "--templates", "single", "--quiet"]


def cached_demo(timed, tmp) -> dict[str, Any]:
    """The offline demo served from the user's cache (where ``make demo`` left it): the first run fills what is
    missing (minutes, said in ``filled``: the ImageNet label embeddings and 10,000 image features), then the
    median of fresh processes."""
    import json
    import os
    import subprocess

    args = [*DEMO, "--out", str(tmp / "demo"), "--no-save"]
    t = time.perf_counter()
    done = subprocess.run([*ZSBENCH, *args, "--json"], capture_output=True, text=True)
    first = time.perf_counter() - t
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
    cold = [r["task_info"].get("feature_cache") for r in json.loads(done.stdout)]
    return {"seconds": timed(args, dict(os.environ)),
            "filled": None if all(c == "hit" for c in cold) else round(first, 1)}
