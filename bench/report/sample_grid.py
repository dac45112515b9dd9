"""``zsbench samples --grid FILE.png``: the flagged images in a grid, each with its given label, the
suggested label and every model's top prediction, so a reader can judge the label at a glance."""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from bench.core.errors import UserError
from bench.core.store import atomic_write_bytes
from bench.report.images import record_source
from bench.report.samples import TaskSamples

#: a grid never draws more than this many images (the most likely label errors first)
MAX_IMAGES = 48


def short_labels(labels: list[str]) -> list[str]:
    """The models' record labels without what they all share: ``model / pretrained`` when the
    settings are the same, the settings (``[linear-probe embedding]``) when the model is."""
    heads = {label.split(" [")[0] for label in labels}
    if len(heads) == 1 and len(labels) > 1:
        return [label[len(next(iter(heads))):].strip() or label for label in labels]
    return [label.split(" [")[0] if len(set(labels)) == len({x.split(" [")[0] for x in labels}) else label
            for label in labels]


def draw_grid(samples: TaskSamples, positions: np.ndarray, suggested: np.ndarray, out: Path,
              title: str, cols: int = 6, limit: int = MAX_IMAGES) -> Path:
    """Draw ``positions`` (most likely error first) as a PNG at ``out``; the images come from the task's
    source on this machine (a UserError says so when it is not there)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    source, why = record_source(samples.models[0].record)
    if source is None:
        raise UserError(f"--grid needs the images of task {samples.task} on this machine ({why}); run where the "
                        "data is, or drop --grid")
    positions = np.asarray(positions)[:max(1, min(limit, MAX_IMAGES))]
    n = len(positions)
    if n == 0:
        raise UserError(f"--grid: no flagged samples on task {samples.task} to draw")
    cols = min(cols, n)
    rows = (n + cols - 1) // cols
    lines = 3 + len(samples.models)
    names = short_labels([m.label for m in samples.models])
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, (3.3 + 0.13 * lines) * rows + 0.4), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, pos, sugg in zip(axes.ravel(), positions, suggested):
        try:
            ax.imshow(source.load(int(samples.indices[pos])).convert("RGB"))
        except Exception as exc:  # noqa: BLE001 - an image gone since the run: its cell says so
            ax.text(0.5, 0.5, f"unreadable\n{type(exc).__name__}", ha="center", va="center", fontsize=7)
        label = int(samples.labels[pos])
        caption = [textwrap.shorten(str(samples.keys[pos]), 34), f"given: {samples.name(label)}",
                   f"suggested: {samples.name(int(sugg))}"]
        caption += [textwrap.shorten(f"{name}: {samples.name(int(m.predicted[pos]))}", 64)
                    for name, m in zip(names, samples.models)]
        ax.set_title("\n".join(caption), fontsize=6.5, loc="left")
    heads = {m.label.split(" [")[0] for m in samples.models}
    fig.suptitle(title + (f" — {next(iter(heads))}" if len(heads) == 1 and len(samples.models) > 1 else ""),
                 fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / fig.get_figheight()))
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(out, buf.getvalue(), "pass --grid a file on a disk with room")
    return out
