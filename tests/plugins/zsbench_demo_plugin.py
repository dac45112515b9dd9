"""A third-party zsbench plug-in, as a user would write it in their own package.

- ``ColourBackend`` (model strings ``colour:...``): embeds an image as its mean colour and a prompt
  as the colour it names, so zero-shot classification by colour works without any weights;
  ``colour:mix0.3`` first mixes 30% of the green channel into the red one (a worse "model");
- ``FeatureNorm`` (``--protocol feature-norm``): the mean norm of the image features, a sanity statistic,
  with everything a protocol can declare about itself: an option (``--norm-order {1,2}``, recorded under
  ``config["feature-norm"]``), a leaderboard view (``zsbench leaderboard feature-norm``), a plot kind
  (``zsbench plot feature-norm``) and a section of ``zsbench report``.

The tests install it through entry points (``zsbench.backends`` / ``zsbench.protocols``) with a
``*.dist-info`` folder made in a temporary directory, the way ``pip install`` would: no file of
zsbench is edited.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from bench.engine.config import RUN, SWEEP, option
from bench.engine.protocol import Column, Outcome, PlotKind, Protocol, ReportSection, Unit, View
from bench.models.base import BackendOptions, ModelBackend

COLOURS = {"red": (1.0, 0.0, 0.0), "blue": (0.0, 0.0, 1.0), "green": (0.0, 1.0, 0.0), "café": (1.0, 1.0, 0.0)}


class ColourBackend(ModelBackend):
    """Embeds an image as its mean colour and a prompt as the colour it names: zero-shot by colour."""

    def __init__(self, name: str, options: BackendOptions):
        self.name, self.pretrained, self.device = name, "none", torch.device("cpu")
        self.mix = float(name.split("mix", 1)[1]) if "mix" in name else 0.0

    @classmethod
    def from_request(cls, name, pretrained, options):
        return cls(name, options)

    @classmethod
    def available(cls):
        return [("colour:v1", "none", "mean colour vs colour words (demo plug-in)")]

    @property
    def fingerprint(self) -> str:
        return "colour-backend-v1" if not self.mix else f"colour-backend-v1-mix{self.mix}"

    @property
    def preprocess(self):
        return lambda im: torch.from_numpy(np.asarray(im.convert("RGB").resize((16, 16)), dtype=np.float32) / 255).permute(2, 0, 1)

    @property
    def embed_dim(self) -> int:
        return 3

    def encode_images(self, pixels):
        mean = pixels.mean(dim=(2, 3))
        if self.mix:
            mean = torch.stack([(1 - self.mix) * mean[:, 0] + self.mix * mean[:, 1], mean[:, 1], mean[:, 2]], dim=1)
        return mean - mean.mean(dim=1, keepdim=True) + 1e-3

    def encode_texts(self, texts):
        out = []
        for t in texts:
            rgb = next((v for k, v in COLOURS.items() if k in t), (0.3, 0.3, 0.3))
            v = torch.tensor(rgb) - sum(rgb) / 3
            out.append(v + 1e-3)
        return torch.stack(out)

    def info(self):
        return {"backend": "colour"}


def norm_order(text: str) -> int:
    import argparse

    if text.strip() not in ("1", "2"):
        raise argparse.ArgumentTypeError(f"takes 1 or 2, not '{text}'")
    return int(text)


@dataclass
class FeatureNormOptions:
    """The protocol's own options: flags of `zsbench run`, recorded in its records, part of its work keys."""

    norm_order: int = option("--norm-order", "feature-norm: the norm of each feature vector, L1 (1) or L2 (2, "
                             "default)", 2, parse=norm_order, metavar="{1,2}", commands=(RUN, SWEEP))


class FeatureNorm(Protocol):
    """A protocol of our own: the mean norm of the image features (a sanity statistic)."""

    name = "feature-norm"
    summary = "the mean Lp norm of the image features, a demo plug-in"
    metrics = ("mean_norm",)
    columns = (Column("mean norm", "mean_norm", "ratio"),)
    paired_test = None
    options = FeatureNormOptions

    def settings(self, record) -> str:
        return f"L{record.config.get(self.name, {}).get('norm_order', 2)} norm"

    @classmethod
    def views(cls):
        return (View("feature-norm", "mean feature norm per model and task", norm_table),)

    @classmethod
    def plots(cls):
        return (PlotKind("feature-norm", "mean feature norm per model and task (bars)", plot_norms),)

    @classmethod
    def report_sections(cls):
        return (ReportSection("Feature norms", norm_table),)

    def evaluate(self, ev, unit: Unit, templates):
        order = ev.config.options_for(self).norm_order
        feats = ev.features()
        norm = float(np.linalg.norm(feats.features, ord=order, axis=1).mean())
        return [Outcome({"mean_norm": norm, "primary": norm}, int(len(feats.labels)),
                        timings={"features": feats.info["seconds"], "classifier": 0.0})]


def norm_table(runs):
    """Models x tasks of the mean norm (the view and the report section)."""
    from bench.core.errors import UserError

    mine = runs[runs.protocol == FeatureNorm.name]
    if mine.empty:
        raise UserError("no feature-norm records: zsbench run ... --protocol feature-norm")
    return mine.drop_duplicates(["label", "task"]).pivot_table(index="label", columns="task", values="primary",
                                                              aggfunc="first")


def plot_norms(runs, plt):
    table = norm_table(runs)
    fig, ax = plt.subplots(figsize=(5, 0.4 * table.size + 1.2))
    labels = [f"{model} | {task}" for model in table.index for task in table.columns]
    ax.barh(labels, table.to_numpy().ravel())
    ax.set_xlabel("mean feature norm")
    ax.set_title("Feature norms (demo plug-in)", fontsize=9)
    return fig
