"""Another task's images with a corruption applied on the fly (the CIFAR-10-C-style suite).

Nothing is written to disk: each image is corrupted when loaded, seeded by (suite seed, sample
index), so the shifted set is identical on every run, and its features are cached like any
other source's under an identity that names the corruption, severity, seed and base content.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from tasks.corruptions import corrupt
from tasks.sources.base import ImageSource

VERSION = "corruptions-v1"  # bump when a corruption's code changes: invalidates cached features


class CorruptedSource(ImageSource):
    def __init__(self, base: ImageSource, corruption: str, severity: int, seed: int = 0):
        self.base, self.corruption, self.severity, self.seed = base, corruption, severity, seed
        self.targets, self.classes = base.targets, base.classes
        self.origin = f"{base.origin} + {corruption} (severity {severity}, seed {seed})"
        self.identity = f"{base.identity}|{VERSION}|{corruption}|{severity}|{seed}"

    def load(self, index: int) -> Image.Image:
        clean = np.asarray(self.base.load(index).convert("RGB"))
        return Image.fromarray(corrupt(clean, self.corruption, self.severity, (self.seed, int(index))))

    def describe(self, index: int) -> str:
        return f"{self.base.describe(index)} ({self.corruption} {self.severity})"
