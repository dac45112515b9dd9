"""Checkpoint comparison on the same images: per task both accuracies, the difference with a
paired bootstrap 95% interval, and McNemar's exact test, from the stored per-sample predictions."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.core.errors import UserError
from bench.engine.metrics import holm, mcnemar_exact, paired_bootstrap_ci, paired_bootstrap_mpcr
from bench.engine.records import load_predictions, read_record
from bench.report.collect import default_board, load_runs, newest, of_protocol, task_column
from prompts.languages import ENGLISH
from bench.report.protocols import describe
from bench.report.text import format_table
from bench.core.paths import user_path


@dataclass
class Comparison:
    task: str
    a: str
    b: str
    n: int
    acc_a: float
    acc_b: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    metric: str = "top1"
    p_holm: float | None = None   # Holm-adjusted over the tasks compared together

    @property
    def verdict(self) -> str:
        """Significant (Holm-adjusted p < 0.05 across the compared tasks) in the direction of the difference."""
        p = self.p_value if self.p_holm is None else self.p_holm
        if p >= 0.05 or self.diff == 0:
            return "tie"
        return "A better" if self.diff > 0 else "B better"


def _predictions(path: str) -> dict[str, np.ndarray]:
    try:
        return load_predictions(Path(path))
    except OSError:
        raise UserError(f"{path} has no per-sample predictions (.preds.npz) to compare with") from None


#: metrics compared with their own per-sample statistic; every other metric (F1, worst-group
#: accuracy) is compared on top-1, and the comparison says so
OWN_METRIC_TESTS = ("mean_per_class_recall", "mean_top1_top5", "jaccard_score_10-12")


def compare_records(path_a: str, path_b: str, task: str, label_a: str, label_b: str,
                    n_resamples: int = 10000, seed: int = 0) -> Comparison:
    record = read_record(Path(path_a))
    protocol = describe(record.protocol)
    test = protocol.paired_test
    if test is None:
        raise UserError(f"task {task}: {record.protocol} records are not compared sample by sample (the protocol "
                        "declares no paired test)")
    pa, pb = _predictions(path_a), _predictions(path_b)
    if not (np.array_equal(pa["indices"], pb["indices"]) and np.array_equal(pa["labels"], pb["labels"])):
        raise UserError(f"task {task}: the two runs did not see the same samples ({len(pa['indices'])} vs "
                        f"{len(pb['indices'])}, or a different subset/split); rerun both with the same --limit/--seed/--split")
    metric = record.config.metric
    metric = metric if metric in OWN_METRIC_TESTS else "top1"
    la = pa["labels"]
    if test == "score-bootstrap":  # per sample: its score (association: per instance with 10-12 candidates)
        keep = la >= 10 if metric == "jaccard_score_10-12" else np.ones(len(la), dtype=bool)
        sa, sb = pa["scores"][keep].astype(float), pb["scores"][keep].astype(float)
        diff, lo, hi, p = paired_bootstrap_mpcr(sa, sb, np.zeros(len(sa)), n_resamples=n_resamples, seed=seed)
        return Comparison(task, label_a, label_b, int(len(sa)), float(sa.mean()), float(sb.mean()), diff, lo, hi, p, metric)
    ca, cb = (protocol.sample_results(p).correct for p in (pa, pb))   # right as the protocol counts it
    if test == "mcnemar":
        metric = "top1"
    if metric == "mean_per_class_recall":  # the task's own metric: each class weighs the same
        diff, lo, hi, p = paired_bootstrap_mpcr(ca, cb, la, n_resamples=n_resamples, seed=seed)
        acc_a, acc_b = mean_per_class_recalls(ca, cb, la)
    elif metric == "mean_top1_top5":  # per image (top-1 right + top-5 right) / 2, one group
        sa, sb = _top1_top5(pa), _top1_top5(pb)
        diff, lo, hi, p = paired_bootstrap_mpcr(sa, sb, np.zeros(len(sa)), n_resamples=n_resamples, seed=seed)
        acc_a, acc_b = float(sa.mean()), float(sb.mean())
    else:  # top-1 (retrieval: text->image R@1 per caption): exact McNemar on the discordant pairs
        diff, lo, hi = paired_bootstrap_ci(ca, cb, n_resamples=n_resamples, seed=seed)
        acc_a, acc_b, p = float(ca.mean()), float(cb.mean()), mcnemar_exact(ca, cb)
    return Comparison(task, label_a, label_b, int(len(ca)), acc_a, acc_b, diff, lo, hi, p, metric)


def _top1_top5(preds: dict[str, np.ndarray]) -> np.ndarray:
    hit5 = (preds["top5"] == preds["labels"][:, None]).any(axis=1)
    return ((preds["top5"][:, 0] == preds["labels"]).astype(float) + hit5) / 2


def mean_per_class_recalls(ca: np.ndarray, cb: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Mean per-class recall of A and of B."""
    classes = np.unique(labels)
    return (float(np.mean([ca[labels == c].mean() for c in classes])),
            float(np.mean([cb[labels == c].mean() for c in classes])))


