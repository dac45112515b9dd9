"""``zsbench perf``: speed ratios against reference implementations, measured in the same run."""
from __future__ import annotations

import argparse
import json

from bench.apps.choices import PERF_SECTIONS
from bench.commands.base import Command
from bench.engine.config import add_options


def add_arguments(pf: argparse.ArgumentParser) -> None:
    pf.add_argument("--section", action="append", choices=list(PERF_SECTIONS),
                    help="what to measure; repeatable (default: all; zeroshot needs CLIP_benchmark, the `perf` extra)")
    pf.add_argument("--model", default="ViT-B-32", help="open_clip model for text/images/zeroshot (default ViT-B-32)")
    pf.add_argument("--pretrained", default="none", help="pretrained tag or file (default: none = random init)")
    add_options(pf, "device", "num_workers", "seed", seed="seed of the synthetic data and random-init models (default 0)")
    pf.add_argument("--text-classes", type=int, default=25, help="text: ImageNet classes (x 80 templates; default 25)")
    pf.add_argument("--images", type=int, default=256, help="images/zeroshot: generated JPEGs (default 256)")
    pf.add_argument("--n", type=int, default=10000, help="probe: samples (default 10000)")
    pf.add_argument("--dim", type=int, default=512, help="probe: feature dimension (default 512)")
    pf.add_argument("--classes", type=int, default=100, help="probe: classes (default 100)")
    pf.add_argument("--tol", type=float, default=1e-4, help="probe: L-BFGS gradient tolerance, both sides (default "
                                                            "1e-4, scikit-learn's and zsbench's default)")
    pf.add_argument("--memory-n", type=int, default=100_000, help="probe-memory: samples (default 100000)")
    pf.add_argument("--memory-dim", type=int, default=1024, help="probe-memory: feature dimension (default 1024)")
    pf.add_argument("--search-n", type=int, default=1_000_000, help="search: synthetic 512-d features (default 1000000)")
    pf.add_argument("--json", action="store_true", help="one JSON object with the ratios as numbers")


def execute(args: argparse.Namespace) -> int:
    from bench.apps.perf import run_perf
    from bench.commands import COMMANDS
    from bench.report.text import perf_lines

    result = run_perf(args.section, model=args.model, pretrained=args.pretrained, device=args.device,
                      classes=args.classes, n=args.n, dim=args.dim, text_classes=args.text_classes,
                      images=args.images, seed=args.seed, workers=args.num_workers, memory_n=args.memory_n,
                      memory_dim=args.memory_dim, tol=args.tol, commands=COMMANDS.names(), search_n=args.search_n)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print("\n".join(perf_lines(result)))
    return 0


COMMAND = Command("perf", "speed ratios against reference implementations, measured in one run",
                  "Text classifiers vs open_clip's build_zero_shot_classifier (or transformers' loop), image "
                  "extraction end to end vs the raw forward, a zero-shot run vs CLIP_benchmark, the probe's C sweep "
                  "vs scikit-learn, and the probe's memory in memory vs streamed.", add_arguments, execute)
