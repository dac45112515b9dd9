"""Few-shot linear probes (CLIP paper Fig. 6-7): k examples per class, several seeded draws."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bench.engine.config import int_list, option, positive_int
from bench.engine.protocol import Column, Outcome, PlotKind, Protocol, Unit
from bench.protocols.probe import probe_inputs, probe_variant
from prompts.classnames import display_name

if TYPE_CHECKING:  # pragma: no cover - heavy modules load when the probe runs (see zeroshot.py)
    import pandas as pd

    from bench.engine.config import RunConfig
    from bench.engine.evaluation import Evaluation


@dataclass
class FewShotOptions:
    """``--shots`` and ``--few-shot-seeds`` (run options before protocols declared their own: ``top_level``)."""

    shots: tuple[int, ...] = option("--shots", "few-shot: examples per class (default 1,2,4,8,16)", (1, 2, 4, 8, 16),
                                    parse=int_list, metavar="K,K,...", top_level=True)
    few_shot_seeds: int = option("--few-shot-seeds", "few-shot: draws per k (default 3)", 3, parse=positive_int,
                                 top_level=True)


class FewShot(Protocol):
    name = "few-shot"
    summary = "linear probes on k examples per class as --shots, mean and sd over seeds"
    metrics = ("top1", "top1_std", "shots")
    columns = (Column("top1", "top1"), Column("sd over seeds", "top1_std"))
    paired_test = None  # the score is a mean over seeded draws; per-sample results are one draw's (task_info.per_sample)
    options = FewShotOptions

    @classmethod
    def plots(cls) -> tuple[PlotKind, ...]:
        return (PlotKind("few-shot", "accuracy against labelled examples per class, with where the probe meets "
                         "zero-shot (CLIP paper Fig. 6/7)", "bench.protocols.few_shot:plot_few_shot"),)

    @classmethod
    def contract_options(cls) -> FewShotOptions:
        return FewShotOptions(shots=(1, 2), few_shot_seeds=2)

    def variant(self, config) -> str:
        return probe_variant(config)

    def settings(self, record) -> str:
        return f"{record.config.get('probe_features')} k={max(record.config['shots'])}"

    def notes(self, records) -> list[str]:
        """Per-k accuracies, and where the k-shot probe meets zero-shot (CLIP paper Fig. 7)."""
        from bench.engine.linear_probe import shots_to_match
        from bench.engine.protocol_registry import protocol_class

        lines = []
        for r in records:
            if r.protocol != self.name:
                continue
            curve = r.metrics["shots"]
            parts = ", ".join(f"{k}: {100 * v['mean']:.1f}+-{100 * v['std']:.1f}" for k, v in curve.items())
            lines.append(f"few-shot {r.model} {r.task} (top-1 by shots/class, mean+-sd over seeds "
                         f"{r.config['few_shot_seeds']}): {parts}")
            for z in records:
                if (z.model, z.pretrained, z.task) != (r.model, r.pretrained, r.task) or z.protocol == self.name:
                    continue
                described = protocol_class(z.protocol)
                if described.zero_shot and described.uses_templates:
                    k = shots_to_match(z.metrics["top1"], curve)
                    where = f"~{k:.1f} shots/class" if k is not None else f"more than {max(map(int, curve))} shots/class"
                    lines.append(f"  zero-shot ({z.templates}, {100 * z.metrics['top1']:.1f}) is matched by a probe at "
                                 f"{where}")
        return lines

    def needs_train(self, config: "RunConfig") -> bool:
        return True

    def evaluate(self, ev: "Evaluation", unit: Unit, templates: str | None) -> list[Outcome]:
        from bench.engine.linear_probe import few_shot

        data, cfg, own = probe_inputs(ev), ev.config, ev.config.options_for(self)
        t0 = time.perf_counter()
        seeds = tuple(range(cfg.seed, cfg.seed + own.few_shot_seeds))
        kept: dict = {}
        curve = few_shot(data.train.features, data.train.labels, data.test.features, data.test.labels,
                         shots=own.shots, seeds=seeds, device=cfg.device, max_iter=cfg.probe_max_iter, tol=cfg.probe_tol,
                         class_names=[display_name(c) for c in ev.task.classnames], probabilities=kept)
        top_k = str(max(own.shots))
        metrics = {"top1": curve[top_k]["mean"], "top1_std": curve[top_k]["std"], "shots": curve,
                   "primary": curve[top_k]["mean"],  # the largest k's mean over seeds, as top-1:
                   **{m: curve[top_k][m]["mean"] for m in ("top5", "mean_per_class_recall") if m in curve[top_k]}}
        return [Outcome(metrics, int(len(data.test.labels)),
                        config={**data.config, "shots": list(own.shots), "few_shot_seeds": list(seeds)},
                        timings={"features": data.feature_seconds, "probe": time.perf_counter() - t0},
                        task_info={**data.task_info, "per_sample": kept["what"]},
                        predictions=per_sample_predictions(data.test, kept["test"], cfg.save_logits))]


def per_sample_predictions(test, probs: np.ndarray, save_logits: bool) -> dict:
    """One probe's per-sample results: top-5 and the probabilities a record keeps."""
    from bench.engine.metrics import topk_predictions
    from bench.engine.sample_scores import sample_scores

    top5 = topk_predictions(probs, 5).astype(np.int32)
    return {"indices": test.indices, "labels": test.labels, "top5": top5,
            **sample_scores(probs, test.labels, keep_full=save_logits)}


def plot_few_shot(runs: "pd.DataFrame", plt):
    from bench.core.errors import UserError
    from bench.engine.linear_probe import shots_to_match
    from bench.report.collect import newest
    from bench.report.leaderboard import own_templates_first

    fs = newest(runs[runs.protocol == FewShot.name])
    if fs.empty:
        raise UserError("few-shot needs few-shot records: zsbench run ... --protocol zeroshot --protocol few-shot")
    zs = own_templates_first(runs)
    fig, axes = plt.subplots(1, len(fs), figsize=(4.8 * len(fs), 3.6), squeeze=False)
    for ax, r in zip(axes[0], fs.itertuples()):
        curve = r.record.metrics["shots"]
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