def _same_weights(recorded: str, given: str) -> bool:
    """A record's ``pretrained`` names the given tag or checkpoint (paths compared resolved)."""
    if recorded == given:
        return True
    try:
        return user_path(recorded).resolve() == user_path(given).resolve() and Path(given).exists()
    except (OSError, ValueError):
        return False


def _select(runs: pd.DataFrame, spec: str | tuple[str, str], protocol: str) -> pd.DataFrame:
    """A run record path, a model as ``NAME`` / ``NAME:PRETRAINED``, a checkpoint path or pretrained
    tag that one model's records name, or a ``(name, pretrained)`` pair; the newest record per task,
    profile and language."""
    sel = of_protocol(runs, protocol)
    if isinstance(spec, tuple):
        name, tag = spec
    else:
        path = Path(spec)
        if path.suffix == ".json" and path.is_file():
            everything = load_runs(path.parent)
            return everything[everything.path == str(path.resolve())]
        by_weights = sel[[_same_weights(p, spec) for p in sel.pretrained]]
        if spec not in set(runs.model) and not by_weights.empty:
            models = sorted(set(by_weights.model))
            if len(models) > 1:
                raise UserError(f"'{spec}' is the weights of several models' records ({', '.join(models)}): "
                                f"give MODEL:{spec}")
            return newest(by_weights, keys=("task", "profile", "language"))
        name, tag = (spec, "") if spec in set(runs.model) else spec.rsplit(":", 1) if ":" in spec else (spec, "")
    sel = sel[sel.model == name]
    if tag:
        sel = sel[[_same_weights(p, tag) for p in sel.pretrained]]
    if sel.empty:
        known = ", ".join(sorted(set(f"{m}:{p}" for m, p in zip(runs.model, runs.pretrained))))
        raise UserError(f"no {protocol} records for '{spec}' (records exist for: {known}); give MODEL[:PRETRAINED], "
                        "a checkpoint path or pretrained tag of one model, or a record .json")
    if sel.pretrained.nunique() > 1:
        raise UserError(f"'{spec}' matches several checkpoints ({', '.join(sorted(sel.pretrained.unique()))}): "
                        "add :PRETRAINED")
    for task, group in sel.groupby("task"):  # two classifiers of one model (a probe's variants): never pick one silently
        variants = sorted(set(str(v) for v in group.features))
        if len(variants) > 1:
            raise UserError(f"'{spec}' has {len(variants)} {protocol} classifiers on {task} ({'; '.join(variants)}): "
                            "compare one record of each side (give the record .json files)")
    return newest(sel, keys=("task", "profile", "language"))


