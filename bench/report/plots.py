"""Paper-style plots from run records (matplotlib, PNG + SVG), deterministic for fixed records.

Kinds: ``prompt-ensemble`` (CLIP Fig. 4 idea), ``zeroshot-vs-probe`` (Fig. 5), ``few-shot``
(Fig. 6/7), ``robustness`` (Fig. 13/14 idea), ``leaderboard`` (a heat map) and ``checkpoints``
(each task's metric against the training step of a run's checkpoints). A kind without
the records it needs raises a one-line error that says which runs to make.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.core.errors import UserError
from bench.report.formats import KINDS
from bench.engine.records import read_record
from tasks.names import parse_task_name
from bench.report.collect import newest, of_role, zero_shot_classifiers
from bench.report.leaderboard import leaderboard, own_templates_first, zeroshot_vs_probe



def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "zsbench", "figure.dpi": 100, "font.size": 10, "axes.grid": True,
                         "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False})
    return plt


def _save(fig, out_dir: Path, name: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext, meta in (("png", {"Software": None}), ("svg", {"Date": None, "Creator": None})):
        path = out_dir / f"{name}.{ext}"
        tmp = path.with_name(f".{path.name}.tmp")
        fig.savefig(tmp, format=ext, metadata=meta, bbox_inches="tight")
        tmp.replace(path)
        paths.append(path)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return paths


def plot_prompt_ensemble(runs: pd.DataFrame, plt):
    zs = newest(zero_shot_classifiers(runs))
    groups = [(k, g) for k, g in zs.groupby(["label", "task"]) if len(g) >= 2]
    if not groups:
        raise UserError("prompt-ensemble needs one model and task run with several template sets: "
                        "zsbench run ... --templates openai_imagenet --templates single")
    fig, axes = plt.subplots(1, len(groups), figsize=(4.5 * len(groups), 3.6), squeeze=False)
    for ax, ((label, task), g) in zip(axes[0], groups):
        g = g.sort_values("primary")
        colours = ["#c44e52" if t == "openai_imagenet" else "#4c72b0" if t == "single" else "#8c8c8c"
                   for t in g.templates]
        ax.barh(g.templates, 100 * g.primary, color=colours)
        for y, v in enumerate(100 * g.primary):
            ax.text(v, y, f" {v:.1f}", va="center", fontsize=8)
        ax.set_xlabel(f"{task} zero-shot accuracy (%)")
        ax.set_title(f"{label}\nprompt ensemble vs single templates", fontsize=9)
        lo = float(100 * g.primary.min())
        ax.set_xlim(max(0.0, lo - 10), min(100.0, float(100 * g.primary.max()) + 8))
    return fig


def plot_zeroshot_vs_probe(runs: pd.DataFrame, plt):
    table = zeroshot_vs_probe(runs)
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(table) + 1.5))
    names = [f"{t}" if table.model.nunique() == 1 else f"{t} ({m})" for t, m in zip(table.task, table.model)]
    colours = ["#55a868" if d >= 0 else "#c44e52" for d in table.delta]
    ax.barh(names, table.delta, color=colours)
    for y, d in enumerate(table.delta):
        ax.text(d, y, f" {d:+.1f}" if d >= 0 else f"{d:+.1f} ", va="center", ha="left" if d >= 0 else "right", fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    span = max(1.0, float(table.delta.abs().max()))
    ax.set_xlim(min(0.0, float(table.delta.min())) - 0.3 * span, max(0.0, float(table.delta.max())) + 0.3 * span)
    ax.set_xlabel("zero-shot minus linear-probe accuracy (points)")
    ax.set_title("Zero-shot vs linear probe on the same features" +
                 (f"\n{table.model.iloc[0]}" if table.model.nunique() == 1 else ""), fontsize=9)
    return fig


def plot_few_shot(runs: pd.DataFrame, plt):
    from bench.engine.linear_probe import shots_to_match

    fs = newest(of_role(runs, "few-shot"))
    if fs.empty:
        raise UserError("few-shot needs few-shot records: zsbench run ... --protocol zeroshot --protocol few-shot")
    zs = own_templates_first(runs)
    fig, axes = plt.subplots(1, len(fs), figsize=(4.8 * len(fs), 3.6), squeeze=False)
    for ax, r in zip(axes[0], fs.itertuples()):
        curve = read_record(Path(r.path)).metrics["shots"]
        ks = sorted(map(int, curve))
        mean = np.array([100 * curve[str(k)]["mean"] for k in ks])
        std = np.array([100 * curve[str(k)]["std"] for k in ks])
        ax.plot(ks, mean, "o-", color="#4c72b0", label="linear probe (mean over seeds)")
        ax.fill_between(ks, mean - std, mean + std, color="#4c72b0", alpha=0.2, label="± 1 sd over seeds")
        ax.set_xscale("log", base=2)
        ax.set_xticks(ks, [str(k) for k in ks])
        match = zs[(zs.label == r.label) & (zs.task == r.task)]
        if not match.empty:
            z = float(match.primary.iloc[0])
            ax.axhline(100 * z, color="#c44e52", ls="--", label=f"zero-shot ({100 * z:.1f})")
            k = shots_to_match(z, curve)
            if k is not None:
                ax.plot([k], [100 * z], "D", color="black", ms=6, label=f"probe matches zero-shot at ~{k:.1f} shots")
        ax.set_xlabel("labelled examples per class")
        ax.set_ylabel(f"{r.task} accuracy (%)")
        ax.set_title(r.label, fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    return fig


def _logit(p):
    p = np.clip(np.asarray(p, dtype=float), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def plot_robustness(runs: pd.DataFrame, plt):
    from bench.report.leaderboard import shift_points
    from bench.engine.robustness import published_fits, published_points

    points = shift_points(runs)
    if points.empty:
        raise UserError("robustness needs shift records: zsbench robustness --suite imagenet --model ... "
                        "(or zero-shot runs such as --task imagenet --task imagenet-v2 --task imagenet-r)")
    tasks = sorted(points.task.unique())
    if len(tasks) > 8:  # corruption suites: one point per model and corruption family average
        points = points.assign(task=[parse_task_name(t).family_label for t in points.task])
        points = points.groupby(["label", "task"], as_index=False)[["id", "ood"]].mean()
        tasks = sorted(points.task.unique())
    fig, ax = plt.subplots(figsize=(5.6, 4.8))
    ticks = np.array([0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95])
    ax.plot(_logit([0.02, 0.98]), _logit([0.02, 0.98]), color="gray", ls=":", label="y = x (no accuracy drop)")
    fits = published_fits()
    xs = np.linspace(_logit(0.05), _logit(0.95), 50)
    for t in tasks:
        if t in fits:
            pts = np.array(published_points(t))
            ax.scatter(_logit(pts[:, 0]), _logit(pts[:, 1]), s=6, color="lightgray", zorder=1)
            f = fits[t]
            ax.plot(xs, [f.predict_logit(x) for x in xs], lw=1, alpha=0.7,
                    label=f"{t}: baseline fit over {f.n_models + f.upper_n_models} ImageNet models"
                          + ("" if f.split is None else f" ({f.form})"))
    markers = "osD^vP*Xhp<>"
    for label in sorted(points.label.unique()):
        for t in tasks:
            sel = points[(points.label == label) & (points.task == t)]
            if len(sel):
                ax.scatter(_logit(sel.id), _logit(sel.ood), marker=markers[tasks.index(t) % len(markers)], s=40,
                           label=f"{t}: {label}", zorder=3)
    ax.set_xticks(_logit(ticks), [f"{100 * t:g}" for t in ticks])
    ax.set_yticks(_logit(ticks), [f"{100 * t:g}" for t in ticks])
    ax.set_xlabel("in-distribution accuracy (%, logit axis)")
    ax.set_ylabel("accuracy under shift (%, logit axis)")
    ax.set_title("Accuracy under distribution shift", fontsize=9)
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    return fig


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

    zs = newest(of_role(runs, "zero-shot"))
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


PLOTTERS = {"prompt-ensemble": plot_prompt_ensemble, "zeroshot-vs-probe": plot_zeroshot_vs_probe,
            "few-shot": plot_few_shot, "robustness": plot_robustness, "leaderboard": plot_leaderboard,
            "checkpoints": plot_checkpoints}


def make_plot(kind: str, runs: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Draw one kind of plot from the records; returns the PNG and SVG paths."""
    if kind not in PLOTTERS:
        raise UserError(f"unknown plot kind '{kind}': use one of {', '.join(KINDS)}")
    plt = _pyplot()
    fig = PLOTTERS[kind](runs, plt)
    return _save(fig, Path(out_dir), kind)
