"""Paper-style plots from run records (matplotlib, PNG + SVG), deterministic for fixed records.

Every plot kind is declared by a protocol (``Protocol.plots()``: the figure's code lives with it, e.g.
``prompt-ensemble`` in ``bench.protocols.zeroshot``); this module saves them and holds the generic kinds
several protocols share: ``leaderboard`` (a heat map) and ``checkpoints`` (each task's metric against
the training step of a run's checkpoints). A kind without the records it needs raises a one-line
error that says which runs to make.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.core.errors import UserError
from bench.report.collect import newest, zero_shot_records
from bench.report.leaderboard import leaderboard


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "zsbench", "figure.dpi": 100, "font.size": 10, "axes.grid": True,
                         "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False})
    return plt


def _save(fig, out_dir: Path, name: str) -> list[Path]:
    """The figure as PNG and SVG, each drawn in memory and written atomically (a full disk: StorageFull)."""
    import io

    from bench.core.store import atomic_write_bytes, make_folder

    elsewhere = "pass --out a folder with room"
    make_folder(out_dir, elsewhere)
    paths = []
    for ext, meta in (("png", {"Software": None}), ("svg", {"Date": None, "Creator": None})):
        path = out_dir / f"{name}.{ext}"
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, metadata=meta, bbox_inches="tight")
        atomic_write_bytes(path, buf.getvalue(), elsewhere)
        paths.append(path)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return paths


def plot_leaderboard(runs: pd.DataFrame, plt):
    table = leaderboard(runs).drop(columns=["tasks", "profile"])
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * table.shape[1], 1.2 + 0.45 * table.shape[0]))
    ax.grid(False)
    data = table.to_numpy(dtype=float)
    im = ax.imshow(data, cmap="viridis", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(table.shape[1]), table.columns, rotation=45, ha="right")
    ax.set_yticks(range(table.shape[0]), table.index)
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            if not np.isnan(data[i, j]):
                ax.text(j, i, f"{data[i, j]:.1f}", ha="center", va="center", fontsize=8,
                        color="white" if data[i, j] < 60 else "black")
    fig.colorbar(im, ax=ax, label="accuracy (%)", fraction=0.04)
    ax.set_title("Zero-shot leaderboard (each task's own metric)", fontsize=9)
    return fig


def plot_checkpoints(runs: pd.DataFrame, plt):
    """Zero-shot metric against checkpoint step, one line per training run (checkpoint folder) and task."""
    from bench.core.checkpoints import checkpoint_step

    zs = newest(zero_shot_records(runs))
    rows = [(r.model, str(Path(r.pretrained).parent), r.task, checkpoint_step(r.pretrained), 100 * r.primary)
            for r in zs.itertuples() if Path(str(r.pretrained)).suffix and checkpoint_step(r.pretrained) is not None]
    points = pd.DataFrame(rows, columns=["model", "run", "task", "step", "value"])
    runs_with_curves = [k for k, g in points.groupby(["model", "run", "task"]) if g.step.nunique() >= 2]
    if not runs_with_curves:
        raise UserError("checkpoints needs zero-shot records of two or more checkpoints of one training run: "
                        "zsbench sweep --models 'ckpts/epoch_*.pt' --arch MODEL --task ... (or --watch ckpts/)")
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    for model, run, task in sorted(runs_with_curves):
        g = points[(points.model == model) & (points.run == run) & (points.task == task)].sort_values("step")
        ax.plot(g.step, g.value, marker="o", ms=3, label=f"{task}: {model} ({Path(run).name or run})")
    ax.set_xlabel("checkpoint step (from the file name)")
    ax.set_ylabel("zero-shot metric (%)")
    ax.set_title("Zero-shot accuracy during training", fontsize=9)
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    return fig


def make_plot(kind: str, runs: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Draw one kind of plot (declared by an installed protocol) from the records; the PNG and SVG paths."""
    from bench.report.protocols import plot_kind

    declared = plot_kind(kind)
    plt = pyplot()
    fig = declared.figure(runs, plt)
    return _save(fig, Path(out_dir), kind)