def paired_records(runs: pd.DataFrame, a: str, b: str, tasks: list[str] | None = None,
                   protocol: str | None = None) -> list[tuple[str, str, str, str, str]]:
    """The record pairs a comparison reads: (task label, path A, path B, label A, label B), per shared
    task and profile (two pipelines' numbers are not one comparison)."""
    protocol = protocol or default_board(runs)
    ra, rb = _select(runs, a, protocol), _select(runs, b, protocol)
    common = set(zip(ra.task, ra.profile)) & set(zip(rb.task, rb.profile))
    apart = sorted((set(ra.task) & set(rb.task)) - {t for t, _ in common})
    if apart and not common:
        t = apart[0]
        raise UserError(f"task {t}: '{a}' was run under --profile {', '.join(sorted(set(ra[ra.task == t].profile)))} "
                        f"and '{b}' under {', '.join(sorted(set(rb[rb.task == t].profile)))}; rerun one under the "
                        "other's profile to compare them")
    ra = ra[[(t, p) in common for t, p in zip(ra.task, ra.profile)]]
    rb = rb[[(t, p) in common for t, p in zip(rb.task, rb.profile)]]
    shared = sorted(set(ra.task) & set(rb.task))
    if tasks:
        missing = [t for t in tasks if t not in shared]
        if missing:
            raise UserError(f"task {missing[0]} is not in both runs (shared: {', '.join(shared) or 'none'})")
        shared = tasks
    if not shared:
        raise UserError(f"'{a}' and '{b}' have no task in common: run both on the same --task")
    pairs = []
    several = ra.profile.nunique() > 1
    for task in shared:
        for profile in sorted(set(ra[ra.task == task].profile) & set(rb[rb.task == task].profile)):
            xa = ra[(ra.task == task) & (ra.profile == profile)]
            yb = rb[(rb.task == task) & (rb.profile == profile)]
            # each language both were run in is its own comparison (English first), never one standing for another
            for language in sorted(set(xa.language) & set(yb.language), key=lambda c: (c not in ENGLISH, str(c))):
                x, y = xa[xa.language == language].iloc[0], yb[yb.language == language].iloc[0]
                label = task_column(task, language)
                pairs.append((f"{label} [{profile}]" if several else label, x.path, y.path, x.label, y.label))
    return pairs


def compare(runs: pd.DataFrame, a: str, b: str, tasks: list[str] | None = None, protocol: str | None = None,
            n_resamples: int = 10000, seed: int = 0) -> list[Comparison]:
    out = [compare_records(pa, pb, task, la, lb, n_resamples, seed)
           for task, pa, pb, la, lb in paired_records(runs, a, b, tasks, protocol)]
    for c, adjusted in zip(out, holm([c.p_value for c in out])):
        c.p_holm = adjusted
    return out


def summary(comparisons: list[Comparison]) -> str:
    verdicts = [c.verdict for c in comparisons]
    return (f"A = {comparisons[0].a}, B = {comparisons[0].b}: A significantly better on {verdicts.count('A better')}, "
            f"worse on {verdicts.count('B better')}, tied on {verdicts.count('tie')} of {len(comparisons)} task(s) "
            f"(each task's own metric; p < 0.05 after Holm's correction over the {len(comparisons)} task(s): "
            "McNemar for top-1, paired bootstrap for mean per-class recall)")


def as_table(comparisons: list[Comparison]) -> pd.DataFrame:
    df = pd.DataFrame([asdict(c) | {"verdict": c.verdict} for c in comparisons]).set_index("task")
    for col in ("acc_a", "acc_b", "diff", "ci_low", "ci_high"):
        df[col] = 100 * df[col]
    return df.drop(columns=["a", "b"])


def comparison_lines(comparisons) -> list[str]:
    from bench.report.compare import as_table, summary

    table = as_table(comparisons)
    rows = [[t, r["metric"], str(r["n"]), f"{r['acc_a']:.2f}", f"{r['acc_b']:.2f}", f"{r['diff']:+.2f}",
             f"[{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]", f"{r['p_value']:.3g}", f"{r['p_holm']:.3g}", r["verdict"]]
            for t, r in table.iterrows()]
    return [format_table(rows, ["task", "metric", "n", "A %", "B %", "A-B", "95% CI (bootstrap)",
                                "p (McNemar/bootstrap)", "p Holm", "verdict"], left=2), summary(comparisons)]
